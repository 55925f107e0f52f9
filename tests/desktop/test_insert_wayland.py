"""Text insertion for real on Wayland: headless sway (wlroots: wtype's virtual keyboard and
wl-clipboard work) and headless weston (neither works, as on GNOME and KDE), a `foot` terminal
as the Wayland-native target, the real wtype, wl-copy and wl-paste, no X display.

Each method is checked 20 times in a row: the first character used to be lost in about half
of wtype's runs (see WtypeSender)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dictate.output.inserter import DesktopSession, Inserter
from tests.desktop import wayland

pytestmark = pytest.mark.desktop
EXACT = "café über 20 € @ / ; ß ñ"
RUNS = 20
TARGET_APP = Path(__file__).with_name("target_app.py")


@pytest.fixture(scope="module")
def sway() -> Iterator[wayland.Compositor]:
    reason = wayland.missing("sway", "swaymsg", "foot", "wtype", "wl-copy", "wl-paste")
    if reason:
        pytest.skip(reason)
    compositor = wayland.Compositor("sway")
    yield compositor
    compositor.stop()


@pytest.fixture
def session(sway, monkeypatch) -> DesktopSession:
    """This process as a client of `sway`: the tools it runs inherit the environment."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", sway.env["WAYLAND_DISPLAY"])
    detected = DesktopSession.detect()
    assert detected.kind == "wayland"
    return detected


@pytest.fixture
def foot(sway) -> Iterator[wayland.FootTarget]:
    target = sway.terminal()
    yield target
    target.close()


def wl(*args: str, data: str | None = None) -> subprocess.CompletedProcess[str]:
    # wl-copy forks an owner that keeps our pipes open: no pipes for it.
    out = subprocess.DEVNULL if args[0] == "wl-copy" else subprocess.PIPE
    return subprocess.run(args, input=data, stdout=out, stderr=out, text=True, timeout=10)


def set_selections(clip: str, primary: str) -> None:
    for flag, text in (([], clip), (["--primary"], primary)):
        assert wl("wl-copy", *flag, data=text).returncode == 0


def selections() -> tuple[str, str]:
    return wl("wl-paste", "-n").stdout, wl("wl-paste", "--primary", "-n").stdout


def run_many(ins: Inserter, foot: wayland.FootTarget, text: str, method: str) -> list[str]:
    """Insert `text` RUNS times; what arrived wrong (an empty list is 20/20 exact)."""
    wrong, expected = [], foot.text()
    for n in range(RUNS):
        line = f"{n:02d} {text}|"
        result = ins.insert(line)
        ins.flush()
        assert result.ok and result.method == method, result
        expected += line
        got = foot.wait_text(expected)
        if got != expected:
            wrong.append(got[len(expected) - len(line) :])
            expected = got  # judge the next run on its own
    return wrong


def test_wtype_types_every_character_first_one_included_20_of_20(session, foot):
    ins = Inserter("wtype", session=session)
    assert run_many(ins, foot, "Hello there.", "wtype") == []


def test_paste_arrives_exactly_and_both_selections_come_back_20_of_20(session, foot):
    ins = Inserter("paste", session=session)
    set_selections("precious", "primary words")
    assert run_many(ins, foot, EXACT, "paste") == []
    assert selections() == ("precious", "primary words")


def test_auto_pastes_short_and_long_text(session, foot):
    ins = Inserter("auto", session=session)
    assert "Shift+Insert sent by wtype" in ins.route()
    set_selections("precious", "primary words")
    short = ins.insert("Short one.")
    long = ins.insert(" And a longer sentence, with accents: " + EXACT)
    ins.flush()
    assert (short.ok, short.method, long.ok, long.method) == (True, "paste", True, "paste")
    expected = "Short one. And a longer sentence, with accents: " + EXACT
    assert foot.wait_text(expected) == expected
    assert selections() == ("precious", "primary words")


def test_auto_types_with_wtype_when_the_clipboard_tools_fail(session, foot):
    # wl-copy present but failing (as on a seat-less compositor): the next route is wtype.
    broken = {**session.tools, "wl-copy": "/bin/false"}
    ins = Inserter("auto", session=DesktopSession(session.kind, broken))
    result = ins.insert("Typed instead.")
    assert (result.ok, result.method) == (True, "wtype"), result
    assert foot.wait_text("Typed instead.") == "Typed instead."


def test_wtype_into_no_window_exits_0_so_auto_does_not_rely_on_it(sway):
    # Why typing is not the first route: nothing arrives anywhere, and wtype says nothing.
    done = subprocess.run(["wtype", "lost"], env=sway.env, capture_output=True, timeout=10)
    assert done.returncode == 0 and done.stderr == b""


def test_an_empty_clipboard_is_left_empty(session, foot):
    assert wl("wl-copy", "--clear").returncode == 0
    assert wl("wl-copy", "--primary", "--clear").returncode == 0
    ins = Inserter("paste", session=session)
    assert ins.insert("Nothing to restore.").ok
    ins.flush()
    assert foot.wait_text("Nothing to restore.") == "Nothing to restore."
    assert wl("wl-paste", "-n").returncode != 0  # "No selection", as before


def test_a_paste_nobody_takes_fails_and_leaves_the_text_on_the_clipboard(session, sway):
    # No window at all has the focus: the keys go nowhere and nothing fetches the text.
    ins = Inserter("paste", session=session, confirm_timeout_s=0.5)
    result = ins.insert("Nobody reads this.")
    assert not result.ok and "did not take the text" in result.error
    assert "on the clipboard" in result.error
    assert wl("wl-paste", "-n").stdout == "Nobody reads this."
    assert wl("wl-paste", "-n").stdout == "Nobody reads this."  # a lasting copy, not one paste


@pytest.mark.parametrize(
    ("layout", "variant"), [("us", ""), ("de", ""), ("fr", ""), ("us", "dvorak")]
)
@pytest.mark.parametrize("method", ["wtype", "paste"])
def test_exact_text_on_each_keyboard_layout(session, sway, foot, layout, variant, method):
    sway.swaymsg("input", "*", "xkb_layout", layout)
    sway.swaymsg("input", "*", "xkb_variant", variant or '""')
    ins = Inserter(method, session=session)
    result = ins.insert(EXACT)
    ins.flush()
    assert result.ok and result.method == method, result
    assert foot.wait_text(EXACT) == EXACT


@pytest.fixture(scope="module")
def weston() -> Iterator[wayland.Compositor]:
    reason = wayland.missing("weston", "wtype", "wl-copy", "wl-paste")
    if reason:
        pytest.skip(reason)
    compositor = wayland.Compositor("weston")
    yield compositor
    compositor.stop()


def test_without_virtual_keyboard_every_route_is_tried_and_the_failure_is_told(weston, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", weston.env["WAYLAND_DISPLAY"])
    ins = Inserter("auto")
    result = ins.insert("A sentence that must not vanish silently.")
    assert not result.ok
    # Each route's own reason, and where the text is (nowhere but the history, here).
    assert "virtual keyboard" in result.error, result.error
    assert "paste:" in result.error and "wtype:" in result.error, result.error
    assert "could not be put on the clipboard either" in result.error, result.error


def test_a_qt_wayland_window_gets_typed_and_pasted_text(session, sway, tmp_path):
    """Qt as a native Wayland client reads the offered text once per paste, as foot does."""
    pytest.importorskip("PySide6.QtWidgets", reason="the target window needs PySide6")
    state = tmp_path / "target.json"
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "QT_QPA_PLATFORM": "wayland", "XDG_RUNTIME_DIR": str(runtime)}
    proc = subprocess.Popen(
        [sys.executable, str(TARGET_APP), str(state)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("READY")

        def state_now() -> dict:
            try:
                return json.loads(state.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}

        def text() -> str:
            return state_now().get("text", "")

        deadline = time.monotonic() + 10
        while not state_now().get("focus"):
            assert time.monotonic() < deadline, "the Qt window never got the focus"
            time.sleep(0.05)
        set_selections("precious", "primary words")
        expected = ""
        for method in ("wtype", "paste"):
            ins = Inserter(method, session=session)
            result = ins.insert(f"{method}: {EXACT}|")
            ins.flush()
            assert result.ok and result.method == method, result
            expected += f"{method}: {EXACT}|"
            deadline = time.monotonic() + 5
            while text() != expected and time.monotonic() < deadline:
                time.sleep(0.02)
            assert text() == expected
        assert selections() == ("precious", "primary words")
    finally:
        proc.kill()
        proc.wait(10)
