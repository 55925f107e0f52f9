"""What a drop of files and folders means: the media files to transcribe, folders walked."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from dictate.choices import MEDIA_SUFFIXES

FOLDER_SCAN_LIMIT = 20_000  # directory entries looked at per drop: dropping $HOME must not hang


def media_files(
    paths: Iterable[str | Path], *, scan_limit: int = FOLDER_SCAN_LIMIT
) -> tuple[list[Path], bool]:
    """What a drop means: files as given, folders as the media files inside them.

    Folders are walked recursively (hidden entries and symlinked folders skipped, names sorted);
    each file comes once. The flag says a folder scan stopped at `scan_limit` entries.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    budget = [scan_limit]

    def keep(p: Path) -> None:
        if p not in seen:
            seen.add(p)
            found.append(p)

    for raw in paths:
        p = Path(os.path.abspath(os.fspath(raw)))
        if p.is_dir():
            for f in _walk(p, budget):
                keep(f)
        else:
            keep(p)
    return found, budget[0] <= 0


def _walk(folder: Path, budget: list[int]) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        visible = [d for d in dirs if not d.startswith(".")]
        dirs[:] = sorted(
            (d for d in visible if not os.path.islink(os.path.join(root, d))), key=str.casefold
        )
        budget[0] -= len(dirs) + len(files)
        for name in sorted(files, key=str.casefold):
            if not name.startswith(".") and Path(name).suffix.lower() in MEDIA_SUFFIXES:
                yield Path(root) / name
        if budget[0] <= 0:
            return
