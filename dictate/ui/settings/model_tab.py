"""The Model tab: the model (catalog, or another hub id or folder), its draft model for
speculative decoding, the compute device, the language and when to free the model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from dictate import choices
from dictate.config import Settings
from dictate.engine import catalog, languages, loading
from dictate.engine.ct2_import import is_ct2_whisper_folder
from dictate.errors import ModelError
from dictate.ui.settings.widgets import ErrorLabel, Tab, fixed, form, hint, row, select, stack

OTHER = "\0other"  # the model combo's "Other…" entry
DEVICES = tuple((c.value, c.description) for c in choices.DEVICES)
LANGUAGES = choices.LANGUAGES
_AUTO_LANGUAGE = "Detect automatically"


def _language_name(code: str) -> str:
    names = dict(LANGUAGES)
    return f"{names[code]} ({code})" if code in names else code


def unavailable_reason(kind: str) -> str | None:
    """Why a compute device cannot be used here (None: it can). Imported when first needed:
    dictate.engine.device imports torch, which the tray must not wait for at start-up."""
    from dictate.engine import device

    return device.unavailable_reason(kind)


def auto_kind() -> str:
    """The device "auto" stands for here (as the engine and the tray pick it)."""
    from dictate.engine import device

    return device.auto_kind()


def model_problem(text: str) -> str | None:
    """Why an "Other" model entry (hub id or folder) cannot be used, or None."""
    text = text.strip()
    if not text:
        return "Enter a hub id (organisation/name) or choose a model folder."
    folder = Path(text).expanduser()
    if folder.exists():
        if not folder.is_dir():
            return f"{text} is not a folder."
        if is_ct2_whisper_folder(folder):
            return None
        try:
            loading._check_folder(folder, text)
        except ModelError as exc:
            return f"{exc}."
        return None
    if text.startswith(("/", ".", "~", "\\")) or (len(text) > 1 and text[1] == ":"):
        return f"The folder {text} does not exist."
    if text == loading.EMBEDDED or catalog.find(text):
        return None
    if text.count("/") != 1 or any(c.isspace() for c in text) or text.startswith("/"):
        return "Give a hub id such as distil-whisper/distil-small.en, or a model folder."
    return None


class ModelTab(Tab):
    title = "Model"
    fields = ("model", "language")
    labelled = ("model", "language")

    def __init__(self) -> None:
        super().__init__()
        self._model_as_given: tuple[int, str | None] = (-1, None)
        layout = form(self)
        self.device_combo = self.combo(DEVICES)
        self.device_combo.setAccessibleName("Compute device")
        for i, (kind, text) in enumerate(DEVICES):
            reason = unavailable_reason(kind) if kind != "auto" else None
            if reason:
                self.device_combo.model().item(i).setEnabled(False)
                self.device_combo.setItemText(i, f"{text} (not available)")
                self.device_combo.setItemData(i, reason, Qt.ItemDataRole.ToolTipRole)
        self.device_combo.currentIndexChanged.connect(self._update_model_labels)
        self.model_combo = QComboBox()
        self.model_combo.setAccessibleName("Model")
        self.model_combo.addItem("", None)  # "Automatic: …", named in _update_model_labels
        labels = {"cached": "downloaded", "embedded": "built in"}
        for m in catalog.CATALOG:
            found = loading.availability(m.repo_id)
            where = labels[found] if found else f"download {m.download_mb} MB"
            langs = "English" if m.english_only else m.languages
            self.model_combo.addItem(f"{m.name} · {langs} · {where}", m.name)
            tip = f"{m.repo_id}: {m.params_m} M parameters, for {m.suits}."
            self.model_combo.setItemData(
                self.model_combo.count() - 1,
                tip + (f" {m.notes[0].upper()}{m.notes[1:]}." if m.notes else ""),
                Qt.ItemDataRole.ToolTipRole,
            )
        self.model_combo.addItem("Other model (hub id or folder)…", OTHER)
        self.model_combo.currentIndexChanged.connect(self._model_chosen)
        self.other_edit = QLineEdit()
        self.other_edit.setPlaceholderText("organisation/name, or a model folder")
        self.other_edit.setAccessibleName("Other model")
        self.other_edit.textChanged.connect(self._other_changed)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_model)
        self.other_row = QWidget()
        other = QHBoxLayout(self.other_row)
        other.setContentsMargins(0, 0, 0, 0)
        other.addWidget(self.other_edit, 1)
        other.addWidget(browse)
        self.model_error = ErrorLabel()
        self.model_info = hint("")
        field = stack(self.model_combo, self.other_row, self.model_error, self.model_info)
        row(layout, "M&odel:", field, self.model_combo)
        # Speculative decoding (catalog.ASSISTANTS): offered for the models that have a pair.
        self.draft_combo = QComboBox()
        self.draft_combo.setAccessibleName("Draft model")
        self.draft_combo.currentIndexChanged.connect(self.emit_changed)
        self.draft_note = hint("")
        row(layout, "Dr&aft model:", stack(self.draft_combo, self.draft_note), self.draft_combo)
        self.device_note = ErrorLabel()
        field = stack(self.device_combo, self.device_note)
        row(layout, "Compute &device:", field, self.device_combo)
        # Not editable: only the languages the chosen model can do (_fill_languages).
        self.language_combo = QComboBox()
        self.language_combo.setAccessibleName("Language")
        self._language: str | None = None  # the setting as loaded, kept while it fits
        self.language_combo.currentIndexChanged.connect(self._language_picked)
        self.language_error = ErrorLabel()
        self.language_note = hint("")
        field = stack(self.language_combo, self.language_error, self.language_note)
        row(layout, "&Language:", field, self.language_combo)
        self.unload_spin = QSpinBox()
        self.unload_spin.setRange(0, 1440)
        self.unload_spin.setSuffix(" min")
        self.unload_spin.setSpecialValueText("Never")
        self.unload_spin.valueChanged.connect(self.emit_changed)
        note = hint("Idle minutes, to give the memory back; the next dictation reloads it.")
        field = stack(fixed(self.unload_spin), note)
        row(layout, "&Free the model after:", field, self.unload_spin)

    # ---- values in and out --------------------------------------------------------------

    def load(self, s: Settings) -> None:
        select(self.device_combo, s.device)
        self._update_model_labels()
        self._load_model(s.model)
        self._fill_drafts(catalog.draft_model(s.model, s.assistant))
        self._language = s.language
        self._fill_languages()
        self.unload_spin.setValue(round(s.unload_after_min))

    def values(self, shown: Settings) -> dict[str, Any]:
        unload = self.unload_spin.value()
        return {
            "model": self._model_value(),
            "device": self.device_combo.currentData(),
            "language": self._language_value(),
            # A model without draft models keeps the setting for when one comes back.
            "assistant": (
                self.draft_combo.currentData() if self.draft_combo.isEnabled() else shown.assistant
            ),
            "unload_after_min": float(
                shown.unload_after_min if unload == round(shown.unload_after_min) else unload
            ),
        }

    def problems(self) -> dict[str, str]:
        if self.model_combo.currentData() == OTHER and (p := model_problem(self.other_edit.text())):
            return {"model": p}
        return {}

    def show_problems(self, found: Mapping[str, str]) -> None:
        self.model_error.show_problem(found.get("model"))
        self.language_error.show_problem(found.get("language"))

    def _load_model(self, model: str | None) -> None:
        entry = catalog.find(model) if model else None
        for i in range(self.model_combo.count() - 1):
            data = self.model_combo.itemData(i)
            if data == model or (entry is not None and data == entry.name):
                self.model_combo.setCurrentIndex(i)
                self._model_as_given = (i, model)  # a hub id given for a name stays as it was
                self.other_edit.clear()
                break
        else:
            self.model_combo.setCurrentIndex(self.model_combo.count() - 1)
            self._model_as_given = (-1, model)
            self.other_edit.setText(model or "")
        self._model_chosen()

    def _fill_drafts(self, chosen: str | None) -> None:
        """The draft models of the model shown (none for most), keeping `chosen` if it fits."""
        drafts = catalog.assistants_for(self._model_value())
        blocked = self.draft_combo.blockSignals(True)
        self.draft_combo.clear()
        self.draft_combo.addItem("None" if drafts else "None (this model has none)", None)
        for m in drafts:
            self.draft_combo.addItem(f"{m.name} drafts, the model checks", m.name)
        select(self.draft_combo, chosen)
        self.draft_combo.blockSignals(blocked)
        self.draft_combo.setEnabled(bool(drafts))
        self.draft_note.setText(
            "Speculative decoding: the same text, faster on a GPU." if drafts else ""
        )
        self.draft_note.setVisible(bool(drafts))

    def _model_value(self) -> str | None:
        data = self.model_combo.currentData()
        if data == OTHER:
            return self.other_edit.text().strip() or None
        index, given = self._model_as_given
        return given if index == self.model_combo.currentIndex() else data

    def _language_value(self) -> str | None:
        return self.language_combo.currentData()

    # ---- reactions ----------------------------------------------------------------------

    def _english_only(self) -> bool | None:
        """Whether the model shown understands English only (None: cannot be told yet)."""
        default = self._default_model().name if self.model_combo.currentData() is None else None
        return languages.english_only(self._model_value(), default)

    def _default_model(self) -> catalog.CatalogModel:
        from dictate.engine import device  # torch: only once the dialog is open

        return device.default_model(self.device_combo.currentData() or "auto")

    def _update_model_labels(self) -> None:
        kind = self.device_combo.currentData()
        reason = unavailable_reason(kind) if kind and kind != "auto" else None
        self.device_note.show_problem(
            f"Not available on this computer: {reason}." if reason else None
        )
        default = self._default_model()
        self.model_combo.setItemText(0, f"Automatic: {default.name} on this device")
        self._model_chosen()

    def _model_chosen(self) -> None:
        data = self.model_combo.currentData()
        self.other_row.setVisible(data == OTHER)
        if data == OTHER:
            info = "A hub id is downloaded when first used; a folder may be CTranslate2."
        else:
            entry = catalog.find(data) if data else self._default_model()
            info = f"For {entry.suits}." if entry else ""
            if entry and entry.notes:
                info += f" {entry.notes[0].upper()}{entry.notes[1:]}."
        self.model_info.setText(info)
        self._fill_drafts(self.draft_combo.currentData())
        self._fill_languages()
        # The form keeps a wrapped hint's old height when its text grows (it was cut to two of
        # its three lines): measured again here.
        self.layout().invalidate()
        self.changed.emit()

    def _fill_languages(self) -> None:
        """Offer the languages the model shown can do: English alone for an English-only one
        (the field disabled, with a note), else automatic detection and the usual languages
        (and the setting's own code, when it is another)."""
        english = self._english_only()
        wanted = self._language
        combo = self.language_combo
        blocked = combo.blockSignals(True)
        combo.clear()
        if english:
            combo.addItem("English (en)", "en" if wanted in ("en", "english") else None)
        else:
            combo.addItem(_AUTO_LANGUAGE, None)
            for code, name in LANGUAGES:
                combo.addItem(f"{name} ({code})", code)
            if wanted is not None and combo.findData(wanted) < 0:
                combo.addItem(wanted, wanted)
            combo.setCurrentIndex(max(0, combo.findData(wanted)))
        combo.blockSignals(blocked)
        combo.setEnabled(not english)
        note = ""
        if english:
            note = "This model understands English only."
            if wanted not in (None, "en", "english"):
                note += f" The language set before ({_language_name(wanted)}) does not apply."
        elif english is None and self.model_combo.currentData() == OTHER:
            note = "Which languages this model knows shows once it has loaded."
        self.language_note.setText(note)
        self.language_note.setVisible(bool(note))

    def _other_changed(self) -> None:
        self._fill_languages()  # a folder or hub id tells its languages as it is typed
        self.emit_changed()

    def _language_picked(self) -> None:
        if self.language_combo.isEnabled():
            self._language = self.language_combo.currentData()
        self.emit_changed()

    def _browse_model(self) -> None:
        start = self.other_edit.text().strip() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose a Whisper model folder", start)
        if folder:
            self.other_edit.setText(folder)
