"""The tray menu offscreen: its contents follow the app's state, and its actions reach the app.

The app here is a recording stand-in with the real `Settings`, a real `History` and the real
catalog; tests/desktop/test_tray_x11.py drives the real app process through a real tray host.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu

from dictate.app import AppView
from dictate.config import Settings
from dictate.dictation.history import History
from dictate.engine.holder import ModelStatus
from dictate.engine.transcriber import EngineInfo
from dictate.ui.tray import Tray, hotkey_label


@dataclass
class Holder:
    info: EngineInfo | None = None
    status: ModelStatus | None = None


@dataclass
class StubApp:
    history: History
    settings: Settings = field(default_factory=lambda: Settings(model="tiny.en"))
    holder: Holder = field(default_factory=Holder)
    word: str = "ready"
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def status(self) -> tuple[str, str]:
        return self.word, "tiny.en on cpu"

    def view(self) -> AppView:
        from dictate.engine.device import default_model

        default = default_model(self.settings.device).name  # as the real App answers
        return AppView(
            self.settings, self.settings.model or default, default, self.holder.info, None
        )

    def command(self, name: str) -> None:
        self.calls.append(("command", name))

    def switch_model(self, model: str | None, device: str | None = None) -> None:
        self.calls.append(("switch_model", (model, device)))

    def set_mode(self, mode: str) -> list[str]:
        self.calls.append(("set_mode", mode))
        self.settings = replace(self.settings, mode=mode)
        return []

    def set_language(self, language: str | None) -> list[str]:
        self.calls.append(("set_language", language))
        return []

    def insert_text(self, text: str) -> None:
        self.calls.append(("insert_text", text))


def english(name: str = "tiny.en") -> EngineInfo:
    return EngineInfo(name, "hub-cache", "cpu", "float32", english_only=True)


@pytest.fixture
def app(tmp_path: Path):
    with History(tmp_path / "history") as history:
        yield StubApp(history, holder=Holder(info=english()))


@pytest.fixture
def tray(qtbot, app):
    opened: list[str] = []
    t = Tray(
        app,
        open_main=lambda: opened.append("main"),
        open_settings=lambda: opened.append("settings"),
        open_history=lambda: opened.append("history"),
        pick_files=lambda: opened.append("files"),
        choose_other_model=lambda: "/models/my-whisper",
        quit_app=lambda: opened.append("quit"),
    )
    t.opened = opened
    return t


def texts(menu: QMenu) -> list[str]:
    return [a.text().split("\t")[0] for a in menu.actions() if not a.isSeparator()]


def submenu(menu: QMenu, title: str) -> QMenu:
    for action in menu.actions():
        if action.menu() is not None and action.text().replace("&", "") == title:
            return action.menu()
    raise AssertionError(f"no submenu {title!r} in {texts(menu)}")


def trigger(menu: QMenu, text: str) -> None:
    for action in menu.actions():
        if action.text().replace("&", "").split("\t")[0] == text:
            assert action.isEnabled(), f"{text!r} is disabled"
            action.trigger()
            return
    raise AssertionError(f"no item {text!r} in {texts(menu)}")


def test_menu_lists_every_everyday_switch(tray) -> None:
    items = [t.replace("&", "") for t in texts(tray.menu)]
    for expected in (
        "dictate — Ready",
        "Start dictation",
        "Model",
        "Device",
        "Mode",
        "Transcribe file…",
        "History",
        "Open dictate",
        "Settings…",
        "Quit",
    ):
        assert expected in items
    assert "Language" not in items  # tiny.en is English-only
    start = next(a for a in tray.menu.actions() if a.text().startswith("&Start"))
    assert start.text().endswith("\tCtrl+Alt+D")  # the hotkey is shown


def test_actions_reach_the_app(tray, app) -> None:
    trigger(tray.menu, "Start dictation")
    trigger(submenu(tray.menu, "Mode"), "Hold to talk")
    trigger(submenu(tray.menu, "Model"), "base.en")
    trigger(submenu(tray.menu, "Model"), "Other… (hub id or folder)")
    trigger(tray.menu, "Transcribe file…")
    trigger(tray.menu, "Settings…")
    trigger(tray.menu, "Quit")
    assert app.calls == [
        ("command", "start"),
        ("set_mode", "hold"),
        ("switch_model", ("base.en", None)),
        ("switch_model", ("/models/my-whisper", None)),
    ]
    assert tray.opened == ["files", "settings", "quit"]
    tray.rebuild()  # the menu reads the state again each time it opens
    modes = submenu(tray.menu, "Mode")
    assert [a.text() for a in modes.actions() if a.isChecked()] == ["Hold to talk"]


def test_model_menu_marks_current_and_cache_state(tray, app, tmp_path, monkeypatch) -> None:
    from dictate.engine import catalog

    models = submenu(tray.menu, "Model")
    rows = {a.text().split("\t")[0]: a for a in models.actions() if not a.isSeparator()}
    assert set(m.name for m in catalog.CATALOG) <= set(rows)
    assert [name for name, a in rows.items() if a.isChecked()] == ["tiny.en"]
    # Nothing is in this test's empty HF cache: every entry offers a download with its size.
    small = catalog.find("distil-small.en")
    assert f"download {small.download_mb:,} MB" in rows["distil-small.en"].text()
    assert "parameters" in rows["distil-small.en"].toolTip()


def test_recording_offers_stop_and_cancel(tray, app) -> None:
    app.word = "recording"
    tray.rebuild()
    items = [t.replace("&", "") for t in texts(tray.menu)]
    assert "Stop dictation" in items and "Cancel dictation" in items
    assert "Start dictation" not in items
    trigger(tray.menu, "Stop dictation")
    assert app.calls[-1] == ("command", "stop")


def test_unavailable_devices_are_disabled_with_the_reason(tray) -> None:
    from dictate.engine.device import unavailable_reason

    devices = submenu(tray.menu, "Device")
    by_text = {a.text(): a for a in devices.actions()}
    assert by_text["CPU"].isEnabled() and by_text["Auto"].isEnabled()
    for text, kind in (("CUDA (NVIDIA GPU)", "cuda"), ("Apple MPS", "mps")):
        reason = unavailable_reason(kind)
        assert by_text[text].isEnabled() == (reason is None)
        if reason:
            assert by_text[text].toolTip() == reason


def test_language_menu_only_for_multilingual_models(tray, app) -> None:
    app.holder.info = EngineInfo("large-v3-turbo", "hub-cache", "cpu", "float32", False)
    tray.rebuild()
    languages = submenu(tray.menu, "Language")
    assert texts(languages)[0] == "Auto-detect"
    trigger(languages, "German")
    assert app.calls[-1] == ("set_language", "de")


def test_history_menu_copies_and_inserts_again(tray, app, qtbot) -> None:
    history = app.history
    for text in ("first words", "the latest dictation"):
        rec = history.start()
        history.finish_recording(rec)
        history.set_result(rec.id, text, {})
    tray.rebuild()
    menu = submenu(tray.menu, "History")
    assert texts(menu)[:2] == ["the latest dictation", "first words"]
    trigger(menu, "first words")
    assert QGuiApplication.clipboard().text() == "first words"
    trigger(menu, "Insert last again")
    assert app.calls[-1] == ("insert_text", "the latest dictation")


def test_tooltip_and_icon_follow_state(tray, app) -> None:
    tray.refresh()
    idle = tray.icon.icon().pixmap(22, 22).toImage()
    assert "Ready" in tray.icon.toolTip() and "Ctrl+Alt+D" in tray.icon.toolTip()
    app.word = "recording"
    tray.refresh()
    assert "Recording" in tray.icon.toolTip()
    assert tray.icon.icon().pixmap(22, 22).toImage() != idle
    app.holder.status = ModelStatus(
        "downloading", "distil-small.en", "cpu", 50_000_000, 200_000_000
    )
    tray.refresh()
    assert "downloading distil-small.en: 25 % (50 MB of 200 MB)" in tray.icon.toolTip()


def test_hotkey_label() -> None:
    assert hotkey_label("<ctrl>+<alt>+d") == "Ctrl+Alt+D"
    assert hotkey_label("<cmd>+<shift>+<space>") == "Super+Shift+Space"
    assert hotkey_label("<f9>") == "F9"


def test_tray_and_settings_agree_on_the_default_model_on_a_cuda_machine(
    tray, app, qtbot, monkeypatch
) -> None:
    """Device "auto" and no model chosen, on a machine with CUDA (faked): both name the CUDA
    default, and both offer the same languages."""
    from dictate.engine import catalog
    from dictate.engine import device as devices
    from dictate.ui import tray as tray_module
    from dictate.ui.settings import SettingsDialog, model_tab

    monkeypatch.setattr(devices, "unavailable_reason", lambda kind: None)  # CUDA is "there"
    app.settings = Settings(model=None, device="auto")
    tray.rebuild()
    models = submenu(tray.menu, "Model")
    checked = [a.text().split("\t")[0] for a in models.actions() if a.isChecked()]
    assert checked == [catalog.default_model("cuda").name] == ["distil-large-v3"]
    dialog = SettingsDialog(Settings(model=None, device="auto"), lambda s: [])
    qtbot.addWidget(dialog)
    assert dialog.model_tab.model_combo.itemText(0) == "Automatic: distil-large-v3 on this device"
    assert tray_module.LANGUAGES is model_tab.LANGUAGES is catalog.LANGUAGES


def test_large_v3_offers_its_draft_models(tray, app) -> None:
    """Speculative decoding from the tray: the catalog's pairs, for the model they fit."""
    app.set_assistant = lambda name: app.calls.append(("set_assistant", name)) or []
    models = submenu(tray.menu, "Model")
    assert "No draft model" not in texts(models)  # tiny.en has no draft model
    app.settings = Settings(model="large-v3", assistant="distil-large-v3")
    tray.rebuild()
    models = submenu(tray.menu, "Model")
    drafts = ["No draft model", "Drafts by distil-large-v3", "Drafts by distil-large-v3.5"]
    assert [t for t in texts(models) if "draft" in t.lower()] == drafts
    checked = [a.text().split("\t")[0] for a in models.actions() if a.isChecked()]
    assert checked == ["large-v3", "Drafts by distil-large-v3"]
    trigger(models, "Drafts by distil-large-v3.5")
    assert app.calls[-1] == ("set_assistant", "distil-large-v3.5")
    trigger(models, "No draft model")
    assert app.calls[-1] == ("set_assistant", None)


def test_tray_and_settings_say_the_same_place_for_a_model(tray, monkeypatch, qtbot) -> None:
    """One source of truth (loading.availability): not "download 151 MB" in the tray where
    Settings says "built in"."""
    from dictate.engine import catalog, loading
    from dictate.ui.settings.model_tab import ModelTab

    tiny = catalog.find("tiny.en")
    monkeypatch.setattr(
        loading, "availability", lambda repo: "embedded" if repo == tiny.repo_id else None
    )
    tray.rebuild()
    models = submenu(tray.menu, "Model")
    row = next(a for a in models.actions() if a.text().startswith("tiny.en\t"))
    assert "built in" in row.text() and "download" not in row.text()
    tab = ModelTab()
    qtbot.addWidget(tab)
    texts = [tab.model_combo.itemText(i) for i in range(tab.model_combo.count())]
    assert any(t.startswith("tiny.en ·") and t.endswith("built in") for t in texts)


def test_insertion_failures_get_a_bubble() -> None:
    """Said only in a status bar, an insertion failure is lost behind other windows."""
    from dictate.ui.tray import bubble_for

    text, error = bubble_for(
        "could not insert the text: no window has the keyboard focus; the text is on the clipboard"
    )
    assert error and text.startswith("Could not insert the text")
    assert bubble_for("note: server: gpu-box did not answer") == (
        "server: gpu-box did not answer",
        False,
    )
    assert bubble_for("inserted 50 characters, 400 ms after release") is None


def test_a_failed_insertion_is_one_bubble(tray, monkeypatch) -> None:
    """The session's error event and the app's line about it carry the same words: one bubble."""
    shown: list[str] = []
    monkeypatch.setattr(tray.icon, "showMessage", lambda title, text, *a: shown.append(text))
    message = (
        "could not insert the text: no window has the keyboard focus; it is kept in the history"
    )
    tray.notify(message, error=True)  # DictateUI.on_event
    tray.on_message(message)  # DictateUI.on_message, the app's say()
    assert len(shown) == 1
    tray.on_message("could not insert the text: something else")
    assert len(shown) == 2
