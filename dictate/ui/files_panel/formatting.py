"""How the files panel words things: file-dialog filters, times, the states of a job, its
summary line and its transcript lines (gaps marked where they were)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from PySide6.QtGui import QColor, QPalette

from dictate.engine.longform import Gap
from dictate.files.queue import AUDIO_SUFFIXES, VIDEO_SUFFIXES, FileJob
from dictate.transcript import Segment, describe_gaps

FORMAT_NAMES = {
    "txt": "Plain text",
    "srt": "SubRip subtitles",
    "vtt": "WebVTT subtitles",
    "json": "JSON with timestamps",
}
STATE_WORDS = {
    "queued": "Queued",
    "running": "Transcribing",
    "done": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
}


def _patterns(suffixes: Iterable[str]) -> str:
    return " ".join(f"*{s}" for s in sorted(suffixes))


def file_filters() -> list[str]:
    """The "Add files…" dialog's filters: audio and video together first."""
    return [
        f"Audio and video ({_patterns(AUDIO_SUFFIXES | VIDEO_SUFFIXES)})",
        f"Audio ({_patterns(AUDIO_SUFFIXES)})",
        f"Video ({_patterns(VIDEO_SUFFIXES)})",
        "All files (*)",
    ]


def clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on (durations and elapsed times)."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def gap_mark(gap: Gap) -> str:
    """The transcript's line for speech that gave no text."""
    return f"[no text came from the speech at {describe_gaps([(gap.start, gap.end)])}]"


def stamp(seconds: float) -> str:
    """[mm:ss], or [h:mm:ss] from an hour on (segment starts in the results)."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    return f"[{h}:{rest // 60:02d}:{rest % 60:02d}]" if h else f"[{rest // 60:02d}:{rest % 60:02d}]"


def short_error(job: FileJob) -> str:
    """The error without the file's path in front: the row already names the file."""
    error = job.error or "failed"
    for prefix in (f"{job.path}: ", f"{job.path.name}: "):
        if error.startswith(prefix):
            return error[len(prefix) :]
    return error


def error_colour(palette: QPalette) -> QColor:
    """A red that reads on the current background, light or dark."""
    dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
    return QColor("#ff7b72") if dark else QColor("#b3261e")


def count(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def summary(job: FileJob) -> str:
    """The line above a job's transcript: name, state, length, model."""
    parts = [job.path.name]
    if job.status == "done" and job.elapsed_s is not None:
        parts.append(f"done in {clock(job.elapsed_s)}")
    elif job.status == "running":
        fraction = job.fraction
        parts.append(
            job.detail or (f"transcribing, {fraction:.0%}" if fraction else "transcribing")
        )
    else:
        parts.append(STATE_WORDS.get(job.status, job.status).lower())
    if job.duration_s is not None:
        parts.append(f"{clock(job.duration_s)} of audio")
    if job.model:  # a model folder by its name, not its whole path
        model = Path(job.model)
        parts.append(model.name if model.is_absolute() else job.model)
    return " · ".join(parts)


def transcript_lines(segments: Sequence[Segment], gaps: Sequence[Gap]) -> list[str]:
    """Segments with their start times, in order; speech that gave no text is marked where it
    was, never left out silently."""
    lines = sorted(
        [(s.start, f"{stamp(s.start)} {s.text.strip()}") for s in segments]
        + [(g.start, f"{stamp(g.start)} {gap_mark(g)}") for g in gaps],
        key=lambda line: line[0],
    )
    return [line for _, line in lines]
