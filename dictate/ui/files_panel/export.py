"""Saving a transcript from the files panel: the "Save as…" dialog, whose format follows the
chosen name or filter, and the format a chosen name stands for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from dictate.export import FORMATS
from dictate.ui.files_panel.formatting import FORMAT_NAMES

FILTERS = [f"{FORMAT_NAMES[f]} (*.{f})" for f in FORMATS]
DEFAULT_FORMAT = "srt"


def transcript_save_dialog(
    parent: QWidget, name: str, start: Path, on_chosen: Callable[[str, QFileDialog], None]
) -> QFileDialog:
    """A save dialog (not opened yet) for the transcript of the file `name`; the name chosen
    goes to `on_chosen` with the dialog (whose filter then tells a bare name's format)."""
    dialog = QFileDialog(parent, f"Save the transcript of {name}", str(start))
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setNameFilters(FILTERS)
    dialog.selectNameFilter(FILTERS[FORMATS.index(DEFAULT_FORMAT)])
    dialog.setDefaultSuffix(DEFAULT_FORMAT)
    dialog.filterSelected.connect(
        lambda f: dialog.setDefaultSuffix(FORMATS[FILTERS.index(f)] if f in FILTERS else "")
    )
    dialog.fileSelected.connect(lambda chosen: on_chosen(chosen, dialog))
    return dialog


def chosen_format(path: Path, name_filter: str) -> str:
    """The format of a chosen name: its suffix, else the chosen filter's (else plain text)."""
    fmt = path.suffix.lower().removeprefix(".")
    if fmt in FORMATS:
        return fmt
    return next((f for f in FORMATS if name_filter.endswith(f"(*.{f})")), "txt")
