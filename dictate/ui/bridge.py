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
        app.listeners.append(self.event.emit)
        app.model_listeners.append(self.model_status.emit)
        previews = getattr(app, "preview_listeners", None)
        if previews is not None:
            previews.append(self.preview.emit)
