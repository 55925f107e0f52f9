"""Write transcripts as plain text, SubRip (SRT), WebVTT or JSON.

Pure string rendering plus a file write that replaces only regular files; no torch, no Qt.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import secrets
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from dictate.transcript import Segment

__all__ = ["FORMATS", "render", "would_replace", "write"]

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
    overwrite: bool = True,
) -> Path:
    """Render to ``path`` as UTF-8 and return where it went.

    A regular file or a new name is written atomically (a temporary file renamed over it):
    readers see the old file or the new, never half. Anything else is written through, never
    replaced: a device, a FIFO, an open descriptor's name (/dev/stdout, /dev/fd/N) or ``-``
    (stdout) -- renaming over /dev/null would replace the machine's /dev/null. With
    ``overwrite`` false an existing file is left alone (FileExistsError).
    """
    data = render(segments, fmt, meta=meta).encode("utf-8")
    if str(path) == "-":
        _write_through(1, data)
        return Path(path)
    target = Path(path)
    how, real = _where(target)
    if how == "through":
        _write_to(real, data)
    else:
        _replace(real, data, overwrite=overwrite)
    return target


def would_replace(path: str | Path) -> bool:
    """True when `write` would replace an existing file at ``path`` (what --overwrite is for);
    a device, FIFO or descriptor is written through, and "-" is stdout."""
    if str(path) == "-":
        return False
    how, real = _where(Path(path))
    return how == "replace" and os.path.lexists(real)


# A name that stands for an open descriptor (the shell's redirection, a pipe, a terminal): what
# it leads to is not ours to replace even when that is a regular file (`-o /dev/stdout >>log`).
_DESCRIPTOR = re.compile(r"/dev/(std(in|out|err)|fd/\d+)|/proc/[^/]+/fd/\d+")


def _where(target: Path) -> tuple[str, Path]:
    """("replace", the file to replace or create) or ("through", the path to open and write).

    Symbolic links are followed by hand: replacing the link's own name would cut it off from
    the file it names, and a link into /proc (/dev/stdout) must be written through."""
    p = os.path.abspath(target)
    for _ in range(40):  # the kernel's own limit on links in a row
        if _DESCRIPTOR.fullmatch(p) or _DESCRIPTOR.fullmatch(_real_parent(p)):
            return "through", Path(p)
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return "replace", Path(p)  # a new name (a missing folder fails at the write)
        except OSError:
            return "through", Path(p)  # unreadable: let open() say why
        if not stat.S_ISLNK(st.st_mode):
            return ("replace" if stat.S_ISREG(st.st_mode) else "through"), Path(p)
        p = os.path.normpath(os.path.join(os.path.dirname(p), os.readlink(p)))
    return "through", Path(p)  # a loop of links: open() reports ELOOP


def _real_parent(p: str) -> str:
    """``p`` with its folder resolved (/dev/fd is itself a link to /proc/self/fd)."""
    return os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))


def _write_to(path: Path, data: bytes) -> None:
    """Open an existing device, FIFO or descriptor and write into it: no create, no truncate
    (a regular file behind a descriptor is appended to, as the shell's redirection asked)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0))
    try:
        _write_through(fd, data)
    finally:
        os.close(fd)


def _write_through(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # a pipe takes at most its buffer's worth per write
        view = view[os.write(fd, view) :]


def _replace(target: Path, data: bytes, *, overwrite: bool) -> None:
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
        if overwrite:
            os.replace(tmp, target)
        else:
            _create(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _create(tmp: Path, target: Path) -> None:
    """Move ``tmp`` to ``target`` only if nothing is there: a hard link fails if the name is
    taken, so a file that appears meanwhile is not replaced either."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "already exists", str(target)) from None
    except OSError:  # a filesystem without hard links (FAT, some network shares)
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "already exists", str(target)) from None
        os.replace(tmp, target)
        return
    tmp.unlink()


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
