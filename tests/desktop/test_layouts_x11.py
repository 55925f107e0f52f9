"""Exact characters on other keyboard layouts, X11: Xvfb switched with `setxkbmap` to German,
French (AZERTY) and US Dvorak, a Qt text field in another process, each insert method that
claims the text. (Wayland: test_insert_wayland.py.) Run with `-m "" -p no:xvfb`."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from dictate.output.clipboard import XclipClipboard
from dictate.output.inserter import DesktopSession, Inserter
from tests.desktop.test_insert_x11 import Target

pytestmark = pytest.mark.desktop
EXACT = "café über 20 € @ / ; ß ñ"
ASCII = "Hello, 20 @ / ; (a=b) [x] {y} z?"
LAYOUTS = [("us", ""), ("de", ""), ("fr", ""), ("us", "dvorak")]


@pytest.fixture(scope="module")
def x11(x_display: str) -> DesktopSession:
    session = DesktopSession.detect(env={"DISPLAY": x_display})
    for tool in ("xclip", "xdotool", "setxkbmap"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (bash tests/setup.sh)")
    pytest.importorskip("PySide6.QtWidgets", reason="the target window needs PySide6")
    return session


@pytest.fixture(params=LAYOUTS, ids=lambda p: "-".join(filter(None, p)))
def layout(request, x11) -> Iterator[str]:
    name, variant = request.param
    args = ["setxkbmap", name] + (["-variant", variant] if variant else [])
    subprocess.run(args, check=True, timeout=10)
    yield f"{name} {variant}".strip()
    subprocess.run(["setxkbmap", "us"], check=True, timeout=10)


@pytest.fixture
def target(layout, tmp_path) -> Iterator[Target]:
    t = Target(tmp_path)  # started after the switch: Qt reads the keymap at start
    yield t
    t.close()


@pytest.mark.parametrize("method", ["auto", "paste", "xdotool", "type"])
def test_accents_symbols_and_digits_arrive_exactly(x11, layout, target, method):
    board = XclipClipboard(x11.tools["xclip"])
    board.set_text("precious")
    ins = Inserter(method, session=x11)
    result = ins.insert(EXACT)
    ins.flush()
    # Typing cannot keep non-ASCII characters exactly (see Inserter._insert): it is pasted.
    used = "paste"
    assert result.ok and result.method == used, result
    assert target.wait_text(EXACT) == EXACT, layout
    assert board.get_text() == "precious"


@pytest.mark.parametrize("method", ["xdotool", "type"])
def test_typing_keeps_ascii_symbols_exact(x11, layout, target, method):
    if method == "type":
        pytest.importorskip("pynput.keyboard", reason="pynput is not installed")
    ins = Inserter(method, session=x11)
    result = ins.insert(ASCII)
    assert result.ok and result.method == method, result
    assert target.wait_text(ASCII) == ASCII, layout
