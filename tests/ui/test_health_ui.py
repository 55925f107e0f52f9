"""What the window app shows of issue 28's points: the "needs you" tray icon when something
is missing, the "start with a space" setting, and recovered dictations described truthfully."""

from __future__ import annotations

from dataclasses import dataclass

from dictate import health
from dictate.config import Settings
from dictate.dictation.history import History
from dictate.ui.history_window import STATUS, HistoryWindow
from dictate.ui.icons import tray_icon
from tests.ui.test_settings_dialog import Recorder, choose, open_dialog
from tests.ui.test_tray_menu import StubApp


@dataclass
class HealthApp(StubApp):
    health: health.Health = None  # type: ignore[assignment]


def image(icon):
    return icon.pixmap(22, 22).toImage()


def test_a_missing_microphone_turns_the_icon_to_needs_you(qtbot, tmp_path) -> None:
    from dictate.ui.tray import Tray

    with History(tmp_path) as history:
        app = HealthApp(history, health=health.Health())
        tray = Tray(
            app,
            open_main=lambda: None,
            open_settings=lambda: None,
            open_history=lambda: None,
            pick_files=lambda: None,
            choose_other_model=lambda: None,
            quit_app=lambda: None,
        )
        tray.refresh()
        assert image(tray.icon.icon()) == image(tray_icon("idle"))
        app.health.set(health.microphone_problem("no microphone found"))
        app.word = "no microphone"
        tray.refresh()
        assert image(tray.icon.icon()) == image(tray_icon("error"))  # the grey "!"
        assert tray.icon.toolTip().startswith("dictate — no microphone")
        app.word = "recording"  # while it records, red says more than "!"
        tray.refresh()
        assert image(tray.icon.icon()) == image(tray_icon("recording"))
        app.health.clear(health.MICROPHONE)
        app.word = "ready"
        tray.refresh()
        assert image(tray.icon.icon()) == image(tray_icon("idle"))


def test_the_start_space_setting_round_trips(qtbot) -> None:
    apply = Recorder()
    d = open_dialog(qtbot, Settings(start_space="never"), apply)
    assert d.general_tab.space_combo.currentData() == "never"
    choose(d.general_tab.space_combo, "always")
    assert d.settings().start_space == "always"


def test_a_recovered_dictation_says_only_what_happened(qtbot, tmp_path) -> None:
    """Issue 28: "Recovered, not typed · by xdotool · … · text 0 ms after the key was
    released" for a dictation that had been typed."""
    with History(tmp_path) as h:
        rec = h.start()
        h.finish_recording(rec)
        h.set_result(rec.id, "left over", {"release_to_text_ms": 0.0, "encoder_ms": 40.0})
        w = HistoryWindow(h, lambda text: None)
        qtbot.addWidget(w)
        line = w._describe(h.get(rec.id))
        assert line.startswith("Recovered") and "not typed" not in line.split("\n")[0]
        assert "after the key was released" not in line
        assert "not typed then" in STATUS["transcribed"][1]
