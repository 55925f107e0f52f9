"""The files panel: drop or pick audio and video files, watch the queue, read and save the results.

It drives a core `dictate.files.queue.FileQueue`. The queue runs on its own thread and tells its
listeners about every change from there; a private relay re-emits each change as a Qt signal, so
the slots that touch widgets run on the GUI thread. Nothing slow happens on the GUI thread: adding
a file only queues it (the worker probes and decodes it), and an export writes one small file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QPalette,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dictate.engine.longform import Gap
from dictate.errors import DictateError
from dictate.export import FORMATS
from dictate.files.queue import AUDIO_SUFFIXES, VIDEO_SUFFIXES, FileJob, FileQueue, media_files
from dictate.transcript import describe_gaps

__all__ = ["DropZone", "FilesPanel", "clock", "file_filters", "split_urls", "stamp"]

COL_FILE, COL_STATE, COL_PROGRESS, COL_TIME, COL_ACTION = range(5)
FORMAT_NAMES = {
    "txt": "Plain text",
    "srt": "SubRip subtitles",
    "vtt": "WebVTT subtitles",
    "json": "JSON with timestamps",
}
STATE_WORDS = {
    "queued": "Queued",
    "running": "Transcribing",
    "done": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
_PROGRESS_STEPS = 1000


def _patterns(suffixes: Iterable[str]) -> str:
    return " ".join(f"*{s}" for s in sorted(suffixes))


def file_filters() -> list[str]:
    """The "Add files…" dialog's filters: audio and video together first."""
    return [
        f"Audio and video ({_patterns(AUDIO_SUFFIXES | VIDEO_SUFFIXES)})",
        f"Audio ({_patterns(AUDIO_SUFFIXES)})",
        f"Video ({_patterns(VIDEO_SUFFIXES)})",
        "All files (*)",
    ]


def clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on (durations and elapsed times)."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def gap_mark(gap: Gap) -> str:
    """The transcript's line for speech that gave no text."""
    return f"[no text came from the speech at {describe_gaps([(gap.start, gap.end)])}]"


def stamp(seconds: float) -> str:
    """[mm:ss], or [h:mm:ss] from an hour on (segment starts in the results)."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    return f"[{h}:{rest // 60:02d}:{rest % 60:02d}]" if h else f"[{rest // 60:02d}:{rest % 60:02d}]"


def split_urls(urls: Iterable[QUrl]) -> tuple[list[Path], list[str]]:
    """Local files (as paths) and everything else (as text, to say why it was refused)."""
    local, other = [], []
    for url in urls:
        if url.isLocalFile() and url.toLocalFile():
            local.append(Path(url.toLocalFile()))
        else:
            other.append(url.toDisplayString())
    return local, other


def _short_error(job: FileJob) -> str:
    """The error without the file's path in front: the row already names the file."""
    error = job.error or "failed"
    for prefix in (f"{job.path}: ", f"{job.path.name}: "):
        if error.startswith(prefix):
            return error[len(prefix) :]
    return error


def _error_colour(palette: QPalette) -> QColor:
    """A red that reads on the current background, light or dark."""
    dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
    return QColor("#ff7b72") if dark else QColor("#b3261e")


class _Relay(QObject):
    """Carries queue notifications from the worker thread to the GUI thread."""

    changed = Signal(object)  # FileJob


class DropZone(QFrame):
    """The dashed "drop files here" area with the "Add files…" button."""

    dropped = Signal(list, list)  # local paths, refused URLs (as text)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAcceptDrops(True)
        self.setProperty("hover", False)
        self.setStyleSheet(
            "#dropZone { border: 2px dashed palette(mid); border-radius: 8px; }"
            '#dropZone[hover="true"] { border-color: palette(highlight);'
            " background: palette(alternate-base); }"
        )
        self.setMinimumHeight(64)
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon).pixmap(32))
        self.label = QLabel("<b>Drop audio or video files here</b><br>or folders that hold them")
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.add_button = QPushButton("&Add files…")
        self.add_button.setToolTip("Choose audio or video files to transcribe (Ctrl+O)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 10)
        layout.setSpacing(12)
        layout.addWidget(icon)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.add_button)

    def set_hover(self, hover: bool) -> None:
        self.setProperty("hover", hover)
        self.style().unpolish(self)  # restyle for the [hover] selector
        self.style().polish(self)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _accept_copy(event):
            self.set_hover(True)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        _accept_copy(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.set_hover(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self.set_hover(False)
        if _accept_copy(event):
            self.dropped.emit(*split_urls(event.mimeData().urls()))


def _accept_copy(event: QDropEvent) -> bool:
    """Take a drag that carries URLs, always as a copy: a "move" could make the file manager
    delete the file once it is dropped. (Enter and move events are drop events in Qt.)"""
    if not event.mimeData().hasUrls():
        event.ignore()
        return False
    event.setDropAction(Qt.DropAction.CopyAction)
    event.accept()
    return True


class FilesPanel(QWidget):
    """Drop zone, queue (a row per file), and the selected file's transcript with copy/export."""

    def __init__(self, queue: FileQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.setAcceptDrops(True)  # a drop anywhere on the panel counts, not just on the zone
        self._rows: dict[int, QTreeWidgetItem] = {}
        self._removed: set[int] = set()  # a late notification must not bring a row back
        self._shown: tuple[int, int] | None = None  # (job id, segments shown) in the results
        self._last_dir = str(Path.home())
        self.file_dialog: QFileDialog | None = None
        self.save_dialog: QFileDialog | None = None

        self.drop_zone = DropZone()
        self.drop_zone.dropped.connect(self._on_dropped)
        self.add_button = self.drop_zone.add_button
        self.add_button.clicked.connect(self.pick_files)

        self.tree = QTreeWidget()
        self.tree.setAccessibleName("File queue")
        self.tree.setHeaderLabels(["File", "State", "Progress", "Time", ""])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_STATE, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_PROGRESS, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(COL_TIME, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_ACTION, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(COL_STATE, 170)
        header.resizeSection(COL_PROGRESS, 120)
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
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
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
            notes = [f"Added {_count(len(jobs))}."]
            if len(fresh) < len(files):
                notes.append(f"{_count(len(files) - len(fresh))} already in the queue.")
        elif files:
            notes = ["Already in the queue."]
        else:
            notes = ["No audio or video files there."]
        if truncated:
            notes.append("The folder is large: only its first files were looked at.")
        return jobs, notes

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _accept_copy(event):
            self.drop_zone.set_hover(True)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        _accept_copy(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_zone.set_hover(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_zone.set_hover(False)
        if _accept_copy(event):
            self._on_dropped(*split_urls(event.mimeData().urls()))

    # ---- the queue ----------------------------------------------------------------------------

    def row_for(self, job_id: int) -> QTreeWidgetItem | None:
        return self._rows.get(job_id)

    def progress_bar(self, job_id: int) -> QProgressBar:
        return self.tree.itemWidget(self._rows[job_id], COL_PROGRESS)

    def action_button(self, job_id: int) -> QToolButton:
        return self.tree.itemWidget(self._rows[job_id], COL_ACTION)

    def select_job(self, job_id: int) -> None:
        self.tree.setCurrentItem(self._rows[job_id])

    def selected_job(self) -> FileJob | None:
        item = self.tree.currentItem()
        if item is None:
            return None
        try:
            return self.queue.get(item.data(COL_FILE, Qt.ItemDataRole.UserRole))
        except KeyError:
            return None

    def _selected_job_finished(self) -> bool:
        job = self.selected_job()
        return job is None or job.finished

    def _on_job(self, job: FileJob) -> None:
        """A job changed (GUI thread): update its row, and the results if it is selected."""
        if job.id in self._removed:
            return
        item = self._rows.get(job.id)
        if item is None:
            item = self._new_row(job)
        self._render_row(item, job)
        if self.selected_job() is job:
            self._show_selected()
        running = any(j.status == "running" for j in self.queue.jobs)
        if running and not self._ticker.isActive():
            self._ticker.start()
        elif not running:
            self._ticker.stop()

    def _new_row(self, job: FileJob) -> QTreeWidgetItem:
        item = QTreeWidgetItem([job.path.name, "", "", ""])
        item.setData(COL_FILE, Qt.ItemDataRole.UserRole, job.id)
        item.setToolTip(COL_FILE, str(job.path))
        item.setTextAlignment(COL_TIME, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.tree.addTopLevelItem(item)
        bar = QProgressBar()
        bar.setRange(0, _PROGRESS_STEPS)
        bar.setTextVisible(True)
        bar.setAccessibleName(f"Progress of {job.path.name}")
        self.tree.setItemWidget(item, COL_PROGRESS, bar)
        button = QToolButton()
        button.setAutoRaise(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.clicked.connect(lambda _=False, i=job.id: self._cancel_or_remove(i))
        self.tree.setItemWidget(item, COL_ACTION, button)
        self._rows[job.id] = item
        self.stack.setCurrentIndex(1)
        return item

    def _render_row(self, item: QTreeWidgetItem, job: FileJob) -> None:
        state = STATE_WORDS.get(job.status, job.status)
        if job.status == "running" and job.detail:
            state = job.detail[:1].upper() + job.detail[1:]
        elif job.status == "failed":
            state = f"Failed: {_short_error(job)}"
        item.setText(COL_STATE, state)
        item.setToolTip(COL_STATE, job.error or state)
        colour = _error_colour(self.palette()) if job.status == "failed" else None
        item.setData(COL_STATE, Qt.ItemDataRole.ForegroundRole, colour)  # None: the palette's
        self._render_time(item, job)

        bar: QProgressBar = self.tree.itemWidget(item, COL_PROGRESS)
        fraction = job.fraction
        if job.status == "running" and fraction is None and not job.detail:
            bar.setRange(0, 0)  # length unknown: a busy bar
        else:
            bar.setRange(0, _PROGRESS_STEPS)
            bar.setValue(round((fraction or 0.0) * _PROGRESS_STEPS))
        bar.setEnabled(job.status in ("queued", "running", "done"))
        bar.setTextVisible(job.status != "failed")  # "0 %" would say nothing there

        button: QToolButton = self.tree.itemWidget(item, COL_ACTION)
        if job.finished:
            button.setText("Remove")
            button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogCloseButton))
            button.setToolTip(f"Remove {job.path.name} from the list (Delete)")
        else:
            button.setText("Cancel")
            button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogCancelButton))
            button.setToolTip(f"Stop transcribing {job.path.name} (Delete)")
        button.setEnabled(not (job.status == "running" and job.detail == "stopping…"))

    @staticmethod
    def _render_time(item: QTreeWidgetItem, job: FileJob) -> None:
        spent = job.running_s
        text = clock(spent) if spent is not None else ""
        if job.duration_s is not None:
            text = f"{text} / {clock(job.duration_s)}" if text else clock(job.duration_s)
        item.setText(COL_TIME, text)
        item.setToolTip(COL_TIME, "time spent / length of the recording")

    def _tick(self) -> None:
        for job in self.queue.jobs:
            if job.status == "running" and job.id in self._rows:
                self._render_time(self._rows[job.id], job)

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
        item = self._rows.pop(job_id)
        self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        if not self._rows:
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
        self.header_label.setText(self._summary(job))
        if job.status == "failed":
            self.error_label.setText(f"Could not transcribe {job.path.name}: {_short_error(job)}")
            self.error_label.setStyleSheet(f"color: {_error_colour(self.palette()).name()}")
            self.error_label.show()
        else:
            self.error_label.hide()
        segments = list(job.segments)
        # Speech that gave no text is marked where it was, never left out silently.
        lines = sorted(
            [(s.start, f"{stamp(s.start)} {s.text.strip()}") for s in segments]
            + [(g.start, f"{stamp(g.start)} {gap_mark(g)}") for g in list(job.gaps)],
            key=lambda line: line[0],
        )
        if self._shown is not None and self._shown[0] == job.id and self._shown[1] <= len(lines):
            for _, line in lines[self._shown[1] :]:  # live: only what arrived since
                self.results.appendPlainText(line)
        else:
            self.results.setPlainText("\n".join(line for _, line in lines))
        self._shown = (job.id, len(lines))
        if job.status in ("done", "cancelled") and not segments:
            self.results.setPlaceholderText("No speech was found in this file.")
        elif job.status in ("queued", "running"):
            self.results.setPlaceholderText("The transcript appears here as it is made.")

    @staticmethod
    def _summary(job: FileJob) -> str:
        parts = [job.path.name]
        if job.status == "done" and job.elapsed_s is not None:
            parts.append(f"done in {clock(job.elapsed_s)}")
        elif job.status == "running":
            fraction = job.fraction
            parts.append(
                job.detail or (f"transcribing, {fraction:.0%}" if fraction else "transcribing")
            )
        else:
            parts.append(STATE_WORDS.get(job.status, job.status).lower())
        if job.duration_s is not None:
            parts.append(f"{clock(job.duration_s)} of audio")
        if job.model:  # a model folder by its name, not its whole path
            model = Path(job.model)
            parts.append(model.name if model.is_absolute() else job.model)
        return " · ".join(parts)

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
        filters = [f"{FORMAT_NAMES[f]} (*.{f})" for f in FORMATS]
        start = self.queue.default_export_path(job.id, "srt")
        dialog = QFileDialog(self, f"Save the transcript of {job.path.name}", str(start))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)
        dialog.setNameFilters(filters)
        dialog.selectNameFilter(filters[FORMATS.index("srt")])
        dialog.setDefaultSuffix("srt")
        dialog.filterSelected.connect(
            lambda f: dialog.setDefaultSuffix(FORMATS[filters.index(f)] if f in filters else "")
        )
        dialog.fileSelected.connect(lambda name, i=job.id: self._save_to(i, name, dialog))
        self.save_dialog = dialog
        dialog.open()
        return dialog

    def _save_to(self, job_id: int, name: str, dialog: QFileDialog) -> None:
        path = Path(name)
        fmt = path.suffix.lower().removeprefix(".")
        if fmt not in FORMATS:  # a name without a known suffix: the chosen filter's format
            chosen = dialog.selectedNameFilter()
            fmt = next((f for f in FORMATS if chosen.endswith(f"(*.{f})")), "txt")
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
        colour = _error_colour(self.palette()).name() if error else ""
        self.message_label.setStyleSheet(f"color: {colour}" if colour else "")

    @property
    def message(self) -> str:
        return self.message_label.text()


def _count(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _remove(queue: FileQueue, listener: object) -> None:
    with contextlib.suppress(ValueError):
        queue.listeners.remove(listener)
