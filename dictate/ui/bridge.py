"""Core callbacks arrive on worker threads; Qt widgets may only be touched on the GUI thread.

The bridge re-emits every core notification as a Qt signal, and Qt queues signals that cross
threads, so the connected slots run on the GUI thread.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal


class Bridge(QObject):
    event = Signal(object)  # dictate.dictation.session.Event
    model_status = Signal(object)  # dictate.engine.holder.ModelStatus
    message = Signal(str)  # a line the app says to the user
    preview = Signal(object)  # dictate.dictation.live.Preview: live text while recording
    again = Signal(int, object)  # a history entry transcribed again: its id, error or None

    def attach(self, app: Any) -> None:
        """Subscribe to `app` (a dictate.app.App); call before app.start()."""
        self._subscribed = [
            (app.listeners, self.event.emit),
            (app.model_listeners, self.model_status.emit),
        ]
        previews = getattr(app, "preview_listeners", None)
        if previews is not None:
            self._subscribed.append((previews, self.preview.emit))
        for listeners, emit in self._subscribed:
            listeners.append(emit)

    def detach(self) -> None:
        """Unsubscribe (after app.shutdown()): a core thread still running must not reach Qt
        objects that are going away."""
        for listeners, emit in getattr(self, "_subscribed", ()):
            if emit in listeners:
                listeners.remove(emit)
        self._subscribed = []

    def transcribe_again(self, app: Any, dictation_id: int) -> None:
        """Transcribe a history entry's audio again with the app's engine and settings of now,
        in the background; the answer comes as `again` (dictate.dictation.again)."""
        from dictate.dictation.again import in_background

        session = app.session
        in_background(app.history, dictation_id, session.transcribe, session.rules, self.again.emit)
