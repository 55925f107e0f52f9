"""Choosing how text reaches the focused window: per session, per tool, per window."""

from __future__ import annotations

import pytest

from dictate.output.clipboard import session_kind
from dictate.output.inserter import (
    DesktopSession,
    Inserter,
    WindowInfo,
    choose_method,
    paste_keys,
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
        ("wayland", {"wtype", "ydotool", "wl-copy"}, "wtype"),
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
