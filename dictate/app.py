"""The running app without a window: microphone, hotkey, control socket, engine and session,
wired together. The tray UI (dictate/ui) drives the same object; `dictate` starts it."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from dictate import config
from dictate.config import Settings
from dictate.dictation.session import Event, State
from dictate.errors import DictateError

log = logging.getLogger(__name__)
Say = Callable[[str], None]


def _default_say(message: str) -> None:
    print(f"dictate: {message}", file=sys.stderr, flush=True)


class App:
    """Owns every long-lived part; commands arrive from hotkeys, the socket or the UI."""

    def __init__(
        self, settings: Settings, *, say: Say = _default_say, warnings: list[str] | None = None
    ) -> None:
        self.settings = settings
        self.say = say
        self.warnings = list(warnings or [])  # shown by the UI (e.g. a corrupt settings file)
        self.listeners: list[Callable[[Event], None]] = []  # the UI subscribes here
        self.model_listeners: list[Callable[[Any], None]] = []  # ModelStatus, from the loader
        self.preview_listeners: list[Callable[[Any], None]] = []  # live text (dictation.live)
        self.last_preview: Any = None  # the dictation's live text so far, for status lines
        self._recovered = False
        self._quit = threading.Event()
        self.holder: Any = None  # the EngineHolder, once start() has made it
        self._announced: set[int] = set()  # file jobs whose end was said
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
        from dictate.audio.cues import Cues

        self.cues = Cues(lambda: self.settings.sounds)

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
            live=self._make_live,
            type_while_speaking=s.type_while_speaking,
            can_type=lambda: self.hotkeys is None or not self.hotkeys.keys_held,
        )
        if s.keep_mic_open:
            try:
                self.recorder.open()
            except DictateError as exc:
                self.say(f"microphone: {exc}")
        self._start_hotkeys()
        self._start_engine()
        self._start_files()
        self._prune_history()

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

    def _start_engine(self) -> None:
        from dictate.engine.holder import EngineHolder
        from dictate.engine.options import TranscribeOptions

        s = self.settings
        self.options = TranscribeOptions(language=s.language, prompt=s.prompt or None)
        self.holder = EngineHolder(
            self.gate,
            on_status=self._on_model_status,
            on_notice=lambda m: self.say(f"note: {m}"),
            idle_unload_s=s.unload_after_min * 60,
        )
        self.holder.load(s.model, s.device)

    def _start_files(self) -> None:
        from dictate.files.queue import FileQueue

        self.files = FileQueue(self.holder.get, lambda: self.options)
        self.files.listeners.append(self._on_file_job)

    def _on_file_job(self, job: Any) -> None:
        """One line when a file ends, for the status bar and the terminal."""
        if job.status not in ("done", "failed") or job.id in self._announced:
            return
        self._announced.add(job.id)
        if job.status == "done":
            words = " ".join(job.text.split()[:12])
            more = "…" if len(job.text.split()) > 12 else ""
            took = f" in {job.elapsed_s:.1f} s" if job.elapsed_s is not None else ""
            self.say(f"transcribed {job.path.name}{took}: {words}{more}")
        elif job.status == "failed":
            self.say(f"could not transcribe {job.path.name}: {job.error}")

    def _on_model_status(self, status: Any) -> None:
        if status.stage == "ready":
            s = self.settings
            self.say(f"ready ({status.message}); hotkey {s.hotkey}, mode {s.mode}")
            if not self._recovered:
                self._recovered = True
                recovered = self.session.recover()
                if recovered:
                    n = len(recovered)
                    self.say(f"recovering {n} unfinished dictation(s) into the history")
        elif status.stage == "failed":
            self.say(f"cannot load the model: {status.message}")
            if self.holder.engine is None:
                self._emit(Event(State.ERROR, message=status.message))
        elif status.stage == "unloaded":
            self.say(status.message)
        for listener in list(self.model_listeners):
            try:
                listener(status)
            except Exception:
                log.exception("model status listener failed")

    def _make_live(self, on_commit: Callable[[str], None] | None) -> Any:
        """One dictation's live transcriber (dictation/live.py), or None when it is off."""
        if not self.settings.live_transcription:
            return None
        from dictate.dictation.live import LiveTranscriber

        return LiveTranscriber(
            self.holder.get, self.options, on_preview=self._on_preview, on_commit=on_commit
        ).start()

    def _on_preview(self, preview: Any) -> None:
        self.last_preview = preview
        for listener in list(self.preview_listeners):
            try:
                listener(preview)
            except Exception:
                log.exception("preview listener failed")

    def _transcribe(self, audio):  # -> DictationResult
        # A dictation made while the model loads waits here; it was saved to disk already.
        return self.holder.get().transcribe(audio, self.options)

    # ---- what the UI changes -----------------------------------------------------------------

    def switch_model(self, model: str | None, device: str | None = None) -> None:
        """Load another model (or device) in the background; the current one serves meanwhile.

        The choice is saved once the new model is ready; a failure keeps the old one and says why.
        """
        device = device or self.settings.device
        future = self.holder.load(model, device)

        def saved(f: Any) -> None:
            if f.result() is not None:
                self.settings = replace(self.settings, model=model, device=device)
                self._save()

        future.add_done_callback(saved)

    def apply_settings(self, new: Settings) -> list[str]:
        """Save `new` and apply what changed to the running parts; returns warnings to show."""
        from dictate.dictation.cleanup import CleanupRules
        from dictate.engine.options import TranscribeOptions

        new, problems = new.validated()
        old, self.settings = self.settings, new
        self._save()
        if (new.hotkey, new.mode, new.cancel_key) != (old.hotkey, old.mode, old.cancel_key):
            if self.hotkeys is not None:
                self.hotkeys.stop()
            self._start_hotkeys()
        self.inserter.method = new.insert_method
        rec = self.recorder
        if (new.input_device, new.keep_mic_open) != (old.input_device, old.keep_mic_open):
            if self.session.state is not State.RECORDING:
                rec.close()
            rec.device, rec.keep_open = new.input_device, new.keep_mic_open
            if new.keep_mic_open and self.session.state is not State.RECORDING:
                try:
                    rec.open()
                except DictateError as exc:
                    problems.append(f"microphone: {exc}")
        rec.max_s = new.max_record_s
        self.session.rules = CleanupRules(
            replacements=new.replacements, remove_fillers=new.remove_fillers
        )
        self.session.tail_max_s = new.tail_max_s
        self.session.type_while_speaking = new.type_while_speaking
        self.options = TranscribeOptions(language=new.language, prompt=new.prompt or None)
        self.holder.idle_unload_s = new.unload_after_min * 60
        if new.launch_at_login != old.launch_at_login:
            problems += self._set_autostart(new.launch_at_login)
        if new.history_days != old.history_days:
            self._prune_history()
        if (new.model, new.device) != (old.model, old.device):
            self.settings = replace(new, model=old.model, device=old.device)  # saved once loaded
            self.switch_model(new.model, new.device)
        return problems

    def pause_hotkeys(self, paused: bool) -> None:
        """Let go of the global hotkey while the settings dialog captures a new one."""
        if paused and self.hotkeys is not None:
            self.hotkeys.stop()
            self.hotkeys = None
        elif not paused and self.hotkeys is None:
            self._start_hotkeys()

    def set_mode(self, mode: str) -> list[str]:
        return self.apply_settings(replace(self.settings, mode=mode))

    def set_language(self, language: str | None) -> list[str]:
        return self.apply_settings(replace(self.settings, language=language))

    def insert_text(self, text: str, delay_s: float = 0.3) -> None:
        """Insert `text` again (history); waits `delay_s` so focus returns from the menu first."""

        def insert() -> None:
            self._quit.wait(delay_s)
            result = self.inserter.insert(text)
            if not result.ok:
                self.say(f"could not insert the text ({result.error}); it is on the clipboard")

        self._commands.submit(insert)

    def _save(self) -> None:
        try:
            config.save(self.settings)
        except OSError as exc:
            self.say(f"could not save the settings: {exc}")

    def _set_autostart(self, enabled: bool) -> list[str]:
        try:
            from dictate.integration import autostart

            if enabled:
                autostart.enable()
            else:
                autostart.disable()
        except (ImportError, OSError, DictateError) as exc:
            return [f"launch at login: {exc}"]
        return []

    def _prune_history(self) -> None:
        days = self.settings.history_days
        prune = getattr(self.history, "prune", None)
        if days and prune is not None:
            try:
                removed = prune(days)
            except Exception as exc:  # retention must never stop the app
                log.warning("history pruning failed: %s", exc)
                return
            if removed:
                self.say(f"removed {removed} dictation(s) older than {days} days from the history")

    def run(self) -> int:
        """Start, then block until quit (Ctrl+C, SIGTERM or `quit` on the socket)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._quit.set())
        self.start()
        while not self._quit.wait(0.5):
            pass
        self.shutdown()
        return 0

    def request_quit(self) -> None:
        """Ask run() (or the UI's loop) to stop; safe from any thread and signal handlers."""
        self._quit.set()

    @property
    def quit_requested(self) -> bool:
        return self._quit.is_set()

    def shutdown(self) -> None:
        self.files.shutdown()
        if self.hotkeys is not None:
            self.hotkeys.stop()
        if self.session.state is State.RECORDING:
            self.session.cancel()  # a half-spoken sentence is not typed on the way out
        self.session.shutdown()
        self.inserter.flush()  # put the user's clipboard back before leaving
        self.recorder.close()
        self._commands.shutdown(wait=False)
        self.holder.shutdown()
        self.cues.close()
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
        """(state word, detail) for `dictate status` and the tooltip."""
        holder = self.holder
        if holder is None:
            return "loading model", "starting"
        if holder.engine is None:
            if holder.loading:
                return "loading model", ""
            return "error", holder.error or "no model is loaded"
        state = self.session.state
        word = "ready" if state is State.IDLE else state.value
        info = holder.info
        detail = f"{info.model} on {info.device}" if info else ""
        if not holder.engine.loaded:
            detail += " (unloaded while idle)"
        if holder.loading and holder.status is not None and holder.status.busy:
            detail += f"; {holder.status.stage} {holder.status.model}"
        if self.session.queued:
            detail += f", {self.session.queued} queued"
        preview = self.last_preview
        if state in (State.RECORDING, State.TRANSCRIBING) and preview is not None:
            words = f"{preview.committed} {preview.tentative}".split()
            if words:  # the last words heard (the tooltip and `dictate status` show them)
                detail += f"; heard “{'… ' if len(words) > 8 else ''}{' '.join(words[-8:])}”"
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
        if event.state is State.RECORDING:
            self.last_preview = None
            self.cues.play("start")
            self.holder.ensure_loaded()  # after an idle unload, load while the person speaks
        elif event.state is State.TRANSCRIBING:
            self.cues.play("stop")
        elif event.state is State.ERROR:
            self.cues.play("error")
        elif event.state is State.IDLE and event.dictation_id and not self.settings.keep_audio:
            drop = getattr(self.history, "drop_audio", None)
            if drop is not None and event.text is not None:
                drop(event.dictation_id)
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
                + (
                    f"; live: {lat.committed_s:.1f} s done before release, "
                    f"tail decoded in {lat.tail_decode_ms:.0f} ms"
                    if lat.committed_s
                    else ""
                )
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
    app = App(settings, warnings=warnings)
    try:
        return app.run()
    except AlreadyRunning:
        send("show")
        _default_say("dictate is already running; brought it forward")
        return 0
