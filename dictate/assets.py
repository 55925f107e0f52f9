"""Where the shipped files are: icons, sounds and the desktop-integration files.

The same names resolve in a source checkout (`resources/`, `packaging/`), in an installed wheel
(`dictate/_resources`, `dictate/_packaging`, mapped there by pyproject.toml) and in a PyInstaller
bundle (the same two folders under `sys._MEIPASS/dictate`). No Qt here: the core may use it.
"""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # no separators, no "..": stays inside
_PNG_DIR = re.compile(r"^(\d+)x\1$")  # hicolor/<n>x<n>


def _roots(installed: str, checkout: str) -> list[Path]:
    roots = []
    bundle = getattr(sys, "_MEIPASS", None)  # set by a PyInstaller bundle at start-up
    if bundle:
        roots.append(Path(bundle) / "dictate" / installed)
    roots += [_PACKAGE / installed, _CHECKOUT / checkout]
    return roots


@cache
def resources_dir() -> Path:
    """The folder holding `icons/` and `sounds/`; FileNotFoundError on a broken install."""
    for root in _roots("_resources", "resources"):
        if (root / "icons").is_dir() and (root / "sounds").is_dir():
            return root
    raise FileNotFoundError("dictate's resources (icons, sounds) are missing from this install")


@cache
def packaging_dir() -> Path:
    """The folder holding `linux/` (desktop entry, metainfo) and `macos/` (Info.plist)."""
    for root in _roots("_packaging", "packaging"):
        if (root / "linux").is_dir():
            return root
    raise FileNotFoundError("dictate's desktop files are missing from this install")


def _check(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a resource name: {name!r}")
    return name


def icon_path(name: str, size: int | None = None) -> Path:
    """The icon `name` ("dictate", "tray-idle", ...): the SVG when `size` is None, else the PNG
    whose size is nearest to `size` pixels (on a tie the larger, as shrinking looks better)."""
    _check(name)
    icons = resources_dir() / "icons"
    if size is None:
        path = icons / f"{name}.svg"
        if not path.is_file():
            raise FileNotFoundError(f"no icon {name!r} in {icons}")
        return path
    if size <= 0:
        raise ValueError(f"icon size must be positive, not {size}")
    found = _pngs(icons).get(name)
    if not found:
        raise FileNotFoundError(f"no PNG of icon {name!r} in {icons}")
    best = min(found, key=lambda have: (abs(have - size), -have))
    return found[best]


@cache
def _pngs(icons: Path) -> dict[str, dict[int, Path]]:
    """name -> {size: path} for every PNG in the hicolor tree (apps/ and status/)."""
    table: dict[str, dict[int, Path]] = {}
    for size_dir in (icons / "hicolor").iterdir():
        match = _PNG_DIR.match(size_dir.name)
        if not match:
            continue  # e.g. scalable/
        for png in size_dir.glob("*/*.png"):
            table.setdefault(png.stem, {})[int(match.group(1))] = png
    return table


def sound_path(name: str) -> Path:
    """The cue `name` ("start", "stop", "error") as a 16-bit WAV file."""
    path = resources_dir() / "sounds" / f"{_check(name)}.wav"
    if not path.is_file():
        raise FileNotFoundError(f"no sound {name!r} in {path.parent}")
    return path


def packaging_path(relative: str) -> Path:
    """A shipped desktop file by its path under packaging/, e.g. "linux/<app id>.desktop"."""
    parts = relative.split("/")
    for part in parts:
        _check(part)
    path = packaging_dir().joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(f"{relative} is not shipped in {packaging_dir()}")
    return path
