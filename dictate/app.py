"""The running app without a window: microphone, hotkey, control socket, engine and session,
wired together. The tray UI (dictate/ui) drives the same object; `dictate` starts it."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dictate.config import Settings
from dictate.dictation.session import Event, State
from dictate.errors import DictateError

log = logging.getLogger(__name__)
Say = Callable[[str], None]


def _default_say(message: str) -> None:
    print(f"dictate: {message}", file=sys.stderr, flush=True)


class App:
    """Owns every long-lived part; commands arrive from hotkeys, the socket or the UI."""

    def __init__(self, settings: Settings, *, say: Say = _default_say) -> None:
        self.settings = settings
        self.say = say
        self.listeners: list[Callable[[Event], None]] = []  # the UI subscribes here
        self.status_detail = ""
        self._loading = True
        self._load_error: str | None = None
        self._ready = threading.Event()
        self._quit = threading.Event()
        # Commands run one at a time, in order, off the socket and hotkey threads: stop() waits
        # for the end of speech (≤ tail_max_s) and must not hold up the caller.
        self._commands = ThreadPoolExecutor(1, thread_name_prefix="dictate-command")
        self.server: Any = None
        self.hotkeys: Any = None

    # ---- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Claim the control socket (one instance per user) and bring everything up."""
        from dictate.audio.capture import Recorder
        from dictate.audio.gate import SpeechGate
        from dictate.control.ipc import COMMANDS, ControlServer
        from dictate.dictation.cleanup import CleanupRules
        from dictate.dictation.history import History
        from dictate.dictation.session import Session
        from dictate.output.inserter import Inserter, focused_window

        self.server = ControlServer(self._handle, commands=(*COMMANDS, "show", "quit"))
        self.server.start()  # raises AlreadyRunning before anything else is touched
        s = self.settings
        self.history = History()
        if self.history.warning:
            self.say(self.history.warning)
        self.gate = SpeechGate()
        self.recorder = Recorder(
            s.input_device,
            keep_open=s.keep_mic_open,
            max_s=s.max_record_s,
            on_chunk=lambda chunk: self.session.on_audio(chunk),
            gate=self.gate,
        )
        self.inserter = Inserter(s.insert_method)

        def window_id() -> object | None:
            window = focused_window(self.inserter.session)
            return window.id if window is not None else None

        self.session = Session(
            recorder=self.recorder,
            transcribe=self._transcribe,
            inserter=self.inserter,
            history=self.history,
            on_event=self._on_event,
            rules=CleanupRules(replacements=s.replacements, remove_fillers=s.remove_fillers),
            focused_window=window_id,
            tail_max_s=s.tail_max_s,
        )
        if s.keep_mic_open:
            try:
                self.recorder.open()
            except DictateError as exc:
                self.say(f"microphone: {exc}")
        self._start_hotkeys()
        threading.Thread(target=self._load_engine, name="dictate-load", daemon=True).start()

    def _start_hotkeys(self) -> None:
        from dictate.control.hotkeys import HotkeyListener

        s = self.settings
        try:
            self.hotkeys = HotkeyListener(
                s.hotkey,
                s.mode,
                on_start=self.session.start,
                on_stop=self.session.stop,
                on_cancel=self.session.cancel,
                cancel_key=s.cancel_key,
                is_recording=lambda: self.session.state is State.RECORDING,
            )
            self.hotkeys.start()
        except DictateError as exc:
            self.hotkeys = None
            self.say(f"global hotkey unavailable: {exc}")

    def _load_engine(self) -> None:
        from dictate.engine.options import TranscribeOptions
        from dictate.engine.transcriber import Engine

        s = self.settings
        self.options = TranscribeOptions(language=s.language, prompt=s.prompt or None)
        self.engine = Engine(
            s.model, device=s.device, gate=self.gate, on_notice=lambda m: self.say(f"note: {m}")
        )
        try:
            info = self.engine.load()
            self.engine.warmup()
        except DictateError as exc:
            self._load_error = str(exc)
            self.say(f"cannot load the model: {exc}")
            self._emit(Event(State.ERROR, message=str(exc)))
            return
        finally:
            self._loading = False
        self.status_detail = f"{info.model} on {info.device}"
        self._ready.set()
        self.say(f"ready ({self.status_detail}); hotkey {s.hotkey}, mode {s.mode}")
        recovered = self.session.recover()
        if recovered:
            self.say(f"recovering {len(recovered)} unfinished dictation(s) into the history")

    def _transcribe(self, audio):  # -> DictationResult
        # A dictation made while the model loads waits here; it was saved to disk already.
        self._ready.wait()
        return self.engine.transcribe(audio, self.options)

    def run(self) -> int:
        """Start, then block until quit (Ctrl+C, SIGTERM or `quit` on the socket)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._quit.set())
        self.start()
        while not self._quit.wait(0.5):
            pass
        self.shutdown()
        return 0

    def shutdown(self) -> None:
        if self.hotkeys is not None:
            self.hotkeys.stop()
        if self.session.state is State.RECORDING:
            self.session.cancel()  # a half-spoken sentence is not typed on the way out
        self.session.shutdown()
        self.inserter.flush()  # put the user's clipboard back before leaving
        self.recorder.close()
        self._commands.shutdown(wait=False)
        self.server.stop()
        self.history.close()

    # ---- commands and events -------------------------------------------------------------

    def command(self, name: str) -> None:
        actions = {
            "start": self.session.start,
            "stop": self.session.stop,
            "toggle": self.session.toggle,
            "cancel": self.session.cancel,
        }
        self._commands.submit(actions[name])

    def status(self) -> tuple[str, str]:
        if self._loading:
            return "loading model", ""
        if self._load_error:
            return "error", self._load_error
        state = self.session.state
        word = "ready" if state is State.IDLE else state.value
        detail = self.status_detail
        if self.session.queued:
            detail += f", {self.session.queued} queued"
        return word, detail

    def _handle(self, cmd: str, args: dict) -> dict:
        if cmd in ("start", "stop", "toggle", "cancel"):
            self.command(cmd)
            return {}
        if cmd == "status":
            state, detail = self.status()
            return {"state": state, "detail": detail}
        if cmd == "show":
            self._emit(Event(self.session.state, message="show"))
            return {}
        if cmd == "quit":
            self._quit.set()
            return {}
        raise DictateError(f"unknown command {cmd!r}")

    def _on_event(self, event: Event) -> None:
        if event.state is State.ERROR and event.message:
            self.say(event.message)
        elif event.message == "no speech":
            self.say("no speech heard; nothing inserted")
        elif event.state is State.IDLE and event.latency and event.text:
            lat = event.latency
            self.say(
                f"inserted {len(event.text)} characters, {lat.release_to_text_ms:.0f} ms after "
                f"release (tail {lat.tail_ms:.0f}, encoder {lat.encoder_ms:.0f}, decoding "
                f"{lat.decoding_ms:.0f}, insert {lat.insert_ms:.0f})"
            )
        self._emit(event)

    def _emit(self, event: Event) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")


def run(settings: Settings, warnings: list[str]) -> int:
    """`dictate`: run the app, or bring the running one forward."""
    from dictate.control.ipc import AlreadyRunning, send

    for warning in warnings:
        _default_say(warning)
    app = App(settings)
    try:
        return app.run()
    except AlreadyRunning:
        send("show")
        _default_say("dictate is already running; brought it forward")
        return 0
