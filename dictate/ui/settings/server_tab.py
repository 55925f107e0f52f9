"""The Server tab: this computer or a transcription server as the engine (the key is set in
the tray's Engine → Server…, which keeps it in the keyring: it is not a setting)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QLineEdit

from dictate.config import Settings
from dictate.ui.settings.widgets import ErrorLabel, Tab, form, hint, row, select, stack

ENGINES = (("local", "This computer"), ("server", "A server; this computer if it fails"))


class ServerTab(Tab):
    title = "Server"
    fields = ("server_url", "server_model", "server_ca_file")
    labelled = ("server_url",)  # shown under the address

    def __init__(self) -> None:
        super().__init__()
        layout = form(self)
        self.engine_combo = self.combo(ENGINES)
        self.engine_combo.setAccessibleName("Engine")
        layout.addRow("&Engine:", self.engine_combo)
        self.server_url_edit = QLineEdit()
        self.server_url_edit.setPlaceholderText("https://gpu-box.example:8000")
        self.server_url_edit.setAccessibleName("Server address")
        self.server_url_edit.textChanged.connect(self.emit_changed)
        self.server_error = ErrorLabel()
        field = stack(self.server_url_edit, self.server_error)
        row(layout, "Server &address:", field, self.server_url_edit)
        self.server_model_edit = QLineEdit()
        self.server_model_edit.setAccessibleName("Server model")
        self.server_model_edit.textChanged.connect(self.emit_changed)
        row(layout, "Server m&odel:", self.server_model_edit, self.server_model_edit)
        self.insecure_check = self.check("Allow plain http:// to another machine (unencrypted)")
        layout.addRow("", self.insecure_check)
        self.ca_edit = QLineEdit()
        self.ca_edit.setPlaceholderText("only for a server with a self-signed certificate")
        self.ca_edit.setAccessibleName("CA certificate")
        self.ca_edit.textChanged.connect(self.emit_changed)
        row(layout, "&CA certificate:", self.ca_edit, self.ca_edit)
        layout.addRow(
            "",
            hint(
                "Speech goes to the server only when it is the engine, and only the parts with "
                "speech. The API key is set from the tray: Engine → Server…"
            ),
        )

    def load(self, s: Settings) -> None:
        select(self.engine_combo, s.engine)
        self.server_url_edit.setText(s.server_url)
        self.server_model_edit.setText(s.server_model)
        self.insecure_check.setChecked(s.server_insecure)
        self.ca_edit.setText(s.server_ca_file)

    def values(self, shown: Settings) -> dict[str, Any]:
        return {
            "engine": self.engine_combo.currentData(),
            "server_url": self.server_url_edit.text().strip(),
            "server_model": self.server_model_edit.text().strip(),
            "server_insecure": self.insecure_check.isChecked(),
            "server_ca_file": self.ca_edit.text().strip(),
        }

    def problems(self) -> dict[str, str]:
        from dictate.remote.client import RemoteError, check_url

        url = self.server_url_edit.text().strip()
        if not url:
            if self.engine_combo.currentData() == "server":
                return {"server_url": "Give the server's address, or choose This computer."}
            return {}
        try:
            check_url(url, allow_insecure=self.insecure_check.isChecked())
        except RemoteError as exc:
            return {"server_url": str(exc)[:1].upper() + str(exc)[1:] + "."}
        return {}

    def show_problems(self, found: Mapping[str, str]) -> None:
        self.server_error.show_problem(found.get("server_url"))
