"""The Text tab: the vocabulary (Whisper's prompt), replacements and filler-word removal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QPlainTextEdit, QSizePolicy

from dictate.config import Settings
from dictate.ui.settings.replacements import ReplacementsTable
from dictate.ui.settings.widgets import ErrorLabel, Tab, form, hint, row, stack

PROMPT_MAX = 2000


class TextTab(Tab):
    title = "Text"
    fields = ("prompt", "replacements")
    labelled = ("prompt", "replacements")

    def __init__(self) -> None:
        super().__init__()
        layout = form(self)
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setPlaceholderText("Names and terms, e.g.: ComfyUI, Kubernetes, Nguyen")
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setMaximumHeight(self.fontMetrics().lineSpacing() * 5)
        self.prompt_edit.setAccessibleName("Vocabulary")
        self.prompt_edit.textChanged.connect(self.emit_changed)
        self.prompt_error = ErrorLabel()
        note = hint("Words Whisper should hear; short terms are spelled as you type them.")
        field = stack(self.prompt_edit, self.prompt_error, note)
        # As tall as its lines, no taller: the room left goes to the replacements' table (it
        # went under the vocabulary's hint, a large empty gap).
        field.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.prompt_field = field
        row(layout, "&Vocabulary:", field, self.prompt_edit)
        self.replacements = ReplacementsTable()
        self.replacements.changed.connect(self.emit_changed)
        self.replacements_error = ErrorLabel()
        note = hint("Whole words, any case: “gpt” → “GPT”, “smiley” → “😀”.")
        field = stack(self.replacements, self.replacements_error, note)
        row(layout, "&Replacements:", field, self.replacements.table)
        self.fillers_check = self.check("Remove filler words (um, uh, er, hmm)")
        layout.addRow("", self.fillers_check)

    def load(self, s: Settings) -> None:
        self.prompt_edit.setPlainText(s.prompt)
        self.replacements.set_pairs(s.replacements)
        self.fillers_check.setChecked(s.remove_fillers)

    def values(self, shown: Settings) -> dict[str, Any]:
        return {
            "prompt": self.prompt_edit.toPlainText(),
            "replacements": self.replacements.pairs()[0],
            "remove_fillers": self.fillers_check.isChecked(),
        }

    def problems(self) -> dict[str, str]:
        found: dict[str, str] = {}
        if (n := len(self.prompt_edit.toPlainText())) > PROMPT_MAX:
            found["prompt"] = f"The vocabulary is {n} characters long; at most {PROMPT_MAX}."
        if p := self.replacements.pairs()[1]:
            found["replacements"] = p
        return found

    def show_problems(self, found: Mapping[str, str]) -> None:
        self.prompt_error.show_problem(found.get("prompt"))
        self.replacements_error.show_problem(found.get("replacements"))
