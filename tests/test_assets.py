"""The shipped icons and sounds: present, well-formed, told apart, and found by dictate.assets."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dictate import assets
from tests.conftest import REPO

APP_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
TRAY_SIZES = (16, 22, 24, 32, 48, 64)
TRAY = ("tray-idle", "tray-recording", "tray-transcribing", "tray-error")
SOUNDS = ("start", "stop", "error")


@pytest.fixture(autouse=True)
def fresh_lookup() -> Iterator[None]:
    # resources_dir() is cached; a test that moves the resources must not leak into the next.
    assets.resources_dir.cache_clear()
    assets.packaging_dir.cache_clear()
    yield
    assets.resources_dir.cache_clear()
    assets.packaging_dir.cache_clear()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def rgba(path: Path) -> np.ndarray:
    """A PNG's pixels as float RGBA rows (Qt decodes; no display needed for QImage)."""
    from PySide6.QtGui import QImage

    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGBA8888)
    assert not image.isNull(), path
    raw = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    rows = raw.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 4]
    return rows.reshape(image.height(), image.width(), 4).astype(float)


def test_checkout_resolves_to_the_repository() -> None:
    assert assets.resources_dir() == REPO / "resources"
    assert assets.packaging_dir() == REPO / "packaging"


@pytest.mark.parametrize("name", ("dictate", *TRAY))
def test_every_icon_has_an_svg(name: str) -> None:
    path = assets.icon_path(name)
    assert path.suffix == ".svg" and path.parent == REPO / "resources" / "icons"
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 64 64"


@pytest.mark.parametrize(
    ("name", "sizes"), [("dictate", APP_SIZES)] + [(t, TRAY_SIZES) for t in TRAY]
)
def test_png_fallbacks_at_the_standard_sizes(name: str, sizes: tuple[int, ...]) -> None:
    for size in sizes:
        path = assets.icon_path(name, size)
        assert png_size(path) == (size, size), path
        assert path.parent.parent.name == f"{size}x{size}"
    if name == "dictate":  # the freedesktop layout, ready to copy into an icon theme
        assert assets.icon_path(name, 48).relative_to(REPO / "resources" / "icons") == Path(
            "hicolor/48x48/apps/dictate.png"
        )


@pytest.mark.parametrize(("asked", "given"), [(1, 16), (20, 22), (40, 48), (100, 128), (5000, 512)])
def test_nearest_png_size(asked: int, given: int) -> None:
    assert png_size(assets.icon_path("dictate", asked)) == (given, given)


def test_bad_names_and_sizes_are_refused() -> None:
    with pytest.raises(FileNotFoundError):
        assets.icon_path("no-such-icon")
    with pytest.raises(FileNotFoundError):
        assets.icon_path("no-such-icon", 32)
    with pytest.raises(FileNotFoundError):
        assets.sound_path("applause")
    for bad in ("../dictate", "icons/dictate", "", ".hidden"):
        with pytest.raises(ValueError):
            assets.icon_path(bad)
    with pytest.raises(ValueError):
        assets.icon_path("dictate", 0)
    with pytest.raises(ValueError):
        assets.packaging_path("linux/../../setup.py")


def test_tray_icons_differ_visibly() -> None:
    """At tray sizes every pair of states differs in many pixels, and recording is red."""
    for size in (16, 22, 24):
        images = {name: rgba(assets.icon_path(name, size)) for name in TRAY}
        for i, a in enumerate(TRAY):
            for b in TRAY[i + 1 :]:
                # Per pixel: the largest channel difference (alpha included), over the icon.
                diff = np.abs(images[a] - images[b]).max(axis=2)
                changed = (diff > 64).mean()
                assert changed > 0.2, f"{a} and {b} at {size}px differ in only {changed:.0%}"
        for name, image in images.items():
            opaque = image[..., 3] > 200
            r, g, b = (image[..., c][opaque].mean() for c in range(3))
            if name == "tray-recording":
                assert r > 180 and r > g + 60 and r > b + 60, (r, g, b)
            else:
                assert not (r > g + 60 and r > b + 60), f"{name} looks red too: {(r, g, b)}"


def test_app_icon_is_opaque_in_the_middle_and_clear_at_the_edge() -> None:
    image = rgba(assets.icon_path("dictate", 16))
    assert image[8, 8, 3] == 255  # the tile
    assert image[0, 0, 3] < 128  # rounded corner: transparent


@pytest.mark.parametrize("name", SOUNDS)
def test_sounds_are_short_soft_and_click_free(name: str) -> None:
    path = assets.sound_path(name)
    info = sf.info(path)
    assert (info.format, info.subtype, info.channels) == ("WAV", "PCM_16", 1)
    samples, rate = sf.read(path, dtype="float64")
    assert 0.05 <= len(samples) / rate <= 0.150
    peak = np.abs(samples).max()
    assert 0.1 < peak <= 0.5, "audible but soft"
    # Fades: the first and last 2 ms stay near silence, so there is no click at either end.
    edge = int(0.002 * rate)
    assert np.abs(samples[:edge]).max() < 0.05 and np.abs(samples[-edge:]).max() < 0.05
    assert abs(samples.mean()) < 0.01  # no DC offset (it would thump)


def test_start_and_stop_cues_are_different() -> None:
    start, _ = sf.read(assets.sound_path("start"))
    stop, _ = sf.read(assets.sound_path("stop"))
    assert start.shape != stop.shape or np.abs(start - stop).max() > 0.1


@pytest.mark.parametrize("script", ("make_sounds.py", "render_icons.py"))
def test_committed_outputs_match_their_scripts(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "resources" / script), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"run `python resources/{script}` and commit: {done.stderr}"


def test_bundle_folder_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a PyInstaller bundle the files are under sys._MEIPASS/dictate/_resources."""
    bundled = tmp_path / "dictate" / "_resources"
    for part in ("icons", "sounds"):
        shutil.copytree(REPO / "resources" / part, bundled / part)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert assets.resources_dir() == bundled
    assert assets.sound_path("stop") == bundled / "sounds" / "stop.wav"
    assert assets.icon_path("tray-error", 22).is_relative_to(bundled)
