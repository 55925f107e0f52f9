"""What the settings tabs share: the tab base (a `changed` signal every field reports to), form
rows with error and hint lines under a field, and the inline error label."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from dictate.config import Settings


def error_colour(palette: QPalette) -> str:
    """A red that reads on the window background, light or dark."""
    return "#ff7b72" if palette.color(QPalette.ColorRole.Window).lightness() < 128 else "#c62828"


class ErrorLabel(QLabel):
    """An inline message under a field; hidden while empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setStyleSheet(f"color: {error_colour(self.palette())};")
        self.hide()

    def show_problem(self, problem: str | None) -> None:
        self.setText(problem or "")
        self.setVisible(bool(problem))


def form(tab: QWidget) -> QFormLayout:
    layout = QFormLayout(tab)
    layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    layout.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    return layout


def hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


def stack(*widgets: QWidget) -> QWidget:
    """A field with its error and hint lines under it (hidden ones take no room)."""
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(3)
    for w in widgets:
        column.addWidget(w)
    return box


def row(layout: QFormLayout, text: str, field: QWidget, buddy: QWidget) -> None:
    label = QLabel(text)
    label.setBuddy(buddy)  # Alt+letter reaches the input, not its container
    layout.addRow(label, field)


def fixed(spin: QSpinBox | QDoubleSpinBox) -> QSpinBox | QDoubleSpinBox:
    spin.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
    return spin


def select(combo: QComboBox, value: Any) -> None:
    i = combo.findData(value)
    combo.setCurrentIndex(i if i >= 0 else 0)


class Tab(QWidget):
    """One tab of the dialog: shows its part of Settings, gives it back, and says what is wrong.

    Every field emits `changed`; the dialog validates on it (not while it is loading)."""

    changed = Signal()
    title = ""
    fields: tuple[str, ...] = ()  # the settings whose problems mark this tab's title
    labelled: tuple[str, ...] = ()  # the settings whose problems show beside their field

    def combo(self, items: Sequence[tuple[Any, str]]) -> QComboBox:
        box = QComboBox()
        for value, text in items:
            box.addItem(text, value)
        box.currentIndexChanged.connect(self.emit_changed)
        return box

    def check(self, text: str) -> QCheckBox:
        box = QCheckBox(text)
        box.toggled.connect(self.emit_changed)
        return box

    def emit_changed(self, *_: object) -> None:
        self.changed.emit()

    def load(self, s: Settings) -> None:
        raise NotImplementedError

    def values(self, shown: Settings) -> dict[str, Any]:
        """The settings this tab edits, as its widgets show them (`shown`: what was loaded)."""
        raise NotImplementedError

    def problems(self) -> dict[str, str]:
        """Setting name → what is wrong with it, for what this tab alone can tell."""
        return {}

    def show_problems(self, found: Mapping[str, str]) -> None:
        """Show the problems beside the fields of `labelled`."""
