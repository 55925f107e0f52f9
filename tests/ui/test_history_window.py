"""The history window offscreen, over a real History in a temporary folder: search, copy, insert
again, delete (with its confirmation), play, refresh, the empty states and recovered dictations."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox

from dictate.dictation.history import History
from dictate.ui.history_window import HistoryWindow, length, when


def samples(i: int, seconds: float = 1.0) -> np.ndarray:
    """Audio that survives int16 storage exactly (multiples of 1/128), different per i."""
    n = round(seconds * 16000)
    return (np.arange(n) % 64 - 32 + i).astype(np.float32) / 128


def add(h: History, text: str, *, status: str = "inserted", ago_s: float = 0.0, i: int = 0) -> int:
    rec = h.start(started_at=time.time() - ago_s)
    rec.write(samples(i, 1.0 + i / 10))
    h.finish_recording(rec)
    if status == "recorded":
        return rec.id
    h.set_result(rec.id, text, {"release_to_text_ms": 400.0})
    if status == "inserted":
        h.set_inserted(rec.id, True, "paste", app="gedit")
    elif status == "insert_failed":
        h.set_inserted(rec.id, False, "xdotool", "no window has the focus")
    return rec.id


@pytest.fixture
def history(tmp_path):
    h = History(tmp_path / "data")
    yield h
    h.close()


@pytest.fixture
def filled(history):
    ids = {
        "milk": add(history, "Buy milk and bread", ago_s=3 * 86400, i=1),
        "meeting": add(history, "Meeting notes: call Nguyen about ComfyUI", ago_s=7200, i=2),
        "recovered": add(history, "Draft reply to Zoë", status="transcribed", ago_s=3600, i=3),
        "failed": add(history, "Ping the café team", status="insert_failed", ago_s=60, i=4),
    }
    return history, ids


class Calls(list):
    def __call__(self, value) -> None:
        self.append(value)


def open_window(qtbot, history, play=True) -> tuple[HistoryWindow, Calls, Calls]:
    inserted, played = Calls(), Calls()
    w = HistoryWindow(history, inserted, played if play else None, transcribe_again=Calls())
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w, inserted, played


def row_texts(w: HistoryWindow) -> list[str]:
    return [w.table.item(r, 1).text() for r in range(w.table.rowCount())]


def question(qtbot, w: HistoryWindow) -> QMessageBox:
    """The confirmation now showing (an answered one may linger until it is deleted)."""
    qtbot.waitUntil(lambda: any(b.isVisible() for b in w.findChildren(QMessageBox)))
    return next(b for b in w.findChildren(QMessageBox) if b.isVisible())


def select(w: HistoryWindow, id_: int) -> None:
    row = next(r for r, e in enumerate(w.entries) if e.id == id_)
    w.table.clearSelection()
    w.table.selectRow(row)


def test_rows_newest_first_with_status_length_and_recovered_marked(qtbot, filled, screenshot):
    history, ids = filled
    w, _, _ = open_window(qtbot, history)
    assert row_texts(w) == [
        "Ping the café team",
        "Draft reply to Zoë",
        "Meeting notes: call Nguyen about ComfyUI",
        "Buy milk and bread",
    ]
    statuses = [w.table.item(r, 2).text() for r in range(4)]
    assert statuses == ["Not inserted", "Recovered", "Inserted", "Inserted"]
    assert "no window has the focus" in w.table.item(0, 2).toolTip()
    assert [w.table.item(r, 3).text() for r in range(4)] == ["1.4 s", "1.3 s", "1.2 s", "1.1 s"]
    assert w.table.item(1, 1).font().bold() and not w.table.item(2, 1).font().bold()
    assert w.banner.isVisible() and "1 dictation was recovered" in w.banner.text()
    assert w.status.text() == "4 dictations"
    assert w.stack.currentWidget() is w.table
    select(w, ids["meeting"])
    assert w.details.toPlainText() == "Meeting notes: call Nguyen about ComfyUI"
    assert "by paste into gedit" in w.meta.text()
    screenshot(w, "history-window")


def test_search_filters_as_you_type(qtbot, filled):
    history, _ = filled
    w, _, _ = open_window(qtbot, history)
    w.search.setFocus()
    qtbot.keyClicks(w.search, "MILK bread")  # every word, any case
    qtbot.waitUntil(lambda: w.table.rowCount() == 1)
    assert row_texts(w) == ["Buy milk and bread"] and w.status.text() == "1 found"
    w.search.clear()
    qtbot.keyClicks(w.search, "nothing like this")
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.empty)
    assert "Nothing matches “nothing like this”" in w.empty.text() and w.empty.isVisible()
    w.search.clear()
    qtbot.waitUntil(lambda: w.table.rowCount() == 4)


def test_empty_history(qtbot, history):
    w, _, _ = open_window(qtbot, history)
    assert w.stack.currentWidget() is w.empty and w.empty.isVisible()
    assert w.empty.text().startswith("No dictations yet")
    assert not w.banner.isVisible() and w.status.text() == "0 dictations"
    assert not any(b.isEnabled() for k, b in w.buttons.items() if k != "refresh")


def test_copy_puts_the_text_on_the_clipboard(qtbot, filled):
    history, ids = filled
    w, _, _ = open_window(qtbot, history)
    assert not w.buttons["copy"].isEnabled()  # nothing selected
    select(w, ids["recovered"])
    qtbot.mouseClick(w.buttons["copy"], Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "Draft reply to Zoë"
    assert w.status.text() == "Copied to the clipboard"


def test_insert_again_calls_back_with_the_text(qtbot, filled):
    history, ids = filled
    w, inserted, _ = open_window(qtbot, history)
    select(w, ids["failed"])
    w.buttons["insert"].click()
    assert inserted == ["Ping the café team"]
    w.table.selectAll()  # several: which one would it be? Not offered.
    assert not w.buttons["insert"].isEnabled()


def test_delete_asks_then_removes_the_row_and_its_audio(qtbot, filled):
    history, ids = filled
    w, _, _ = open_window(qtbot, history)
    audio = history.get(ids["meeting"]).audio_path
    assert audio is not None and audio.is_file()

    select(w, ids["meeting"])
    w.buttons["delete"].click()
    box = question(qtbot, w)
    assert "this dictation" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()  # changed my mind
    assert history.get(ids["meeting"]).text and audio.is_file() and w.table.rowCount() == 4

    select(w, ids["meeting"])
    w.buttons["delete"].click()
    question(qtbot, w).button(QMessageBox.StandardButton.Yes).click()
    assert "Meeting notes: call Nguyen about ComfyUI" not in row_texts(w)
    assert w.table.rowCount() == 3 and w.status.text() == "Deleted 1 dictation"
    with pytest.raises(KeyError):
        history.get(ids["meeting"])
    assert not audio.exists()


def test_play_hands_the_stored_audio_to_play(qtbot, filled):
    history, ids = filled
    w, _, played = open_window(qtbot, history)
    select(w, ids["milk"])
    assert w.buttons["play"].isEnabled()
    w.buttons["play"].click()
    assert len(played) == 1
    np.testing.assert_array_equal(played[0], samples(1, 1.1))
    assert played[0].dtype == np.float32

    history.drop_audio(ids["milk"])  # audio not kept: no Play
    w.refresh()
    select(w, ids["milk"])
    assert not w.buttons["play"].isEnabled()
    assert "not kept" in w.buttons["play"].toolTip()


def test_without_a_player_there_is_no_play_button(qtbot, filled):
    history, ids = filled
    w, _, _ = open_window(qtbot, history, play=False)
    select(w, ids["milk"])
    assert not w.buttons["play"].isVisible() and not w.play_action.isEnabled()


def test_refresh_shows_new_dictations_and_keeps_the_selection(qtbot, filled):
    history, ids = filled
    w, _, _ = open_window(qtbot, history)
    select(w, ids["milk"])
    waiting = add(history, "", status="recorded", i=5)
    w.refresh()
    assert w.table.rowCount() == 5
    assert w.table.item(0, 1).text() == "(not transcribed yet)"
    assert w.table.item(0, 2).text() == "Waiting"
    assert w.entries[0].id == waiting
    assert [e.id for e in w.selected()] == [ids["milk"]]


def test_formatting_helpers():
    import datetime as dt

    now = dt.datetime(2026, 11, 21, 15, 0)
    assert when(dt.datetime(2026, 11, 21, 9, 5).timestamp(), now) == "Today 09:05"
    assert when(dt.datetime(2026, 11, 20, 23, 59).timestamp(), now) == "Yesterday 23:59"
    assert when(dt.datetime(2026, 3, 3, 8, 0).timestamp(), now) == "3 Mar 08:00"
    assert when(dt.datetime(2024, 3, 3, 8, 0).timestamp(), now) == "3 Mar 2024 08:00"
    assert length(None) == "—" and length(2.25) == "2.2 s" and length(65) == "1:05"


def test_keyboard_copy_delete_and_find(qtbot, filled):
    history, ids = filled
    w, _, _ = open_window(qtbot, history)
    w.activateWindow()
    w.table.setFocus()
    qtbot.waitUntil(w.table.hasFocus)
    select(w, ids["failed"])
    w.table.setCurrentCell(0, 0)  # the Time cell is current: the whole text is still copied
    QGuiApplication.clipboard().clear()
    qtbot.keyClick(w.table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "Ping the café team"
    qtbot.keyClick(w.table, Qt.Key.Key_Delete)
    question(qtbot, w).button(QMessageBox.StandardButton.Yes).click()
    assert w.table.rowCount() == 3
    qtbot.keyClick(w.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert w.search.hasFocus()


def _again_window(qtbot, history, transcribe):
    """A history window wired as the app wires it: Bridge.transcribe_again on a worker thread,
    its answer back through the bridge's signal."""
    from types import SimpleNamespace

    from dictate.dictation.cleanup import CleanupRules
    from dictate.ui.bridge import Bridge

    bridge = Bridge()
    app = SimpleNamespace(
        history=history, session=SimpleNamespace(transcribe=transcribe, rules=CleanupRules())
    )
    w = HistoryWindow(
        history, Calls(), play=Calls(), transcribe_again=lambda i: bridge.transcribe_again(app, i)
    )
    bridge.again.connect(w.transcribed_again)
    qtbot.addWidget(w)
    w.show()
    return w, bridge


def _failed_dictation(history) -> int:
    rec = history.start()
    rec.write(samples(7, 2.0))
    history.finish_recording(rec)
    history.set_error(rec.id, "tiny.en is English-only; choose a multilingual model for 'de'")
    return rec.id


def test_transcribe_again_a_failed_dictation(qtbot, history, screenshot) -> None:
    """A dictation that failed (German asked of tiny.en) is transcribed again once the setting
    is put right: its text appears, the error goes, nothing is typed."""
    from dictate.transcript import DictationResult

    heard: list[int] = []

    def transcribe(audio):
        heard.append(len(audio))
        return DictationResult(" And so my fellow Americans ", speech_s=1.8)

    failed = _failed_dictation(history)
    w, _bridge = _again_window(qtbot, history, transcribe)
    assert w.table.item(0, 1).text() == "(failed)"
    w.table.selectRow(0)
    assert w.buttons["again"].isVisible() and w.buttons["again"].isEnabled()
    w.buttons["again"].click()
    qtbot.waitUntil(lambda: history.get(failed).status == "retranscribed", timeout=5000)
    qtbot.waitUntil(lambda: w.status.text().startswith("Transcribed again"), timeout=5000)
    assert heard == [32000]  # the entry's own audio, whole
    entry = history.get(failed)
    assert entry.text == "And so my fellow Americans" and entry.error is None
    row = next(r for r, e in enumerate(w.entries) if e.id == failed)
    assert w.table.item(row, 1).text() == "And so my fellow Americans"
    assert w.table.item(row, 2).text() == "Transcribed again"
    w.table.clearSelection()
    w.table.selectRow(row)
    assert w.insert_action.isEnabled()  # now it can be inserted or copied
    qtbot.wait(50)
    screenshot(w, "history-transcribed-again")


def test_transcribe_again_failing_keeps_the_entry(qtbot, history) -> None:
    from dictate.errors import ModelError

    def transcribe(audio):
        raise ModelError("tiny.en is English-only; choose a multilingual model for 'de'")

    failed = _failed_dictation(history)
    w, _bridge = _again_window(qtbot, history, transcribe)
    w.table.selectRow(0)
    w.again_action.trigger()
    assert not w.again_action.isEnabled()  # one at a time per entry
    qtbot.waitUntil(lambda: "Could not transcribe it again" in w.status.text(), timeout=5000)
    assert "English-only" in w.status.text()
    assert history.get(failed).status == "error"
    assert w.again_action.isEnabled()


def test_transcribe_again_needs_audio(qtbot, filled) -> None:
    history, ids = filled
    history.drop_audio(ids["milk"])
    w, _bridge = _again_window(qtbot, history, lambda audio: None)
    row = next(r for r, e in enumerate(w.entries) if e.id == ids["milk"])
    w.table.selectRow(row)
    assert not w.again_action.isEnabled()
    row = next(r for r, e in enumerate(w.entries) if e.id == ids["meeting"])
    w.table.clearSelection()
    w.table.selectRow(row)
    assert w.again_action.isEnabled()  # any entry with its audio, not only failed ones
