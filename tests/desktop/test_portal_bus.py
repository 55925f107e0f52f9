"""Global shortcuts through the XDG desktop portal, for real over D-Bus: a private dbus-daemon
and the stand-in portal (fake_portal.py) that follows the GlobalShortcuts specification.
The whole app with a real dictation: test_wayland_app.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from dictate.control.portal import PortalError, PortalShortcuts
from tests.desktop.portal_bus import Bus, FakePortal, missing

pytestmark = pytest.mark.desktop


@pytest.fixture(scope="module")
def bus() -> Iterator[Bus]:
    if reason := missing():
        pytest.skip(reason)
    b = Bus()
    yield b
    b.stop()


@pytest.fixture
def portal(bus) -> Iterator[FakePortal]:
    p = FakePortal(bus)
    yield p
    p.kill()


class Recorder:
    """The app's side: what the shortcuts asked for, and a recording state like the session's."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.recording = False
        self.changed = threading.Condition()

    def _add(self, call: str) -> None:
        with self.changed:
            self.calls.append(call)
            if call in ("start", "stop", "cancel"):
                self.recording = call == "start"
            self.changed.notify_all()

    def shortcuts(self, bus: Bus, mode: str = "hold", **kw) -> PortalShortcuts:
        return PortalShortcuts(
            "<ctrl>+<alt>+d",
            mode,
            on_start=lambda: self._add("start"),
            on_stop=lambda: self._add("stop"),
            on_cancel=lambda: self._add("cancel"),
            is_recording=lambda: self.recording,
            on_lost=lambda message: self._add(f"lost: {message}"),
            on_bound=lambda bindings: self._add(f"bound: {bindings['dictate']}"),
            bus=bus.address,
            timeout_s=10,
            **kw,
        )

    def wait(self, count: int, timeout: float = 10) -> list[str]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.calls) >= count, timeout)
            return list(self.calls)


def test_binds_with_the_preferred_trigger_and_holds_to_talk(bus, portal):
    app = Recorder()
    with app.shortcuts(bus) as shortcuts:
        asked = portal.next_report("bound")["bound"]
        dictate = next(s for s in asked if s["id"] == "dictate")
        assert dictate["preferred_trigger"] == "CTRL+ALT+d"
        assert {s["id"] for s in asked} == {"dictate", "toggle", "cancel"}
        assert shortcuts.bindings["dictate"] == "CTRL+ALT+d"
        portal.press("dictate")
        assert app.wait(2)[1:] == ["start"]
        portal.release("dictate")
        assert app.wait(3)[1:] == ["start", "stop"]
        portal.press("toggle")
        portal.press("cancel")
        assert app.wait(5)[1:] == ["start", "stop", "start", "cancel"]
    assert "closed" in portal.next_report("closed")  # the session ends with us


def test_the_binding_the_desktop_chose_is_the_one_reported(bus):
    portal = FakePortal(bus, "--chosen", "LOGO+F9")
    try:
        app = Recorder()
        with app.shortcuts(bus, mode="toggle") as shortcuts:
            assert shortcuts.bindings["dictate"] == "LOGO+F9"
            assert shortcuts.describe() == "desktop portal: LOGO+F9 (toggle)"
            portal.press("dictate")
            portal.release("dictate")
            portal.press("dictate")
            assert app.wait(3)[1:] == ["start", "stop"]  # toggle: the release changes nothing
    finally:
        portal.kill()


def test_portal_going_away_is_told_ends_a_held_recording_and_rebinds_on_return(bus):
    portal = FakePortal(bus)
    app = Recorder()
    shortcuts = app.shortcuts(bus)
    shortcuts.start()
    try:
        portal.press("dictate")
        assert app.wait(2)[-1] == "start"
        portal.kill()  # the release will never come
        calls = app.wait(4)
        assert calls[2] == "stop", calls
        assert (
            calls[3].startswith("lost: the desktop portal went away")
            and "dictate toggle" in calls[3]
        )
        assert "gone" in shortcuts.describe()
        portal = FakePortal(bus)  # e.g. xdg-desktop-portal restarted
        assert app.wait(5)[4] == "bound: CTRL+ALT+d"
        portal.press("dictate")
        assert app.wait(6)[5] == "start"
    finally:
        shortcuts.stop()
        portal.kill()


def test_no_portal_on_the_bus_is_a_clear_error(bus):
    shortcuts = Recorder().shortcuts(bus)
    start = time.monotonic()
    with pytest.raises(PortalError, match="no desktop portal is running"):
        shortcuts.start()
    assert time.monotonic() - start < 5  # hang guard: it asks the bus, it does not wait


def test_no_session_bus_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    shortcuts = PortalShortcuts(
        "<ctrl>+<alt>+d", "hold", list, list, list, is_recording=lambda: False,
        bus="unix:path=/nonexistent/bus",
    )  # fmt: skip
    with pytest.raises(PortalError, match="no D-Bus session bus"):
        shortcuts.start()
