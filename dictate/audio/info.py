"""What both decoders share: the output sample rate, :class:`AudioInfo`, and two small helpers.

A module of its own so that :mod:`dictate.audio.decode` (the entry point) and
:mod:`dictate.audio.ffmpeg` (which it imports) can both use these without an import cycle. Names
with a leading underscore are private to ``dictate.audio``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SAMPLE_RATE", "AudioInfo"]

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`~dictate.audio.decode.probe` learns about a file without decoding it."""

    path: Path
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    codec: str  # libsndfile's format name ("FLAC", "WAV", "MP3", ...), or "ffmpeg"


def _sanitize(x: np.ndarray) -> np.ndarray:
    """Replace NaN/Inf in place: one bad sample would otherwise smear through the resampler."""
    if not np.isfinite(x).all():
        np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return x


def _oneline(text: object, limit: int = 200) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
