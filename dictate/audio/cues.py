"""Short start / stop / error sounds, so a person knows without looking that dictate heard them.

Played on their own thread: opening an output stream takes tens of milliseconds, and the hotkey
thread that starts a recording must not wait for it. No output device means no sound, silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)
NAMES = ("start", "stop", "error")


class Cues:
    def __init__(self, enabled: Callable[[], bool], device: str | int | None = None) -> None:
        self._enabled = enabled
        self._device = device
        self._player: Any = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="dictate-cues")
        self.played: list[str] = []  # what was started, newest last (for status and tests)

    def play(self, name: str) -> None:
        if name not in NAMES:
            raise ValueError(f"unknown cue {name!r}")
        if self._enabled():
            self._pool.submit(self._play, name)

    def _play(self, name: str) -> None:
        from dictate import assets
        from dictate.audio.playback import Player

        if self._player is None:
            self._player = Player(self._device)
        try:
            path = assets.sound_path(name)
        except (OSError, LookupError, ValueError) as exc:
            log.debug("no %s cue: %s", name, exc)
            return
        if self._player.play_file(path, quiet=True):
            self.played = [*self.played[-9:], name]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._player is not None:
            self._player.stop()
