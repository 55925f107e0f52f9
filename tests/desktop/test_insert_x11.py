"""Text insertion for real on X11: Xvfb (no window manager), a Qt text field in another process
(tests/desktop/target_app.py), the real xclip, xdotool and pynput. Run with `-m "" -p no:xvfb`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dictate.output.clipboard import XclipClipboard
from dictate.output.inserter import DesktopSession, Inserter, focused_window

pytestmark = pytest.mark.desktop
TARGET_APP = Path(__file__).with_name("target_app.py")


def wait_for(check: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.02)


class Target:
    """A Qt text field in its own process; it focuses itself and reports its text as JSON."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.state_file = folder / "target.json"
        env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
        self.proc = subprocess.Popen(
            [sys.executable, str(TARGET_APP), str(self.state_file), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # READY <window id>, or EOF if Qt failed
        if not line.startswith("READY"):
            self.proc.kill()
            pytest.fail(f"target app did not start: {line!r} {self.proc.stderr.read()}")
        self.wid = int(line.split()[1])
        wait_for(lambda: self.state().get("focus"), what="the target to have the focus")

    def state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def text(self) -> str:
        return self.state().get("text", "")

    def wait_text(self, expected: str, timeout: float = 5.0) -> str:
        with contextlib.suppress(AssertionError):  # the caller's assert shows the text
            wait_for(lambda: self.text() == expected, timeout, f"text {expected!r}")
        return self.text()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def x11(x_display: str) -> DesktopSession:
    session = DesktopSession.detect(env={"DISPLAY": x_display})
    if not session.has("xclip"):
        pytest.skip("xclip is not installed (apt install xclip)")
    pytest.importorskip("PySide6.QtWidgets", reason="the target window needs PySide6")
    return session


@pytest.fixture
def target_factory(x11, tmp_path) -> Iterator[Callable[..., Target]]:
    started: list[Target] = []

    def start(*args: str) -> Target:
        folder = tmp_path / f"t{len(started)}"
        folder.mkdir()
        started.append(Target(folder, *args))
        return started[-1]

    yield start
    for t in started:
        t.close()


@pytest.fixture
def target(target_factory) -> Target:
    return target_factory()


@pytest.fixture
def clipboard(x11) -> XclipClipboard:
    board = XclipClipboard(x11.tools["xclip"])
    board.set_text("precious")
    return board


@pytest.mark.parametrize("method", ["paste", "type", "xdotool", "wtype", "ydotool"])
def test_each_method_inserts_hello_world(x11, target, clipboard, method):
    if method == "wtype":
        pytest.skip("wtype needs a Wayland compositor; it cannot reach an X server")
    if method == "ydotool" and not (x11.has("ydotool") and os.access("/dev/uinput", os.W_OK)):
        pytest.skip("ydotool needs ydotool, its daemon and a writable /dev/uinput")
    if method == "type":
        pytest.importorskip("pynput.keyboard", reason="pynput is not installed")
    if method == "xdotool" and not x11.has("xdotool"):
        pytest.skip("xdotool is not installed")
    ins = Inserter(method, session=x11)
    result = ins.insert("Hello, world.")
    ins.flush()
    assert result.ok, result.error
    assert result.method == method
    assert target.wait_text("Hello, world.") == "Hello, world."
    assert clipboard.get_text() == "precious"  # every method leaves the user's clipboard alone


def test_unicode_arrives_intact_through_paste_and_the_clipboard_comes_back(x11, target, clipboard):
    ins = Inserter("auto", session=x11)
    result = ins.insert("café — naïve 😀")
    assert result.ok and result.method == "paste", result
    assert target.wait_text("café — naïve 😀") == "café — naïve 😀"
    assert target.state()["keys"] == ["ctrl+v"]
    ins.flush()
    assert clipboard.get_text() == "precious"


def test_sentences_continue_in_the_same_window(x11, target, clipboard):
    ins = Inserter("auto", session=x11)
    window = focused_window(x11)
    assert window is not None and window.id == target.wid
    assert window.wm_class == ("dictate-target", "DictateTarget")
    assert window.title == "dictate test target" and not window.is_terminal
    assert ins.insert("One.").ok and ins.insert(" Two.").ok
    assert target.wait_text("One. Two.") == "One. Two."
    assert focused_window(x11) == window


def test_a_terminal_by_wm_class_gets_ctrl_shift_v(x11, target_factory, clipboard):
    term = target_factory("--name", "gnome-terminal-server", "--class", "Gnome-terminal")
    ins = Inserter("paste", session=x11)
    assert ins.insert("ls -la").ok
    assert term.wait_text("ls -la") == "ls -la"
    assert term.state()["keys"] == ["ctrl+shift+v"]
    ins.flush()
    assert clipboard.get_text() == "precious"


def test_a_real_xterm_gets_shift_insert_and_both_selections_come_back(x11, tmp_path, clipboard):
    if shutil.which("xterm") is None:
        pytest.skip("xterm is not installed (apt install xterm)")
    primary = XclipClipboard(x11.tools["xclip"], "primary")
    primary.set_text("selected")
    out = tmp_path / "xterm.out"
    # Non-canonical tty: cat gets the pasted characters without waiting for a newline.
    term = subprocess.Popen(
        ["xterm", "-e", "sh", "-c", f"stty -icanon -echo; exec cat > '{out}'"],
        stderr=subprocess.DEVNULL,
    )
    try:
        xdotool = x11.tools["xdotool"]
        wid = ""

        def mapped() -> bool:
            nonlocal wid
            found = subprocess.run([xdotool, "search", "--class", "xterm"], capture_output=True)
            wid = found.stdout.decode().split()[-1] if found.stdout.strip() else ""
            return bool(wid)

        wait_for(mapped, 10, "the xterm window")
        time.sleep(0.3)  # the shell inside must reach stty before the paste
        subprocess.run([xdotool, "windowfocus", "--sync", wid], check=True, timeout=5)
        ins = Inserter("auto", session=x11)
        result = ins.insert("echo café")
        assert result.ok, result.error
        wait_for(lambda: out.read_text(encoding="utf-8") == "echo café", 5, "xterm output")
        ins.flush()
        assert clipboard.get_text() == "precious" and primary.get_text() == "selected"
    finally:
        term.kill()
        term.wait(10)


def test_no_focused_window_fails_and_leaves_the_text_on_the_clipboard(x11, clipboard):
    xdotool = x11.tools["xdotool"]
    root = subprocess.run([xdotool, "search", "--maxdepth", "0", ""], capture_output=True)
    subprocess.run([xdotool, "windowfocus", root.stdout.decode().split()[0]], check=True)
    assert focused_window(x11) is None
    for method in ("paste", "xdotool"):
        clipboard.set_text("precious")
        result = Inserter(method, session=x11).insert(f"kept by {method}")
        assert not result.ok and "no window has the keyboard focus" in result.error
        assert clipboard.get_text() == f"kept by {method}"


def test_a_window_that_does_not_paste_is_reported(x11, target_factory, clipboard):
    target_factory("--read-only")
    ins = Inserter("paste", session=x11, confirm_timeout_s=0.5)
    result = ins.insert("not taken")
    ins.flush()
    assert not result.ok and "did not take the text" in result.error
    assert clipboard.get_text() == "not taken"


def test_without_xclip_paste_fails_clearly_and_auto_types(x11, target, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("xdotool", "xprop"):
        if tool in x11.tools:
            (bin_dir / tool).symlink_to(x11.tools[tool])
    session = DesktopSession.detect(env={"DISPLAY": os.environ["DISPLAY"]}, path=str(bin_dir))
    assert "xclip" not in session.tools
    result = Inserter("paste", session=session).insert("lost?")
    assert not result.ok and "xclip" in result.error
    assert "could not be put on the clipboard either" in result.error  # honest, not silent
    result = Inserter("auto", session=session).insert("Hello, world.")
    assert result.ok and result.method == "xdotool", result
    assert target.wait_text("Hello, world.") == "Hello, world."


def test_typing_survives_a_keyboard_layout_switch(x11, target):
    pytest.importorskip("pynput.keyboard", reason="pynput is not installed")
    if shutil.which("setxkbmap") is None:
        pytest.skip("setxkbmap is not installed")
    ins = Inserter("type", session=x11)
    try:
        assert ins.insert("azerty qwm.").ok
        subprocess.run(["setxkbmap", "fr"], check=True, timeout=10)
        time.sleep(0.2)
        # A reused pynput Controller would type "qwerty az,:" here: its keymap is cached.
        assert ins.insert(" azerty qwm.").ok
    finally:
        subprocess.run(["setxkbmap", "us"], check=True, timeout=10)
    assert target.wait_text("azerty qwm. azerty qwm.") == "azerty qwm. azerty qwm."


def test_clipboard_round_trips_unicode_and_binary(x11, clipboard):
    clipboard.set_text("ünïcödé 😀\nline two")
    assert clipboard.get_text() == "ünïcödé 😀\nline two"
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    subprocess.run(
        [x11.tools["xclip"], "-selection", "clipboard", "-t", "image/png", "-i"],
        input=png,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=5,
    )
    snap = clipboard.snapshot()
    assert snap is not None and snap.target == "image/png" and snap.data == png
    owner = clipboard.set_text("text")
    clipboard.restore(snap)
    wait_for(lambda: not owner.alive(), 10, "xclip to exit")  # losing the selection ends it
    assert clipboard.snapshot() == snap
    last = clipboard.set_text("gone soon")
    last.proc.terminate()  # no owner left: an empty clipboard
    last.proc.wait(5)
    assert clipboard.get_text() is None and clipboard.snapshot() is None
