"""The app's home window: what dictate is doing, the last dictation and its timings, and files.

It opens from the tray, and it is the only window on desktops without a tray (GNOME without the
AppIndicator extension); there, closing it quits dictate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from dictate.ui.icons import app_icon, tray_icon

# Latency fields of dictate.dictation.session.Latency, in the order a dictation goes through them.
LATENCY_ROWS = (
    ("record_ms", "Recording"),
    ("tail_ms", "Tail after release"),
    ("gate_ms", "Speech gate"),
    ("features_ms", "Features"),
    ("encoder_ms", "Encoder"),
    ("decoding_ms", "Decoding"),
    ("remote_ms", "Server"),  # the round trip when a transcription server is the engine
    ("insert_ms", "Insertion"),
    ("committed_s", "Done while speaking"),  # live dictation: audio final before release
    ("live_wait_ms", "Live: step in progress at release"),
    ("tail_audio_s", "Live: audio left at release"),  # 0 s: the last live step had heard it
    ("tail_decode_ms", "Live: rest after release"),
    ("release_to_text_ms", "Release → text"),
)
STATE_TEXT = {
    "ready": "Ready",
    "idle": "Ready",
    "recording": "Recording…",
    "transcribing": "Transcribing…",
    "inserting": "Inserting…",
    "loading model": "Loading the model…",
    "error": "Error",
}
# Rows that describe one kind of dictation only (rows_for): the live steps, the server's round
# trip, and the stages of a decode after release (a live dictation has one only for a tail left).
LIVE_ROWS = frozenset({"committed_s", "live_wait_ms", "tail_audio_s", "tail_decode_ms"})
DECODE_ROWS = frozenset({"gate_ms", "features_ms", "encoder_ms", "decoding_ms"})
MESSAGE_S = 10  # how long a status line stays (the last one stays in its tooltip)


def is_live(latency: Any) -> bool:
    """Whether a dictation's latency comes from live transcription (decoded while speaking)."""
    return any(getattr(latency, k, 0) for k in LIVE_ROWS)


def rows_for(latency: Any | None) -> list[str]:
    """The latency rows that apply to a dictation (None: before the first one): the live steps
    only for a live dictation, the decode stages there only those that ran after release (a
    tail left to decode), the server only when one was used or tried."""
    live = latency is not None and is_live(latency)
    shown = []
    for key, _ in LATENCY_ROWS:
        if key in LIVE_ROWS and not live:
            continue
        if key == "remote_ms" and not getattr(latency, "engine", ""):
            continue
        if live and key in DECODE_ROWS and not getattr(latency, key, 0):
            continue  # no stage of a decode ran after release
        shown.append(key)
    return shown


def icon_state(word: str) -> str:
    """The tray icon for a status word."""
    if word == "recording":
        return "recording"
    if word in ("transcribing", "inserting", "loading model"):
        return "transcribing"
    return "error" if word == "error" else "idle"


class MessageBar(QStatusBar):
    """The status line, wrapped over as many lines as a message needs (QStatusBar's own text
    is one line, cut at the window's edge): the app's messages are sentences, often long.
    The last message stays in the tooltip after it goes."""

    def __init__(self) -> None:
        super().__init__()
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.addWidget(self.label, 1)
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.label.clear)

    def showMessage(self, message: str, timeout: int = 0) -> None:
        self.label.setText(message)
        self.label.setToolTip(message)
        self.setToolTip(message)
        if timeout > 0:
            self._timer.start(timeout)
        else:
            self._timer.stop()

    def currentMessage(self) -> str:
        return self.label.text()

    def clearMessage(self) -> None:
        self.label.clear()


class MainWindow(QMainWindow):
    def __init__(
        self,
        *,
        toggle: Callable[[], None],
        hotkey_text: Callable[[], str],
        files_panel: QWidget | None = None,
        quit_on_close: bool = False,
        open_settings: Callable[[], None] | None = None,
        open_history: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("dictate")
        self.setWindowIcon(app_icon())
        self.resize(760, 720)
        self.quit_on_close = quit_on_close
        self._hotkey_text = hotkey_text
        self.message_bar = MessageBar()
        self.setStatusBar(self.message_bar)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setFrameShape(QFrame.Shape.StyledPanel)
        self.banner.setStyleSheet(
            "QLabel { background: #fff4ce; color: #4d3b00; padding: 8px; border-radius: 4px; }"
        )
        self.banner.hide()

        self.state_icon = QLabel()
        self.state_label = QLabel()
        self.state_label.setStyleSheet("font-size: 15pt; font-weight: 600")
        self.model_label = QLabel()
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.toggle_button = QPushButton()
        self.toggle_button.clicked.connect(toggle)
        status_text = QVBoxLayout()
        status_text.addWidget(self.state_label)
        status_text.addWidget(self.model_label)
        header = QHBoxLayout()
        header.addWidget(self.state_icon)
        header.addLayout(status_text, 1)
        header.addWidget(self.toggle_button)
        # The other windows, from here too: the tray is not on every desktop.
        self.history_button = QPushButton("&History")
        self.history_button.setToolTip("Past dictations: copy, insert again, transcribe again")
        self.settings_button = QPushButton("&Settings…")
        self.settings_button.setToolTip("Hotkey, microphone, model, language and more")
        for button, slot in (
            (self.history_button, open_history),
            (self.settings_button, open_settings),
        ):
            if slot is None:
                button.hide()
            else:
                button.clicked.connect(lambda _=False, f=slot: f())
            header.addWidget(button)

        self.transcript = QPlainTextEdit(readOnly=True)
        self.transcript.setPlaceholderText(
            "Nothing dictated yet. Hold the hotkey, speak, release: the words appear in the "
            "window you are typing in, and here."
        )
        self.transcript.setMaximumHeight(120)
        copy = QPushButton("Copy")
        copy.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.transcript.toPlainText())
        )
        self.latency = QFormLayout()
        self.latency_values: dict[str, QLabel] = {}
        for key, text in LATENCY_ROWS:
            value = QLabel("—")
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            self.latency_values[key] = value
            self.latency.addRow(text, value)
        self._show_rows(rows_for(None))
        self.latency_values["release_to_text_ms"].setStyleSheet("font-weight: 600")
        last = QGroupBox("Last dictation")
        last_layout = QHBoxLayout(last)
        text_column = QVBoxLayout()
        text_column.addWidget(self.transcript)
        text_column.addWidget(copy, 0, Qt.AlignmentFlag.AlignLeft)
        last_layout.addLayout(text_column, 3)
        timings = QWidget()
        timings.setLayout(self.latency)
        timings.setToolTip("Where the time of the last dictation went, in milliseconds")
        last_layout.addWidget(timings, 1)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.banner)
        top_layout.addLayout(header)
        top_layout.addWidget(last)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        self._splitter = splitter
        self.files_panel: QWidget | None = None
        if files_panel is not None:
            self.add_files_panel(files_panel)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(splitter)
        self.setCentralWidget(central)
        self.set_state("loading model", "")

    def add_files_panel(self, files_panel: QWidget) -> None:
        """The Files section; the app adds it just after start-up, once the window shows."""
        self.files_panel = files_panel
        files = QGroupBox("Files")
        QVBoxLayout(files).addWidget(files_panel)
        self._splitter.addWidget(files)
        self._splitter.setStretchFactor(1, 1)

    # ---- updates from the app --------------------------------------------------------------

    def set_state(self, word: str, detail: str) -> None:
        self.state_icon.setPixmap(tray_icon(icon_state(word)).pixmap(40, 40))
        self.state_label.setText(STATE_TEXT.get(word, word.capitalize()))
        self.model_label.setText(detail)
        recording = word == "recording"
        self.toggle_button.setText(
            f"Stop ({self._hotkey_text()})" if recording else f"Start ({self._hotkey_text()})"
        )
        self.toggle_button.setEnabled(word not in ("loading model", "error"))

    def show_dictation(self, text: str, latency: Any | None) -> None:
        self.transcript.setPlainText(text)
        for key, label in self.latency_values.items():
            value = getattr(latency, key, None) if latency is not None else None
            if value is None:
                label.setText("—")
            else:
                label.setText(f"{value:.1f} s" if key.endswith("_s") else f"{value:,.0f} ms")
        engine = getattr(latency, "engine", "") if latency is not None else ""
        self.latency_values["remote_ms"].setToolTip(engine or "this computer's model")
        rest = self.latency_values["tail_decode_ms"]
        if is_live(latency) and not latency.tail_audio_s and not latency.tail_decode_ms:
            rest.setText("—")  # the last live step had heard it all: nothing to decode
            rest.setToolTip("The last live step had heard everything: nothing was left")
        else:
            rest.setToolTip("")
        self._show_rows(rows_for(latency))

    def _show_rows(self, keys: list[str]) -> None:
        for key, label in self.latency_values.items():
            self.latency.setRowVisible(label, key in keys)

    def shown_rows(self) -> list[str]:
        """The latency rows on show (for tests and screenshots)."""
        return [k for k, label in self.latency_values.items() if self.latency.isRowVisible(label)]

    def show_warnings(self, warnings: list[str]) -> None:
        self.banner.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.banner.setVisible(bool(warnings))

    def bring_forward(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.quit_on_close:
            event.accept()
            from PySide6.QtWidgets import QApplication

            QApplication.quit()
        else:
            event.ignore()
            self.hide()  # dictate lives on in the tray
