"""The files panel's queue: a row per file with its state, a progress bar, the time spent and
a Cancel or Remove button (and Retry for a file that failed or was cancelled)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QProgressBar,
    QStyle,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from dictate.files.queue import FileJob
from dictate.ui.files_panel.formatting import STATE_WORDS, clock, error_colour, short_error

COL_FILE, COL_STATE, COL_PROGRESS, COL_TIME, COL_ACTION = range(5)
_PROGRESS_STEPS = 1000


class QueueTree(QTreeWidget):
    """The rows of the queue's jobs, by job id; a row's button emits `action(job id)`."""

    action = Signal(int)  # Cancel (a job still going) or Remove (a finished one)
    retry = Signal(int)  # Retry (a failed or cancelled one)

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, QTreeWidgetItem] = {}
        self.setAccessibleName("File queue")
        self.setHeaderLabels(["File", "State", "Progress", "Time", ""])
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Stretch)
        # The state holds a failure's reason: it shares the room with the name (the whole
        # reason is in its tooltip and below the list).
        header.setSectionResizeMode(COL_STATE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_PROGRESS, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(COL_TIME, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_ACTION, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(COL_PROGRESS, 120)

    def progress_bar(self, job_id: int) -> QProgressBar:
        return self.itemWidget(self.rows[job_id], COL_PROGRESS)

    def action_button(self, job_id: int) -> QToolButton:
        return self.itemWidget(self.rows[job_id], COL_ACTION).findChild(QToolButton, "action")

    def retry_button(self, job_id: int) -> QToolButton:
        return self.itemWidget(self.rows[job_id], COL_ACTION).findChild(QToolButton, "retry")

    def current_job_id(self) -> int | None:
        item = self.currentItem()
        return None if item is None else item.data(COL_FILE, Qt.ItemDataRole.UserRole)

    def show_job(self, job: FileJob) -> None:
        """Add the job's row if it has none; show its state."""
        item = self.rows.get(job.id)
        if item is None:
            item = self._new_row(job)
        self._render_row(item, job)

    def remove_job(self, job_id: int) -> None:
        item = self.rows.pop(job_id)
        self.takeTopLevelItem(self.indexOfTopLevelItem(item))

    def show_time(self, job: FileJob) -> None:
        spent = job.running_s
        text = clock(spent) if spent is not None else ""
        if job.duration_s is not None:
            text = f"{text} / {clock(job.duration_s)}" if text else clock(job.duration_s)
        item = self.rows[job.id]
        item.setText(COL_TIME, text)
        item.setToolTip(COL_TIME, "time spent / length of the recording")

    def _new_row(self, job: FileJob) -> QTreeWidgetItem:
        item = QTreeWidgetItem([job.path.name, "", "", ""])
        item.setData(COL_FILE, Qt.ItemDataRole.UserRole, job.id)
        item.setToolTip(COL_FILE, str(job.path))
        item.setTextAlignment(COL_TIME, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.addTopLevelItem(item)
        bar = QProgressBar()
        bar.setRange(0, _PROGRESS_STEPS)
        bar.setTextVisible(True)
        bar.setAccessibleName(f"Progress of {job.path.name}")
        self.setItemWidget(item, COL_PROGRESS, bar)
        cell = QWidget()
        buttons = QHBoxLayout(cell)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(0)
        for name, signal in (("retry", self.retry), ("action", self.action)):
            button = QToolButton()
            button.setObjectName(name)
            button.setAutoRaise(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.clicked.connect(lambda _=False, i=job.id, s=signal: s.emit(i))
            buttons.addWidget(button)
        self.setItemWidget(item, COL_ACTION, cell)
        self.rows[job.id] = item
        return item

    def _render_row(self, item: QTreeWidgetItem, job: FileJob) -> None:
        state = STATE_WORDS.get(job.status, job.status)
        if job.status == "running" and job.detail:
            state = job.detail[:1].upper() + job.detail[1:]
        elif job.status == "failed":
            state = f"Failed: {short_error(job)}"
        item.setText(COL_STATE, state)
        item.setToolTip(COL_STATE, job.error or state)
        colour = error_colour(self.palette()) if job.status == "failed" else None
        item.setData(COL_STATE, Qt.ItemDataRole.ForegroundRole, colour)  # None: the palette's
        self.show_time(job)

        bar: QProgressBar = self.itemWidget(item, COL_PROGRESS)
        fraction = job.fraction
        if job.status == "running" and fraction is None and not job.detail:
            bar.setRange(0, 0)  # length unknown: a busy bar
        else:
            bar.setRange(0, _PROGRESS_STEPS)
            bar.setValue(round((fraction or 0.0) * _PROGRESS_STEPS))
        bar.setEnabled(job.status in ("queued", "running", "done"))
        bar.setTextVisible(job.status != "failed")  # "0 %" would say nothing there

        retry = self.retry_button(job.id)
        retry.setVisible(job.status in ("failed", "cancelled"))
        retry.setText("Retry")
        retry.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        retry.setToolTip(f"Transcribe {job.path.name} again, from the start")
        button = self.action_button(job.id)
        if job.finished:
            button.setText("Remove")
            button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogCloseButton))
            button.setToolTip(f"Remove {job.path.name} from the list (Delete)")
        else:
            button.setText("Cancel")
            button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogCancelButton))
            button.setToolTip(f"Stop transcribing {job.path.name} (Delete)")
        button.setEnabled(not (job.status == "running" and job.detail == "stopping…"))
