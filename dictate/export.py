"""Write transcripts as plain text, SubRip (SRT), WebVTT or JSON.

Pure string rendering plus an atomic file write; no torch, no Qt.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from dictate.transcript import Segment

__all__ = ["FORMATS", "render", "write"]

FORMATS = ("txt", "srt", "vtt", "json")


def render(
    segments: Sequence[Segment], fmt: str, *, meta: Mapping[str, object] | None = None
) -> str:
    """Render segments in ``fmt`` (one of :data:`FORMATS`; case and a leading dot are ignored).

    ``meta`` adds top-level keys to the JSON output (it may not replace "text" or "segments");
    the other formats have nowhere to put it and ignore it.
    """
    kind = _format(fmt)
    if kind == "txt":
        return _txt(segments)
    if kind == "srt":
        return _srt(segments)
    if kind == "vtt":
        return _vtt(segments)
    return _json(segments, meta or {})


def write(
    segments: Sequence[Segment],
    fmt: str,
    path: str | Path,
    *,
    meta: Mapping[str, object] | None = None,
) -> Path:
    """Render to ``path`` as UTF-8, atomically: readers see the old file or the new, never half."""
    data = render(segments, fmt, meta=meta).encode("utf-8")
    target = Path(path)
    # The temporary file sits beside the target, as os.replace is only atomic within a filesystem.
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    # 0o666 lets the umask decide the permissions, as for any new file (mkstemp would force 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileNotFoundError):  # overwriting keeps the file's permissions
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


# --- formats ---------------------------------------------------------------------------------


def _format(fmt: str) -> str:
    kind = str(fmt).strip().lower().removeprefix(".")
    if kind not in FORMATS:
        raise ValueError(f"unknown transcript format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return kind


def _txt(segments: Sequence[Segment]) -> str:
    text = _joined(segments)
    return text + "\n" if text else ""


def _joined(segments: Sequence[Segment]) -> str:
    return " ".join(t for s in segments if (t := s.text.strip()))


def _cues(segments: Sequence[Segment]) -> list[tuple[int, int, str]]:
    """(start ms, end ms, text) per segment with text; a blank line inside a cue would end it."""
    cues = []
    for seg in segments:
        lines = [ln.strip() for ln in seg.text.splitlines()]
        text = "\n".join(ln for ln in lines if ln)
        if not text:
            continue  # an empty cue is invalid SRT and confuses players
        start = _ms(seg.start)
        cues.append((start, max(start, _ms(seg.end)), text))
    return cues


def _ms(seconds: float) -> int:
    if not math.isfinite(seconds):
        raise ValueError(f"segment time must be finite, not {seconds!r}")
    return max(0, round(seconds * 1000))


def _clock(ms: int, sep: str) -> str:
    """HH:MM:SS<sep>mmm; hours grow past two digits rather than wrap."""
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def _srt(segments: Sequence[Segment]) -> str:
    blocks = [
        f"{i}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{text}\n"
        for i, (start, end, text) in enumerate(_cues(segments), 1)
    ]
    return "\n".join(blocks)


def _vtt(segments: Sequence[Segment]) -> str:
    blocks = ["WEBVTT\n"]
    for start, end, text in _cues(segments):
        # WebVTT cue text is markup: "&" and "<" must be escaped, and ">" too so "-->" cannot occur.
        body = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        blocks.append(f"{_clock(start, '.')} --> {_clock(end, '.')}\n{body}\n")
    return "\n".join(blocks)


def _json(segments: Sequence[Segment], meta: Mapping[str, object]) -> str:
    clash = {"text", "segments"} & set(meta)
    if clash:
        raise ValueError(f"meta may not replace {', '.join(sorted(clash))}")
    doc: dict[str, object] = {
        "text": _joined(segments),
        "segments": [
            {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text.strip()}
            for s in segments
        ],
        **meta,
    }
    # default=str: paths, datetimes and the like in meta become their usual text form.
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"
