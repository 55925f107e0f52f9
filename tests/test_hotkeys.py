"""PressLogic (what presses and releases of the hotkey mean) and combo parsing: pure and fast."""

from __future__ import annotations

import pytest

from dictate.control.hotkeys import HotkeyError, HotkeyListener, HotkeyMode, PressLogic, parse_combo


class App:
    """Drives a PressLogic the way HotkeyListener does, with synthetic timestamps."""

    def __init__(self, mode: HotkeyMode, threshold: float = 0.4) -> None:
        self.logic = PressLogic(mode, threshold)
        self.recording = False
        self.actions: list[str] = []

    def _apply(self, action: str | None) -> None:
        if action is not None:
            self.actions.append(action)
            self.recording = action == "start"

    def press(self, t: float) -> None:
        self._apply(self.logic.press(t, self.recording))

    def release(self, t: float) -> None:
        self._apply(self.logic.release(t, self.recording))

    def tap(self, t: float, held: float = 0.1) -> None:
        self.press(t)
        self.release(t + held)


def test_hold_press_starts_release_stops() -> None:
    app = App(HotkeyMode.HOLD)
    app.press(0.0)
    assert app.actions == ["start"]
    app.release(0.05)  # even a very short hold stops on release
    assert app.actions == ["start", "stop"]
    app.press(1.0)
    app.release(5.0)
    assert app.actions == ["start", "stop", "start", "stop"]


def test_hold_ignores_key_repeat_and_stray_releases() -> None:
    app = App(HotkeyMode.HOLD)
    app.release(0.0)  # the combo was down before the listener started
    for t in (0.1, 0.2, 0.3, 0.4):  # auto-repeat sends more presses while held
        app.press(t)
    app.release(0.5)
    app.release(0.6)
    assert app.actions == ["start", "stop"]


def test_hold_when_recording_started_elsewhere_release_stops_it() -> None:
    logic = PressLogic(HotkeyMode.HOLD)
    assert logic.press(0.0, recording=True) is None  # e.g. `dictate toggle` started it
    assert logic.release(0.3, recording=True) == "stop"


def test_toggle_each_press_toggles_release_does_nothing() -> None:
    app = App(HotkeyMode.TOGGLE)
    app.tap(0.0)
    assert app.actions == ["start"] and app.recording
    app.tap(2.0, held=1.5)  # a long press is still one toggle
    assert app.actions == ["start", "stop"] and not app.recording
    app.press(3.0)
    app.press(3.1)  # repeat
    app.release(3.2)
    assert app.actions == ["start", "stop", "start"]


@pytest.mark.parametrize("held", [0.01, 0.2, 0.399])
def test_auto_tap_toggles(held: float) -> None:
    app = App(HotkeyMode.AUTO, threshold=0.4)
    app.tap(0.0, held=held)
    assert app.actions == ["start"] and app.recording  # keeps recording after a quick tap
    app.tap(3.0, held=held)
    assert app.actions == ["start", "stop"]


@pytest.mark.parametrize("held", [0.4, 0.41, 5.0])
def test_auto_hold_is_push_to_talk(held: float) -> None:
    app = App(HotkeyMode.AUTO, threshold=0.4)
    app.tap(0.0, held=held)
    assert app.actions == ["start", "stop"]


def test_auto_press_while_recording_stops_at_once_however_long_held() -> None:
    app = App(HotkeyMode.AUTO)
    app.tap(0.0)  # tap: recording
    app.press(1.0)
    assert app.actions == ["start", "stop"]
    app.release(3.0)  # the long hold after a stop does not start anything
    assert app.actions == ["start", "stop"]


def test_cancel_during_hold_then_release_does_nothing() -> None:
    for mode in HotkeyMode:
        logic = PressLogic(mode)
        assert logic.press(0.0, recording=False) == "start"
        logic.reset()  # Esc: the app cancelled; it is no longer recording
        assert logic.release(1.0, recording=False) is None
        assert logic.press(2.0, recording=False) == "start"  # and the next press works


def test_mode_from_string() -> None:
    assert PressLogic("auto").mode is HotkeyMode.AUTO
    assert HotkeyMode("hold") is HotkeyMode.HOLD
    with pytest.raises(ValueError):
        PressLogic("sometimes")


@pytest.mark.parametrize(
    ("combo", "parts"),
    [
        ("<ctrl>+<alt>+d", ["<ctrl>", "<alt>", "d"]),
        (" <CTRL> + D ", ["<ctrl>", "d"]),
        ("<ctrl>++", ["<ctrl>", "+"]),
        ("<f9>", ["<f9>"]),
        ("<cmd>+<shift>+<space>", ["<cmd>", "<shift>", "<space>"]),
        ("<65>+a", ["<65>", "a"]),
    ],
)
def test_parse_combo_accepts(combo: str, parts: list[str]) -> None:
    assert parse_combo(combo) == parts


@pytest.mark.parametrize(
    ("combo", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("ctrl+alt+d", "angle brackets: <ctrl>"),
        ("<ctrl>+", "ends with '+'"),
        ("<ctrl>++d", "'+d' is not a key"),
        ("<ctl>+d", "unknown key <ctl>"),
        ("<ctrl>+<ctrl>+d", "twice"),
        ("<ctrl>+dd", "'dd' is not a key"),
        ("<>", "not a key"),
    ],
)
def test_parse_combo_rejects_with_a_clear_message(combo: str, why: str) -> None:
    with pytest.raises(HotkeyError) as info:
        parse_combo(combo)
    message = str(info.value)
    assert why in message and "<ctrl>+<alt>+d" in message and "\n" not in message


def test_listener_checks_combos_before_touching_pynput() -> None:
    def noop() -> None:
        pass

    with pytest.raises(HotkeyError, match="unknown key"):
        HotkeyListener("<ctrl>+<bogus>", "hold", noop, noop, noop, is_recording=lambda: False)
    with pytest.raises(HotkeyError, match="single key"):
        HotkeyListener(
            "<f9>", "hold", noop, noop, noop, cancel_key="<ctrl>+c", is_recording=lambda: False
        )


def test_no_display_gives_wayland_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without X, pynput raises ImportError at import: that becomes a HotkeyError naming the way
    out (bind `dictate toggle`)."""
    import sys

    monkeypatch.setitem(sys.modules, "pynput", None)  # import pynput -> ImportError
    listener = HotkeyListener(
        "<ctrl>+<alt>+d", "hold", print, print, print, is_recording=lambda: False
    )
    with pytest.raises(HotkeyError) as info:
        listener.start()
    assert "dictate toggle" in str(info.value) and "X11" in str(info.value)


def test_an_empty_display_is_refused_before_pynput_starts_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pynput imported earlier with a display, DISPLAY empty now: its listener thread would die
    connecting to X with an exception nobody catches; the listener says why instead."""
    import sys
    import types

    started: list[object] = []

    class Listener:  # pynput's X11 listener, as far as start() looks at it
        __module__ = "pynput.keyboard._xorg"

        def __init__(self, **kw: object) -> None:
            started.append(self)

    fake = types.ModuleType("pynput")
    fake.keyboard = types.SimpleNamespace(Listener=Listener)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynput", fake)
    monkeypatch.setenv("DISPLAY", "")
    listener = HotkeyListener(
        "<ctrl>+<alt>+d", "hold", print, print, print, is_recording=lambda: False
    )
    with pytest.raises(HotkeyError, match="X11 display") as info:
        listener.start()
    assert "dictate toggle" in str(info.value)
    assert started == []
