"""The tray's "Engine: this computer / server…" entry and the server dialog (Qt offscreen)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog

from dictate.app import AppView
from dictate.config import Settings
from dictate.dictation.history import History
from dictate.ui.server_dialog import ServerDialog
from dictate.ui.tray import Tray
from tests.ui.test_tray_menu import Holder, english, submenu, texts, trigger


@dataclass
class EngineApp:
    history: History
    settings: Settings = field(default_factory=Settings)
    holder: Holder = field(default_factory=lambda: Holder(info=english()))
    applied: list[Settings] = field(default_factory=list)
    keys: list[tuple[str, str]] = field(default_factory=list)

    def status(self) -> tuple[str, str]:
        return "ready", "tiny.en on cpu"

    def view(self) -> AppView:
        return AppView(self.settings, self.settings.model or "tiny.en", "tiny.en", None, None)

    def apply_settings(self, new: Settings) -> list[str]:
        new, problems = new.validated()
        self.applied.append(new)
        self.settings = new
        return problems

    def set_server_key(self, url: str, key: str) -> None:
        self.keys.append((url, key))


@pytest.fixture
def app(tmp_path: Path):
    with History(tmp_path / "history") as history:
        yield EngineApp(history)


@pytest.fixture
def tray(qtbot, app):
    return Tray(
        app,
        open_main=lambda: None,
        open_settings=lambda: None,
        open_history=lambda: None,
        pick_files=lambda: None,
        choose_other_model=lambda: None,
        quit_app=lambda: None,
    )


def test_engine_menu_switches_between_this_computer_and_the_server(tray, app):
    menu = submenu(tray.menu, "Engine")
    assert [t.replace("&", "") for t in texts(menu)] == ["This computer", "Server…"]
    assert menu.actions()[0].isChecked()
    app.settings = replace(app.settings, server_url="https://gpu.example:8000")
    tray.rebuild()
    menu = submenu(tray.menu, "Engine")
    assert texts(menu)[:2] == ["This computer", "Server: gpu.example:8000"]
    trigger(menu, "Server: gpu.example:8000")
    assert app.applied[-1].engine == "server"
    tray.rebuild()
    trigger(submenu(tray.menu, "Engine"), "This computer")
    assert app.applied[-1].engine == "local"


def test_server_dialog_refuses_plain_http_elsewhere_and_keeps_the_key_out_of_settings(
    qtbot, app, screenshot
):
    dialog = ServerDialog(app)
    qtbot.addWidget(dialog)
    dialog.url_edit.setText("http://192.168.1.20:8000")
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted and not app.applied
    assert "unencrypted" in dialog.error.text()
    dialog.url_edit.setText("https://gpu.example:8000/v1")
    dialog.model_edit.setText("openai/whisper-large-v3")
    dialog.key_edit.setText("sk-secret")
    screenshot(dialog, "server-dialog")
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    [new] = app.applied
    assert new.engine == "server" and new.server_url == "https://gpu.example:8000/v1"
    assert new.server_model == "openai/whisper-large-v3"
    assert app.keys == [("https://gpu.example:8000/v1", "sk-secret")]
    assert "sk-secret" not in repr(new)
    # Opened again: the key field stays empty (the key is never shown back).
    again = ServerDialog(app)
    qtbot.addWidget(again)
    assert again.key_edit.text() == "" and again.url_edit.text() == new.server_url
