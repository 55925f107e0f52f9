"""Add dictate to the Linux application menu, or take it out again (pip/pipx installs).

    python -m dictate.integration.desktop install     # ~/.local/share/{applications,icons,metainfo}
    python -m dictate.integration.desktop uninstall

Copies the shipped .desktop file (with Exec pointing at this dictate, as autostart does), the
AppStream metainfo and the hicolor icons into $XDG_DATA_HOME. Distribution packages install the
same files under /usr/share instead. Desktops watch these folders, so the menu updates itself.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from dictate import assets
from dictate.integration import APP_ID, autostart

ICON = "dictate"


def data_home() -> Path:
    value = os.environ.get("XDG_DATA_HOME") or ""
    return Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"


def targets(root: Path | None = None) -> dict[Path, Path]:
    """Installed path -> shipped source, for every file `install` writes."""
    root = root or data_home()
    icons = assets.resources_dir() / "icons"
    files = {
        root / "metainfo" / f"{APP_ID}.metainfo.xml": assets.packaging_path(
            f"linux/{APP_ID}.metainfo.xml"
        ),
        root / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON}.svg": icons / f"{ICON}.svg",
    }
    for png in (icons / "hicolor").glob(f"*/apps/{ICON}.png"):
        files[root / "icons" / png.relative_to(icons)] = png
    return files


def entry_path(root: Path | None = None) -> Path:
    return (root or data_home()) / "applications" / f"{APP_ID}.desktop"


def desktop_entry(argv: list[str]) -> str:
    """The shipped .desktop file with its main Exec (and TryExec) running `argv`."""
    exec_value = autostart.exec_line(argv)
    lines = []
    for line in assets.packaging_path(f"linux/{APP_ID}.desktop").read_text("utf-8").splitlines():
        if line.startswith("Exec=dictate"):  # the app, and actions with their own arguments
            line = f"Exec={exec_value}{line.removeprefix('Exec=dictate')}"
        elif line.startswith("TryExec="):
            line = f"TryExec={argv[0]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def install(argv: list[str] | None = None, root: Path | None = None) -> list[Path]:
    """Write the menu entry, metainfo and icons; returns the files written."""
    written = []
    for dst, src in targets(root).items():
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        written.append(dst)
    entry = entry_path(root)
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(desktop_entry(list(argv or autostart.default_argv())), encoding="utf-8")
    written.append(entry)
    return written


def uninstall(root: Path | None = None) -> list[Path]:
    """Remove what `install` wrote; returns the files removed."""
    removed = []
    for path in [*targets(root), entry_path(root)]:
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dictate.integration.desktop")
    parser.add_argument("action", choices=("install", "uninstall"))
    args = parser.parse_args(argv)
    changed = install() if args.action == "install" else uninstall()
    verb = "wrote" if args.action == "install" else "removed"
    for path in changed:
        print(f"{verb} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
