"""`dictate` with its face: the core App plus the tray icon, the main window and the dialogs.

The core runs on its own threads; everything here runs on the Qt GUI thread and learns what the
core does through the Bridge's signals.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from dictate import crash
from dictate import say as say_module
from dictate.config import Settings
from dictate.dictation.session import State
from dictate.ui.bridge import Bridge
from dictate.ui.icons import app_icon
from dictate.ui.main_window import MainWindow
from dictate.ui.model_progress import ModelProgress
from dictate.ui.pyside_hook import lighten
from dictate.ui.tray import Tray, hotkey_label, other_model_dialog

DESKTOP_ID = "io.github.dictate.Dictate"
_PREVIEW_ENDS = (State.IDLE, State.ERROR, State.CANCELLED)


class DictateUI(QObject):
    """Builds the windows around a started App and keeps them in step with it."""

    def __init__(self, app: Any, bridge: Bridge, *, tray_available: bool) -> None:
        super().__init__()
        self.app, self.bridge = app, bridge
        self.settings_dialog: Any = None
        self.history_window: Any = None
        self._player: Any = None
        self.files_panel: Any = None
        self.main = MainWindow(
            toggle=lambda: app.command("toggle"),
            hotkey_text=lambda: hotkey_label(app.settings.hotkey),
            quit_on_close=not tray_available,
            open_settings=self.open_settings,
            open_history=self.open_history,
        )
        # The Files section costs ~1 s of imports and Qt enum set-up: built once the tray icon
        # or window is on screen (benchmarks/footprint.py), or at once when asked for.
        QTimer.singleShot(300, self._files_panel)
        self.progress = ModelProgress()
        self.tray: Tray | None = None
        if tray_available:
            self.tray = Tray(
                app,
                open_main=self.main.bring_forward,
                open_settings=self.open_settings,
                open_history=self.open_history,
                pick_files=self.pick_files,
                choose_other_model=lambda: other_model_dialog(None),
                quit_app=QApplication.quit,
            )
            self.tray.show()
        bridge.event.connect(self.on_event)
        bridge.model_status.connect(self.on_model_status)
        bridge.message.connect(self.on_message)
        self.overlay: Any = None  # the live preview (ui/live_overlay.py), made when first shown
        bridge.preview.connect(self.on_preview)
        self.main.show_warnings(list(app.warnings))
        self.refresh()
        if self.tray is None or app.warnings:
            self.main.bring_forward()

    def _files_panel(self) -> Any:
        if self.files_panel is None:
            from dictate.ui.files_panel import FilesPanel

            self.files_panel = FilesPanel(self.app.files)
            self.main.add_files_panel(self.files_panel)
        return self.files_panel

    # ---- core → UI ----------------------------------------------------------------------------

    def refresh(self) -> None:
        word, detail = self.app.status()
        self.main.set_state(word, detail)
        if self.tray is not None:
            self.tray.refresh()

    def on_event(self, event: Any) -> None:
        if event.message == "show":
            self.main.bring_forward()
            return
        self.refresh()
        self._show_overlay(event)
        if event.state is State.IDLE and event.text:
            self.main.show_dictation(event.text, event.latency)
        if event.state in (State.IDLE, State.ERROR) and self.history_window is not None:
            self.history_window.refresh()
        if event.state is State.ERROR and event.message and self.tray is not None:
            self.tray.notify(event.message, error=True)
        elif getattr(event, "gaps", ()) and event.message and self.tray is not None:
            self.tray.notify(event.message)  # inserted, but part of the speech gave no text

    def on_model_status(self, status: Any) -> None:
        self.refresh()
        if status.stage == "unloaded":
            return
        self.progress.update_status(status)  # at "ready" it closes itself (CLOSE_AFTER_MS)
        if status.busy or status.stage == "failed":
            self.progress.present()
        if status.stage == "failed" and self.tray is not None:
            self.tray.notify(status.message, error=True)

    def _show_overlay(self, event: Any) -> None:
        """The live preview is up from the start of a recording until its text is in."""
        recording = self.app.session.state is State.RECORDING
        if event.state is State.RECORDING and self.app.settings.live_preview:
            if self.overlay is None:
                from dictate.ui.live_overlay import LiveOverlay, overlay_supported

                if not overlay_supported():  # Wayland: the main window and tooltip show the words
                    return

                recorder = self.app.recorder
                self.overlay = LiveOverlay(level=lambda: recorder.level_db)
            self.overlay.begin()
        elif self.overlay is not None and not recording and event.state in _PREVIEW_ENDS:
            self.overlay.end()

    def on_preview(self, preview: Any) -> None:
        if self.overlay is not None and self.overlay.isVisible():
            self.overlay.set_preview(preview.committed, preview.tentative)
        self.refresh()  # the main window's status line and the tray tooltip hold the last words

    def on_message(self, message: str) -> None:
        self.main.statusBar().showMessage(message, 10000)
        if self.tray is not None:
            self.tray.on_message(message)  # the few that need a bubble (tray.bubble_for)

    # ---- windows ------------------------------------------------------------------------------

    def open_settings(self) -> None:
        from dictate.ui.settings import SettingsDialog

        if self.settings_dialog is not None and self.settings_dialog.isVisible():
            self.settings_dialog.raise_()
            self.settings_dialog.activateWindow()
            return
        routes = getattr(self.app, "desktop_routes", dict)()
        self.settings_dialog = SettingsDialog(
            self.app.settings,
            self.app.apply_settings,
            warnings=list(self.app.warnings),
            routes=routes,
        )
        self.settings_dialog.capture_active.connect(self.app.pause_hotkeys)
        self.settings_dialog.finished.connect(lambda *_: self._settings_closed())
        self.settings_dialog.show()

    def _settings_closed(self) -> None:
        self.app.pause_hotkeys(False)  # in case the dialog closed while capturing
        self.refresh()

    def _insert_again(self, text: str) -> None:
        # The text belongs in the window the person was typing in, not in the history window:
        # step aside so the desktop gives that window the focus back, then insert.
        if self.history_window is not None:
            self.history_window.showMinimized()
        self.app.insert_text(text, delay_s=0.4)

    def open_history(self) -> None:
        from dictate.ui.history_window import HistoryWindow

        if self.history_window is None:
            self.history_window = HistoryWindow(
                self.app.history,
                self._insert_again,
                play=self._play,
                transcribe_again=lambda i: self.bridge.transcribe_again(self.app, i),
            )
            self.bridge.again.connect(self.history_window.transcribed_again)
        self.history_window.refresh()
        self.history_window.show()
        self.history_window.raise_()

    def pick_files(self) -> None:
        self.main.bring_forward()
        self._files_panel().pick_files()

    def _play(self, samples: Any) -> None:
        from dictate.audio.playback import Player

        if self._player is None:
            self._player = Player(latency="high")  # history audio: smooth beats prompt
        self._player.play(samples)  # raises a DictateError the history window shows


def run(settings: Settings, warnings: list[str]) -> int:
    """`dictate`: the tray app, or bring the running one forward."""
    from dictate.app import App, _default_say
    from dictate.control.ipc import AlreadyRunning, send

    lighten()  # before the model's imports: PySide6's import hook would keep all their sources
    crash.enable()  # a segfault or abort leaves a Python trace in crash.log
    say_module.keep()  # before any thread: lines said while a library mutes fd 2 come out
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    qapp.setApplicationName("dictate")
    qapp.setDesktopFileName(DESKTOP_ID)
    qapp.setWindowIcon(app_icon())
    qapp.setQuitOnLastWindowClosed(False)

    bridge = Bridge()
    closed = threading.Event()

    def say(message: str) -> None:  # any thread
        _default_say(message)
        if not closed.is_set():  # after shutdown, a late thread must not reach Qt
            bridge.message.emit(message)

    for warning in warnings:
        _default_say(warning)
    app = App(settings, say=say, warnings=warnings)
    bridge.attach(app)
    try:
        app.start(load_model=False)  # the window first; the model once it shows (below)
    except AlreadyRunning:
        send("show")
        _default_say("dictate is already running; brought it forward")
        return 0
    ui = DictateUI(app, bridge, tray_available=QSystemTrayIcon.isSystemTrayAvailable())
    QTimer.singleShot(100, app.load_model)  # after the first paint of the icon or window
    if ui.tray is None:
        _default_say("no system tray here; the dictate window is the app's home")

    # Ctrl+C, SIGTERM and `quit` on the socket set the app's quit flag; Python runs signal
    # handlers only between bytecodes, so a timer gives it the chance while Qt waits.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: app.request_quit())
    poll = QTimer(interval=200)
    poll.timeout.connect(lambda: app.quit_requested and qapp.quit())
    poll.start()
    try:
        code = qapp.exec()
    finally:
        poll.stop()
        app.shutdown()  # the app's own state is saved and closed here: history, clipboard, audio
        bridge.detach()
        closed.set()
    if ui.tray is not None:
        ui.tray.hide()
    # Python's finalisation would now destroy the Qt objects in no set order, beside threads
    # that may still run: the window app segfaulted there on SIGTERM ("shared QObject was
    # deleted directly"; issue 23). Nothing is left to save, so the process leaves without it.
    crash.leave(code)
