"""Choosing how text reaches the focused window: per session, per tool, per window."""

from __future__ import annotations

import pytest

from dictate.output.clipboard import session_kind
from dictate.output.inserter import (
    DesktopSession,
    Inserter,
    WindowInfo,
    choose_method,
    describe_route,
    paste_keys,
    wayland_routes,
)


@pytest.mark.parametrize(
    ("env", "platform", "kind"),
    [
        ({"DISPLAY": ":0"}, "linux", "x11"),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", "wayland"),  # XWayland
        ({"XDG_SESSION_TYPE": "wayland"}, "linux", "wayland"),
        ({}, "linux", "none"),
        ({}, "darwin", "macos"),
        ({}, "win32", "windows"),
    ],
)
def test_session_kind(env, platform, kind):
    assert session_kind(env, platform) == kind


@pytest.mark.parametrize(
    ("kind", "tools", "method"),
    [
        ("x11", {"xclip", "xdotool"}, "paste"),  # the one path that keeps any Unicode intact
        ("x11", {"xsel"}, "paste"),
        ("x11", {"xdotool"}, "xdotool"),  # no clipboard tool: type instead
        ("x11", set(), "type"),
        ("wayland", {"wtype", "wl-copy", "wl-paste"}, "paste"),  # the confirmed route
        ("wayland", {"wtype", "ydotool", "wl-copy"}, "wtype"),  # no wl-paste: no paste
        ("wayland", {"ydotool"}, "ydotool"),
        ("wayland", set(), "paste"),  # the text at least reaches the clipboard
        ("macos", set(), "paste"),
        ("windows", set(), "paste"),
    ],
)
def test_automatic_method_per_session(kind, tools, method):
    session = DesktopSession(kind, {t: f"/usr/bin/{t}" for t in tools})
    assert choose_method(session) == method


@pytest.mark.parametrize(
    ("wm_class", "keys"),
    [
        (("gedit", "Gedit"), "ctrl+v"),
        (("gnome-terminal-server", "Gnome-terminal"), "ctrl+shift+v"),
        (("kitty", "kitty"), "ctrl+shift+v"),
        (("xterm", "XTerm"), "shift+Insert"),  # xterm binds no key to CLIPBOARD
    ],
)
def test_terminals_get_their_paste_keys(wm_class, keys):
    window = WindowInfo(1, wm_class, "title")
    assert paste_keys(DesktopSession("x11", {}), window) == keys
    assert paste_keys(DesktopSession("macos", {}), window) == "cmd+v"


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown insert method"):
        Inserter("telepathy", session=DesktopSession("x11", {}))


def test_no_graphical_session_fails_and_says_why():
    result = Inserter("auto", session=DesktopSession("none", {})).insert("kept text")
    assert not result.ok and result.error
    # Why, in words a person can act on, and that the text did not reach the clipboard either.
    assert result.error.startswith("no graphical session (neither DISPLAY nor WAYLAND_DISPLAY")
    assert "could not be put on the clipboard" in result.error


WL = {"wtype", "wl-copy", "wl-paste"}


@pytest.mark.parametrize(
    ("tools", "text", "routes"),
    [
        (WL, "Short one.", ["paste", "wtype"]),  # pasted (confirmed), typing if a tool fails
        (WL, "x" * 60, ["paste", "wtype"]),
        (WL | {"ydotool"}, "x" * 60, ["paste", "wtype"]),
        ({"wl-copy", "wl-paste", "ydotool"}, "x" * 60, ["paste"]),  # ydotool only presses keys
        ({"wtype"}, "x" * 60, ["wtype"]),  # no clipboard tool: typing
        ({"ydotool"}, "plain ascii", ["ydotool"]),  # the last resort, ASCII only
        ({"ydotool"}, "café", ["paste"]),  # nothing can: fails, saying what to install
        (set(), "hello", ["paste"]),
    ],
)
def test_wayland_routes_in_the_order_tried(tools, text, routes):
    session = DesktopSession("wayland", {t: f"/usr/bin/{t}" for t in tools})
    assert wayland_routes(session, text) == routes


@pytest.mark.parametrize(
    ("kind", "tools", "words"),
    [
        ("wayland", WL, ["Shift+Insert sent by wtype", "confirmed", "put back"]),
        ("wayland", {"wtype"}, ["typing with wtype, not confirmed"]),
        ("wayland", {"wl-copy", "wl-paste", "ydotool"}, ["Shift+Insert sent by ydotool"]),
        ("wayland", set(), ["install wtype", "left on the clipboard"]),
        ("x11", {"xclip", "xdotool"}, ["clipboard paste", "any keyboard layout"]),
        ("x11", set(), ["ASCII only"]),
    ],
)
def test_the_route_says_what_and_why(kind, tools, words):
    text = describe_route(DesktopSession(kind, {t: f"/usr/bin/{t}" for t in tools}))
    assert all(w in text for w in words), text


def test_wayland_pastes_with_shift_insert_whatever_the_window():
    # One key on every layout, and terminals (PRIMARY) and GTK/Qt (CLIPBOARD) both paste on it.
    assert paste_keys(DesktopSession("wayland", {}), None) == "shift+Insert"
