"""The "Engine: server…" dialog: where the transcription server is, its model and API key.

The key goes to the keyring (or a 0600 file) through the app, never into the settings; the
field shows dots and is never filled back in, so the key is not on screen either.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dictate.remote.client import RemoteError, check_url


class ServerDialog(QDialog):
    """Edits the server fields of `app.settings`; OK saves them and switches to the server."""

    def __init__(self, app: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app = app
        s = app.settings
        self.setWindowTitle("dictate — transcription server")
        self.url_edit = QLineEdit(s.server_url)
        self.url_edit.setPlaceholderText("https://gpu-box.example:8000")
        self.model_edit = QLineEdit(s.server_model)
        self.model_edit.setPlaceholderText("whisper-1, openai/whisper-large-v3, …")
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("unchanged" if s.server_url else "none")
        self.insecure_check = QCheckBox("Allow plain http:// to another machine (unencrypted)")
        self.insecure_check.setChecked(s.server_insecure)
        self.ca_edit = QLineEdit(s.server_ca_file)
        self.ca_edit.setPlaceholderText("only for a server with a self-signed certificate")
        browse = QPushButton("File…")
        browse.clicked.connect(self._pick_ca)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(browse)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setVisible(False)

        form = QFormLayout()
        form.addRow("Server &address:", self.url_edit)
        form.addRow("&Model:", self.model_edit)
        form.addRow("API &key:", self.key_edit)
        form.addRow("", self.insecure_check)
        form.addRow("CA certificate:", ca_row)
        about = QLabel(
            "Dictations and files are sent to this server (only the parts with speech; the "
            "speech gate runs here first). If it fails, this computer's model transcribes "
            "instead and the audio stays in the history."
        )
        about.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Use this server")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(about)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(560, 0)

    def _pick_ca(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "CA certificate", "", "PEM (*.pem *.crt)")
        if path:
            self.ca_edit.setText(path)

    def problem(self) -> str | None:
        try:
            check_url(self.url_edit.text(), allow_insecure=self.insecure_check.isChecked())
        except RemoteError as exc:
            return str(exc)
        return None

    def accept(self) -> None:
        problem = self.problem()
        if problem:
            self.error.setText(problem)
            self.error.setVisible(True)
            return
        url = self.url_edit.text().strip()
        if self.key_edit.text().strip():
            self.app.set_server_key(url, self.key_edit.text())
        new = replace(
            self.app.settings,
            engine="server",
            server_url=url,
            server_model=self.model_edit.text().strip() or "whisper-1",
            server_insecure=self.insecure_check.isChecked(),
            server_ca_file=self.ca_edit.text().strip(),
        )
        problems = self.app.apply_settings(new)
        if problems:
            self.error.setText("; ".join(problems))
            self.error.setVisible(True)
            return
        super().accept()
