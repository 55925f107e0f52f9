"""The files panel: drop or pick audio and video files, watch the queue, read and save the results.

It drives a core `dictate.files.queue.FileQueue`. The queue runs on its own thread and tells its
listeners about every change from there; a private relay re-emits each change as a Qt signal, so
the slots that touch widgets run on the GUI thread. Nothing slow happens on the GUI thread: adding
a file only queues it (the worker probes and decodes it), and an export writes one small file.
Its parts: the drop zone, the queue's rows, the wording and the save dialog, a module each.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dictate.errors import DictateError
from dictate.export import FORMATS
from dictate.files.media import media_files
from dictate.files.queue import FileJob, FileQueue
from dictate.ui.files_panel.drop_zone import DropZone, accept_copy, split_urls
from dictate.ui.files_panel.export import DEFAULT_FORMAT, chosen_format, transcript_save_dialog
from dictate.ui.files_panel.formatting import (
    FORMAT_NAMES,
    count,
    error_colour,
    file_filters,
    short_error,
    summary,
    transcript_lines,
)
from dictate.ui.files_panel.queue_tree import QueueTree


class _Relay(QObject):
    """Carries queue notifications from the worker thread to the GUI thread."""

    changed = Signal(object)  # FileJob


class FilesPanel(QWidget):
    """Drop zone, queue (a row per file), and the selected file's transcript with copy/export."""

    def __init__(self, queue: FileQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.setAcceptDrops(True)  # a drop anywhere on the panel counts, not just on the zone
        self._removed: set[int] = set()  # a late notification must not bring a row back
        self._shown: tuple[int, int] | None = None  # (job id, segments shown) in the results
        self._last_dir = str(Path.home())
        self.file_dialog: QFileDialog | None = None
        self.save_dialog: QFileDialog | None = None

        self.drop_zone = DropZone()
        self.drop_zone.dropped.connect(self._on_dropped)
        self.add_button = self.drop_zone.add_button
        self.add_button.clicked.connect(self.pick_files)

        self.tree = QueueTree()
        self.tree.action.connect(self._cancel_or_remove)
        self.tree.retry.connect(self.retry)
        self.tree.currentItemChanged.connect(lambda *_: self._show_selected())

        self.header_label = QLabel()
        self.header_label.setTextFormat(Qt.TextFormat.PlainText)
        self.header_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.results = QPlainTextEdit(readOnly=True)
        self.results.setAccessibleName("Transcript")
        self.results.setAcceptDrops(False)  # drops go to the panel, never into the text
        self.results.setPlaceholderText("Select a file in the queue to see its transcript here.")
        self.results.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)

        self.copy_button = QPushButton("&Copy text")
        self.copy_button.setToolTip("Copy the transcript (without timestamps) to the clipboard")
        self.copy_button.clicked.connect(self.copy_text)
        self.export_buttons: dict[str, QPushButton] = {}
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addSpacing(12)
        buttons.addWidget(QLabel("Save beside the file:"))
        for fmt in FORMATS:
            button = QPushButton(fmt.upper())
            button.setToolTip(f"Save as {FORMAT_NAMES[fmt]} next to the source file")
            button.clicked.connect(lambda _=False, f=fmt: self.export(f))
            self.export_buttons[fmt] = button
            buttons.addWidget(button)
        self.save_as_button = QPushButton("Save &as…")
        self.save_as_button.setToolTip("Choose where to save the transcript, and its format")
        self.save_as_button.clicked.connect(self.export_as)
        buttons.addWidget(self.save_as_button)
        buttons.addStretch(1)

        results_box = QWidget()
        results_layout = QVBoxLayout(results_box)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(self.header_label)
        results_layout.addWidget(self.error_label)
        results_layout.addWidget(self.results, 1)
        results_layout.addLayout(buttons)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.tree)
        splitter.addWidget(results_box)
        # The list gets the room it needs first: a few rows at least, more as the panel grows.
        row_height = self.fontMetrics().height() + 12  # a row holds its buttons' height
        self.tree.setMinimumHeight(self.tree.header().sizeHint().height() + 5 * row_height)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.empty_label = QLabel(
            "No files yet.\nDrop recordings, podcasts or videos above: they are transcribed "
            "here, on this computer, one after the other."
        )
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setEnabled(False)  # the palette's muted text colour
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(splitter)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.drop_zone)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.message_label)

        QShortcut(
            QKeySequence.StandardKey.Open,
            self,
            self.pick_files,
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )
        QShortcut(
            QKeySequence(Qt.Key.Key_Delete),
            self.tree,
            self._cancel_or_remove_selected,
            context=Qt.ShortcutContext.WidgetShortcut,
        )
        self._ticker = QTimer(self, interval=1000)  # the Time column of running jobs
        self._ticker.timeout.connect(self._tick)

        relay = _Relay(self)
        relay.changed.connect(self._on_job)

        def listener(job: FileJob) -> None:  # worker thread
            with contextlib.suppress(RuntimeError):  # the panel (and its relay) is gone
                relay.changed.emit(job)

        queue.listeners.append(listener)
        self.destroyed.connect(lambda *_: _remove(queue, listener))
        for job in queue.jobs:
            self._on_job(job)
        self._show_selected()

    # ---- adding files -------------------------------------------------------------------------

    def pick_files(self) -> QFileDialog:
        """Open the "Add files…" dialog (without blocking); the chosen files are queued."""
        if self.file_dialog is not None and self.file_dialog.isVisible():
            self.file_dialog.raise_()
            self.file_dialog.activateWindow()
            return self.file_dialog
        dialog = QFileDialog(self, "Transcribe audio or video files", self._last_dir)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        dialog.setNameFilters(file_filters())
        dialog.filesSelected.connect(self._on_files_chosen)
        self.file_dialog = dialog
        dialog.open()
        return dialog

    def _on_files_chosen(self, names: list[str]) -> None:
        if names:
            self._last_dir = str(Path(names[0]).parent)
        self.add_paths(names)

    def _on_dropped(self, paths: list[Path], refused: list[str]) -> None:
        if not paths and not refused:
            # The drop's data comes from the other app on request: it can be gone by then.
            self.say("That drop carried no files; try again, or use Add files…", error=True)
            return
        jobs, notes = self._queue_paths(paths) if paths else ([], [])
        if refused:
            shown = ", ".join(refused[:3]) + (" …" if len(refused) > 3 else "")
            notes.append(f"Only files on this computer can be transcribed; skipped {shown}.")
        self.say(" ".join(notes), error=not jobs)

    def add_paths(self, paths: Iterable[str | Path]) -> list[FileJob]:
        """Queue files (folders give the media files inside them); returns the new jobs."""
        jobs, notes = self._queue_paths(paths)
        self.say(" ".join(notes), error=not jobs)
        return jobs

    def _queue_paths(self, paths: Iterable[str | Path]) -> tuple[list[FileJob], list[str]]:
        files, truncated = media_files(paths)
        busy = {j.path for j in self.queue.jobs if not j.finished}
        fresh = [f for f in files if f not in busy]
        jobs = [self.queue.add(f) for f in fresh]
        if jobs and self._selected_job_finished():  # show the new file, not an old result
            self.select_job(jobs[0].id)
        if jobs:
            notes = [f"Added {count(len(jobs))}."]
            if len(fresh) < len(files):
                notes.append(f"{count(len(files) - len(fresh))} already in the queue.")
        elif files:
            notes = ["Already in the queue."]
        else:
            notes = ["No audio or video files there."]
        if truncated:
            notes.append("The folder is large: only its first files were looked at.")
        return jobs, notes

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if accept_copy(event):
            self.drop_zone.set_hover(True)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        accept_copy(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_zone.set_hover(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_zone.set_hover(False)
        if accept_copy(event):
            self._on_dropped(*split_urls(event.mimeData().urls()))

    # ---- the queue ----------------------------------------------------------------------------

    def row_for(self, job_id: int) -> QTreeWidgetItem | None:
        return self.tree.rows.get(job_id)

    def progress_bar(self, job_id: int) -> QProgressBar:
        return self.tree.progress_bar(job_id)

    def action_button(self, job_id: int) -> QToolButton:
        return self.tree.action_button(job_id)

    def retry_button(self, job_id: int) -> QToolButton:
        return self.tree.retry_button(job_id)

    def retry(self, job_id: int) -> None:
        """Queue a failed or cancelled file again (the same row), with the model of now."""
        try:
            job = self.queue.retry(job_id)
        except (KeyError, ValueError, RuntimeError) as exc:
            self.say(str(exc), error=True)
            return
        self.say(f"{job.path.name} is queued again.")

    def select_job(self, job_id: int) -> None:
        self.tree.setCurrentItem(self.tree.rows[job_id])

    def selected_job(self) -> FileJob | None:
        job_id = self.tree.current_job_id()
        if job_id is None:
            return None
        try:
            return self.queue.get(job_id)
        except KeyError:
            return None

    def _selected_job_finished(self) -> bool:
        job = self.selected_job()
        return job is None or job.finished

    def _on_job(self, job: FileJob) -> None:
        """A job changed (GUI thread): update its row, and the results if it is selected."""
        if job.id in self._removed:
            return
        self.tree.show_job(job)
        self.stack.setCurrentIndex(1)
        if self.selected_job() is job:
            self._show_selected()
        running = any(j.status == "running" for j in self.queue.jobs)
        if running and not self._ticker.isActive():
            self._ticker.start()
        elif not running:
            self._ticker.stop()

    def _tick(self) -> None:
        for job in self.queue.jobs:
            if job.status == "running" and job.id in self.tree.rows:
                self.tree.show_time(job)

    def _cancel_or_remove_selected(self) -> None:
        job = self.selected_job()
        if job is not None:
            self._cancel_or_remove(job.id)

    def _cancel_or_remove(self, job_id: int) -> None:
        try:
            job = self.queue.get(job_id)
        except KeyError:
            return
        if not job.finished:
            self.queue.cancel(job_id)
            return
        self.queue.remove(job_id)
        self._removed.add(job_id)
        self.tree.remove_job(job_id)
        if not self.tree.rows:
            self.stack.setCurrentIndex(0)
        self._show_selected()

    # ---- results ------------------------------------------------------------------------------

    def results_text(self) -> str:
        return self.results.toPlainText()

    def _show_selected(self) -> None:
        job = self.selected_job()
        done = job is not None and job.status == "done"
        for button in (*self.export_buttons.values(), self.save_as_button):
            button.setEnabled(done)
        self.copy_button.setEnabled(job is not None and bool(job.text))
        if job is None:
            self._shown = None
            self.header_label.setText("")
            self.error_label.hide()
            self.results.clear()
            return
        self.header_label.setText(summary(job))
        if job.status == "failed":
            self.error_label.setText(f"Could not transcribe {job.path.name}: {short_error(job)}")
            self.error_label.setStyleSheet(f"color: {error_colour(self.palette()).name()}")
            self.error_label.show()
        else:
            self.error_label.hide()
        segments = list(job.segments)
        lines = transcript_lines(segments, list(job.gaps))
        if self._shown is not None and self._shown[0] == job.id and self._shown[1] <= len(lines):
            for line in lines[self._shown[1] :]:  # live: only what arrived since
                self.results.appendPlainText(line)
        else:
            self.results.setPlainText("\n".join(lines))
        self._shown = (job.id, len(lines))
        if job.status == "done" and not segments:
            self.results.setPlaceholderText("No speech was found in this file.")
        elif job.status == "cancelled" and not segments:
            self.results.setPlaceholderText(
                "Cancelled before any text came out (Retry starts it again)."
            )
        elif job.status == "failed" and not segments:
            self.results.setPlaceholderText("No text: the file could not be transcribed.")
        elif job.status in ("queued", "running"):
            self.results.setPlaceholderText("The transcript appears here as it is made.")

    def copy_text(self) -> None:
        job = self.selected_job()
        if job is not None and job.text:
            QGuiApplication.clipboard().setText(job.text)
            self.say(f"Copied the transcript of {job.path.name}.")

    def export(self, fmt: str) -> Path | None:
        """Save the selected transcript beside its source; returns the path written."""
        job = self.selected_job()
        if job is None:
            return None
        try:
            path = self.queue.export(job.id, fmt)
        except (DictateError, ValueError) as exc:
            self.say(f"{exc}. Use “Save as…” to choose another place.", error=True)
            return None
        self.say(f"Saved {path.name} in {path.parent}.")
        return path

    def export_as(self) -> QFileDialog | None:
        """A save dialog (without blocking): the format follows the chosen name or filter."""
        job = self.selected_job()
        if job is None or job.status != "done":
            return None
        start = self.queue.default_export_path(job.id, DEFAULT_FORMAT)
        dialog = transcript_save_dialog(
            self, job.path.name, start, lambda name, d, i=job.id: self._save_to(i, name, d)
        )
        self.save_dialog = dialog
        dialog.open()
        return dialog

    def _save_to(self, job_id: int, name: str, dialog: QFileDialog) -> None:
        path = Path(name)
        fmt = chosen_format(path, dialog.selectedNameFilter())
        try:
            written = self.queue.export(job_id, fmt, path)
        except KeyError:
            self.say("That file was removed from the list before it could be saved.", error=True)
            return
        except (DictateError, ValueError) as exc:
            self.say(str(exc), error=True)
            return
        self.say(f"Saved {written.name} in {written.parent}.")

    # ---- messages -----------------------------------------------------------------------------

    def say(self, message: str, *, error: bool = False) -> None:
        self.message_label.setText(message)
        colour = error_colour(self.palette()).name() if error else ""
        self.message_label.setStyleSheet(f"color: {colour}" if colour else "")

    @property
    def message(self) -> str:
        return self.message_label.text()


def _remove(queue: FileQueue, listener: object) -> None:
    with contextlib.suppress(ValueError):
        queue.listeners.remove(listener)
