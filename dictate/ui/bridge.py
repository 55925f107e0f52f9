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
