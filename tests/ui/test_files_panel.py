"""The files panel offscreen: drops → queue rows → progress → results → copy and export."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import srt
import webvtt
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from dictate.engine.options import TranscribeOptions
from dictate.engine.transcriber import Engine
from dictate.files.queue import FileQueue
from dictate.transcript import Segment
from dictate.ui.files_panel import FilesPanel, clock, file_filters, stamp
from tests.conftest import wer

SR = 16000
COPY_OR_MOVE = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction


def tone_file(path: Path, seconds: float = 1.0) -> Path:
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR)
    return path


def drop(widget: QWidget, urls: list[QUrl]) -> QDropEvent:
    """What a file manager's drag does at the end: enter, then drop, at the widget's centre."""
    mime = QMimeData()
    mime.setUrls(urls)
    centre = QPointF(widget.rect().center())
    # QDragEnterEvent takes a QPoint (PySide6 < 6.12 accepts nothing else), QDropEvent a QPointF.
    enter = QDragEnterEvent(
        centre.toPoint(),
        COPY_OR_MOVE,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    event = QDropEvent(
        centre,
        COPY_OR_MOVE,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)
    return event


def files(*paths: Path) -> list[QUrl]:
    return [QUrl.fromLocalFile(str(p)) for p in paths]


@pytest.fixture(scope="module")
def random_engine(random_model_dir: Path) -> Engine:
    engine = Engine(str(random_model_dir), device="cpu")
    engine.load()
    return engine


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """Open it to let the queue's engine "finish loading"; opened at teardown in any case."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def make_panel(qtbot) -> Iterator[Callable[..., FilesPanel]]:
    queues: list[FileQueue] = []

    def make(get_engine: Callable[[], Engine], options: TranscribeOptions) -> FilesPanel:
        queue = FileQueue(get_engine, lambda: options)
        queues.append(queue)
        panel = FilesPanel(queue)
        qtbot.addWidget(panel)
        panel.resize(760, 560)
        panel.show()
        return panel

    yield make
    for q in queues:
        q.shutdown(timeout=30)


@pytest.fixture
def random_panel(make_panel, random_engine) -> FilesPanel:
    # A window at a time, so progress moves in window steps (batches move it once per batch).
    return make_panel(lambda: random_engine, TranscribeOptions(use_gate=False, file_batch=1))


@pytest.fixture
def held_panel(make_panel, random_engine, gate) -> FilesPanel:
    """A panel whose first job waits for the model until `gate` opens."""
    return make_panel(lambda: gate.wait(60) and random_engine, TranscribeOptions(use_gate=False))


def test_empty_state_then_rows_for_dropped_files_in_order(held_panel, tmp_path, qtbot):
    panel = held_panel
    assert panel.stack.currentWidget() is panel.empty_label
    assert not panel.copy_button.isEnabled()
    assert not any(b.isEnabled() for b in panel.export_buttons.values())
    a, b = tone_file(tmp_path / "a.wav"), tone_file(tmp_path / "b.flac")
    event = drop(panel.drop_zone, files(a, b))
    assert event.isAccepted() and event.dropAction() == Qt.DropAction.CopyAction  # never a move
    assert panel.stack.currentIndex() == 1
    names = [panel.tree.topLevelItem(i).text(0) for i in range(panel.tree.topLevelItemCount())]
    assert names == ["a.wav", "b.flac"]
    first, second = panel.queue.jobs
    assert panel.selected_job() is first  # the first new file is shown at once
    qtbot.waitUntil(lambda: panel.row_for(first.id).text(1) == "Waiting for the model")
    assert panel.row_for(second.id).text(1) == "Queued"
    assert panel.action_button(second.id).text() == "Cancel"
    assert panel.message == "Added 2 files."


def test_drop_anywhere_on_the_panel_and_folders_expand(held_panel, tmp_path):
    folder = tmp_path / "recordings"
    (folder / "day 2").mkdir(parents=True)
    tone_file(folder / "one.wav")
    tone_file(folder / "day 2" / "two.wav")
    (folder / "notes.txt").write_text("not media")
    drop(held_panel, files(folder))  # on the panel itself, not the zone
    # The folder's own files first, then its subfolders'.
    assert [j.path for j in held_panel.queue.jobs] == [
        folder / "one.wav",
        folder / "day 2" / "two.wav",
    ]
    drop(held_panel.drop_zone, files(folder / "one.wav"))  # already queued: not twice
    assert len(held_panel.queue.jobs) == 2
    assert held_panel.message == "Already in the queue."
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not media")
    drop(held_panel, files(empty))
    assert held_panel.message == "No audio or video files there."
    drop(held_panel, files(folder / "one.wav", tone_file(tmp_path / "three.wav")))
    assert held_panel.message == "Added 1 file. 1 file already in the queue."
    assert len(held_panel.queue.jobs) == 3


def test_non_local_urls_are_refused_with_a_message(held_panel, tmp_path):
    web = QUrl("https://example.com/talk.mp3")
    drop(held_panel.drop_zone, [web])
    assert held_panel.queue.jobs == []
    assert "Only files on this computer" in held_panel.message
    assert "https://example.com/talk.mp3" in held_panel.message
    drop(held_panel.drop_zone, [web, *files(tone_file(tmp_path / "local.wav"))])
    assert [j.path.name for j in held_panel.queue.jobs] == ["local.wav"]
    assert held_panel.message.startswith("Added 1 file. Only files on this computer")


def test_a_drop_whose_files_never_arrive_is_said(held_panel):
    """On X the URLs are fetched from the source app at drop time; it may have closed."""
    mime = QMimeData()
    mime.setData("text/uri-list", b"")  # announces URLs, delivers none
    centre = QPointF(held_panel.rect().center())
    rest = (COPY_OR_MOVE, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(held_panel, QDragEnterEvent(centre.toPoint(), *rest))
    QApplication.sendEvent(held_panel, QDropEvent(centre, *rest))
    assert held_panel.queue.jobs == []
    assert "carried no files" in held_panel.message


def test_a_drag_without_urls_is_not_taken(held_panel):
    mime = QMimeData()
    mime.setText("just some text")
    enter = QDragEnterEvent(
        QPoint(5, 5), COPY_OR_MOVE, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(held_panel.drop_zone, enter)
    assert not enter.isAccepted()


def test_progress_results_copy_and_remove(random_panel, tmp_path, qtbot):
    panel = random_panel
    src = tone_file(tmp_path / "long.wav", 40.0)  # two windows: progress in steps
    values: list[int] = []
    drop(panel.drop_zone, files(src))
    job = panel.queue.jobs[0]
    bar = panel.progress_bar(job.id)
    bar.valueChanged.connect(values.append)
    qtbot.waitUntil(lambda: job.finished, timeout=120_000)
    qtbot.waitUntil(lambda: panel.row_for(job.id).text(1) == "Done")
    assert job.status == "done", job.error
    assert values == [750, 1000]  # 30 of 40 s after the first window, then all of it
    assert panel.row_for(job.id).text(3).endswith("/ 0:40")
    # The results are the segments with their [mm:ss] starts (known ones, as the random
    # model's words are noise): shown when the job is selected again.
    # (The random model's noise on a tone may leave wordless stretches: gaps, shown in the
    # results as the next test checks; set aside here.)
    job.segments[:] = [Segment(0.0, 2.0, " Hello there."), Segment(31.5, 33.0, "Bye. ")]
    job.gaps[:] = []
    panel.tree.setCurrentItem(None)
    panel.select_job(job.id)
    assert panel.results_text() == "[00:00] Hello there.\n[00:31] Bye."
    assert all(b.isEnabled() for b in panel.export_buttons.values())
    panel.copy_button.click()
    assert QGuiApplication.clipboard().text() == "Hello there. Bye."
    assert panel.action_button(job.id).text() == "Remove"
    panel.action_button(job.id).click()
    assert panel.queue.jobs == [] and panel.row_for(job.id) is None
    assert panel.stack.currentWidget() is panel.empty_label
    assert panel.results_text() == ""


def test_failed_file_shows_its_one_line_error_and_the_next_runs(random_panel, tmp_path, qtbot):
    panel = random_panel
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"\x00" * 2048)
    good = tone_file(tmp_path / "good.wav")
    drop(panel.drop_zone, files(tmp_path / "gone.wav", broken, good))
    gone_job, broken_job, good_job = panel.queue.jobs
    qtbot.waitUntil(lambda: good_job.finished, timeout=60_000)
    qtbot.waitUntil(lambda: panel.row_for(good_job.id).text(1) == "Done")
    assert panel.row_for(gone_job.id).text(1) == "Failed: no such file"
    state = panel.row_for(broken_job.id).text(1)
    assert state.startswith("Failed: ") and "\n" not in state
    panel.select_job(gone_job.id)
    assert panel.error_label.isVisible()
    assert panel.error_label.text() == "Could not transcribe gone.wav: no such file"
    assert not any(b.isEnabled() for b in panel.export_buttons.values())
    panel.select_job(good_job.id)
    assert not panel.error_label.isVisible()
    # The whole reason is in the row's tooltip, however narrow the column.
    assert panel.row_for(broken_job.id).toolTip(1) == broken_job.error
    assert panel.retry_button(broken_job.id).isVisibleTo(panel)
    assert not panel.retry_button(good_job.id).isVisibleTo(panel)  # done: nothing to retry


def test_a_file_cancelled_at_0_percent_says_cancelled_and_retries(
    held_panel, gate, tmp_path, qtbot, screenshot
):
    """Cancelled before any text: "Cancelled", never "No speech was found"; Retry queues the
    same row again and it runs to the end."""
    panel = held_panel
    drop(panel.drop_zone, files(tone_file(tmp_path / "talk.wav")))
    (job,) = panel.queue.jobs
    qtbot.waitUntil(lambda: job.detail == "waiting for the model")
    panel.action_button(job.id).click()
    gate.set()
    qtbot.waitUntil(lambda: panel.row_for(job.id).text(1) == "Cancelled", timeout=30_000)
    panel.select_job(job.id)
    assert "No speech" not in panel.results.placeholderText()
    assert panel.results.placeholderText().startswith("Cancelled")
    retry = panel.retry_button(job.id)
    assert retry.isVisibleTo(panel) and retry.text() == "Retry"
    retry.click()
    assert panel.queue.jobs == [job] and panel.message == "talk.wav is queued again."
    qtbot.waitUntil(lambda: job.finished, timeout=60_000)
    qtbot.waitUntil(lambda: panel.row_for(job.id).text(1) == "Done")
    assert job.status == "done" and job.error is None
    assert not panel.retry_button(job.id).isVisibleTo(panel)


def test_the_list_uses_the_room_it_has(held_panel, tmp_path, qtbot):
    panel = held_panel
    drop(panel.drop_zone, files(*(tone_file(tmp_path / f"{n}.wav") for n in "abcdefgh")))
    row = panel.tree.visualItemRect(panel.tree.topLevelItem(0)).height()
    assert panel.tree.viewport().height() >= 5 * row  # five rows at the least
    small = panel.tree.viewport().height()
    panel.resize(760, 1000)
    qtbot.waitUntil(lambda: panel.tree.viewport().height() > small + 100)  # and it grows


def test_cancel_buttons_and_the_delete_key(held_panel, gate, tmp_path, qtbot):
    panel = held_panel
    drop(panel.drop_zone, files(*(tone_file(tmp_path / f"{n}.wav") for n in "abc")))
    a, b, c = panel.queue.jobs
    qtbot.waitUntil(lambda: a.detail == "waiting for the model")
    panel.action_button(b.id).click()  # queued: cancelled at once
    assert b.status == "cancelled" and panel.row_for(b.id).text(1) == "Cancelled"
    assert panel.action_button(b.id).text() == "Remove"
    panel.select_job(c.id)
    panel.tree.setFocus()
    qtbot.keyClick(panel.tree, Qt.Key.Key_Delete)  # the keyboard way
    assert c.status == "cancelled"
    panel.action_button(a.id).click()  # running (waiting for the model): stops at once it can
    qtbot.waitUntil(lambda: panel.row_for(a.id).text(1) == "Stopping…")
    assert not panel.action_button(a.id).isEnabled()
    gate.set()
    qtbot.waitUntil(lambda: panel.row_for(a.id).text(1) == "Cancelled", timeout=30_000)
    qtbot.keyClick(panel.tree, Qt.Key.Key_Delete)  # c is finished now: removed
    assert [j.id for j in panel.queue.jobs] == [a.id, b.id]


def test_add_files_dialog_queues_the_chosen_files(held_panel, tmp_path, qtbot):
    panel = held_panel
    chosen = tone_file(tmp_path / "picked.wav")
    dialog = panel.pick_files()
    assert isinstance(dialog, QFileDialog) and dialog.isVisible()
    assert dialog.fileMode() == QFileDialog.FileMode.ExistingFiles
    assert dialog.nameFilters() == file_filters()
    assert "*.mp3" in file_filters()[0] and "*.mkv" in file_filters()[0]
    assert panel.pick_files() is dialog  # a second request brings the same one forward
    dialog.setDirectory(str(tmp_path))
    dialog.selectFile(chosen.name)
    dialog.accept()
    assert [j.path for j in panel.queue.jobs] == [chosen]
    assert not dialog.isVisible()


def test_save_as_dialog_writes_the_chosen_format(random_panel, tmp_path, qtbot):
    panel = random_panel
    drop(panel.drop_zone, files(tone_file(tmp_path / "talk.wav")))
    job = panel.queue.jobs[0]
    qtbot.waitUntil(lambda: job.finished, timeout=60_000)
    job.segments[:] = [Segment(0.0, 1.0, "Saved somewhere else.")]
    dialog = panel.export_as()
    assert dialog is not None and dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave
    out = tmp_path / "elsewhere"
    out.mkdir()
    dialog.setDirectory(str(out))
    dialog.selectFile("chosen.vtt")
    dialog.accept()
    cues = webvtt.read(str(out / "chosen.vtt"))
    assert [c.text for c in cues] == ["Saved somewhere else."]
    assert panel.message == f"Saved chosen.vtt in {out}."


def test_export_beside_a_vanished_source_says_to_save_elsewhere(random_panel, tmp_path, qtbot):
    panel = random_panel
    stick = tmp_path / "usb-stick"  # unplugged once the file is transcribed
    stick.mkdir()
    drop(panel.drop_zone, files(tone_file(stick / "talk.wav")))
    job = panel.queue.jobs[0]
    qtbot.waitUntil(lambda: job.finished, timeout=60_000)
    shutil.rmtree(stick)
    assert panel.export("txt") is None
    assert "cannot write" in panel.message and "Save as…" in panel.message
    assert "\n" not in panel.message


def test_clock_and_stamp():
    assert clock(0) == "0:00" and clock(65.9) == "1:05" and clock(3725) == "1:02:05"
    assert stamp(61.5) == "[01:01]" and stamp(3725) == "[1:02:05]"


def test_panel_leaves_the_queue_when_it_is_gone(random_engine, qtbot):
    queue = FileQueue(lambda: random_engine, TranscribeOptions)
    panel = FilesPanel(queue)
    assert len(queue.listeners) == 1
    panel.deleteLater()
    qtbot.waitUntil(lambda: not queue.listeners)
    queue.shutdown()


# --- slow: the real tiny.en -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_engine(tiny_en_dir: Path) -> Engine:
    engine = Engine(str(tiny_en_dir), device="cpu")
    engine.load()
    engine.warmup()
    return engine


def _vtt_s(clock_text: str) -> float:
    h, m, s = clock_text.split(":")
    return round(int(h) * 3600 + int(m) * 60 + float(s), 3)


@pytest.mark.slow
def test_jfk_dropped_transcribed_shown_and_exported(
    make_panel, tiny_engine, fixtures_dir, references, tmp_path, qtbot, screenshot
):
    panel = make_panel(lambda: tiny_engine, TranscribeOptions())
    src = tmp_path / "jfk.flac"
    src.symlink_to(fixtures_dir / "jfk.flac")  # exports go beside it, not into shared/
    seen: list[str] = []
    panel.results.textChanged.connect(lambda: seen.append(panel.results_text()))
    drop(panel.drop_zone, files(src))
    job = panel.queue.jobs[0]
    qtbot.waitUntil(lambda: job.finished, timeout=120_000)
    qtbot.waitUntil(lambda: panel.row_for(job.id).text(1) == "Done")
    assert job.status == "done", job.error
    assert panel.progress_bar(job.id).value() == panel.progress_bar(job.id).maximum()

    lines = panel.results_text().splitlines()
    assert len(lines) == len(job.segments) >= 1
    assert lines[0].startswith("[00:00] ")
    for line, segment in zip(lines, job.segments):
        assert line == f"{stamp(segment.start)} {segment.text.strip()}"
    shown = " ".join(line.split("] ", 1)[1] for line in lines)
    assert wer(references["jfk.flac"], shown) <= 0.10, shown
    assert seen and seen[-1] == panel.results_text()  # filled in while it ran
    assert panel.header_label.text().startswith("jfk.flac · done in ")
    assert panel.header_label.text().endswith(" · 0:11 of audio · tiny.en")

    written = {fmt: panel.export(fmt) for fmt in ("txt", "srt", "vtt", "json")}
    assert {p.name for p in written.values()} == {"jfk.txt", "jfk.srt", "jfk.vtt", "jfk.json"}
    assert all(p.parent == tmp_path for p in written.values())
    expected = [(round(s.start, 3), round(s.end, 3), s.text.strip()) for s in job.segments]
    assert written["txt"].read_text(encoding="utf-8").strip() == job.text
    subs = list(srt.parse(written["srt"].read_text(encoding="utf-8")))
    assert [(c.start.total_seconds(), c.end.total_seconds(), c.content) for c in subs] == expected
    cues = webvtt.read(str(written["vtt"]))
    assert [(_vtt_s(c.start), _vtt_s(c.end), c.text) for c in cues] == expected
    doc = json.loads(written["json"].read_text(encoding="utf-8"))
    assert doc["text"] == job.text and doc["file"] == str(src)
    assert [(d["start"], d["end"], d["text"]) for d in doc["segments"]] == expected
    # A second TXT export keeps the first file.
    assert panel.export("txt") == tmp_path / "jfk (2).txt"
    assert panel.message == f"Saved jfk (2).txt in {tmp_path}."

    # The screenshot: the finished job, and a failed one below it for the error row.
    drop(panel.drop_zone, files(tmp_path / "interview.m4a"))
    failed = panel.queue.jobs[-1]
    qtbot.waitUntil(lambda: failed.finished, timeout=30_000)
    panel.select_job(job.id)
    panel.say(f"Saved jfk.srt in {tmp_path}.")
    qtbot.wait(50)
    screenshot(panel, "files-window")


def test_speech_without_text_is_marked_in_the_transcript_where_it_was(make_panel, tmp_path, qtbot):
    from tests.test_gap_reporting import GappyEngine

    panel = make_panel(GappyEngine, TranscribeOptions())
    drop(panel.drop_zone, files(tone_file(tmp_path / "talk.wav")))
    job = panel.queue.jobs[0]
    qtbot.waitUntil(lambda: job.finished, timeout=30000)
    qtbot.waitUntil(lambda: "after the gap" in panel.results_text())
    assert panel.results_text().splitlines() == [
        "[00:00] before the gap",
        "[01:12] [no text came from the speech at 1:12–1:19]",
        "[01:20] after the gap",
    ]
    assert "no text came" not in job.text  # exports hold what was said, the panel the warning
