"""The tray icon and its menu: state at a glance, and every everyday switch within two clicks.

The menu is rebuilt each time it opens, so it always shows the current model, what is cached and
the latest history. Everything it does goes through the core `App` (no Qt below dictate/ui).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from dictate import choices
from dictate.ui.icons import tray_icon
from dictate.ui.main_window import STATE_TEXT, icon_state
from dictate.ui.model_progress import describe

MODES = tuple((c.value, c.label) for c in choices.MODES)
MODE_HELP = {
    "hold": "Record while the hotkey is held down",
    "toggle": "Press once to start, again to stop",
    "auto": "A tap toggles; holding is push-to-talk",
}
DEVICES = tuple((c.value, c.label) for c in choices.DEVICES)
LANGUAGES = choices.LANGUAGES
BUBBLE_REPEAT_S = 10.0  # the same bubble again within this is not shown twice
_KEY_NAMES = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "cmd": "Super", "esc": "Esc"}


def hotkey_label(combo: str) -> str:
    """pynput syntax → what people read: "<ctrl>+<alt>+d" → "Ctrl+Alt+D"."""
    parts = []
    for part in combo.split("+"):
        name = part.strip().strip("<>")
        base = name.split("_")[0]
        parts.append(_KEY_NAMES.get(base, name.upper() if len(name) == 1 else name.capitalize()))
    return "+".join(parts)


def bubble_for(message: str) -> tuple[str, bool] | None:
    """(text, is an error) for an app message that deserves a tray bubble, else None: a text
    that could not be inserted (where is it now?) and a server that failed. The rest is for the
    status bar and the terminal only."""
    if message.startswith("note: server:"):
        return message.removeprefix("note: "), False
    if message.startswith("could not insert"):
        return message[:1].upper() + message[1:], True
    return None


def model_place(repo_id: str, download_mb: int) -> str:
    """Where a catalog model would load from, in the words the settings dialog uses too
    (one answer: dictate.engine.loading.availability)."""
    from dictate.engine import loading

    found = loading.availability(repo_id)
    return {"cached": "downloaded", "embedded": "built in"}.get(
        found or "", f"download {download_mb:,} MB"
    )


def _elide(text: str, n: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


class Tray(QObject):
    """Owns the QSystemTrayIcon and its menu for one running `App`."""

    def __init__(
        self,
        app: Any,  # dictate.app.App
        *,
        open_main: Callable[[], None],
        open_settings: Callable[[], None],
        open_history: Callable[[], None],
        pick_files: Callable[[], None],
        choose_other_model: Callable[[], str | None],
        quit_app: Callable[[], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.app = app
        self._open_main, self._open_settings = open_main, open_settings
        self._open_history, self._pick_files = open_history, pick_files
        self._choose_other_model, self._quit = choose_other_model, quit_app
        self._device_reasons: dict[str, str | None] = {}
        self._last_bubble: tuple[str, float] = ("", 0.0)  # (text, time.monotonic())
        self.menu = QMenu()
        self.menu.setToolTipsVisible(True)
        self.menu.aboutToShow.connect(self.rebuild)
        self.icon = QSystemTrayIcon(tray_icon("transcribing"))
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.state = "loading model"
        self.rebuild()
        self.refresh()

    def show(self) -> None:
        self.icon.show()

    # ---- state ---------------------------------------------------------------------------

    def refresh(self, *_: Any) -> None:
        """Icon and tooltip from the app's current state (connected to every core signal)."""
        word, _ = self.app.status()
        self.state = word
        icon = icon_state(word)
        health = getattr(self.app, "health", None)
        if health is not None and not health.ok and icon in ("idle", "transcribing"):
            icon = "error"  # the grey "!": something needs the person (the tooltip says what)
        self.icon.setIcon(tray_icon(icon))
        self.icon.setToolTip(self.tooltip())

    def tooltip(self) -> str:
        word, detail = self.app.status()
        s = self.app.settings
        lines = [f"dictate — {STATE_TEXT.get(word, word)}"]
        if detail:
            lines.append(detail)
        status = getattr(self.app.holder, "status", None)
        if status is not None and (status.busy or status.stage == "failed"):
            lines.append(describe(status))
        lines.append(f"Hotkey {hotkey_label(s.hotkey)} ({dict(MODES)[s.mode].lower()})")
        return "\n".join(lines)

    def on_message(self, message: str) -> None:
        """A line the app said (its status bar has it): a bubble too when it needs the person
        and the window may well be hidden (bubble_for)."""
        bubble = bubble_for(message)
        if bubble is not None:
            self.notify(*bubble)

    def notify(self, message: str, error: bool = False) -> None:
        # A failed dictation arrives twice, as its event and as the line the app says about it:
        # one bubble.
        now, (last, at) = time.monotonic(), self._last_bubble
        if message.casefold() == last.casefold() and now - at < BUBBLE_REPEAT_S:
            return
        self._last_bubble = (message, now)
        icon = (
            QSystemTrayIcon.MessageIcon.Critical
            if error
            else QSystemTrayIcon.MessageIcon.Information
        )
        self.icon.showMessage("dictate", message, icon, 8000)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:  # left click
            self._open_main()
        elif reason == QSystemTrayIcon.ActivationReason.MiddleClick:
            self.app.command("toggle")

    # ---- the menu ------------------------------------------------------------------------

    def rebuild(self) -> None:
        menu = self.menu
        menu.clear()
        word, detail = self.app.status()
        s = self.app.settings
        header = menu.addAction(f"dictate — {STATE_TEXT.get(word, word)}")
        header.setEnabled(False)
        if detail:
            menu.addAction(detail).setEnabled(False)
        menu.addSeparator()
        key = hotkey_label(s.hotkey)
        if word == "recording":
            self._action(menu, f"&Stop dictation\t{key}", lambda: self.app.command("stop"))
            self._action(
                menu,
                f"&Cancel dictation\t{hotkey_label(s.cancel_key)}",
                lambda: self.app.command("cancel"),
            )
        else:
            start = self._action(
                menu, f"&Start dictation\t{key}", lambda: self.app.command("start")
            )
            start.setEnabled(word not in ("loading model", "error"))
        menu.addSeparator()
        self._model_menu(menu.addMenu("&Model"))
        self._device_menu(menu.addMenu("&Device"))
        self._engine_menu(menu.addMenu("E&ngine"))
        self._mode_menu(menu.addMenu("Mod&e"))
        info = getattr(self.app.holder, "info", None)
        if info is not None and not info.english_only:
            self._language_menu(menu.addMenu("&Language"))
        menu.addSeparator()
        self._action(menu, "Transcribe &file…", self._pick_files)
        self._history_menu(menu.addMenu("&History"))
        menu.addSeparator()
        self._action(menu, "&Open dictate", self._open_main)
        self._action(menu, "Se&ttings…", self._open_settings)
        menu.addSeparator()
        self._action(menu, "&Quit", self._quit)

    def _action(self, menu: QMenu, text: str, slot: Callable[[], Any]) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _model_menu(self, menu: QMenu) -> None:
        from dictate.engine import catalog, loading

        current = self.app.view().model  # the app's one answer, as the dialog's
        holder = self.app.holder
        switching = (
            holder.status.model if holder.status is not None and holder.status.busy else None
        )
        group = QActionGroup(menu)
        entries = [(m.name, m) for m in catalog.CATALOG]
        for name, model in entries:
            state = model_place(model.repo_id, model.download_mb)
            local = not state.startswith("download")
            size = f"{model.download_mb:,} MB"
            if switching == name:
                state = "loading…"
            text = f"{name}\t{size} · {state}" if local else f"{name}\t{state}"
            action = self._action(menu, text, lambda n=name: self.app.switch_model(n))
            action.setCheckable(True)
            action.setChecked(current in (name, model.repo_id))
            action.setToolTip(
                f"{model.params_m} M parameters, {model.languages}; for {model.suits}"
                + (f" — {model.notes}" if model.notes else "")
            )
            group.addAction(action)
        if loading.embedded_folder() is not None:
            action = self._action(
                menu, "Embedded tiny.en\toffline copy", lambda: self.app.switch_model("embedded")
            )
            action.setCheckable(True)
            action.setChecked(current == "embedded")
            group.addAction(action)
        custom = current not in {n for n, _ in entries} | {m.repo_id for _, m in entries}
        if custom and current != "embedded":
            action = self._action(menu, _elide(current), lambda: None)
            action.setCheckable(True)
            action.setChecked(True)
            group.addAction(action)
        menu.addSeparator()
        self._action(menu, "&Other… (hub id or folder)", self._other_model)
        self._draft_menu(menu, current)

    def _draft_menu(self, menu: QMenu, model: str) -> None:
        """Speculative decoding for a model that has catalog draft models (large-v3)."""
        from dictate.engine import catalog

        drafts = catalog.assistants_for(model)
        if not drafts:
            return
        menu.addSeparator()
        chosen = catalog.draft_model(model, self.app.settings.assistant)
        group = QActionGroup(menu)
        for name, text in (
            (None, "No draft model"),
            *((m.name, f"Drafts by {m.name}") for m in drafts),
        ):
            action = self._action(menu, text, lambda n=name: self.app.set_assistant(n))
            action.setCheckable(True)
            action.setChecked(chosen in (name, *(m.repo_id for m in drafts if m.name == name)))
            action.setToolTip(
                "Speculative decoding: a distilled model proposes words and the chosen model "
                "checks them; the same text, faster on a GPU"
            )
            group.addAction(action)

    def _other_model(self) -> None:
        model = self._choose_other_model()
        if model:
            self.app.switch_model(model)

    def _device_menu(self, menu: QMenu) -> None:
        from dictate.engine import device as devices

        group = QActionGroup(menu)
        for kind, text in DEVICES:
            if kind not in self._device_reasons:
                self._device_reasons[kind] = (
                    None if kind == "auto" else devices.unavailable_reason(kind)
                )
            reason = self._device_reasons[kind]
            action = self._action(
                menu, text, lambda k=kind: self.app.switch_model(self.app.settings.model, k)
            )
            action.setCheckable(True)
            action.setChecked(self.app.settings.device == kind)
            if reason:
                action.setEnabled(False)
                action.setToolTip(reason)
            group.addAction(action)

    def _engine_menu(self, menu: QMenu) -> None:
        """Engine: this computer / server… (a server's failures fall back to this computer)."""
        from dataclasses import replace
        from urllib.parse import urlsplit

        s = self.app.settings
        group = QActionGroup(menu)
        choices = [("local", "This computer")]
        if s.server_url:
            choices.append(("server", f"Server: {urlsplit(s.server_url).netloc}"))
        for kind, text in choices:
            action = self._action(
                menu, text, lambda k=kind: self.app.apply_settings(replace(s, engine=k))
            )
            action.setCheckable(True)
            action.setChecked(s.engine == kind)
            group.addAction(action)
        menu.addSeparator()
        self._action(menu, "&Server…", self._server_dialog)

    def _server_dialog(self) -> None:
        from dictate.ui.server_dialog import ServerDialog

        ServerDialog(self.app).exec()

    def _mode_menu(self, menu: QMenu) -> None:
        group = QActionGroup(menu)
        for mode, text in MODES:
            action = self._action(menu, text, lambda m=mode: self.app.set_mode(m))
            action.setCheckable(True)
            action.setChecked(self.app.settings.mode == mode)
            action.setToolTip(MODE_HELP[mode])
            group.addAction(action)

    def _language_menu(self, menu: QMenu) -> None:
        group = QActionGroup(menu)
        current = self.app.settings.language
        for code, text in ((None, "Auto-detect"), *LANGUAGES):
            action = self._action(menu, text, lambda c=code: self.app.set_language(c))
            action.setCheckable(True)
            action.setChecked(current == code)
            group.addAction(action)

    def _history_menu(self, menu: QMenu) -> None:
        entries = [e for e in self.app.history.recent(10) if e.text]
        if not entries:
            menu.addAction("No dictations yet").setEnabled(False)
        for entry in entries:
            action = self._action(menu, _elide(entry.text), lambda t=entry.text: self.copy(t))
            action.setToolTip("Click to copy")
        menu.addSeparator()
        last = self._action(
            menu, "&Insert last again", lambda: self.app.insert_text(entries[0].text)
        )
        last.setEnabled(bool(entries))
        self._action(menu, "&Open history…", self._open_history)

    @staticmethod
    def copy(text: str) -> None:
        QGuiApplication.clipboard().setText(text)


def other_model_dialog(parent: QWidget | None = None) -> str | None:
    """Ask for a hub id or a model folder (transformers or CTranslate2); None if cancelled."""
    from PySide6.QtWidgets import (
        QDialog,
        QDialogButtonBox,
        QFileDialog,
        QHBoxLayout,
        QLabel,
        QLineEdit,
        QPushButton,
        QVBoxLayout,
    )

    dialog = QDialog(parent)
    dialog.setWindowTitle("dictate — other model")
    edit = QLineEdit()
    edit.setPlaceholderText("distil-whisper/distil-large-v3  or  /path/to/model-folder")
    browse = QPushButton("Folder…")

    def pick() -> None:
        folder = QFileDialog.getExistingDirectory(dialog, "Model folder")
        if folder:
            edit.setText(folder)

    browse.clicked.connect(pick)
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(browse)
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(
        QLabel(
            "A Hugging Face hub id (downloaded into the shared cache), or a local folder with a "
            "transformers Whisper model (safetensors) or a CTranslate2 / faster-whisper model."
        )
    )
    layout.addLayout(row)
    layout.addWidget(buttons)
    dialog.resize(520, 0)
    edit.setFocus(Qt.FocusReason.OtherFocusReason)
    if dialog.exec() == QDialog.DialogCode.Accepted and edit.text().strip():
        return edit.text().strip()
    return None
