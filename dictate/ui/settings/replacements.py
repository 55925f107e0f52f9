"""The replacements table of the Text tab: "When I say" → "Write", with Add and Remove."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class ReplacementsTable(QWidget):
    """Two editable columns, "When I say" → "Write", with Add and Remove."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["When I say", "Write"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAccessibleName("Replacements")
        self.table.itemChanged.connect(lambda _item: self.changed.emit())
        self.add_button = QPushButton("Add")
        self.remove_button = QPushButton("Remove")
        self.add_button.clicked.connect(self.add_row)
        self.remove_button.clicked.connect(self.remove_selected)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def set_pairs(self, pairs: dict[str, str]) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for said, written in pairs.items():
            self._append(said, written)
        self.table.blockSignals(False)
        self._update_buttons()
        self.changed.emit()

    def _append(self, said: str, written: str) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(said))
        self.table.setItem(row, 1, QTableWidgetItem(written))
        return row

    def add_row(self) -> None:
        row = self._append("", "")
        self.table.setCurrentCell(row, 0)
        self.table.editItem(self.table.item(row, 0))
        self.changed.emit()

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for row in rows:
            self.table.removeRow(row)
        self._update_buttons()
        self.changed.emit()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.table.selectedIndexes()))

    def rows(self) -> list[tuple[str, str]]:
        def text(row: int, col: int) -> str:
            item = self.table.item(row, col)
            return item.text() if item is not None else ""

        return [(text(r, 0), text(r, 1)) for r in range(self.table.rowCount())]

    def pairs(self) -> tuple[dict[str, str], str | None]:
        """The replacements, and what is wrong with them (blank rows are skipped)."""
        result: dict[str, str] = {}
        seen: dict[str, str] = {}
        for said, written in self.rows():
            key = said.strip()
            if not key and not written.strip():
                continue
            if not key:
                return result, f"The replacement “{written}” needs the words you say."
            if key.casefold() in seen:
                return result, f"“{key}” is listed twice (case does not matter)."
            seen[key.casefold()] = key
            result[key] = written
        return result, None
