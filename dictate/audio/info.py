"""What both decoders share: the output sample rate, :class:`AudioInfo`, and two small helpers.

A module of its own so that :mod:`dictate.audio.decode` (the entry point) and
:mod:`dictate.audio.ffmpeg` (which it imports) can both use these without an import cycle. Names
with a leading underscore are private to ``dictate.audio``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dictate.choices import SAMPLE_RATE

__all__ = ["SAMPLE_RATE", "AudioInfo"]


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`~dictate.audio.decode.probe` learns about a file without decoding it."""

    path: Path
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    codec: str  # libsndfile's format name ("FLAC", "WAV", "MP3", ...), or "ffmpeg"


# 60 dB over full scale: a float sample beyond it is damage, not sound, and values near the
# float32 limit overflow the resampler's filter into Inf and NaN.
_MAX_LEVEL = 1000.0


def _sanitize(x: np.ndarray) -> np.ndarray:
    """Replace NaN/Inf with 0 and clip absurd levels, in place: one bad sample would otherwise
    smear through the resampler (or overflow it)."""
    if not np.isfinite(x).all():
        np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    np.clip(x, -_MAX_LEVEL, _MAX_LEVEL, out=x)
    return x


def _shown(path: object) -> str:
    """A file name as messages show it: control characters escaped, so that a name holding a
    newline (legal on POSIX) cannot split a one-line error in two."""
    text = str(path)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def _oneline(text: object, limit: int = 200) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
