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


def test_rows_of_a_dictation_without_live_or_server(qtbot) -> None:
    """Live off and no server: no "Live: …" rows and no "Server 0 ms"."""
    w = window(qtbot, [])
    w.show()
    w.show_dictation("Hello.", Latency(record_ms=900, encoder_ms=120, decoding_ms=80))
    shown = w.shown_rows()
    assert "encoder_ms" in shown and "decoding_ms" in shown and "release_to_text_ms" in shown
    for key in ("committed_s", "live_wait_ms", "tail_audio_s", "tail_decode_ms", "remote_ms"):
        assert key not in shown
        assert not w.latency_values[key].isVisible()
    assert w.latency_values["encoder_ms"].isVisible()


def test_rows_of_a_live_dictation(qtbot, screenshot) -> None:
    """Live on: the live breakdown, and no "Encoder 0 ms / Decoding 0 ms" when the last live
    step had heard everything (nothing was decoded after release)."""
    w = window(qtbot, [])
    w.set_state("ready", "tiny.en on cpu")
    w.show()
    live = Latency(record_ms=5200, tail_ms=150, committed_s=4.8, insert_ms=30)
    live.release_to_text_ms = 210
    w.show_dictation("And so, my fellow Americans, ask not.", live)
    shown = w.shown_rows()
    assert {"committed_s", "live_wait_ms", "tail_audio_s", "tail_decode_ms"} <= set(shown)
    assert not {"encoder_ms", "decoding_ms", "remote_ms"} & set(shown)
    assert w.latency_values["committed_s"].text() == "4.8 s"
    assert w.latency_values["tail_decode_ms"].text() == "—"  # nothing was left to decode
    screenshot(w, "main-window-live")
    # A tail decoded after release: its encoder and decoder times apply again.
    tail = Latency(committed_s=3.0, tail_audio_s=1.2, tail_decode_ms=140, encoder_ms=60)
    w.show_dictation("More.", tail)
    assert "encoder_ms" in w.shown_rows()
    assert w.latency_values["tail_decode_ms"].text() == "140 ms"
    # The next dictation without live: the live rows go.
    w.show_dictation("Plain.", Latency(encoder_ms=90, decoding_ms=40))
    assert not {"committed_s", "tail_audio_s"} & set(w.shown_rows())


def test_server_row_only_with_a_server(qtbot) -> None:
    w = window(qtbot, [])
    w.show()
    w.show_dictation("Hi.", Latency(remote_ms=340, engine="server gpu-box"))
    assert "remote_ms" in w.shown_rows()
    assert w.latency_values["remote_ms"].text() == "340 ms"
    assert w.latency_values["remote_ms"].toolTip() == "server gpu-box"


def test_long_status_line_is_whole(qtbot) -> None:
    """A long message wraps instead of being cut at the window's edge, and stays in the
    tooltip."""
    w = window(qtbot, [])
    w.resize(500, 600)
    w.show()
    message = (
        "could not insert the text: dictate's own window had the focus, not the window you "
        "were typing in; the text is on the clipboard; it is kept in the history"
    )
    w.statusBar().showMessage(message, 10000)
    assert w.statusBar().currentMessage() == message
    label = w.message_bar.label
    assert label.wordWrap() and label.text() == message and label.toolTip() == message
    qtbot.waitUntil(lambda: label.height() > label.fontMetrics().height() * 1.5)


def test_settings_and_history_buttons(qtbot) -> None:
    opened: list[str] = []
    w = MainWindow(
        toggle=lambda: None,
        hotkey_text=lambda: "Ctrl+Alt+D",
        open_settings=lambda: opened.append("settings"),
        open_history=lambda: opened.append("history"),
    )
    qtbot.addWidget(w)
    w.show()
    assert w.settings_button.isVisible() and w.history_button.isVisible()
    w.settings_button.click()
    w.history_button.click()
    assert opened == ["settings", "history"]
    bare = window(qtbot, [])
    bare.show()
    assert not bare.settings_button.isVisible()  # nothing to open: no dead button


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


def test_main_window_with_files_screenshot(qtbot, screenshot, tmp_path) -> None:
    """The README's main window: a live dictation's breakdown, the Settings and History
    buttons, a long status line whole, and files done, cancelled and failed (with Retry)."""
    from dictate.errors import DictateError
    from dictate.files.queue import FileJob, FileQueue
    from dictate.transcript import Segment
    from dictate.ui.files_panel import FilesPanel

    def no_engine():
        raise DictateError("no model")

    queue = FileQueue(no_engine, lambda: None)  # type: ignore[arg-type]
    jobs = [
        FileJob(1, tmp_path / "jfk.flac", "done", duration_s=11.0, elapsed_s=1.6, model="tiny.en"),
        FileJob(2, tmp_path / "meeting.mp3", "cancelled", duration_s=2710.0, elapsed_s=3.0),
        FileJob(3, tmp_path / "notes.docx", "failed", elapsed_s=0.1),
    ]
    jobs[0].segments[:] = [
        Segment(0.0, 8.0, " And so my fellow Americans ask not what your country can do for you"),
        Segment(8.0, 11.0, " ask what you can do for your country."),
    ]
    jobs[2].error = (
        "not a recognised audio or video file (libsndfile: Format not recognised; install "
        "ffmpeg to read more formats)"
    )
    for job in jobs:  # finished jobs as the worker leaves them (no engine needed)
        queue._jobs[job.id] = job
    panel = FilesPanel(queue)
    w = MainWindow(
        toggle=lambda: None,
        hotkey_text=lambda: "Ctrl+Alt+D",
        files_panel=panel,
        open_settings=lambda: None,
        open_history=lambda: None,
    )
    qtbot.addWidget(w)
    w.resize(760, 900)
    w.set_state("ready", "tiny.en on cpu")
    live = Latency(record_ms=5230, tail_ms=160, committed_s=4.9, insert_ms=28)
    live.release_to_text_ms = 214
    w.show_dictation("And so, my fellow Americans, ask not what your country can do for you.", live)
    w.show()
    panel.select_job(1)
    w.statusBar().showMessage(
        "inserted 72 characters, 214 ms after release (tail 160, insert 28); live: 4.9 s done "
        "before release, the last live step had heard the rest: nothing decoded after release",
        10000,
    )
    qtbot.wait(50)
    assert panel.retry_button(2).isVisibleTo(panel) and panel.retry_button(3).isVisibleTo(panel)
    assert (
        panel.tree.viewport().height()
        >= 3 * panel.tree.visualItemRect(panel.tree.topLevelItem(0)).height()
    )
    screenshot(w, "main-window")
    panel.select_job(2)
    qtbot.wait(20)
    assert panel.results.placeholderText().startswith("Cancelled")
    panel.select_job(3)  # the whole reason, under the list (and in the row's tooltip)
    qtbot.wait(20)
    assert panel.error_label.text() == f"Could not transcribe notes.docx: {jobs[2].error}"
    assert panel.row_for(3).toolTip(1) == jobs[2].error
    screenshot(panel, "files-panel")
    queue.shutdown()
