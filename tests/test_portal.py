"""The portal shortcuts' pure parts: trigger syntax and what each signal does. The D-Bus
conversation itself is tested for real against a stand-in portal (tests/desktop/test_portal.py)."""

from __future__ import annotations

import pytest

from dictate.control.hotkeys import HotkeyError
from dictate.control.portal import PortalShortcuts, portal_trigger


@pytest.mark.parametrize(
    ("combo", "trigger"),
    [
        ("<ctrl>+<alt>+d", "CTRL+ALT+d"),
        ("<cmd>+<shift>+<space>", "LOGO+SHIFT+space"),
        ("<ctrl>+<f9>", "CTRL+F9"),
        ("<alt>+<esc>", "ALT+Escape"),
        ("<ctrl>+<page_down>", "CTRL+Next"),
    ],
)
def test_settings_combos_become_portal_triggers(combo, trigger):
    assert portal_trigger(combo) == trigger


def test_a_bad_combo_is_refused_before_any_bus_is_touched():
    with pytest.raises(HotkeyError, match="invalid hotkey"):
        portal_trigger("<ctrl>+")


def make(mode: str, cancel_key: str = "<esc>"):
    calls: list[str] = []
    state = {"recording": False}

    def act(name: str):
        def run() -> None:
            calls.append(name)
            state["recording"] = name == "start"

        return run

    shortcuts = PortalShortcuts(
        "<ctrl>+<alt>+d", mode, act("start"), act("stop"), act("cancel"),
        cancel_key=cancel_key, is_recording=lambda: state["recording"],
    )  # fmt: skip
    return shortcuts, calls


def test_hold_mode_starts_on_activated_and_stops_on_deactivated():
    shortcuts, calls = make("hold")
    shortcuts._shortcut("dictate", True)
    shortcuts._shortcut("dictate", True)  # a repeated Activated changes nothing
    shortcuts._shortcut("dictate", False)
    assert calls == ["start", "stop"]


def test_toggle_and_cancel_shortcuts():
    shortcuts, calls = make("hold")
    shortcuts._shortcut("cancel", True)  # nothing to cancel
    shortcuts._shortcut("toggle", True)
    shortcuts._shortcut("toggle", False)  # a release of toggle means nothing
    shortcuts._shortcut("cancel", True)
    shortcuts._shortcut("toggle", True)
    shortcuts._shortcut("toggle", True)
    assert calls == ["start", "cancel", "start", "stop"]


def test_a_bare_cancel_key_is_not_grabbed_desktop_wide():
    assert make("hold")[0].cancel_trigger == ""  # Esc everywhere would break Esc everywhere
    assert make("hold", "<f8>")[0].cancel_trigger == ""
    assert make("toggle")[0].trigger == "CTRL+ALT+d"
