"""What stands between the person and a working dictation, at a glance (no Qt).

The app keeps one `Health`: the microphone probe, the model loader and the hotkey listener set
or clear their problem here, and the status (`dictate status`, the tooltip, the main window)
and the tray's "needs you" icon read it. Each problem says what is wrong, why, and where to
fix it, because "Ready" with no microphone is the one answer that helps nobody.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

# What each part is called in the status, most important first: without a microphone or a
# model nothing can be dictated; without a global hotkey `dictate toggle` still works.
MICROPHONE, MODEL, HOTKEY = "microphone", "model", "hotkey"
ORDER = (MICROPHONE, MODEL, HOTKEY)
BLOCKING = (MICROPHONE, MODEL)


@dataclass(frozen=True)
class Problem:
    part: str  # MICROPHONE, MODEL or HOTKEY
    summary: str  # a few words, the status word: "no microphone"
    reason: str  # why, as the part said it
    fix: str  # where to fix it

    def describe(self) -> str:
        """One line: what, why and where to fix it."""
        return f"{self.summary} ({self.reason}); {self.fix}"


def microphone_problem(reason: str) -> Problem:
    none = "no microphone" in reason or "no audio input device" in reason
    return Problem(
        MICROPHONE,
        "no microphone",
        reason if not none else "no audio input device was found",
        "connect one or start the sound server, or choose another in Settings ▸ Audio",
    )


def model_problem(reason: str) -> Problem:
    return Problem(
        MODEL,
        "model failed",
        reason,
        "choose another in the tray's Model menu or Settings ▸ Model",
    )


def hotkey_problem(reason: str) -> Problem:
    fix = "choose another in Settings ▸ General"
    if "dictate toggle" not in reason:  # the listener's reason may say it already
        fix += ", or bind a desktop shortcut to `dictate toggle`"
    return Problem(HOTKEY, "no global hotkey", reason, fix)


class Health:
    """The current problems by part; `on_change` is called (any thread) when they change."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._problems: dict[str, Problem] = {}
        self.on_change = on_change

    def set(self, problem: Problem) -> None:
        with self._lock:
            changed = self._problems.get(problem.part) != problem
            self._problems[problem.part] = problem
        if changed:
            self._changed()

    def clear(self, part: str) -> None:
        with self._lock:
            changed = self._problems.pop(part, None) is not None
        if changed:
            self._changed()

    def get(self, part: str) -> Problem | None:
        with self._lock:
            return self._problems.get(part)

    def problems(self) -> list[Problem]:
        """The problems there are, most important first."""
        with self._lock:
            return [self._problems[p] for p in ORDER if p in self._problems]

    def blocking(self) -> Problem | None:
        """The first problem that stops every dictation (no microphone, no model), if any."""
        return next((p for p in self.problems() if p.part in BLOCKING), None)

    @property
    def ok(self) -> bool:
        return not self.problems()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


def device_fingerprint() -> tuple[object, ...]:
    """Something that changes when audio devices come or go, cheap enough to read every few
    seconds without opening anything: the ALSA device nodes and the sound servers' sockets
    (Linux). Elsewhere it never changes; a failed probe is then retried on a timer."""
    import os

    found: list[object] = []
    try:
        found.append(tuple(sorted(os.listdir("/dev/snd"))))
    except OSError:
        found.append(None)
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    for name in ("pulse/native", "pipewire-0"):
        found.append(bool(runtime) and os.path.exists(os.path.join(runtime, name)))
    found.append(os.environ.get("PULSE_SERVER"))
    return tuple(found)


class MicrophoneWatch:
    """Checks the microphone at start, when the devices change (`fingerprint`), when asked
    (`kick`: a setting changed, a recording failed) and, while it is missing, every `retry_s`;
    the answer goes to `health`. `probe()` returns None when the microphone works, else why;
    `busy()` says a recording holds it (its own success or failure is the answer then)."""

    def __init__(
        self,
        health: Health,
        probe: Callable[[], str | None],
        *,
        busy: Callable[[], bool] = lambda: False,
        fingerprint: Callable[[], object] = device_fingerprint,
        poll_s: float = 3.0,
        retry_s: float = 30.0,
    ) -> None:
        self.health, self._probe, self._busy = health, probe, busy
        self._fingerprint, self.poll_s, self.retry_s = fingerprint, poll_s, retry_s
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self.probes = 0
        self._thread = threading.Thread(target=self._run, name="dictate-mic-watch", daemon=True)

    def start(self) -> MicrophoneWatch:
        self._thread.start()
        return self

    def kick(self) -> None:
        """Check again now (off the caller's thread)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def check(self) -> None:
        """One probe, its answer recorded (the watch thread's step; tests call it)."""
        if self._busy():
            return
        self.probes += 1
        try:
            reason = self._probe()
        except Exception as exc:  # a probe that breaks must not stop the watch
            reason = f"the microphone could not be checked ({exc})"
        if reason is None:
            self.health.clear(MICROPHONE)
        elif not self._busy():  # a recording that started meanwhile has the last word
            self.health.set(microphone_problem(reason))

    def _run(self) -> None:
        seen = self._fingerprint()
        waited = 0.0
        self.check()
        while not self._stopped.is_set():
            kicked = self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stopped.is_set():
                return
            waited += self.poll_s
            now = self._fingerprint()
            missing = self.health.get(MICROPHONE) is not None
            if kicked or now != seen or (missing and waited >= self.retry_s):
                seen, waited = now, 0.0
                self.check()
