"""The main window offscreen: state, the last dictation with its latency breakdown, warnings."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication

from dictate.dictation.session import Latency
from dictate.ui.main_window import MainWindow


def window(qtbot, toggles: list[int]) -> MainWindow:
    w = MainWindow(toggle=lambda: toggles.append(1), hotkey_text=lambda: "Ctrl+Alt+D")
    qtbot.addWidget(w)
    return w


def test_state_and_toggle_button(qtbot) -> None:
    toggles: list[int] = []
    w = window(qtbot, toggles)
    assert not w.toggle_button.isEnabled()  # nothing to start while the model loads
    w.set_state("ready", "tiny.en on cpu")
    assert w.state_label.text() == "Ready" and w.model_label.text() == "tiny.en on cpu"
    assert w.toggle_button.text() == "Start (Ctrl+Alt+D)"
    w.toggle_button.click()
    w.set_state("recording", "tiny.en on cpu")
    assert w.toggle_button.text() == "Stop (Ctrl+Alt+D)"
    w.toggle_button.click()
    assert toggles == [1, 1]


def test_last_dictation_and_latency(qtbot, screenshot) -> None:
    w = window(qtbot, [])
    w.set_state("ready", "tiny.en on cpu")
    latency = Latency(
        record_ms=3120,
        tail_ms=180,
        gate_ms=21,
        features_ms=6,
        encoder_ms=238,
        decoding_ms=190,
        insert_ms=31,
        release_to_text_ms=672,
    )
    w.show_dictation("And so, my fellow Americans.", latency)
    assert w.transcript.toPlainText() == "And so, my fellow Americans."
    assert w.latency_values["encoder_ms"].text() == "238 ms"
    assert w.latency_values["release_to_text_ms"].text() == "672 ms"
    assert w.latency_values["record_ms"].text() == "3,120 ms"
    copy = next(b for b in w.findChildren(type(w.toggle_button)) if b.text() == "Copy")
    copy.click()
    assert QGuiApplication.clipboard().text() == "And so, my fellow Americans."
    w.show()
    screenshot(w, "main-window-offscreen")


def test_warnings_banner(qtbot) -> None:
    w = window(qtbot, [])
    w.show()
    assert not w.banner.isVisible()
    w.show_warnings(["settings file /x/settings.json is unreadable; using the defaults"])
    assert w.banner.isVisible() and "using the defaults" in w.banner.text()
    w.show_warnings([])
    assert not w.banner.isVisible()


def _count_quits(monkeypatch) -> list[int]:
    from PySide6.QtWidgets import QApplication

    quits: list[int] = []
    monkeypatch.setattr(QApplication, "quit", staticmethod(lambda: quits.append(1)))
    return quits


def test_close_hides_when_there_is_a_tray(qtbot, monkeypatch) -> None:
    quits = _count_quits(monkeypatch)
    w = window(qtbot, [])
    w.show()
    assert w.close() is False  # the close is refused: the window is only hidden
    assert not w.isVisible() and quits == []  # the app lives on in the tray
    w.bring_forward()  # and the same window comes back from the tray
    assert w.isVisible()


def test_close_quits_when_there_is_no_tray(qtbot, monkeypatch) -> None:
    """Without a tray the window is the app's only face: closing it must quit, not hide it
    and leave an app running that nothing can reach."""
    quits = _count_quits(monkeypatch)
    w = MainWindow(toggle=lambda: None, hotkey_text=lambda: "Ctrl+Alt+D", quit_on_close=True)
    qtbot.addWidget(w)
    w.show()
    assert w.close() is True
    assert not w.isVisible() and quits == [1]
