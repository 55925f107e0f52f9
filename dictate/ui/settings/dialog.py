"""The settings dialog: edits a copy of Settings in six tabs; OK and Apply hand it to `apply`.

`apply(settings)` (the app's) saves and applies them and returns warnings, which the dialog
shows at its top, where the warnings it was opened with (a corrupt settings file, say) are shown
too. Invalid input is marked beside its field and disables OK and Apply. Each tab is a module
of this package; this one holds them together: the warning banner, validation and the buttons.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, replace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dictate.config import Settings
from dictate.errors import DictateError
from dictate.ui.icons import app_icon
from dictate.ui.settings.audio_tab import AudioTab
from dictate.ui.settings.general_tab import GeneralTab
from dictate.ui.settings.model_tab import ModelTab
from dictate.ui.settings.privacy_tab import PrivacyTab
from dictate.ui.settings.server_tab import ServerTab
from dictate.ui.settings.text_tab import TextTab
from dictate.ui.settings.widgets import ErrorLabel, Tab

log = logging.getLogger(__name__)

_REFUSED = {  # what to say when config's validation refuses a field the dialog let through
    "language": "Give a language code such as de, fr or pt-BR, or pick one.",
    "prompt": "The vocabulary may not hold control characters.",
    "replacements": "Replacements may not hold control characters, and are at most 200 "
    "(said) and 1000 (written) characters long.",
    "model": "This is not a model name, hub id or folder.",
}


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
        self.setWindowIcon(app_icon())
        self._apply_cb = apply
        self._original = settings
        self._applied: Settings | None = None  # what this dialog last applied successfully
        self._loading = True  # no validation while the widgets are built and filled
        self._shown = settings

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

        # How the hotkey and insertion work on this desktop and why (App.desktop_routes).
        self.general_tab = GeneralTab(dict(routes or {}))
        self.general_tab.capture_active.connect(self.capture_active.emit)
        self.audio_tab = AudioTab()
        self.model_tab = ModelTab()
        self.text_tab = TextTab()
        self.privacy_tab = PrivacyTab()
        self.server_tab = ServerTab()
        self._tabs: tuple[Tab, ...] = (
            self.general_tab,
            self.audio_tab,
            self.model_tab,
            self.text_tab,
            self.privacy_tab,
            self.server_tab,
        )
        self.tabs = QTabWidget()
        for tab in self._tabs:
            self.tabs.addTab(tab, tab.title)
            tab.changed.connect(self._changed)

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
        self.form_error = ErrorLabel()
        layout.addWidget(self.form_error)
        layout.addWidget(self.buttons)
        self.show_warnings(warnings)
        self.load(settings)  # ends the _loading state
        self.resize(self.sizeHint().expandedTo(self.minimumSizeHint()).width() + 40, 560)

    # ---- values in and out --------------------------------------------------------------

    def load(self, s: Settings) -> None:
        """Show `s` in the widgets."""
        self._loading = True
        try:
            self._shown = s  # numbers the widgets round are given back unchanged
            for tab in self._tabs:
                tab.load(s)
        finally:
            self._loading = False
        self._changed()

    def settings(self) -> Settings:
        """The settings as the widgets show them (invalid parts as typed; see problems())."""
        values: dict[str, Any] = {}
        for tab in self._tabs:
            values.update(tab.values(self._shown))
        return replace(self._shown, **values)  # a setting with no widget here passes through

    def problems(self) -> dict[str, str]:
        """Field name → what is wrong with it; empty when the settings can be applied."""
        found: dict[str, str] = {}
        for tab in self._tabs:
            found.update(tab.problems())
        # Whatever else the settings file would refuse on the next start (config's own rules,
        # so the two never disagree): a field it would reset to its default.
        current = self.settings()
        accepted, _ = current.validated()
        for f in fields(Settings):
            if f.name not in found and getattr(accepted, f.name) != getattr(current, f.name):
                name = f.name.replace("_", " ")
                found[f.name] = _REFUSED.get(f.name, f"This {name} is not valid.")
        return found

    # ---- reactions ----------------------------------------------------------------------

    def _changed(self, *_: object) -> None:
        if self._loading:
            return
        found = self.problems()
        labelled: set[str] = set()
        for i, tab in enumerate(self._tabs):
            tab.show_problems(found)
            labelled.update(tab.labelled)
            bad = any(f in found for f in tab.fields)
            self.tabs.setTabText(i, f"{tab.title} ⚠" if bad else tab.title)
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
        had_focus = self.apply_button.hasFocus()
        self._changed()
        if had_focus:  # Apply is disabled now: the focus goes to OK, not to Restore Defaults
            self.ok_button.setFocus(Qt.FocusReason.OtherFocusReason)
        return not warnings

    def accept(self) -> None:
        # Applied already (Apply, or a first OK that came back with warnings): just close.
        if (self._applied is not None and self.settings() == self._applied) or self.apply():
            super().accept()

    def done(self, result: int) -> None:
        self.audio_tab.stop()
        super().done(result)
