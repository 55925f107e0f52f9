"""The settings dialog: edits a copy of Settings in five tabs; OK and Apply hand it to `apply`.

`apply(settings)` (the app's) saves and applies them and returns warnings, which the dialog
shows at its top, where the warnings it was opened with (a corrupt settings file, say) are shown
too. Invalid input is marked beside its field and disables OK and Apply.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dictate import choices, paths
from dictate.audio.capture import input_devices
from dictate.config import Settings
from dictate.engine import catalog, loading
from dictate.engine.ct2_import import is_ct2_whisper_folder
from dictate.errors import DictateError, ModelError
from dictate.ui.hotkey_edit import HotkeyEdit, display_text
from dictate.ui.icons import app_icon
from dictate.ui.level_meter import MicLevel

log = logging.getLogger(__name__)

OTHER = "\0other"  # the model combo's "Other…" entry
MODES = tuple((c.value, c.description) for c in choices.MODES)
INSERT_METHODS = tuple((c.value, c.description) for c in choices.INSERT_METHODS)
DEVICES = tuple((c.value, c.description) for c in choices.DEVICES)
LANGUAGES = choices.LANGUAGES
_AUTO_LANGUAGE = "Detect automatically"
_REFUSED = {  # what to say when config's validation refuses a field the dialog let through
    "language": "Give a language code such as de, fr or pt-BR, or pick one.",
    "prompt": "The vocabulary may not hold control characters.",
    "replacements": "Replacements may not hold control characters, and are at most 200 "
    "(said) and 1000 (written) characters long.",
    "model": "This is not a model name, hub id or folder.",
}
_PROMPT_MAX = 2000


def unavailable_reason(kind: str) -> str | None:
    """Why a compute device cannot be used here (None: it can). Imported when first needed:
    dictate.engine.device imports torch, which the tray must not wait for at start-up."""
    from dictate.engine import device

    return device.unavailable_reason(kind)


def auto_kind() -> str:
    """The device "auto" stands for here (as the engine and the tray pick it)."""
    from dictate.engine import device

    return device.auto_kind()


def error_colour(palette: QPalette) -> str:
    """A red that reads on the window background, light or dark."""
    return "#ff7b72" if palette.color(QPalette.ColorRole.Window).lightness() < 128 else "#c62828"


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


class _ErrorLabel(QLabel):
    """An inline message under a field; hidden while empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setStyleSheet(f"color: {error_colour(self.palette())};")
        self.hide()

    def show_problem(self, problem: str | None) -> None:
        self.setText(problem or "")
        self.setVisible(bool(problem))


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


class SettingsDialog(QDialog):
    """Edits a copy of `settings`; OK or Apply call `apply(new_settings) -> warnings`."""

    capture_active = Signal(bool)  # a hotkey field has focus: the app may pause its hotkey

    def __init__(
        self,
        settings: Settings,
        apply: Callable[[Settings], list[str]],
        warnings: Sequence[str] = (),
        parent: QWidget | None = None,
        routes: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("dictate settings")
        # How the hotkey and insertion work on this desktop and why (App.desktop_routes).
        self._routes = dict(routes or {})
        self.setWindowIcon(app_icon())
        self._apply_cb = apply
        self._original = settings
        self._applied: Settings | None = None  # what this dialog last applied successfully
        self._loading = True  # no validation while the widgets are built and filled
        self._shown = settings
        self._model_as_given: tuple[int, str | None] = (-1, None)

        self.warning_icon = QLabel()
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.warning_icon.setPixmap(icon.pixmap(24, 24))
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.warning_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warning_banner = QFrame()
        self.warning_banner.setFrameShape(QFrame.Shape.StyledPanel)
        self.warning_banner.setAutoFillBackground(True)
        self.warning_banner.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.warning_banner.setForegroundRole(QPalette.ColorRole.ToolTipText)
        banner = QHBoxLayout(self.warning_banner)
        banner.addWidget(self.warning_icon, 0, Qt.AlignmentFlag.AlignTop)
        banner.addWidget(self.warning_label, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._general_tab(), "General")
        self.tabs.addTab(self._audio_tab(), "Audio")
        self.tabs.addTab(self._model_tab(), "Model")
        self.tabs.addTab(self._text_tab(), "Text")
        self.tabs.addTab(self._privacy_tab(), "Privacy")
        self.tabs.addTab(self._server_tab(), "Server")

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.apply_button = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        defaults = self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        defaults.setToolTip("Put every field back to its default (nothing is saved until OK)")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.apply_button.clicked.connect(self.apply)
        defaults.clicked.connect(lambda: self.load(Settings()))

        layout = QVBoxLayout(self)
        layout.addWidget(self.warning_banner)
        layout.addWidget(self.tabs, 1)
        self.form_error = _ErrorLabel()
        layout.addWidget(self.form_error)
        layout.addWidget(self.buttons)
        self.show_warnings(warnings)
        self.load(settings)  # ends the _loading state
        self.resize(self.sizeHint().expandedTo(self.minimumSizeHint()).width() + 40, 560)

    # ---- tabs ---------------------------------------------------------------------------

    @staticmethod
    def _form(tab: QWidget) -> QFormLayout:
        form = QFormLayout(tab)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        return form

    @staticmethod
    def _hint(text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        return label

    def _combo(self, items: Sequence[tuple[Any, str]]) -> QComboBox:
        combo = QComboBox()
        for value, text in items:
            combo.addItem(text, value)
        combo.currentIndexChanged.connect(self._changed)
        return combo

    def _check(self, text: str) -> QCheckBox:
        box = QCheckBox(text)
        box.toggled.connect(self._changed)
        return box

    def _hotkey_row(self, edit: HotkeyEdit, default: str) -> QWidget:
        reset = QToolButton()
        reset.setText("Default")
        reset.setToolTip(f"Use the default, {display_text(default)}")
        reset.clicked.connect(lambda: edit.set_combo(default))
        edit.combo_changed.connect(self._changed)
        edit.capture_active.connect(self.capture_active.emit)
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(edit, 1)
        box.addWidget(reset)
        return row

    @staticmethod
    def _stack(*widgets: QWidget) -> QWidget:
        """A field with its error and hint lines under it (hidden ones take no room)."""
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(3)
        for w in widgets:
            column.addWidget(w)
        return box

    @staticmethod
    def _row(form: QFormLayout, text: str, field: QWidget, buddy: QWidget) -> None:
        label = QLabel(text)
        label.setBuddy(buddy)  # Alt+letter reaches the input, not its container
        form.addRow(label, field)

    @staticmethod
    def _fixed(spin: QSpinBox | QDoubleSpinBox) -> QSpinBox | QDoubleSpinBox:
        spin.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        return spin

    def _general_tab(self) -> QWidget:
        tab = QWidget()
        form = self._form(tab)
        defaults = Settings()
        self.hotkey_edit = HotkeyEdit()
        self.hotkey_edit.setAccessibleName("Dictation hotkey")
        self.hotkey_error = _ErrorLabel()
        hint = self._hint("Click the field, then press the keys. Esc undoes, Backspace clears.")
        field = self._stack(
            self._hotkey_row(self.hotkey_edit, defaults.hotkey), self.hotkey_error, hint
        )
        self._row(form, "Dictation &hotkey:", field, self.hotkey_edit)
        self.mode_combo = self._combo(MODES)
        form.addRow("&Mode:", self.mode_combo)
        self.cancel_edit = HotkeyEdit(escape_is_key=True, require_modifier=False, single_key=True)
        self.cancel_edit.setAccessibleName("Cancel key")
        self.cancel_error = _ErrorLabel()
        hint = self._hint("One key that throws the recording away while you are recording.")
        field = self._stack(
            self._hotkey_row(self.cancel_edit, defaults.cancel_key), self.cancel_error, hint
        )
        self._row(form, "&Cancel key:", field, self.cancel_edit)
        self.insert_combo = self._combo(INSERT_METHODS)
        form.addRow("&Insert text by:", self.insert_combo)
        for key, label in (("hotkey", "Hotkey here:"), ("insertion", "Insertion here:")):
            if key in self._routes:  # read-only facts about this desktop, not settings
                shown = self._hint(self._routes[key])
                shown.setObjectName(f"route_{key}")
                shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                form.addRow(label, shown)
        self.sounds_check = self._check("Play a sound when recording starts and stops")
        form.addRow("Sounds:", self.sounds_check)
        self.login_check = self._check("Start dictate when I log in")
        form.addRow("Start-up:", self.login_check)
        self._live_rows(form)
        return tab

    def _live_rows(self, form: QFormLayout) -> None:
        """Live dictation (dictation/live.py): transcribe while speaking, preview, typing."""
        self.live_check = self._check("Transcribe while I speak (a short wait after release)")
        self.preview_check = self._check("Show the words near the bottom of the screen")
        self.type_live_check = self._check("Type the words while I speak")
        self.type_live_check.setToolTip(
            "Text is typed as soon as it is final. Cancel then removes nothing already typed."
        )
        field = self._stack(self.live_check, self.preview_check, self.type_live_check)
        form.addRow("Live:", field)

    def _audio_tab(self) -> QWidget:
        tab = QWidget()
        form = self._form(tab)
        self.input_combo = QComboBox()
        self.input_combo.setAccessibleName("Microphone")
        self.input_combo.addItem("System default", None)
        try:
            names = [name for _, name in input_devices()]
        except DictateError as exc:  # no PortAudio: the meter below says why
            log.info("no input devices listed: %s", exc)
            names = []
        for name in dict.fromkeys(names):
            self.input_combo.addItem(name, name)
        self.input_combo.currentIndexChanged.connect(self._changed)
        form.addRow("&Microphone:", self.input_combo)
        self.mic_level = MicLevel()
        self.input_combo.currentIndexChanged.connect(
            lambda: self.mic_level.set_device(self.input_combo.currentData())
        )
        hint = self._hint("Speak: the bar should move well past the middle.")
        self.mic_level.state_changed.connect(lambda state: hint.setVisible(state != "error"))
        form.addRow("Level:", self._stack(self.mic_level, hint))
        self.keep_open_check = self._check("Keep the microphone open between dictations")
        self.keep_open_check.setToolTip(
            "The first word is never clipped (the last half second before the key press is "
            "kept), but the microphone stays in use while dictate runs."
        )
        form.addRow("", self.keep_open_check)
        self.max_record_spin = QSpinBox()
        self.max_record_spin.setRange(1, 3600)
        self.max_record_spin.setSuffix(" s")
        self.max_record_spin.valueChanged.connect(self._changed)
        form.addRow("&Longest recording:", self._fixed(self.max_record_spin))
        self.tail_spin = QDoubleSpinBox()
        self.tail_spin.setRange(0.0, 2.0)
        self.tail_spin.setDecimals(2)
        self.tail_spin.setSingleStep(0.1)
        self.tail_spin.setSuffix(" s")
        self.tail_spin.valueChanged.connect(self._changed)
        hint = self._hint("After you release the key, recording goes on until you stop talking.")
        self._row(
            form,
            "Wait for the last &word:",
            self._stack(self._fixed(self.tail_spin), hint),
            self.tail_spin,
        )
        return tab

    def _model_tab(self) -> QWidget:
        tab = QWidget()
        form = self._form(tab)
        self.device_combo = self._combo(DEVICES)
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
        embedded = loading.embedded_folder() is not None
        for m in catalog.CATALOG:
            if loading.is_cached(m.repo_id):
                where = "downloaded"
            elif embedded and m.repo_id == loading.EMBEDDED_REPO:
                where = "built in"
            else:
                where = f"download {m.download_mb} MB"
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
        self.other_edit.textChanged.connect(self._changed)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_model)
        self.other_row = QWidget()
        other = QHBoxLayout(self.other_row)
        other.setContentsMargins(0, 0, 0, 0)
        other.addWidget(self.other_edit, 1)
        other.addWidget(browse)
        self.model_error = _ErrorLabel()
        self.model_info = self._hint("")
        field = self._stack(self.model_combo, self.other_row, self.model_error, self.model_info)
        self._row(form, "M&odel:", field, self.model_combo)
        # Speculative decoding (catalog.ASSISTANTS): offered for the models that have a pair.
        self.draft_combo = QComboBox()
        self.draft_combo.setAccessibleName("Draft model")
        self.draft_combo.currentIndexChanged.connect(self._changed)
        self.draft_note = self._hint("")
        field = self._stack(self.draft_combo, self.draft_note)
        self._row(form, "Dr&aft model:", field, self.draft_combo)
        self.device_note = _ErrorLabel()
        self._row(
            form,
            "Compute &device:",
            self._stack(self.device_combo, self.device_note),
            self.device_combo,
        )
        self.language_combo = QComboBox()
        self.language_combo.setEditable(True)
        self.language_combo.setAccessibleName("Language")
        self.language_combo.addItem(_AUTO_LANGUAGE, None)
        for code, name in LANGUAGES:
            self.language_combo.addItem(f"{name} ({code})", code)
        self.language_combo.currentTextChanged.connect(self._changed)
        self.language_error = _ErrorLabel()
        self.language_note = self._hint("")
        field = self._stack(self.language_combo, self.language_error, self.language_note)
        self._row(form, "&Language:", field, self.language_combo)
        self.unload_spin = QSpinBox()
        self.unload_spin.setRange(0, 1440)
        self.unload_spin.setSuffix(" min")
        self.unload_spin.setSpecialValueText("Never")
        self.unload_spin.valueChanged.connect(self._changed)
        hint = self._hint("Idle minutes, to give the memory back; the next dictation reloads it.")
        self._row(
            form,
            "&Free the model after:",
            self._stack(self._fixed(self.unload_spin), hint),
            self.unload_spin,
        )
        return tab

    def _text_tab(self) -> QWidget:
        tab = QWidget()
        form = self._form(tab)
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setPlaceholderText("Names and terms, e.g.: ComfyUI, Kubernetes, Nguyen")
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setMaximumHeight(self.fontMetrics().lineSpacing() * 5)
        self.prompt_edit.setAccessibleName("Vocabulary")
        self.prompt_edit.textChanged.connect(self._changed)
        self.prompt_error = _ErrorLabel()
        hint = self._hint("Words Whisper should hear; short terms are spelled as you type them.")
        self._row(
            form,
            "&Vocabulary:",
            self._stack(self.prompt_edit, self.prompt_error, hint),
            self.prompt_edit,
        )
        self.replacements = ReplacementsTable()
        self.replacements.changed.connect(self._changed)
        self.replacements_error = _ErrorLabel()
        hint = self._hint("Whole words, any case: “gpt” → “GPT”, “smiley” → “😀”.")
        self._row(
            form,
            "&Replacements:",
            self._stack(self.replacements, self.replacements_error, hint),
            self.replacements.table,
        )
        self.fillers_check = self._check("Remove filler words (um, uh, er, hmm)")
        form.addRow("", self.fillers_check)
        return tab

    def _privacy_tab(self) -> QWidget:
        tab = QWidget()
        form = self._form(tab)
        self.history_spin = QSpinBox()
        self.history_spin.setRange(0, 36500)
        self.history_spin.setSuffix(" days")
        self.history_spin.setSpecialValueText("Forever")
        self.history_spin.setAccessibleName("Keep dictations for")
        self.history_spin.valueChanged.connect(self._changed)
        hint = self._hint("Older dictations and their audio are deleted.")
        self._row(
            form,
            "&Keep dictations for:",
            self._stack(self._fixed(self.history_spin), hint),
            self.history_spin,
        )
        self.keep_audio_check = self._check("Keep the audio of each dictation (to play it back)")
        form.addRow("", self.keep_audio_check)
        where = self._hint(
            f"The history and its audio stay on this computer, in {paths.data_dir()}. "
            "Nothing is sent anywhere."
        )
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("", where)
        return tab

    def _server_tab(self) -> QWidget:
        """Engine: this computer, or a transcription server (the key is set in the tray's
        Engine → Server…, which keeps it in the keyring: it is not a setting)."""
        tab = QWidget()
        form = self._form(tab)
        engines = (("local", "This computer"), ("server", "A server; this computer if it fails"))
        self.engine_combo = self._combo(engines)
        self.engine_combo.setAccessibleName("Engine")
        form.addRow("&Engine:", self.engine_combo)
        self.server_url_edit = QLineEdit()
        self.server_url_edit.setPlaceholderText("https://gpu-box.example:8000")
        self.server_url_edit.setAccessibleName("Server address")
        self.server_url_edit.textChanged.connect(self._changed)
        self.server_error = _ErrorLabel()
        self._row(
            form,
            "Server &address:",
            self._stack(self.server_url_edit, self.server_error),
            self.server_url_edit,
        )
        self.server_model_edit = QLineEdit()
        self.server_model_edit.setAccessibleName("Server model")
        self.server_model_edit.textChanged.connect(self._changed)
        self._row(form, "Server m&odel:", self.server_model_edit, self.server_model_edit)
        self.insecure_check = self._check("Allow plain http:// to another machine (unencrypted)")
        form.addRow("", self.insecure_check)
        self.ca_edit = QLineEdit()
        self.ca_edit.setPlaceholderText("only for a server with a self-signed certificate")
        self.ca_edit.setAccessibleName("CA certificate")
        self.ca_edit.textChanged.connect(self._changed)
        self._row(form, "&CA certificate:", self.ca_edit, self.ca_edit)
        form.addRow(
            "",
            self._hint(
                "Speech goes to the server only when it is the engine, and only the parts with "
                "speech. The API key is set from the tray: Engine → Server…"
            ),
        )
        return tab

    # ---- values in and out --------------------------------------------------------------

    def load(self, s: Settings) -> None:
        """Show `s` in the widgets."""
        self._loading = True
        try:
            self._shown = s  # numbers the widgets round are given back unchanged
            self.hotkey_edit.set_combo(s.hotkey)
            self.cancel_edit.set_combo(s.cancel_key)
            self._select(self.mode_combo, s.mode)
            self._select(self.insert_combo, s.insert_method)
            self.sounds_check.setChecked(s.sounds)
            self.login_check.setChecked(s.launch_at_login)
            self.live_check.setChecked(s.live_transcription)
            self.preview_check.setChecked(s.live_preview)
            self.type_live_check.setChecked(s.type_while_speaking)
            if self.input_combo.findData(s.input_device) < 0:
                self.input_combo.addItem(f"{s.input_device} (not connected)", s.input_device)
            self._select(self.input_combo, s.input_device)
            self.keep_open_check.setChecked(s.keep_mic_open)
            self.max_record_spin.setValue(round(s.max_record_s))
            self.tail_spin.setValue(s.tail_max_s)
            self._select(self.device_combo, s.device)
            self._update_model_labels()
            self._load_model(s.model)
            self._fill_drafts(catalog.draft_model(s.model, s.assistant))
            if s.language is None:
                self.language_combo.setCurrentIndex(0)
            elif (i := self.language_combo.findData(s.language)) >= 0:
                self.language_combo.setCurrentIndex(i)
            else:
                self.language_combo.setEditText(s.language)
            self.unload_spin.setValue(round(s.unload_after_min))
            self.prompt_edit.setPlainText(s.prompt)
            self.replacements.set_pairs(s.replacements)
            self.fillers_check.setChecked(s.remove_fillers)
            self.history_spin.setValue(s.history_days)
            self.keep_audio_check.setChecked(s.keep_audio)
            self._select(self.engine_combo, s.engine)
            self.server_url_edit.setText(s.server_url)
            self.server_model_edit.setText(s.server_model)
            self.insecure_check.setChecked(s.server_insecure)
            self.ca_edit.setText(s.server_ca_file)
        finally:
            self._loading = False
        self._changed()

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
        self._select(self.draft_combo, chosen)
        self.draft_combo.blockSignals(blocked)
        self.draft_combo.setEnabled(bool(drafts))
        self.draft_note.setText(
            "Speculative decoding: the same text, faster on a GPU." if drafts else ""
        )
        self.draft_note.setVisible(bool(drafts))

    @staticmethod
    def _select(combo: QComboBox, value: Any) -> None:
        i = combo.findData(value)
        combo.setCurrentIndex(i if i >= 0 else 0)

    def _model_value(self) -> str | None:
        data = self.model_combo.currentData()
        if data == OTHER:
            return self.other_edit.text().strip() or None
        index, given = self._model_as_given
        return given if index == self.model_combo.currentIndex() else data

    def _language_value(self) -> str | None:
        language = self._typed_language()
        if self._english_only() and language != "en":
            return None  # English-only models refuse other languages
        return language

    def _typed_language(self) -> str | None:
        text = self.language_combo.currentText().strip()
        i = self.language_combo.findText(text)
        if i >= 0:
            return self.language_combo.itemData(i)
        if text.lower() in ("", _AUTO_LANGUAGE.lower()):
            return None
        match = re.fullmatch(r".*\(([\w-]+)\)", text)  # "Name (code)" typed by hand
        return match.group(1) if match else text

    def settings(self) -> Settings:
        """The settings as the widgets show them (invalid parts as typed; see problems())."""
        shown = self._shown
        max_record = self.max_record_spin.value()
        unload = self.unload_spin.value()
        values: dict[str, Any] = {
            "model": self._model_value(),
            "device": self.device_combo.currentData(),
            "hotkey": self.hotkey_edit.combo,
            "mode": self.mode_combo.currentData(),
            "cancel_key": self.cancel_edit.combo,
            "insert_method": self.insert_combo.currentData(),
            "input_device": self.input_combo.currentData(),
            "keep_mic_open": self.keep_open_check.isChecked(),
            "language": self._language_value(),
            # A model without draft models keeps the setting for when one comes back.
            "assistant": (
                self.draft_combo.currentData() if self.draft_combo.isEnabled() else shown.assistant
            ),
            "prompt": self.prompt_edit.toPlainText(),
            "replacements": self.replacements.pairs()[0],
            "remove_fillers": self.fillers_check.isChecked(),
            "max_record_s": (
                shown.max_record_s if max_record == round(shown.max_record_s) else max_record
            ),
            "tail_max_s": self.tail_spin.value(),
            "sounds": self.sounds_check.isChecked(),
            "launch_at_login": self.login_check.isChecked(),
            "live_transcription": self.live_check.isChecked(),
            "live_preview": self.preview_check.isChecked(),
            "type_while_speaking": self.type_live_check.isChecked(),
            "history_days": self.history_spin.value(),
            "keep_audio": self.keep_audio_check.isChecked(),
            "unload_after_min": (
                shown.unload_after_min if unload == round(shown.unload_after_min) else unload
            ),
            "engine": self.engine_combo.currentData(),
            "server_url": self.server_url_edit.text().strip(),
            "server_model": self.server_model_edit.text().strip(),
            "server_insecure": self.insecure_check.isChecked(),
            "server_ca_file": self.ca_edit.text().strip(),
        }
        if abs(values["tail_max_s"] - shown.tail_max_s) < 0.005:
            values["tail_max_s"] = shown.tail_max_s  # the spin box rounds to 2 decimals
        for name in ("max_record_s", "unload_after_min"):
            if isinstance(values[name], int):
                values[name] = float(values[name])
        return replace(shown, **values)  # a setting with no widget here passes through

    def problems(self) -> dict[str, str]:
        """Field name → what is wrong with it; empty when the settings can be applied."""
        found: dict[str, str] = {}
        if p := self.hotkey_edit.problem():
            found["hotkey"] = p
        if p := self.cancel_edit.problem():
            found["cancel_key"] = p
        elif self.cancel_edit.combo and self.cancel_edit.combo == self.hotkey_edit.combo:
            found["cancel_key"] = "The cancel key must differ from the dictation hotkey."
        if self.model_combo.currentData() == OTHER and (p := model_problem(self.other_edit.text())):
            found["model"] = p
        if len(self.prompt_edit.toPlainText()) > _PROMPT_MAX:
            n = len(self.prompt_edit.toPlainText())
            found["prompt"] = f"The vocabulary is {n} characters long; at most {_PROMPT_MAX}."
        if p := self.replacements.pairs()[1]:
            found["replacements"] = p
        if p := self._server_problem():
            found["server_url"] = p
        # Whatever else the settings file would refuse on the next start (config's own rules,
        # so the two never disagree): a field it would reset to its default.
        current = self.settings()
        accepted, _ = current.validated()
        for f in fields(Settings):
            if f.name not in found and getattr(accepted, f.name) != getattr(current, f.name):
                name = f.name.replace("_", " ")
                found[f.name] = _REFUSED.get(f.name, f"This {name} is not valid.")
        return found

    def _server_problem(self) -> str | None:
        from dictate.remote.client import RemoteError, check_url

        url = self.server_url_edit.text().strip()
        if not url:
            if self.engine_combo.currentData() == "server":
                return "Give the server's address, or choose This computer."
            return None
        try:
            check_url(url, allow_insecure=self.insecure_check.isChecked())
        except RemoteError as exc:
            return str(exc)[:1].upper() + str(exc)[1:] + "."
        return None

    # ---- reactions ----------------------------------------------------------------------

    def _english_only(self) -> bool:
        data = self.model_combo.currentData()
        if data == OTHER:
            entry = catalog.find(self.other_edit.text().strip())
            return entry is not None and entry.english_only
        if data is None:
            return self._default_model().english_only
        if data == loading.EMBEDDED:
            return True
        entry = catalog.find(data)
        return entry is not None and entry.english_only

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
        english = self._english_only()
        self.language_combo.setEnabled(not english)
        self.language_note.setText("This model understands English only." if english else "")
        self.language_note.setVisible(english)
        self._changed()

    def _browse_model(self) -> None:
        start = self.other_edit.text().strip() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose a Whisper model folder", start)
        if folder:
            self.other_edit.setText(folder)

    def _changed(self, *_: object) -> None:
        if self._loading:
            return
        found = self.problems()
        self.hotkey_error.show_problem(found.get("hotkey"))
        self.cancel_error.show_problem(found.get("cancel_key"))
        self.model_error.show_problem(found.get("model"))
        self.language_error.show_problem(found.get("language"))
        self.prompt_error.show_problem(found.get("prompt"))
        self.replacements_error.show_problem(found.get("replacements"))
        self.server_error.show_problem(found.get("server_url"))
        for i, name in enumerate(("General", "Audio", "Model", "Text", "Privacy", "Server")):
            tab_fields = {
                "General": ("hotkey", "cancel_key"),
                "Model": ("model", "language"),
                "Text": ("prompt", "replacements"),
                "Server": ("server_url", "server_model", "server_ca_file"),
            }.get(name, ())
            bad = any(f in found for f in tab_fields)
            self.tabs.setTabText(i, f"{name} ⚠" if bad else name)
        labelled = {"hotkey", "cancel_key", "model", "language", "prompt", "replacements"}
        labelled |= {"server_url"}  # shown under the address
        self.form_error.show_problem("; ".join(v for k, v in found.items() if k not in labelled))
        self.ok_button.setEnabled(not found)
        self.apply_button.setEnabled(not found and self.settings() != self._applied_or_original())
        self.ok_button.setToolTip("; ".join(found.values()))

    def _applied_or_original(self) -> Settings:
        return self._applied if self._applied is not None else self._original

    # ---- warnings and applying ----------------------------------------------------------

    def show_warnings(self, warnings: Sequence[str]) -> None:
        """Show messages at the top of the dialog (none: the banner goes away)."""
        # "settings file … unreadable" reads as a sentence; "mode='x' is not valid" names a field.
        lines = [w[:1].upper() + w[1:] if re.match(r"[a-z]+(?![\w=])", w) else w for w in warnings]
        lines = [w for w in lines if w]
        self.warning_label.setText("\n".join(lines))
        self.warning_banner.setVisible(bool(lines))

    def apply(self) -> bool:
        """Hand the settings to `apply`; show what it says. True when it had no warnings."""
        if self.problems():
            return False
        new = self.settings()
        try:
            warnings = list(self._apply_cb(new))
        except DictateError as exc:
            self.show_warnings([f"The settings were not applied: {exc}"])
            return False
        except Exception as exc:  # never lose the dialog (and the user's edits) to a bug
            log.exception("applying the settings failed")
            self.show_warnings([f"The settings were not applied: {exc}"])
            return False
        self._applied = new
        self.cancel_button.setText("Close")  # what was applied stays applied
        self.show_warnings(warnings)
        self._changed()
        return not warnings

    def accept(self) -> None:
        # Applied already (Apply, or a first OK that came back with warnings): just close.
        if (self._applied is not None and self.settings() == self._applied) or self.apply():
            super().accept()

    def done(self, result: int) -> None:
        self.mic_level.stop()
        super().done(result)
