"""The settings dialog offscreen: every kind of field edited through its widget and OK'd, saved
and loaded back; the corrupt-file warning; validation; unavailable devices; the microphone meter
with no microphone; the hotkey capture's key handling."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog

from dictate import config
from dictate.config import Settings
from dictate.control.hotkeys import parse_combo
from dictate.engine.device import unavailable_reason
from dictate.errors import DictateError
from dictate.ui.hotkey_edit import combo_from_key, combo_problem, display_text
from dictate.ui.settings import SettingsDialog
from dictate.ui.settings.model_tab import DEVICES, OTHER

CTRL = Qt.KeyboardModifier.ControlModifier
ALT = Qt.KeyboardModifier.AltModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
K = Qt.Key


class Recorder:
    """The `apply` callable: records what it is given, answers with `warnings`."""

    def __init__(self, warnings: list[str] | None = None) -> None:
        self.calls: list[Settings] = []
        self.warnings = warnings or []

    def __call__(self, settings: Settings) -> list[str]:
        self.calls.append(settings)
        return list(self.warnings)


def open_dialog(qtbot, settings: Settings, apply=None, warnings=()) -> SettingsDialog:
    dialog = SettingsDialog(settings, apply or Recorder(), warnings)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def capture(qtbot, edit, key: Qt.Key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """Focus a hotkey field and press a key there, as a person would."""
    edit.window().activateWindow()
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus)
    QTest.keyClick(edit, key, modifiers)


def choose(combo, data) -> None:
    i = combo.findData(data)
    assert i >= 0, f"{data!r} not in the combo"
    combo.setCurrentIndex(i)


def test_round_trip_through_every_kind_of_field(qtbot, tmp_path) -> None:
    start = Settings(
        input_device="USB Headset Mic",  # not connected here: kept, marked, and changeable
        replacements={"gpt": "GPT", "smiley": "😀"},
    )
    apply = Recorder()
    d = open_dialog(qtbot, start, apply)
    assert d.audio_tab.input_combo.currentText() == "USB Headset Mic (not connected)"
    assert d.settings() == start  # nothing changed yet: the same settings come back

    capture(qtbot, d.general_tab.hotkey_edit, K.Key_F, CTRL | SHIFT)
    assert d.general_tab.hotkey_edit.text() == "Ctrl+Shift+F"
    capture(qtbot, d.general_tab.cancel_edit, K.Key_F8)
    assert d.general_tab.cancel_edit.text() == "F8"
    choose(d.general_tab.mode_combo, "toggle")
    choose(d.general_tab.insert_combo, "paste")
    choose(d.general_tab.space_combo, "always")
    d.general_tab.sounds_check.click()
    d.general_tab.login_check.click()
    choose(d.audio_tab.input_combo, None)
    d.audio_tab.keep_open_check.click()
    d.audio_tab.max_record_spin.setValue(300)
    d.audio_tab.tail_spin.setValue(0.6)
    choose(d.model_tab.model_combo, "large-v3")
    choose(d.model_tab.draft_combo, "distil-large-v3")  # large-v3 has draft models
    choose(d.model_tab.device_combo, "cpu")
    assert d.model_tab.language_combo.isEnabled()  # large-v3 is multilingual
    choose(d.model_tab.language_combo, "de")
    d.model_tab.unload_spin.setValue(15)
    d.text_tab.prompt_edit.setFocus()
    qtbot.keyClicks(d.text_tab.prompt_edit, "ComfyUI, Kubernetes")
    table = d.text_tab.replacements.table
    table.selectRow(1)  # "smiley" -> remove it
    d.text_tab.replacements.remove_button.click()
    d.text_tab.replacements.add_button.click()
    table.item(table.rowCount() - 1, 0).setText("new para")
    table.item(table.rowCount() - 1, 1).setText("¶")
    d.text_tab.fillers_check.click()
    d.privacy_tab.history_spin.setValue(7)
    d.privacy_tab.keep_audio_check.click()
    choose(d.server_tab.engine_combo, "server")
    d.server_tab.server_url_edit.setText("https://gpu.example:8443")
    d.server_tab.server_model_edit.setText("openai/whisper-large-v3")
    d.server_tab.insecure_check.click()
    d.server_tab.ca_edit.setText("/etc/dictate/ca.pem")
    d.general_tab.live_check.click()
    d.general_tab.preview_check.click()
    d.general_tab.type_live_check.click()
    assert d.apply_button.isEnabled() and d.problems() == {}

    qtbot.mouseClick(d.ok_button, Qt.MouseButton.LeftButton)

    expected = Settings(
        model="large-v3",
        device="cpu",
        hotkey="<ctrl>+<shift>+f",
        mode="toggle",
        cancel_key="<f8>",
        insert_method="paste",
        input_device=None,
        keep_mic_open=True,
        language="de",
        prompt="ComfyUI, Kubernetes",
        replacements={"gpt": "GPT", "new para": "¶"},
        remove_fillers=True,
        max_record_s=300.0,
        tail_max_s=0.6,
        sounds=False,
        launch_at_login=True,
        history_days=7,
        keep_audio=False,
        unload_after_min=15.0,
        assistant="distil-large-v3",
        engine="server",
        server_url="https://gpu.example:8443",
        server_model="openai/whisper-large-v3",
        server_insecure=True,
        server_ca_file="/etc/dictate/ca.pem",
        live_transcription=False,  # clicked off (on by default)
        live_preview=False,
        type_while_speaking=True,
        start_space="always",
    )
    assert apply.calls == [expected]
    assert d.result() == QDialog.DialogCode.Accepted and not d.isVisible()
    # Every field differs from where it started, so none was left out by accident.
    assert all(getattr(expected, f) != getattr(start, f) for f in vars(start))
    path = config.save(apply.calls[0], tmp_path / "settings.json")
    assert config.load(path) == (expected, [])
    parse_combo(expected.hotkey)  # what the listener will read


def test_opening_with_saved_settings_and_ok_gives_them_back(qtbot) -> None:
    start = Settings(
        model="distil-whisper/distil-small.en",  # a hub id of a catalog model stays a hub id
        device="cpu",
        hotkey="<cmd>+<shift>+<space>",
        language=None,
        unload_after_min=2.5,  # not whole minutes: kept as it was while untouched
        max_record_s=90.5,
        history_days=0,
    )
    apply = Recorder()
    d = open_dialog(qtbot, start, apply)
    assert d.model_tab.model_combo.currentData() == "distil-small.en"
    assert d.privacy_tab.history_spin.text() == "Forever"
    assert d.general_tab.hotkey_edit.text() == "Super+Shift+Space"
    d.ok_button.click()
    assert apply.calls == [start]


def test_corrupt_settings_file_shows_the_warning_and_the_defaults(qtbot, screenshot) -> None:
    path = config.settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"hotkey": "<ctrl>+<alt>+d", "mode": ', encoding="utf-8")  # cut short
    settings, warnings = config.load()
    assert settings == Settings() and len(warnings) == 1
    d = open_dialog(qtbot, settings, warnings=warnings)
    assert d.warning_banner.isVisible() and d.warning_label.isVisible()
    text = d.warning_label.text()
    assert "unreadable" in text and str(path) in text and "using the defaults" in text
    assert d.settings() == Settings()
    assert d.general_tab.hotkey_edit.text() == "Ctrl+Alt+D"
    assert d.general_tab.mode_combo.currentData() == "auto"
    screenshot(d, "settings-corrupt-file")


def test_unknown_and_invalid_values_are_listed_and_replaced(qtbot) -> None:
    path = config.settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mode": "sometimes", "volume": 11, "history_days": 7}))
    settings, warnings = config.load()
    d = open_dialog(qtbot, settings, warnings=warnings)
    assert "Unknown setting 'volume'" in d.warning_label.text()
    assert "mode='sometimes' is not valid" in d.warning_label.text()
    assert d.general_tab.mode_combo.currentData() == "auto"
    assert d.privacy_tab.history_spin.value() == 7


def test_no_warnings_no_banner(qtbot) -> None:
    d = open_dialog(qtbot, Settings())
    assert not d.warning_banner.isVisible()


def apply_calls(d: SettingsDialog) -> list[Settings]:
    return d._apply_cb.calls


def test_hotkey_capture_keys_and_validation(qtbot) -> None:
    d = open_dialog(qtbot, Settings())
    edit = d.general_tab.hotkey_edit
    capture(qtbot, edit, K.Key_D)  # a plain letter would fire while typing
    assert edit.combo == "d"
    assert d.general_tab.hotkey_error.isVisible()
    assert "on its own" in d.general_tab.hotkey_error.text()
    assert not d.ok_button.isEnabled() and d.tabs.tabText(0).endswith("⚠")
    QTest.keyClick(edit, K.Key_Escape)  # undoes this capture
    assert edit.combo == "<ctrl>+<alt>+d" and not d.general_tab.hotkey_error.isVisible()
    assert d.ok_button.isEnabled() and d.tabs.tabText(0) == "General"
    QTest.keyClick(edit, K.Key_Backspace)  # clears
    assert edit.combo == "" and edit.text() == ""
    assert d.general_tab.hotkey_error.text() == "Press a key combination."
    assert not d.ok_button.isEnabled()
    QTest.keyClick(edit, K.Key_F9)  # a function key alone is fine
    assert edit.combo == "<f9>" and d.ok_button.isEnabled()
    QTest.keyPress(edit, K.Key_Control, CTRL)  # modifiers held: shown as a combination begun
    assert edit.text() == "Ctrl+…"
    QTest.keyClick(edit, K.Key_5, CTRL | ALT)
    assert edit.combo == "<ctrl>+<alt>+5" and edit.text() == "Ctrl+Alt+5"
    assert d.isVisible()  # no key reached the dialog
    # The cancel key is one key (config refuses more), takes Esc as a key, and may not be the
    # hotkey itself.
    capture(qtbot, d.general_tab.cancel_edit, K.Key_5, CTRL | ALT)
    assert "Press one key" in d.general_tab.cancel_error.text() and not d.ok_button.isEnabled()
    capture(qtbot, edit, K.Key_F9)
    capture(qtbot, d.general_tab.cancel_edit, K.Key_F9)
    assert "must differ" in d.general_tab.cancel_error.text() and not d.ok_button.isEnabled()
    QTest.keyClick(d.general_tab.cancel_edit, K.Key_Escape)
    assert d.general_tab.cancel_edit.combo == "<esc>" and d.ok_button.isEnabled()
    assert d.isVisible()
    d.ok_button.click()
    saved = config.save(apply_calls(d)[-1])
    assert config.load(saved) == (Settings(hotkey="<f9>"), [])  # config agrees with the dialog


def test_hotkey_field_tells_when_it_takes_the_keys(qtbot) -> None:
    d = open_dialog(qtbot, Settings())
    seen: list[bool] = []
    d.capture_active.connect(seen.append)
    capture(qtbot, d.general_tab.hotkey_edit, K.Key_F9)
    d.general_tab.mode_combo.setFocus()
    qtbot.waitUntil(lambda: not d.general_tab.hotkey_edit.hasFocus())
    assert seen == [True, False]


def test_esc_with_nothing_to_undo_cancels_the_dialog(qtbot) -> None:
    apply = Recorder()
    d = open_dialog(qtbot, Settings(), apply)
    capture(qtbot, d.general_tab.hotkey_edit, K.Key_Escape)
    assert d.result() == QDialog.DialogCode.Rejected and not d.isVisible()
    assert apply.calls == []


@pytest.mark.parametrize(
    ("key", "mods", "combo", "shown"),
    [
        (K.Key_D, CTRL | ALT, "<ctrl>+<alt>+d", "Ctrl+Alt+D"),
        (K.Key_Space, CTRL | SHIFT, "<ctrl>+<shift>+<space>", "Ctrl+Shift+Space"),
        (K.Key_F12, Qt.KeyboardModifier.NoModifier, "<f12>", "F12"),
        (K.Key_PageDown, ALT, "<alt>+<page_down>", "Alt+PgDown"),
        (K.Key_Comma, CTRL, "<ctrl>+,", "Ctrl+,"),
        (K.Key_Adiaeresis, CTRL, "<ctrl>+ä", "Ctrl+Ä"),
        (K.Key_Escape, Qt.KeyboardModifier.NoModifier, "<esc>", "Esc"),
    ],
)
def test_qt_keys_become_pynput_combinations(key, mods, combo, shown) -> None:
    assert combo_from_key(key, mods) == combo
    parse_combo(combo)  # the listener accepts it
    assert display_text(combo) == shown


def test_keys_that_cannot_be_written_and_combo_problems() -> None:
    assert combo_from_key(K.Key_Plus, CTRL) is None  # "+" is pynput's separator
    assert combo_from_key(K.Key_unknown, CTRL) is None
    assert combo_problem("<ctrl>+<alt>", require_modifier=True).startswith("Add a key")
    assert "unknown key" in combo_problem("<ctrl>+<hyperdrive>", require_modifier=True)
    assert combo_problem("<space>", require_modifier=True) is not None
    assert combo_problem("<space>", require_modifier=False) is None
    assert combo_problem("<pause>", require_modifier=True) is None


def test_unavailable_devices_are_disabled_with_the_reason(qtbot) -> None:
    d = open_dialog(qtbot, Settings())
    model = d.model_tab.device_combo.model()
    for i, (kind, _) in enumerate(DEVICES):
        reason = unavailable_reason(kind) if kind != "auto" else None
        item = model.item(i)
        assert item.isEnabled() == (reason is None), kind
        assert d.model_tab.device_combo.itemData(i, Qt.ItemDataRole.ToolTipRole) == reason
        if reason:
            assert d.model_tab.device_combo.itemText(i).endswith("(not available)")
    assert model.item(d.model_tab.device_combo.findData("cpu")).isEnabled()
    assert not d.model_tab.device_note.isVisible()


def test_a_saved_device_that_is_not_here_is_kept_and_explained(qtbot) -> None:
    """Settings copied from a machine with a GPU: the choice stays, the dialog says why it
    will not work here."""
    reason = unavailable_reason("cuda")
    if reason is None:
        pytest.skip("CUDA is available here")
    apply = Recorder()
    d = open_dialog(qtbot, Settings(device="cuda"), apply)
    d.tabs.setCurrentIndex(2)
    assert d.model_tab.device_combo.currentData() == "cuda"
    assert d.model_tab.device_note.isVisible() and reason in d.model_tab.device_note.text()
    d.ok_button.click()  # not blocked: the same settings file may serve a GPU machine too
    assert apply.calls == [Settings(device="cuda")]


def test_model_choices_other_folder_and_english_only(qtbot, tmp_path, embedded_src) -> None:
    apply = Recorder()
    d = open_dialog(qtbot, Settings(language="fr", model="large-v3"), apply)
    d.tabs.setCurrentIndex(2)
    assert d.model_tab.language_combo.isEnabled() and d.settings().language == "fr"
    choose(d.model_tab.model_combo, "tiny.en")  # English only: the language is not asked
    assert not d.model_tab.language_combo.isEnabled() and d.model_tab.language_note.isVisible()
    assert d.settings().language is None
    texts = [d.model_tab.model_combo.itemText(i) for i in range(d.model_tab.model_combo.count())]
    assert d.model_tab.model_combo.itemText(0).startswith("Automatic: ")
    assert any(t.startswith("distil-large-v3 · English · ") for t in texts)
    assert any(t == "large-v3-turbo · 99 languages · download 1620 MB" for t in texts)

    choose(d.model_tab.model_combo, OTHER)
    assert d.model_tab.other_row.isVisible() and not d.ok_button.isEnabled()
    d.model_tab.other_edit.setFocus()
    qtbot.keyClicks(d.model_tab.other_edit, "not a hub id")
    assert "hub id" in d.model_tab.model_error.text() and not d.ok_button.isEnabled()
    d.model_tab.other_edit.setText(str(tmp_path / "missing"))
    assert "does not exist" in d.model_tab.model_error.text()
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text('{"model_type": "whisper"}')
    (pickled / "pytorch_model.bin").write_bytes(b"\0")
    d.model_tab.other_edit.setText(str(pickled))
    assert "safetensors" in d.model_tab.model_error.text()
    d.model_tab.other_edit.setText(str(embedded_src))  # a real CTranslate2 Whisper folder
    assert not d.model_tab.model_error.isVisible() and d.ok_button.isEnabled()
    assert not d.model_tab.language_combo.isEnabled()  # its vocabulary says: English only
    d.model_tab.other_edit.setText("my-org/whisper-custom")
    assert d.ok_button.isEnabled()
    assert d.model_tab.language_combo.isEnabled()  # unknown: may be multi
    assert "once it has loaded" in d.model_tab.language_note.text()
    choose(d.model_tab.language_combo, "de")
    d.ok_button.click()
    assert apply.calls[-1].model == "my-org/whisper-custom"
    assert apply.calls[-1].language == "de"


def languages_offered(d: SettingsDialog) -> list[str | None]:
    combo = d.model_tab.language_combo
    return [combo.itemData(i) for i in range(combo.count())]


def test_language_list_follows_the_model(qtbot, screenshot) -> None:
    """An English-only model offers English alone (the field disabled, a note saying why); a
    multilingual one offers detection and the languages; the field is never free text."""
    d = open_dialog(qtbot, Settings(model="large-v3", language="de"))
    d.tabs.setCurrentIndex(2)
    tab = d.model_tab
    assert not tab.language_combo.isEditable()
    offered = languages_offered(d)
    assert offered[0] is None and "de" in offered and "fr" in offered and len(offered) > 10
    assert tab.language_combo.currentData() == "de"
    for english_only in ("tiny.en", "distil-small.en", "distil-large-v3"):
        choose(tab.model_combo, english_only)
        assert [tab.language_combo.itemText(i) for i in range(tab.language_combo.count())] == [
            "English (en)"
        ]
        assert not tab.language_combo.isEnabled()
        assert "English only" in tab.language_note.text()
        assert "German (de)" in tab.language_note.text()  # the setting it had does not apply
        assert d.settings().language is None
    qtbot.wait(20)
    info = tab.model_info  # the hint under the model: whole, not cut after the text changed
    qtbot.waitUntil(lambda: info.height() >= info.heightForWidth(info.width()))
    screenshot(d, "settings-model-english-only")
    choose(tab.model_combo, "large-v3-turbo")  # back to a multilingual one: German again
    assert tab.language_combo.isEnabled() and d.settings().language == "de"


def test_embedded_model_with_a_foreign_language_is_put_right(qtbot) -> None:
    """The installed app's built-in tiny.en ("embedded") with German saved before: the dialog
    says German does not apply, and Apply saves English, never German for an .en model."""
    apply = Recorder()
    d = open_dialog(qtbot, Settings(model="embedded", language="de"), apply)
    d.tabs.setCurrentIndex(2)
    assert languages_offered(d) == [None]
    assert not d.model_tab.language_combo.isEnabled()
    assert "German (de)" in d.model_tab.language_note.text()
    assert d.apply_button.isEnabled()  # applying puts it right
    d.apply_button.click()
    assert apply.calls[-1].language is None and apply.calls[-1].model == "embedded"


def test_a_code_not_in_the_list_is_kept(qtbot) -> None:
    d = open_dialog(qtbot, Settings(model="large-v3", language="pt-BR"))
    assert d.model_tab.language_combo.currentText() == "pt-BR"
    assert d.settings().language == "pt-BR"


def test_replacement_problems_are_shown(qtbot) -> None:
    d = open_dialog(qtbot, Settings(replacements={"gpt": "GPT"}))
    d.tabs.setCurrentIndex(3)
    table = d.text_tab.replacements.table
    d.text_tab.replacements.add_button.click()
    table.item(1, 0).setText("GPT")  # the same words in another case
    table.item(1, 1).setText("G.P.T.")
    assert "twice" in d.text_tab.replacements_error.text() and not d.ok_button.isEnabled()
    table.item(1, 0).setText("")
    assert "needs the words" in d.text_tab.replacements_error.text()
    table.item(1, 1).setText("")  # a blank row is simply skipped
    assert not d.text_tab.replacements_error.isVisible() and d.ok_button.isEnabled()
    assert d.settings().replacements == {"gpt": "GPT"}
    d.text_tab.prompt_edit.setPlainText("x" * 2001)
    assert "at most 2000" in d.text_tab.prompt_error.text() and not d.ok_button.isEnabled()
    # What config would refuse when the file is read back is refused here already.
    d.text_tab.prompt_edit.setPlainText("ComfyUI\x1b[31m")
    assert "control characters" in d.text_tab.prompt_error.text() and not d.ok_button.isEnabled()
    d.text_tab.prompt_edit.setPlainText("ComfyUI,\nKubernetes")  # line breaks are fine
    assert not d.text_tab.prompt_error.isVisible() and d.ok_button.isEnabled()
    table.item(0, 1).setText("GPT\n")  # typed into a terminal, that would press Enter
    assert "control characters" in d.text_tab.replacements_error.text()
    assert not d.ok_button.isEnabled()


def test_apply_warnings_are_shown_and_ok_then_closes(qtbot) -> None:
    apply = Recorder(warnings=["launch at login could not be set up: no autostart folder"])
    d = open_dialog(qtbot, Settings())
    d._apply_cb = apply
    assert not d.apply_button.isEnabled()  # nothing changed yet
    d.general_tab.sounds_check.click()
    assert d.apply_button.isEnabled()
    d.apply_button.click()
    assert apply.calls == [replace(Settings(), sounds=False)]
    assert d.warning_label.text().startswith("Launch at login could not be set up")
    assert d.isVisible() and not d.apply_button.isEnabled()
    assert d.cancel_button.text() == "Close"  # what was applied stays applied
    d.ok_button.click()  # already applied: closes without applying again
    assert len(apply.calls) == 1 and d.result() == QDialog.DialogCode.Accepted


def test_ok_with_warnings_stays_open_to_show_them(qtbot) -> None:
    apply = Recorder(warnings=["the model could not be loaded; the old one stays"])
    d = open_dialog(qtbot, Settings(), apply)
    choose(d.model_tab.model_combo, "base.en")
    d.ok_button.click()
    assert d.isVisible() and "old one stays" in d.warning_label.text()
    d.ok_button.click()
    assert not d.isVisible() and len(apply.calls) == 1


def test_a_failing_apply_keeps_the_dialog_and_the_edits(qtbot) -> None:
    def apply(settings: Settings) -> list[str]:
        raise DictateError("cannot write the settings file (disk full)")

    d = open_dialog(qtbot, Settings(), apply)
    d.privacy_tab.history_spin.setValue(3)
    d.ok_button.click()
    assert d.isVisible() and "disk full" in d.warning_label.text()
    assert d.privacy_tab.history_spin.value() == 3 and d.cancel_button.text() == "Cancel"


def test_restore_defaults(qtbot) -> None:
    apply = Recorder()
    d = open_dialog(qtbot, Settings(mode="hold", history_days=3, prompt="x"), apply)
    d.buttons.button(d.buttons.StandardButton.RestoreDefaults).click()
    assert d.settings() == Settings()
    d.ok_button.click()
    assert apply.calls == [Settings()]


@pytest.fixture
def no_audio_devices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """PortAudio re-listed with no sound server to reach. PortAudio lists devices once, and a
    desktop test earlier in the same run may have pointed it at a virtual microphone."""
    try:
        import sounddevice as sd
    except OSError:
        yield  # no PortAudio at all: there is no microphone either
        return
    for t in threading.enumerate():  # meters of earlier tests still closing: let them finish
        if t.name.startswith("dictate-meter"):
            t.join(5)
    runtime = tmp_path / "no-sound-server"
    runtime.mkdir(mode=0o700)
    (runtime / "client.conf").write_text("autospawn = no\n")
    monkeypatch.setenv("PULSE_SERVER", f"unix:{runtime / 'none'}")
    monkeypatch.setenv("PULSE_CLIENTCONFIG", str(runtime / "client.conf"))
    sd._terminate()
    sd._initialize()
    try:
        if any(d["max_input_channels"] > 0 for d in sd.query_devices()):
            pytest.skip("this machine has microphones PortAudio finds without a sound server")
        yield
    finally:
        for t in threading.enumerate():
            if t.name.startswith("dictate-meter"):
                t.join(5)
        monkeypatch.undo()
        sd._terminate()
        sd._initialize()


def test_level_meter_says_no_microphone(qtbot, no_audio_devices, screenshot) -> None:
    d = open_dialog(qtbot, Settings())
    # Not on the Audio tab: the microphone is left alone.
    assert d.audio_tab.mic_level.state == "off"
    d.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: d.audio_tab.mic_level.state == "error", timeout=5000)
    assert d.audio_tab.mic_level.status.isVisible()
    assert "no microphone found" in d.audio_tab.mic_level.status.text().lower()
    assert not d.audio_tab.mic_level.bar.isEnabled()
    screenshot(d, "settings-audio")
    d.tabs.setCurrentIndex(0)
    assert d.audio_tab.mic_level.state == "off"


def test_no_gap_under_the_vocabulary(qtbot) -> None:
    d = open_dialog(qtbot, Settings(prompt="ComfyUI, Kubernetes, Nguyen"))
    d.tabs.setCurrentWidget(d.text_tab)
    d.resize(d.width(), 700)  # room to spare: it goes to the replacements, not under the hint
    qtbot.wait(50)
    tab = d.text_tab
    edit = tab.prompt_edit
    edit_bottom = edit.mapTo(tab, edit.rect().bottomLeft()).y()
    table_top = tab.replacements.table.mapTo(tab, tab.replacements.table.rect().topLeft()).y()
    # Between them: the hint (two lines at most) and the rows' spacing, nothing more.
    assert table_top - edit_bottom < 3 * edit.fontMetrics().lineSpacing() + 24
    assert tab.replacements.table.height() > 200


def test_screenshots_of_every_tab(qtbot, screenshot) -> None:
    d = open_dialog(
        qtbot,
        Settings(
            model="large-v3",
            language="de",
            prompt="ComfyUI, Kubernetes, Nguyen",
            replacements={"gpt": "GPT", "smiley": "😀", "new para": "¶"},
            remove_fillers=True,
        ),
        warnings=[],
    )
    screenshot(d, "settings-dialog")
    for i, name in enumerate(("general", "audio", "model", "text", "privacy")):
        if name == "audio":
            continue  # settings-audio comes from the no-microphone test (here: no device set-up)
        d.tabs.setCurrentIndex(i)
        qtbot.wait(50)
        assert screenshot(d, f"settings-{name}").stat().st_size > 5000


def test_the_desktop_routes_are_shown_read_only(qtbot):
    from PySide6.QtWidgets import QLabel

    routes = {
        "hotkey": "desktop portal: LOGO+F9 (hold)",
        "insertion": "Wayland: clipboard (wl-copy) + Shift+Insert sent by wtype",
    }
    dialog = SettingsDialog(Settings(), Recorder(), routes=routes)
    qtbot.addWidget(dialog)
    shown = {k: dialog.findChild(QLabel, f"route_{k}").text() for k in routes}
    assert shown == routes
    plain = SettingsDialog(Settings(), Recorder())
    qtbot.addWidget(plain)
    assert plain.findChild(QLabel, "route_hotkey") is None


def test_draft_models_are_offered_for_the_models_they_fit(qtbot) -> None:
    """Speculative decoding in the settings: large-v3's catalog pairs, and nothing for others."""
    d = open_dialog(qtbot, Settings(model="large-v3", assistant="distil-large-v3"))
    assert d.model_tab.draft_combo.isEnabled()
    names = [d.model_tab.draft_combo.itemData(i) for i in range(d.model_tab.draft_combo.count())]
    assert names == [None, "distil-large-v3", "distil-large-v3.5"]
    assert d.settings().assistant == "distil-large-v3"
    d.model_tab.draft_combo.setCurrentIndex(2)
    assert d.settings().assistant == "distil-large-v3.5"
    d.model_tab.draft_combo.setCurrentIndex(0)
    assert d.settings().assistant is None
    d.model_tab.model_combo.setCurrentIndex(d.model_tab.model_combo.findData("tiny.en"))
    assert not d.model_tab.draft_combo.isEnabled() and d.model_tab.draft_combo.count() == 1


def test_server_address_problems_are_shown_and_block_ok(qtbot) -> None:
    d = open_dialog(qtbot, Settings(), Recorder())
    choose(d.server_tab.engine_combo, "server")
    assert "address" in d.problems()["server_url"] and not d.ok_button.isEnabled()
    d.server_tab.server_url_edit.setText("http://192.168.1.20:8000")
    assert "unencrypted" in d.problems()["server_url"]
    assert d.tabs.tabText(d.tabs.count() - 1) == "Server ⚠"
    d.server_tab.insecure_check.click()  # the person's own network: allowed when they say so
    assert d.problems() == {} and d.ok_button.isEnabled()
    d.server_tab.server_url_edit.setText("https://me:pw@gpu.example")
    assert "API key field" in d.problems()["server_url"]


def test_microphone_list_has_one_default_and_device_names(qtbot, monkeypatch) -> None:
    """Not "System default / pulse / default": the aliases of the default are the default."""
    from dictate.audio import portaudio

    monkeypatch.setattr(
        portaudio,
        "choices",
        lambda sd, way: [("USB Headset: Audio (hw:1,0)", "USB Headset: Audio (hw:1,0)")],
    )
    monkeypatch.setattr(portaudio, "sounddevice", lambda error: object())
    d = open_dialog(qtbot, Settings(input_device="pulse"))
    combo = d.audio_tab.input_combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert texts == ["System default", "USB Headset: Audio (hw:1,0)", "pulse (the system default)"]
    assert sum("default" in t.lower() for t in texts[:2]) == 1


def test_insertion_methods_fit_the_session(qtbot) -> None:
    """wtype and ydotool are not offered on X11, xdotool not on Wayland; a method chosen on
    another desktop stays, marked."""
    from dictate.ui.settings.general_tab import GeneralTab

    def offered(tab: GeneralTab) -> list[str]:
        combo = tab.insert_combo
        return [combo.itemData(i) for i in range(combo.count())]

    x11 = GeneralTab({}, session="x11")
    qtbot.addWidget(x11)
    assert offered(x11) == ["auto", "paste", "type", "xdotool"]
    wayland = GeneralTab({}, session="wayland")
    qtbot.addWidget(wayland)
    assert offered(wayland) == ["auto", "paste", "wtype", "ydotool"]
    x11.load(Settings(insert_method="wtype"))
    assert x11.insert_combo.currentText() == "wtype (Wayland) — not for this desktop"
    assert x11.values(Settings())["insert_method"] == "wtype"


def test_hotkey_route_in_words_not_pynput_syntax(qtbot) -> None:
    from PySide6.QtWidgets import QLabel

    routes = {"hotkey": "X11 keyboard listener: <ctrl>+<alt>+d (hold)"}
    dialog = SettingsDialog(Settings(), Recorder(), routes=routes)
    qtbot.addWidget(dialog)
    shown = dialog.findChild(QLabel, "route_hotkey").text()
    assert shown == "X11 keyboard listener: Ctrl+Alt+D (hold)"


def test_focus_after_apply_is_on_ok(qtbot) -> None:
    d = open_dialog(qtbot, Settings())
    d.general_tab.sounds_check.click()
    assert d.apply_button.isEnabled()
    d.apply_button.setFocus()
    qtbot.waitUntil(d.apply_button.hasFocus)
    qtbot.mouseClick(d.apply_button, Qt.MouseButton.LeftButton)
    assert not d.apply_button.isEnabled()
    qtbot.waitUntil(d.ok_button.hasFocus)
    restore = d.buttons.button(d.buttons.StandardButton.RestoreDefaults)
    assert not restore.hasFocus()
