"""The history window: search past dictations, copy them, insert them again, play or delete them.

It reads the core History directly (its queries take a millisecond) and never changes it except
on Delete, after a confirmation. Dictations recovered after a crash are marked: they were
transcribed after dictate was restarted and not typed then, so they are easy to miss.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QFont, QGuiApplication, QKeySequence, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dictate.dictation.history import Entry, History
from dictate.errors import DictateError
from dictate.transcript import describe_gaps
from dictate.ui.icons import app_icon

log = logging.getLogger(__name__)

LIMIT = 500  # rows shown; the search reaches further back than that
COLUMNS = ("Time", "Text", "Status", "Length")
# status -> (label, tooltip)
STATUS = {
    "recording": (
        "In progress",
        "Being recorded now, or left unfinished by a crash: the next start transcribes it.",
    ),
    "recorded": (
        "Waiting",
        "Recorded, waiting to be transcribed (after a crash: at the next start of dictate).",
    ),
    "transcribed": (
        "Recovered",
        "dictate was closed in the middle of this dictation; it was transcribed at the next "
        "start and not typed then. Copy it or insert it again.",
    ),
    "retranscribed": (
        "Transcribed again",
        "Transcribed again from its audio with the settings of the time; typed nowhere. "
        "Copy it or insert it again.",
    ),
    "no_speech": ("No speech", "Nothing was said, or too quietly for the speech detector."),
    "inserted": ("Inserted", "Typed into the window that had the focus."),
    "insert_failed": ("Not inserted", "The text could not be typed; it was left on the clipboard."),
    "cancelled": ("Cancelled", "You cancelled this dictation."),
    "error": ("Error", "The dictation failed."),
}
_PLACEHOLDER = {
    "recording": "(recording…)",
    "recorded": "(not transcribed yet)",
    "no_speech": "(no speech)",
    "cancelled": "(cancelled)",
    "error": "(failed)",
}


def recovered(entry: Entry) -> bool:
    """A dictation transcribed after a crash: it has text but was never inserted."""
    return entry.status == "transcribed"


def when(started_at: float, now: dt.datetime | None = None) -> str:
    """When a dictation started, briefly: "Today 14:03", "Yesterday 09:12", "3 Mar 14:03",
    "3 Mar 2024 14:03"."""
    t = dt.datetime.fromtimestamp(started_at)
    now = now or dt.datetime.now()
    clock = t.strftime("%H:%M")
    if t.date() == now.date():
        return f"Today {clock}"
    if t.date() == (now - dt.timedelta(days=1)).date():
        return f"Yesterday {clock}"
    day = f"{t.day} {t.strftime('%b')}"
    return f"{day} {clock}" if t.year == now.year else f"{day} {t.year} {clock}"


def length(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


class HistoryWindow(QWidget):
    """Past dictations over `history`; `insert_again(text)` types a text into the focused window
    (the caller decides which), `play(samples)` plays 16 kHz float32 audio (None: no Play),
    `transcribe_again(id)` starts transcribing an entry's audio again with the settings of now
    and answers through `transcribed_again(id, error)` (None: no such action)."""

    def __init__(
        self,
        history: History,
        insert_again: Callable[[str], None],
        play: Callable[[np.ndarray], None] | None = None,
        parent: QWidget | None = None,
        transcribe_again: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("dictate history")
        self.setWindowIcon(app_icon())
        self.resize(820, 560)
        self.history = history
        self._insert_again = insert_again
        self._play = play
        self._transcribe_again = transcribe_again
        self._again: set[int] = set()  # entries being transcribed again
        self.entries: list[Entry] = []
        self._pending_delete: list[int] = []

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setFrameShape(QFrame.Shape.StyledPanel)
        self.banner.setAutoFillBackground(True)
        self.banner.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.banner.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.banner.setMargin(8)
        self.banner.hide()

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search dictations (every word must appear)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search")
        self._search_timer = QTimer(self, singleShot=True, interval=150)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.returnPressed.connect(self.refresh)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setAccessibleName("Dictations")
        header = self.table.horizontalHeader()
        for col, mode in enumerate(
            (
                QHeaderView.ResizeMode.ResizeToContents,
                QHeaderView.ResizeMode.Stretch,
                QHeaderView.ResizeMode.ResizeToContents,
                QHeaderView.ResizeMode.ResizeToContents,
            )
        ):
            header.setSectionResizeMode(col, mode)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)

        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)

        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Select a dictation to see all of its text.")
        self.details.setAccessibleName("Selected dictation")
        self.meta = QLabel()
        self.meta.setWordWrap(True)
        self.meta.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        lower = QWidget()
        lower_box = QVBoxLayout(lower)
        lower_box.setContentsMargins(0, 0, 0, 0)
        lower_box.addWidget(self.details, 1)
        lower_box.addWidget(self.meta)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.stack)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)

        style = self.style()
        sp = QStyle.StandardPixmap
        self.copy_action = self._action("&Copy", QKeySequence.StandardKey.Copy, self.copy)
        self.insert_action = self._action("&Insert again", None, self.insert_again)
        self.play_action = self._action("&Play audio", None, self.play_audio)
        self.again_action = self._action("&Transcribe again", None, self.transcribe_again)
        self.again_action.setToolTip(
            "Transcribe the recording again with the current settings (model, language, "
            "vocabulary); the text is kept here, not typed"
        )
        self.delete_action = self._action("&Delete…", QKeySequence.StandardKey.Delete, self.delete)
        self.refresh_action = self._action(
            "&Refresh", QKeySequence.StandardKey.Refresh, self.refresh
        )
        self.play_action.setIcon(style.standardIcon(sp.SP_MediaPlay))
        self.delete_action.setIcon(style.standardIcon(sp.SP_TrashIcon))
        self.refresh_action.setIcon(style.standardIcon(sp.SP_BrowserReload))
        self.insert_action.setToolTip("Type this text into the window that has the focus")
        find = QAction(self)
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.triggered.connect(lambda: (self.search.setFocus(), self.search.selectAll()))
        self.addAction(find)

        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for key, action in (
            ("copy", self.copy_action),
            ("insert", self.insert_action),
            ("play", self.play_action),
            ("again", self.again_action),
            ("delete", self.delete_action),
        ):
            self.buttons[key] = self._button(action)
            row.addWidget(self.buttons[key])
        row.addStretch(1)
        self.status = QLabel()
        self.status.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        row.addWidget(self.status)
        self.buttons["refresh"] = self._button(self.refresh_action)
        row.addWidget(self.buttons["refresh"])
        if play is None:
            self.buttons["play"].hide()
        if transcribe_again is None:
            self.buttons["again"].hide()

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.search)
        layout.addWidget(splitter, 1)
        layout.addLayout(row)
        self.refresh()

    def _action(
        self, text: str, shortcut: QKeySequence.StandardKey | None, slot: Callable[[], None]
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
            # Only while the table has focus: Ctrl+C and Delete in the search field edit it.
            if shortcut != QKeySequence.StandardKey.Refresh:
                self.table.addAction(action)
                action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            else:
                self.addAction(action)
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        return action

    @staticmethod
    def _button(action: QAction) -> QPushButton:
        button = QPushButton(action.icon(), action.text())
        button.setToolTip(action.toolTip())
        button.clicked.connect(action.trigger)
        action.changed.connect(lambda: button.setEnabled(action.isEnabled()))
        button.setEnabled(action.isEnabled())
        return button

    # ---- contents -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the history again (the current search), keeping the selection where it can."""
        selected = {e.id for e in self.selected()}
        query = self.search.text().strip()
        try:
            self.entries = self.history.search(query, limit=LIMIT)
            total = self.history.count()
        except Exception as exc:  # a locked or vanished database: say so, keep the window
            log.exception("reading the history failed")
            self.entries, total = [], 0
            self._say(f"The history cannot be read: {exc}")
        self._fill(self.entries)
        if not self.entries:
            self.empty.setText(
                f"Nothing matches “{query}”."
                if query
                else "No dictations yet.\nPress your hotkey and speak: each dictation is kept here."
            )
        self.stack.setCurrentWidget(self.table if self.entries else self.empty)
        if query:
            shown = f"{len(self.entries)} found"
        elif total > len(self.entries):
            shown = f"the latest {len(self.entries)} of {total}"
        else:
            shown = f"{total} dictation{'s' if total != 1 else ''}"
        self.status.setText(shown)
        self._banner()
        self.table.blockSignals(True)
        for row, entry in enumerate(self.entries):
            if entry.id in selected:
                self.table.selectRow(row)
        self.table.blockSignals(False)
        self._selection_changed()

    def _fill(self, entries: Sequence[Entry]) -> None:
        self.table.setRowCount(0)
        self.table.setRowCount(len(entries))
        info = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation)
        warn = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for row, e in enumerate(entries):
            label, tip = STATUS.get(e.status, (e.status, ""))
            if e.error:
                tip = f"{tip} {e.error}".strip()
            if e.status == "inserted" and e.insert_method:
                tip = f"Typed by {e.insert_method}" + (f" into {e.app}." if e.app else ".")
            if e.gaps:
                tip = f"{tip} No text came from the speech at {describe_gaps(e.gaps)}.".strip()
            text = " ".join((e.text or "").split())  # one line in the table
            items = [
                QTableWidgetItem(when(e.started_at)),
                QTableWidgetItem(text or _PLACEHOLDER.get(e.status, "")),
                QTableWidgetItem(label),
                QTableWidgetItem(length(e.duration_s)),
            ]
            items[0].setData(Qt.ItemDataRole.UserRole, e.id)
            items[0].setToolTip(dt.datetime.fromtimestamp(e.started_at).strftime("%c"))
            items[1].setToolTip(e.text or "")
            items[2].setToolTip(tip)
            items[3].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if not text:
                font = QFont(items[1].font())
                font.setItalic(True)
                items[1].setFont(font)
                items[1].setForeground(self.palette().brush(QPalette.ColorRole.PlaceholderText))
            if recovered(e):
                items[2].setIcon(info)
                for item in items:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
            elif e.status in ("error", "insert_failed"):
                items[2].setIcon(warn)
            for col, item in enumerate(items):
                self.table.setItem(row, col, item)

    def _banner(self) -> None:
        lines = []
        if self.history.warning:
            lines.append(self.history.warning)
        n = sum(recovered(e) for e in self.entries)
        if n:
            lines.append(
                f"{n} dictation{'s were' if n > 1 else ' was'} recovered after dictate was closed "
                "in the middle of it, and not typed then (in bold below): copy "
                f"{'them' if n > 1 else 'it'} or insert {'them' if n > 1 else 'it'} again."
            )
        self.banner.setText("\n".join(lines))
        self.banner.setVisible(bool(lines))

    def selected(self) -> list[Entry]:
        """The selected dictations, in table order."""
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.entries[r] for r in rows if r < len(self.entries)]

    def _selection_changed(self) -> None:
        chosen = self.selected()
        one = chosen[0] if len(chosen) == 1 else None
        has_text = any(e.text for e in chosen)
        self.copy_action.setEnabled(has_text)
        self.insert_action.setEnabled(one is not None and bool(one.text))
        self.play_action.setEnabled(
            self._play is not None and one is not None and one.audio_path is not None
        )
        if self._play is not None and one is not None and one.audio_path is None:
            self.buttons["play"].setToolTip("The audio of this dictation was not kept")
        else:
            self.buttons["play"].setToolTip("Play the recording")
        self.again_action.setEnabled(self._can_transcribe_again(one))
        self.delete_action.setEnabled(bool(chosen))
        self.details.setPlainText("\n\n".join(e.text or "" for e in chosen))
        self.meta.setText(self._describe(one) if one is not None else "")

    def _can_transcribe_again(self, e: Entry | None) -> bool:
        """An entry with audio that is not being recorded or transcribed now."""
        return (
            self._transcribe_again is not None
            and e is not None
            and e.audio_path is not None
            and e.status not in ("recording", "recorded")
            and e.id not in self._again
        )

    @staticmethod
    def _describe(e: Entry) -> str:
        parts = [STATUS.get(e.status, (e.status, ""))[0]]
        if e.insert_method:
            parts.append(f"by {e.insert_method}" + (f" into {e.app}" if e.app else ""))
        if e.duration_s is not None:
            parts.append(f"{length(e.duration_s)} of audio")
        # A recovered dictation was not typed when the key was released: no such figure.
        if (ms := e.timings.get("release_to_text_ms")) and not recovered(e):
            parts.append(f"text {ms:.0f} ms after the key was released")
        text = " · ".join(parts)
        if e.gaps:
            where = describe_gaps(e.gaps)
            text += f"\nNo text came from the speech at {where} (play it to hear it)."
        return f"{text}\n{e.error}" if e.error else text

    def _say(self, message: str) -> None:
        self.status.setText(message)

    # ---- actions ------------------------------------------------------------------------

    def copy(self) -> None:
        texts = [e.text for e in self.selected() if e.text]
        if texts:
            QGuiApplication.clipboard().setText("\n".join(texts))
            self._say("Copied to the clipboard")

    def insert_again(self) -> None:
        chosen = self.selected()
        if len(chosen) == 1 and chosen[0].text:
            try:
                self._insert_again(chosen[0].text)
            except DictateError as exc:
                self._say(f"Not inserted: {exc}")

    def transcribe_again(self) -> None:
        chosen = self.selected()
        if len(chosen) != 1 or not self._can_transcribe_again(chosen[0]):
            return
        assert self._transcribe_again is not None
        self._again.add(chosen[0].id)
        self._selection_changed()
        self._say("Transcribing it again…")
        try:
            self._transcribe_again(chosen[0].id)
        except DictateError as exc:
            self.transcribed_again(chosen[0].id, str(exc))

    def transcribed_again(self, dictation_id: int, error: object) -> None:
        """The answer to transcribe_again (GUI thread): error is None or why it failed."""
        self._again.discard(dictation_id)
        self.refresh()
        if error:
            self._say(f"Could not transcribe it again: {error}")
        else:
            entry = next((e for e in self.entries if e.id == dictation_id), None)
            done = "no speech found" if entry and entry.status == "no_speech" else "done"
            self._say(f"Transcribed again: {done}")

    def play_audio(self) -> None:
        chosen = self.selected()
        if self._play is None or len(chosen) != 1:
            return
        try:
            self._play(self.history.load_audio(chosen[0].id))
        except (DictateError, KeyError) as exc:
            self._say(f"Cannot play it: {exc}")

    def delete(self) -> None:
        """Ask, then delete the selected dictations and their audio."""
        chosen = self.selected()
        if not chosen:
            return
        self._pending_delete = [e.id for e in chosen]
        what = "this dictation" if len(chosen) == 1 else f"these {len(chosen)} dictations"
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete dictations",
            f"Delete {what} and {'its' if len(chosen) == 1 else 'their'} audio? "
            "This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.button(QMessageBox.StandardButton.Yes).setText("Delete")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(self._delete_answered)
        box.open()  # window-modal, no nested event loop

    def _delete_answered(self, answer: int) -> None:
        ids, self._pending_delete = self._pending_delete, []
        if answer != QMessageBox.StandardButton.Yes:
            return
        gone = 0
        for id_ in ids:
            try:
                self.history.delete(id_)
                gone += 1
            except KeyError:
                pass  # deleted meanwhile (retention)
        self.refresh()
        self._say(f"Deleted {gone} dictation{'s' if gone != 1 else ''}")

    def _context_menu(self, pos: object) -> None:
        if not self.selected():
            return
        menu = QMenu(self)
        for action in (self.copy_action, self.insert_action, self.play_action):
            if action is not self.play_action or self._play is not None:
                menu.addAction(action)
        if self._transcribe_again is not None:
            menu.addAction(self.again_action)
        menu.addSeparator()
        menu.addAction(self.delete_action)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()
