"""Whether a dictation starts with a space: what the last one left in the same window.

The last insertion into each window (its id and class, the text's last character, when) is kept
in the history database, so the first dictation after a restart of the app follows the previous
one the way the next one in the same run would ("…nation. And so…", not "…nation.And so…"). A
failed insertion changes nothing: what the window holds is what the last one that went in left.

The setting `start_space` picks the rule: "smart" (after a dictation into the same window, by
`cleanup.join_with_previous`), "always" (a space before every dictation, unless it starts with
punctuation such as a comma) or "never".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from dictate.dictation.cleanup import join_with_previous

log = logging.getLogger(__name__)

MODES = ("smart", "always", "never")


class Store(Protocol):
    """Where insertions are remembered (dictation.history.History)."""

    def last_insertion(self, window: str, wm_class: str) -> tuple[str, float] | None: ...
    def remember_insertion(self, window: str, wm_class: str, tail: str, at: float) -> None: ...


def window_key(window: object) -> tuple[str, str]:
    """(id, class) of a window as stored: an X11 `WindowInfo` gives both; anything else
    (tests, a future desktop) its string form and no class."""
    wid = getattr(window, "id", window)
    wm_class = getattr(window, "wm_class", ())
    return str(wid), ".".join(str(c) for c in wm_class)


class Spacing:
    """The Session's spacing: `join(text, window)` before inserting, `remember(window, text)`
    once the text is in. Safe from several threads; a store that fails is logged, never raised
    (spacing must not fail a dictation)."""

    def __init__(
        self,
        store: Store | None = None,
        mode: str = "smart",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.mode = mode if mode in MODES else "smart"
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], str] = {}  # this run's, in front of the store

    def previous(self, window: object | None) -> str | None:
        """The last character the previous dictation into `window` left, if one is known."""
        if window is None:
            return None
        key = window_key(window)
        with self._lock:
            if key in self._last:
                return self._last[key]
        if self.store is None:
            return None
        try:
            found = self.store.last_insertion(*key)
        except Exception:
            log.exception("could not read the last insertion into %s", key)
            return None
        return found[0] if found else None

    def join(self, text: str, window: object | None) -> str:
        """`text` with the leading space the setting and the previous dictation call for."""
        if self.mode == "never" or not text:
            return text
        if self.mode == "always":
            return join_with_previous(text, "a")  # as after a word: punctuation gets none
        return join_with_previous(text, self.previous(window))

    def remember(self, window: object | None, text: str) -> None:
        """`text` went into `window` (an empty text leaves what was remembered)."""
        if window is None or not text:
            return
        key, tail = window_key(window), text[-1]
        with self._lock:
            self._last[key] = tail
        if self.store is not None:
            try:
                self.store.remember_insertion(*key, tail, self._clock())
            except Exception:
                log.exception("could not remember the insertion into %s", key)
