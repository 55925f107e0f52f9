"""HotkeyListener under a real X server (Xvfb), driven by xdotool (XTEST) key events."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from dictate.control.hotkeys import HotkeyListener, HotkeyMode

pytestmark = pytest.mark.desktop

COMBO = "<ctrl>+<alt>+d"
WAIT_S = 3.0  # generous: callbacks normally arrive within ~10 ms


def xdotool(display: str, *args: str) -> None:
    subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, check=True)


class FakeApp:
    """Records what the listener asked for, and tracks `recording` like the session would."""

    def __init__(self) -> None:
        self.recording = False
        self.events: queue.Queue[str] = queue.Queue()

    def start(self) -> None:
        self.recording = True
        self.events.put("start")

    def stop(self) -> None:
        self.recording = False
        self.events.put("stop")

    def cancel(self) -> None:
        self.recording = False
        self.events.put("cancel")

    def next(self, timeout: float = WAIT_S) -> str | None:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None


@pytest.fixture
def make_listener(x_display: str) -> Iterator:
    started: list[HotkeyListener] = []

    def make(mode: HotkeyMode, **kw: object) -> tuple[FakeApp, HotkeyListener]:
        app = FakeApp()
        listener = HotkeyListener(
            COMBO, mode, app.start, app.stop, app.cancel, is_recording=lambda: app.recording, **kw
        )
        listener.start()
        started.append(listener)
        return app, listener

    yield make
    stop_all(started, x_display)


def stop_all(listeners: list[HotkeyListener], display: str) -> None:
    threads = [listener._listener for listener in listeners if listener._listener is not None]
    for listener in listeners:
        listener.stop()
    xdotool(display, "keyup", "ctrl+alt+d")  # never leave keys down for the next test
    # A stopped pynput listener's thread ends only at the next input event; it must end
    # before Xvfb does, or it dies with "connection closed" (a keyup of an up key is no event).
    xdotool(display, "key", "shift")
    for thread in threads:
        threading.Thread.join(thread, 2.0)


def test_hold_mode(make_listener, x_display: str) -> None:
    app, _ = make_listener(HotkeyMode.HOLD)
    t0 = time.monotonic()
    xdotool(x_display, "keydown", "ctrl+alt+d")
    assert app.next() == "start"
    print(f"keydown -> on_start: {(time.monotonic() - t0) * 1000:.0f} ms")
    time.sleep(1.0)  # past X's auto-repeat delay (660 ms): "d" now repeats as more presses
    xdotool(x_display, "keyup", "ctrl+alt+d")
    assert app.next() == "stop"
    assert app.next(0.3) is None  # the repeats changed nothing: one start, one stop


def test_stop_then_start_again(make_listener, x_display: str) -> None:
    app, listener = make_listener(HotkeyMode.TOGGLE)
    listener.stop()
    xdotool(x_display, "key", "ctrl+alt+d")
    assert app.next(0.5) is None  # stopped: deaf
    listener.start()
    xdotool(x_display, "key", "ctrl+alt+d")
    assert app.next() == "start"


def test_partial_combo_and_typing_do_nothing(make_listener, x_display: str) -> None:
    app, listener = make_listener(HotkeyMode.HOLD)
    xdotool(x_display, "key", "ctrl+d", "alt+d", "d", "ctrl+alt+e")
    xdotool(x_display, "type", "hello secret")
    assert app.next(0.5) is None
    # Only the combination's keys are ever kept, and none is down now.
    assert listener._down == set()


def test_toggle_mode(make_listener, x_display: str) -> None:
    app, _ = make_listener(HotkeyMode.TOGGLE)
    xdotool(x_display, "key", "ctrl+alt+d")
    assert app.next() == "start"
    assert app.next(0.3) is None  # the release does not stop it
    xdotool(x_display, "keydown", "ctrl+alt+d")
    assert app.next() == "stop"
    xdotool(x_display, "keyup", "ctrl+alt+d")
    assert app.next(0.3) is None


def test_auto_mode_tap_toggles_and_hold_is_push_to_talk(make_listener, x_display: str) -> None:
    app, _ = make_listener(HotkeyMode.AUTO, hold_threshold_s=0.4)
    xdotool(x_display, "key", "ctrl+alt+d")  # a tap (a few ms)
    assert app.next() == "start"
    assert app.next(0.6) is None and app.recording  # still recording after the tap
    xdotool(x_display, "key", "ctrl+alt+d")
    assert app.next() == "stop"

    xdotool(x_display, "keydown", "ctrl+alt+d")
    assert app.next() == "start"
    time.sleep(0.7)  # held past the threshold: push-to-talk
    xdotool(x_display, "keyup", "ctrl+alt+d")
    assert app.next() == "stop"


def test_escape_cancels_only_while_recording(make_listener, x_display: str) -> None:
    app, _ = make_listener(HotkeyMode.TOGGLE)
    xdotool(x_display, "key", "Escape")
    assert app.next(0.5) is None  # not recording: Esc is left alone
    xdotool(x_display, "key", "ctrl+alt+d")
    assert app.next() == "start"
    xdotool(x_display, "key", "Escape")
    assert app.next() == "cancel"
    assert not app.recording
    xdotool(x_display, "key", "ctrl+alt+d")  # and the hotkey still works afterwards
    assert app.next() == "start"


def test_escape_during_hold_then_release_does_not_stop(make_listener, x_display: str) -> None:
    app, _ = make_listener(HotkeyMode.HOLD)
    xdotool(x_display, "keydown", "ctrl+alt+d")
    assert app.next() == "start"
    xdotool(x_display, "key", "Escape")
    assert app.next() == "cancel"
    xdotool(x_display, "keyup", "ctrl+alt+d")
    assert app.next(0.5) is None  # cancelled: the release has nothing to stop


def test_a_slow_start_callback_does_not_lose_the_release(make_listener, x_display: str) -> None:
    """Callbacks run in order on their own thread, so a release that comes while on_start is
    still opening the microphone is handled after it, and stops the recording."""
    app = FakeApp()
    real_start = app.start

    def slow_start() -> None:
        time.sleep(0.5)
        real_start()

    listener = HotkeyListener(
        COMBO, "hold", slow_start, app.stop, app.cancel, is_recording=lambda: app.recording
    )
    listener.start()
    try:
        xdotool(x_display, "keydown", "ctrl+alt+d")
        xdotool(x_display, "keyup", "ctrl+alt+d")
        assert app.next() == "start"
        assert app.next() == "stop"
    finally:
        stop_all([listener], x_display)
