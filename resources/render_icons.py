"""Render the PNG fallbacks of every SVG in resources/icons (run after editing an SVG).

    python resources/render_icons.py            # writes resources/icons/hicolor/<n>x<n>/...
    python resources/render_icons.py --check    # exit 1 if a committed PNG is out of date

The app icon goes to `hicolor/<n>x<n>/apps/dictate.png` (the freedesktop layout, ready to copy
into ~/.local/share/icons); the tray icons to `hicolor/<n>x<n>/status/<name>.png`. PySide6's
QSvgRenderer draws them, on the offscreen platform, so no display is needed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent / "icons"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
APP_ICON = "dictate"


def png_path(name: str, size: int, root: Path = ICONS) -> Path:
    context = "apps" if name == APP_ICON else "status"
    return root / "hicolor" / f"{size}x{size}" / context / f"{name}.png"


def render(svg: Path, size: int):  # -> QImage (Qt is imported lazily, see main)
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image.convertToFormat(QImage.Format.Format_ARGB32)


def _close(a, b) -> bool:  # (QImage, QImage)
    """Same picture: other Qt versions may anti-alias a few edge pixels a little differently."""
    import numpy as np
    from PySide6.QtGui import QImage

    if a.size() != b.size():
        return False
    pixels = []
    for image in (a, b):
        rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
        # Copied while `rgba` is alive: the buffer is freed with it.
        pixels.append(np.frombuffer(rgba.constBits(), np.uint8).astype(int))
    diff = np.abs(pixels[0] - pixels[1])
    return diff.max() <= 8 or (diff > 24).mean() < 0.02


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication, QImage

    _app = QGuiApplication.instance() or QGuiApplication([])
    stale: list[Path] = []
    for svg in sorted(ICONS.glob("*.svg")):
        for size in SIZES:
            image = render(svg, size)
            out = png_path(svg.stem, size)
            if args.check:
                if not out.is_file() or not _close(QImage(str(out)), image):
                    stale.append(out)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            if not image.save(str(out), "PNG"):
                raise OSError(f"could not write {out}")
    for path in stale:
        print(f"out of date: {path}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
