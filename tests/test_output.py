"""dictate.output with the OS faked: the paste protocol (save, set, keys, confirm, restore),
failure paths that must leave the text on the clipboard, tool argument building, xprop parsing
and the import rules (no Qt in the core, pynput only when used)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import pytest

from dictate.output import inserter as inserter_mod
from dictate.output import typing as typing_mod
from dictate.output.clipboard import Clipboard, Owner, Snapshot
from dictate.output.inserter import DesktopSession, Inserter, WindowInfo, focused_window
from dictate.output.typing import InputError, WtypeSender, XdotoolSender, YdotoolSender


class FakeOwner:
    def __init__(self) -> None:
        self.served = 0
        self.owned = True

    def requests(self) -> int:
        return self.served

    def alive(self) -> bool:
        return self.owned


class FakeClipboard(Clipboard):
    """An in-memory clipboard whose owner counts paste requests like xclip's log does."""

    def __init__(self, content: Snapshot | None = None, confirm: bool = True) -> None:
        self.content = content
        self.confirm = confirm
        self.owner: FakeOwner | None = None

    def _targets(self) -> list[str]:
        return [] if self.content is None else ["TARGETS", self.content.target]

    def _read(self, target: str) -> Snapshot | None:
        return self.content

    def _write(self, data: bytes, target: str) -> FakeOwner | None:
        if self.owner is not None:
            self.owner.owned = False  # like xclip: the previous owner loses the selection
        self.content = Snapshot(target, data)
        self.owner = FakeOwner() if self.confirm else None
        return self.owner  # type: ignore[return-value]

    def user_copies(self, text: str) -> None:
        self._write(text.encode(), "UTF8_STRING")


class FakeWindow:
    """A key sender and the window it types into: paste keys fetch the clipboard."""

    def __init__(self, board: FakeClipboard, takes_paste: bool = True) -> None:
        self.board = board
        self.takes_paste = takes_paste
        self.text = ""
        self.keys: list[str] = []
        self.name = "fake"

    def type_text(self, text: str) -> None:
        self.text += text

    def send_keys(self, combo: str) -> None:
        self.keys.append(combo)
        if self.takes_paste and self.board.content is not None:
            self.text += self.board.content.text or ""
            if self.board.owner is not None:
                self.board.owner.served += 1


def make(method="paste", *, clipboard=None, takes_paste=True, confirm=True, kind="macos"):
    board = FakeClipboard(clipboard, confirm=confirm)
    window = FakeWindow(board, takes_paste)
    ins = Inserter(method, session=DesktopSession(kind, {}), restore_delay_s=0.2)
    ins._clipboards["clipboard"] = board
    ins._key_senders = lambda: [window]  # type: ignore[method-assign]
    ins._sender = lambda m: window  # type: ignore[method-assign]
    return ins, board, window


def precious() -> Snapshot:
    return Snapshot("UTF8_STRING", b"precious")


def test_paste_inserts_then_restores_the_old_clipboard_after_the_delay():
    ins, board, window = make(clipboard=precious())
    result = ins.insert("café — naïve 😀")
    assert result.ok and result.method == "paste" and result.error is None
    assert window.text == "café — naïve 😀" and window.keys == ["cmd+v"]
    assert board.get_text() == "café — naïve 😀"  # not yet: the target may still be reading
    start = time.monotonic()
    ins.flush()
    assert board.get_text() == "precious"
    assert time.monotonic() - start < 0.25


def test_the_restore_also_happens_on_its_own():
    ins, board, _ = make(clipboard=precious())
    ins.insert("hello")
    time.sleep(0.4)
    assert board.get_text() == "precious"


def test_an_image_on_the_clipboard_comes_back_as_bytes():
    image = Snapshot("image/png", b"\x89PNG\r\n\x1a\n...")
    ins, board, _ = make(clipboard=image)
    ins.insert("hello")
    ins.flush()
    assert board.content == image


def test_a_copy_made_by_the_user_meanwhile_is_not_overwritten():
    ins, board, _ = make(clipboard=precious())
    ins.insert("hello")
    board.user_copies("newer")
    ins.flush()
    assert board.get_text() == "newer"


def test_unconfirmed_paste_fails_and_leaves_the_text_on_the_clipboard():
    ins, board, _ = make(clipboard=precious(), takes_paste=False)
    ins.confirm_timeout_s = 0.1
    result = ins.insert("hello")
    assert not result.ok and "did not take the text" in result.error
    assert "on the clipboard" in result.error
    ins.flush()
    assert board.get_text() == "hello"


def test_without_confirmation_support_a_sent_paste_counts_as_done():
    ins, board, window = make(clipboard=precious(), confirm=False)
    assert ins.insert("hello").ok and window.text == "hello"
    ins.flush()
    assert board.get_text() == "precious"


def test_back_to_back_pastes_each_restore_and_never_mix():
    ins, board, window = make(clipboard=precious())
    assert ins.insert("one ").ok and ins.insert("two").ok
    ins.flush()
    assert window.text == "one two" and board.get_text() == "precious"


def test_a_failed_key_press_keeps_the_text(monkeypatch):
    ins, board, window = make(clipboard=precious())

    def broken(combo: str) -> None:
        raise InputError("xdotool key failed: BadWindow")

    monkeypatch.setattr(window, "send_keys", broken)
    result = ins.insert("hello")
    assert not result.ok and "BadWindow" in result.error
    assert board.get_text() == "hello"


def test_wayland_without_key_tools_says_so_and_keeps_the_text():
    ins, board, _ = make(kind="wayland")
    ins._key_senders = lambda: []  # type: ignore[method-assign]
    result = ins.insert("hello")
    assert not result.ok and "cannot send keys" in result.error
    assert board.get_text() == "hello"


def test_typing_methods_and_their_unicode_fallbacks():
    ins, board, window = make("type", clipboard=precious(), kind="x11")
    assert ins.insert("Hello, world.").method == "type" and window.text == "Hello, world."
    result = ins.insert("café")  # pynput garbles it and there is no xdotool
    assert not result.ok and "non-ASCII" in result.error and board.get_text() == "café"
    ins.session = DesktopSession("x11", {"xdotool": "/usr/bin/xdotool"})
    ins.check_focus = False  # no display here to ask
    assert ins.insert("café").method == "xdotool"
    ins.method = "ydotool"
    assert ins.insert("naïve").method == "paste"  # ydotool sends US keycodes only


def test_empty_text_does_nothing():
    ins, board, window = make(clipboard=precious())
    result = ins.insert("")
    assert result.ok and window.keys == [] and board.get_text() == "precious"


def test_the_restore_delay_has_a_floor():
    assert (
        Inserter("paste", session=DesktopSession("x11", {}), restore_delay_s=0).restore_delay_s
        >= 0.2
    )


def test_snapshot_prefers_text_then_png():
    board = FakeClipboard()
    board._targets = lambda: ["TARGETS", "image/jpeg", "image/png", "TIMESTAMP"]  # type: ignore[method-assign]
    seen = []
    board._read = lambda t: seen.append(t) or Snapshot(t, b"x")  # type: ignore[method-assign]
    assert board.snapshot().target == "image/png"
    board._targets = lambda: ["TARGETS", "STRING", "image/png"]  # type: ignore[method-assign]
    assert board.snapshot().target == "STRING"
    board._targets = lambda: ["TARGETS", "text/plain;charset=utf-8"]  # type: ignore[method-assign]
    assert board.snapshot().target == "UTF8_STRING"
    assert Snapshot("image/png", b"x").text is None and Snapshot("STRING", b"ab").text == "ab"


def test_owner_counts_served_requests_from_the_xclip_log():
    fd, name = tempfile.mkstemp()
    os.unlink(name)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    owner = Owner(proc, fd)
    os.write(fd, b"Waiting for selection requests, Control-C to quit\n")
    os.write(fd, b"  Waiting for selection request number 1\n")
    assert owner.requests() == 0
    os.write(fd, b"  Waiting for selection request number 2\n")
    assert owner.requests() == 1
    proc.wait()
    assert not owner.alive()
    owner.close_log()
    owner.close_log()  # twice is harmless
    assert owner.requests() == 1


# ---- X11 window and tool plumbing, with the tools' output faked --------------------------


def fake_tools(monkeypatch, module, answers: dict[str, tuple[int, str]], calls: list) -> None:
    def run_tool(argv, **kwargs):
        calls.append(argv)
        for key, (rc, out) in answers.items():
            if key in " ".join(argv):
                return subprocess.CompletedProcess(argv, rc, out.encode(), b"")
        return subprocess.CompletedProcess(argv, 0, b"", b"")

    monkeypatch.setattr(module, "run_tool", run_tool)


def test_focused_window_reads_class_and_title(monkeypatch):
    inserter_mod._root_window.cache_clear()
    answers = {
        "getwindowfocus": (0, "4194311\n"),
        "search": (0, "1293\n"),
        "xprop": (
            0,
            'WM_CLASS(STRING) = "gnome-terminal-server", "Gnome-terminal"\n'
            '_NET_WM_NAME(UTF8_STRING) = "vim \\"notes\\" — café"\n'
            'WM_NAME(STRING) = "vim"\n',
        ),
    }
    calls: list = []
    fake_tools(monkeypatch, inserter_mod, answers, calls)
    session = DesktopSession("x11", {"xdotool": "xdotool", "xprop": "xprop"})
    window = focused_window(session)
    assert window == WindowInfo(4194311, ("gnome-terminal-server", "Gnome-terminal"))
    assert window.title == 'vim "notes" — café' and window.is_terminal
    # The same window with another title is the same window (sentences continue there).
    assert window == WindowInfo(4194311, window.wm_class, "other title")


@pytest.mark.parametrize("focus", [(1, ""), (0, "1\n"), (0, "1293\n")])
def test_no_focus_pointer_root_or_root_window_mean_no_window(monkeypatch, focus):
    inserter_mod._root_window.cache_clear()
    answers = {"getwindowfocus": focus, "getactivewindow": (1, ""), "search": (0, "1293\n")}
    fake_tools(monkeypatch, inserter_mod, answers, [])
    session = DesktopSession("x11", {"xdotool": "xdotool", "xprop": "xprop"})
    assert focused_window(session) is None
    assert focused_window(DesktopSession("wayland", {})) is None


def test_tool_arguments(monkeypatch):
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)  # no keeper keyboard: every run settles
    calls: list = []
    fake_tools(monkeypatch, typing_mod, {}, calls)
    XdotoolSender("xdotool", delay_ms=5).type_text("-n x")
    XdotoolSender("xdotool").send_keys("ctrl+shift+v")
    WtypeSender("wtype").send_keys("ctrl+shift+v")
    WtypeSender("wtype").type_text("-x")
    YdotoolSender("ydotool").send_keys("shift+Insert")
    assert calls == [
        ["xdotool", "type", "--clearmodifiers", "--delay", "5", "--", "-n x"],
        ["xdotool", "key", "--clearmodifiers", "--delay", "4", "ctrl+shift+v"],
        # -s 50: with no keeper keyboard, the first key waits for the window (WtypeSender).
        ["wtype", "-s", "50", "-M", "ctrl", "-M", "shift", "-k", "v", "-m", "shift", "-m", "ctrl"],
        ["wtype", "-s", "50", "--", "-x"],
        ["ydotool", "key", "42:1", "110:1", "110:0", "42:0"],
    ]


def test_a_failing_tool_reports_its_stderr(monkeypatch):
    def run_tool(argv, **kwargs):
        return subprocess.CompletedProcess(argv, 1, b"", b"Compositor does not support it\n")

    monkeypatch.setattr(typing_mod, "run_tool", run_tool)
    with pytest.raises(InputError, match="wtype failed: Compositor does not support it"):
        WtypeSender("wtype").type_text("x")


def test_pynput_without_a_display_is_an_input_error_not_an_import_error():
    code = (
        "from dictate.output.typing import PynputSender, InputError\n"
        "try:\n    PynputSender().type_text('x')\n"
        "except InputError as e:\n    print('InputError', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.startswith("InputError pynput cannot send keys here"), out.stderr


def test_importing_output_loads_neither_qt_nor_pynput():
    code = (
        "import sys, dictate.output.inserter, dictate.output.clipboard\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'shiboken6', 'PyQt5', 'PyQt6', 'pynput')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_flush_waits_for_a_restore_the_timer_already_started():
    done = []

    def slow_restore() -> None:
        time.sleep(0.3)
        done.append(True)

    pending = inserter_mod._Restore(slow_restore, time.monotonic())
    time.sleep(0.05)  # the timer thread is inside the restore now
    pending.finish()
    assert done == [True]


def test_one_idle_keyboard_is_kept_per_display_and_not_restarted_where_it_ended(monkeypatch):
    # `cat -` stands in for `wtype -`: both wait on stdin until it closes.
    monkeypatch.setenv("WAYLAND_DISPLAY", f"test-{os.getpid()}-{time.monotonic_ns()}")
    cat = "/bin/cat"
    assert typing_mod._keep_keyboard(cat) is True  # started: the first run waits for it
    assert typing_mod._keep_keyboard(cat) is False  # there: no pause at all
    keeper = typing_mod._keepers[cat, os.environ["WAYLAND_DISPLAY"]]
    assert keeper.poll() is None
    assert keeper.stdin is not None
    keeper.stdin.close()  # as when dictate exits: EOF, and it ends
    keeper.wait(5)
    assert typing_mod._keep_keyboard(cat) is None  # ended: not started again
    monkeypatch.delenv("WAYLAND_DISPLAY")
    assert typing_mod._keep_keyboard(cat) is None  # no Wayland: nothing to keep


def test_messages_say_each_thing_once_and_in_words():
    """Issue 28: "…the text is on the clipboard); it is on the clipboard" and "the focused
    window (dictate)" read as jargon; the inserter's words are the whole story."""
    from dictate.output.inserter import WindowInfo, not_taken

    ins, _board, _ = make(clipboard=precious(), takes_paste=False)
    ins.confirm_timeout_s = 0.1
    error = ins.insert("hello").error
    assert error is not None and error.count("clipboard") == 1
    own = WindowInfo(7, ("dictate", "dictate"), "dictate history")
    words = not_taken(own, "ctrl+v", 1.0)
    assert words.startswith("dictate's own window had the focus") and "focused window" not in words
    other = not_taken(WindowInfo(8, ("gedit", "Gedit")), "ctrl+v", 1.0)
    assert other == "the window in front (Gedit) did not take the text within 1 s of ctrl+v"


def test_insert_again_failure_names_the_clipboard_once(tmp_path, monkeypatch):
    """The history's Insert again: the app's message adds nothing the inserter said already."""
    from dictate.app import App
    from dictate.config import Settings
    from dictate.output.inserter import InsertResult

    for name in ("DATA", "CONFIG", "CACHE"):
        monkeypatch.setenv(f"DICTATE_{name}_DIR", str(tmp_path / name.lower()))
    monkeypatch.setenv("DICTATE_SOCKET", str(tmp_path / "control.sock"))
    said: list[str] = []
    app = App(Settings(device="cpu"), say=said.append)
    try:
        error = "no window has the keyboard focus; the text is on the clipboard"
        monkeypatch.setattr(
            app.inserter, "insert", lambda text: InsertResult(False, "paste", error, 1.0)
        )
        app.insert_text("hello", delay_s=0)
        app._commands.submit(lambda: None).result(10)
    finally:
        app.shutdown()
    assert said[-1] == f"could not insert the text: {error}"
    assert said[-1].count("clipboard") == 1
