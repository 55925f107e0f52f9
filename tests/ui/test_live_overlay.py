"""The live preview strip offscreen: it never takes focus, sits at the bottom centre, shows the
committed text and the tentative tail apart, and follows the level."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from dictate.ui.live_overlay import LiveOverlay, preview_html


def test_preview_html_sets_the_tentative_tail_apart_and_escapes() -> None:
    out = preview_html("Fish & chips.", "and <peas>")
    assert out == 'Fish &amp; chips. <span style="color:#9aa0a6">and &lt;peas&gt;</span>'
    assert preview_html("", "") == ""
    long = preview_html("word " * 100, "now", limit=40)
    assert long.startswith("… word") and long.endswith(">now</span>")
    assert len(long) < 120


def test_the_strip_takes_no_focus_and_sits_at_the_bottom_centre(qtbot, screenshot) -> None:
    levels = iter([-40.0, -12.0, -6.0] + [-20.0] * 100)
    overlay = LiveOverlay(level=lambda: next(levels))
    qtbot.addWidget(overlay)
    flags = overlay.windowFlags()
    for flag in (
        Qt.WindowType.WindowDoesNotAcceptFocus,
        Qt.WindowType.Tool,
        Qt.WindowType.WindowStaysOnTopHint,
        Qt.WindowType.X11BypassWindowManagerHint,
    ):
        assert flags & flag, flag
    assert overlay.testAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    assert overlay.focusPolicy() == Qt.FocusPolicy.NoFocus
    overlay.begin()
    assert overlay.isVisible() and "Listening" in overlay.label.text()
    overlay.set_preview("And so my fellow Americans, ask not", "what your country can")
    qtbot.waitUntil(lambda: overlay.meter.level_db > -40.0, timeout=2000)
    area = QGuiApplication.primaryScreen().availableGeometry()
    geo = overlay.frameGeometry()
    assert abs(geo.center().x() - area.center().x()) <= 2
    assert area.bottom() - 200 < geo.bottom() <= area.bottom()
    assert '#9aa0a6">what your country can' in overlay.label.text()
    # Focus itself is checked on a real X display (tests/desktop/test_live_dictation_x11.py):
    # the offscreen platform activates every window it shows.
    screenshot(overlay, "live-preview")
    overlay.end()
    assert not overlay.isVisible()


def test_the_latency_breakdown_shows_the_live_part(qtbot) -> None:
    from dictate.dictation.session import Latency
    from dictate.ui.main_window import MainWindow

    w = MainWindow(toggle=lambda: None, hotkey_text=lambda: "Ctrl+Alt+D")
    qtbot.addWidget(w)
    w.show_dictation("text", Latency(committed_s=42.94, tail_decode_ms=310.4, insert_ms=20))
    assert w.latency_values["committed_s"].text() == "42.9 s"
    assert w.latency_values["tail_decode_ms"].text() == "310 ms"
    assert w.latency_values["insert_ms"].text() == "20 ms"


def test_on_wayland_no_strip_is_shown_and_the_main_window_shows_the_words(
    qtbot, monkeypatch
) -> None:
    """A compositor may focus any new window (sway did): no strip on Wayland (issue 23)."""
    from types import SimpleNamespace

    from dictate.dictation.session import State
    from dictate.ui import live_overlay
    from dictate.ui.qt_app import DictateUI

    assert live_overlay.overlay_supported()  # offscreen, like X11: the strip is allowed
    monkeypatch.setattr(live_overlay.QGuiApplication, "platformName", lambda: "wayland")
    assert not live_overlay.overlay_supported()
    refreshed = []
    ui = SimpleNamespace(
        overlay=None,
        app=SimpleNamespace(
            session=SimpleNamespace(state=State.RECORDING),
            settings=SimpleNamespace(live_preview=True),
            recorder=SimpleNamespace(level_db=-30.0),
        ),
        refresh=lambda: refreshed.append(1),
    )
    DictateUI._show_overlay(ui, SimpleNamespace(state=State.RECORDING))  # type: ignore[arg-type]
    assert ui.overlay is None
    DictateUI.on_preview(ui, SimpleNamespace(committed="ask not", tentative="what"))  # type: ignore[arg-type]
    assert refreshed  # the main window's status line and the tooltip take the words
