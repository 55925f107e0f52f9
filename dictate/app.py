"""The running app without a window: microphone, hotkey, control socket, engine and session,
wired together. The tray UI (dictate/ui) drives the same object; `dictate` starts it.

`App` is the composition root: it builds every part in `__init__`, starts them in `start()`,
and passes changed settings on to the parts' own methods (`Recorder.reconfigure`,
`Session.configure`); the decisions (what to keep, what to recover, when to retry) live in the
parts. Every command, from the hotkey, the control socket or the UI, runs on one command
thread, in order.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from types import EllipsisType
from typing import TYPE_CHECKING, Any

from dictate import config, health, memory, threads
from dictate.config import Settings
from dictate.dictation.session import Event, State
from dictate.errors import DictateError, EngineGone, ModelError

if TYPE_CHECKING:
    from dictate.control.claim import DictationClaim
    from dictate.control.hotkeys import HotkeyListener
    from dictate.control.portal import PortalShortcuts
    from dictate.engine.holder import EngineHolder, ModelStatus
    from dictate.engine.options import TranscribeOptions
    from dictate.engine.transcriber import EngineInfo
    from dictate.transcript import DictationResult

log = logging.getLogger(__name__)
Say = Callable[[str], None]
COMMANDS = ("start", "stop", "toggle", "cancel")
# While the model loads the microphone is kept open (its last half second in memory, nothing
# recorded), so a dictation started then keeps its first word: opening a stream while the
# model's imports hold the interpreter took long enough to lose "She" (issue 28). A download
# can take minutes: the microphone is let go after this long, whatever the model does.
LOADING_PREROLL_MAX_S = 60.0


def live_summary(lat: Any) -> str:
    """The live part of a dictation's latency line: what was done before release, and what the
    release waited for (a `session.Latency`; empty for a dictation without live steps)."""
    if not lat.committed_s and not lat.live_wait_ms and not lat.tail_decode_ms:
        return ""
    if lat.tail_audio_s:
        after = f"{lat.tail_audio_s:.1f} s decoded after release in {lat.tail_decode_ms:.0f} ms"
    else:
        after = "the last live step had heard the rest: nothing decoded after release"
    wait = f", {lat.live_wait_ms:.0f} ms waiting for the live step in progress"
    return f"; live: {lat.committed_s:.1f} s done before release, {after}" + (
        wait if lat.live_wait_ms >= 1 else ""
    )


def _default_say(message: str) -> None:
    from dictate import say

    say.say(message)


@dataclass(frozen=True)
class AppView:
    """What the UI shows of the app, read in one go (never written through)."""

    settings: Settings
    model: str  # the model in use, or the one that will be: the setting or the default
    default_model: str  # what "automatic" means on the chosen device
    info: EngineInfo | None  # the loaded model, once there is one
    status: ModelStatus | None  # the model's latest step (loading, ready, failed...)


def transcriber(
    holder: EngineHolder,
    options: Callable[[], TranscribeOptions],
    remote: Callable[[], Any] = lambda: None,
    claim: DictationClaim | None = None,
) -> Callable[[Any], DictationResult]:
    """The session's `transcribe`: the server engine when one is chosen (it falls back to this
    computer's model itself), else the holder's engine at the time, with the options then.
    While this computer's model transcribes, `claim` is held: a `dictate serve` on this machine
    pauses its work meanwhile (dictate.control.claim).

    The model may be switched (or unloaded) between `get()` and the transcription; the engine
    then answers ModelError, which becomes EngineGone, so the session tries the same audio
    again with the engine there is now. A ModelError from an engine still in place (English-only
    model asked for another language) is the user's to see, not retried."""

    def transcribe(audio: Any) -> DictationResult:
        server = remote()
        if server is not None:
            return server.transcribe(audio, options())
        # A dictation made while the model loads waits here; it was saved to disk already.
        engine = holder.get()
        threads.adopt()  # this thread decodes on the app's torch thread count
        try:
            with claim.held() if claim is not None else contextlib.nullcontext():
                return engine.transcribe(audio, options())
        except ModelError as exc:
            if engine.loaded and holder.engine is engine:
                raise
            raise EngineGone(f"the model changed during the dictation ({exc})") from exc

    return transcribe


class App:
    """Owns every long-lived part; commands arrive from hotkeys, the socket or the UI."""

    def __init__(
        self, settings: Settings, *, say: Say = _default_say, warnings: list[str] | None = None
    ) -> None:
        from dictate.audio.capture import Recorder
        from dictate.audio.cues import Cues
        from dictate.audio.gate import SpeechGate
        from dictate.control.claim import DictationClaim
        from dictate.control.protocol import COMMANDS as CLIENT_COMMANDS
        from dictate.control.server import ControlServer
        from dictate.dictation.cleanup import CleanupRules
        from dictate.dictation.history import History
        from dictate.dictation.session import Session
        from dictate.dictation.spacing import Spacing
        from dictate.engine.holder import EngineHolder
        from dictate.engine.options import TranscribeOptions
        from dictate.files.queue import FileQueue
        from dictate.output.inserter import Inserter

        if problem := self._language_problem(settings):  # a settings.json edited by hand
            settings = replace(settings, language=None)
            warnings = [*(warnings or []), f"language: {problem}; English is used"]
        s = settings
        self._settings = settings
        # Writers (the UI's apply_settings, a model that finished loading) take turns here;
        # readers just read the reference, which is only ever replaced, never changed.
        self._settings_lock = threading.RLock()
        self.say = say
        self.warnings = list(warnings or [])  # shown by the UI (e.g. a corrupt settings file)
        self.listeners: list[Callable[[Event], None]] = []  # the UI subscribes here
        self.model_listeners: list[Callable[[Any], None]] = []  # ModelStatus, from the loader
        self.preview_listeners: list[Callable[[Any], None]] = []  # live text (dictation.live)
        self.last_preview: Any = None  # the dictation's live text so far, for status lines
        self._stop_cued: int | None = None  # the dictation whose "stop" cue was played
        self._quit = threading.Event()
        self._started = False
        self._model_deferred = False  # start(load_model=False) until load_model()
        self._announced: set[int] = set()  # file jobs whose end was said
        # Commands run one at a time, in order, off the socket and hotkey threads: stop() waits
        # for the end of speech (≤ tail_max_s) and must not hold up the caller.
        self._commands = ThreadPoolExecutor(1, thread_name_prefix="dictate-command")
        self.options = TranscribeOptions(language=s.language, prompt=s.prompt or None)

        self.server = ControlServer(self._handle, commands=(*CLIENT_COMMANDS, "show", "quit"))
        # Held while this computer's model transcribes a dictation: a `dictate serve` on this
        # machine waits meanwhile (the in-process PriorityLock's rule, across processes).
        self.claim = DictationClaim()
        self.history = History()
        # What needs the person (no microphone, no model, no hotkey): status, tooltip, icon.
        self.health = health.Health(on_change=self._health_changed)
        self.mic_watch: health.MicrophoneWatch | None = None
        self._mic_said: health.Problem | None = None
        self._preroll_timer: threading.Timer | None = None
        self._preroll_lock = threading.RLock()  # the first check and the model's readiness
        self._mic_checked = False
        self.gate = SpeechGate()
        self.recorder = Recorder(
            s.input_device,
            keep_open=s.keep_mic_open,
            max_s=s.max_record_s,
            on_chunk=lambda chunk: self.session.on_audio(chunk),
            gate=self.gate,
        )
        self.inserter = Inserter(s.insert_method)
        self.say(f"text insertion: {self.inserter.route()}")
        self.cues = Cues(lambda: self.settings.sounds)
        self.holder: EngineHolder = EngineHolder(
            self.gate,
            on_status=self._on_model_status,
            on_notice=lambda m: self.say(f"note: {m}"),
            idle_unload_s=s.unload_after_min * 60,
        )
        self.session = Session(
            recorder=self.recorder,
            transcribe=transcriber(
                self.holder, lambda: self.options, lambda: self.remote, self.claim
            ),
            inserter=self.inserter,
            history=self.history,
            on_event=self._on_event,
            rules=CleanupRules(replacements=s.replacements, remove_fillers=s.remove_fillers),
            focused_window=self._window,
            tail_max_s=s.tail_max_s,
            keep_audio=s.keep_audio,
            live=self._make_live,
            type_while_speaking=s.type_while_speaking,
            can_type=lambda: not getattr(self.hotkeys, "keys_held", False),
            # The last insertion per window, in the history database: spacing survives restarts.
            spacing=Spacing(self.history, s.start_space),
        )
        self.remote: Any = None  # dictate.remote.engine.RemoteEngine when a server is chosen
        self.files = FileQueue(self._file_engine, lambda: self.options)
        self.files.listeners.append(self._on_file_job)
        self.hotkeys: HotkeyListener | PortalShortcuts | None = None

    @property
    def settings(self) -> Settings:
        return self._settings

    def view(self) -> AppView:
        """The app as the UI shows it; one read, so its parts agree with each other."""
        from dictate.engine.device import default_model

        s, holder = self._settings, self.holder
        default = default_model(s.device).name
        return AppView(s, s.model or default, default, holder.info, holder.status)

    # ---- life cycle -------------------------------------------------------------------

    def start(self, *, load_model: bool = True) -> None:
        """Claim the control socket (one instance per user) and bring everything up. The tray
        app passes load_model=False and calls load_model() once its window shows: the model's
        imports would otherwise compete with building the window for the interpreter."""
        self.server.start()  # raises AlreadyRunning before the microphone or model is touched
        self._started = True
        if self.history.warning:
            self.say(self.history.warning)
        self._start_hotkeys()
        # Its first check opens the microphone (kept open while the model loads), off this
        # thread: a stream can take seconds to deliver, or never.
        self.mic_watch = health.MicrophoneWatch(
            self.health, self._check_microphone, busy=lambda: self.session.state is State.RECORDING
        ).start()
        self._model_deferred = not load_model
        if load_model:
            self._load_configured()
        self._prune_history()

    def load_model(self) -> None:
        """Start loading the model start() held back (once; later changes go by switch_model)."""
        if self._model_deferred:
            self._model_deferred = False
            self._load_configured()

    def _window(self) -> object | None:
        """The focused window (id and class: an id reused by another program is not it)."""
        from dictate.output.inserter import focused_window

        return focused_window(self.inserter.session)

    def _check_microphone(self) -> str | None:
        """The microphone watch's probe: None when it works, else why. The first check opens
        it and keeps it open (keep_mic_open, or while the model loads: the pre-roll)."""
        with self._preroll_lock:
            first, self._mic_checked = not self._mic_checked, True
            keep = self.settings.keep_mic_open
            preroll = first and not keep and self.holder.engine is None
            if not (first and (keep or preroll)):
                return self.recorder.probe()
            try:
                if preroll:
                    self.recorder.reconfigure(device=self.settings.input_device, keep_open=True)
                self.recorder.open()
            except DictateError as exc:
                if preroll:  # not kept open after the next dictation either
                    device = self.settings.input_device
                    with contextlib.suppress(DictateError):
                        self.recorder.reconfigure(device=device, keep_open=False)
                return str(exc)
            if preroll:
                self._preroll_timer = threading.Timer(LOADING_PREROLL_MAX_S, self._end_preroll)
                self._preroll_timer.daemon = True
                self._preroll_timer.start()
        if preroll and self.holder.engine is not None:
            self._end_preroll()  # the model was quicker than the microphone
        return None

    def _end_preroll(self) -> None:
        """The model is in (or failed, or took too long): the microphone as the settings say."""
        with self._preroll_lock:
            timer, self._preroll_timer = self._preroll_timer, None
            if timer is None:
                return
            timer.cancel()
            s = self.settings
            try:
                self.recorder.reconfigure(device=s.input_device, keep_open=s.keep_mic_open)
            except DictateError as exc:
                self.say(f"microphone: {exc}")

    def _health_changed(self) -> None:
        """A problem came or went: have the UI read the status again. The microphone's are
        said here (the model's and the hotkey's have their own lines where they fail)."""
        mic = self.health.get(health.MICROPHONE)
        if mic != self._mic_said:
            self.say(f"microphone: {mic.describe()}" if mic else "microphone: working again")
            self._mic_said = mic
        self._emit(Event(self.session.state, message="health"))

    def _start_hotkeys(self) -> None:
        from dictate.control.hotkeys import HotkeyListener
        from dictate.output.clipboard import session_kind

        s = self.settings
        if session_kind() == "wayland":  # no X listener reaches Wayland windows: the portal
            threading.Thread(
                target=self._start_portal, name="dictate-portal-start", daemon=True
            ).start()
            return
        try:
            self.hotkeys = HotkeyListener(
                s.hotkey,
                s.mode,
                # Through the one command thread, like the socket's and the UI's commands.
                on_start=lambda: self._command_and_wait("start"),
                on_stop=lambda: self._command_and_wait("stop"),
                on_cancel=lambda: self._command_and_wait("cancel"),
                cancel_key=s.cancel_key,
                is_recording=lambda: self.session.state is State.RECORDING,
            )
            self.hotkeys.start()
        except DictateError as exc:
            self.hotkeys = None
            self.say(f"global hotkey unavailable: {exc}")
            self.health.set(health.hotkey_problem(str(exc)))
        else:
            self.health.clear(health.HOTKEY)

    def _start_portal(self) -> None:
        """Global shortcuts from the desktop portal (off the start-up path: the desktop may
        ask the person first); without it, one message on how to bind `dictate toggle`."""
        from dictate.control.portal import TOGGLE_HINT, PortalShortcuts

        s = self.settings
        portal = PortalShortcuts(
            s.hotkey,
            s.mode,
            # Through the one command thread, like the X listener's, the socket's and the UI's.
            on_start=lambda: self.command("start"),
            on_stop=lambda: self.command("stop"),
            on_cancel=lambda: self.command("cancel"),
            cancel_key=s.cancel_key,
            is_recording=lambda: self.session.state is State.RECORDING,
            on_lost=self.say,
            on_bound=lambda _: self._portal_bound(portal),
        )
        self.hotkeys = portal
        try:
            portal.start()
        except DictateError as exc:
            if self.hotkeys is portal:
                self.hotkeys = None
            self.say(f"no global hotkey here ({exc}); {TOGGLE_HINT}")
            self.health.set(health.hotkey_problem(str(exc)))

    def _portal_bound(self, portal: PortalShortcuts) -> None:
        self.say(f"global shortcut: {portal.describe()}")
        self.health.clear(health.HOTKEY)

    def desktop_routes(self) -> dict[str, str]:
        """How the hotkey and text insertion work on this desktop, and why (for the settings)."""
        from dictate.control.portal import TOGGLE_HINT

        hotkeys = self.hotkeys
        if hotkeys is None:
            hotkey = f"none; {TOGGLE_HINT}"
        elif hasattr(hotkeys, "describe"):
            hotkey = hotkeys.describe()
        else:
            hotkey = f"X11 keyboard listener: {self.settings.hotkey} ({self.settings.mode})"
        return {"hotkey": hotkey, "insertion": self.inserter.route()}

    def _on_file_job(self, job: Any) -> None:
        """One line when a file ends, for the status bar and the terminal."""
        if job.status not in ("done", "failed") or job.id in self._announced:
            return
        self._announced.add(job.id)
        memory.give_back_soon()  # the file's windows and batches, freed but kept by the C heap
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
            self.health.clear(health.MODEL)
            self._end_preroll()
            # Only earlier runs' rows: a dictation made while the model loaded is this run's,
            # already queued, and typed as any other (History.unfinished leaves it out).
            recovered = self.session.recover()  # the session does this once
            if recovered:
                n = len(recovered)
                self.say(f"recovering {n} unfinished dictation(s) into the history")
            # What loading and warming up freed stays in the C heap otherwise (glibc keeps it).
            memory.give_back_soon(collect=True)
        elif status.stage == "failed":
            self._end_preroll()
            self.say(f"cannot load the model: {status.message}")
            if self.holder.engine is None:
                self.health.set(health.model_problem(status.message))
                self._emit(Event(State.ERROR, message=status.message))
        elif status.stage == "unloaded":
            self.say(status.message)
        for listener in list(self.model_listeners):
            try:
                listener(status)
            except Exception:
                log.exception("model status listener failed")

    # ---- what the UI changes -----------------------------------------------------------------

    def _load_configured(self) -> None:
        from dictate.engine.catalog import draft_model

        s = self.settings
        self.holder.load(s.model, s.device, draft_model(s.model, s.assistant))
        if self.remote is None:
            self.remote = self._connect_server(s)

    def _connect_server(self, s: Settings) -> Any:
        """The server engine when the person chose one; this computer's model stays loaded
        behind it as the fallback. None (with a line saying why) when it cannot be used."""
        if s.engine != "server":
            return None
        from dictate.remote.engine import connect

        try:
            return connect(s, self.gate, self._dictation_engine, lambda m: self.say(f"note: {m}"))
        except DictateError as exc:
            self.say(f"server engine: {exc}; using this computer's model")
            return None

    def set_server_key(self, url: str, key: str) -> None:
        """Keep the server's API key (keyring or a 0600 file, never settings.json)."""
        from dictate.remote.keys import KeyStore

        KeyStore().set(url, key)
        if self.remote is not None:
            self.remote.close()
            self.remote = self._connect_server(self.settings)

    def _make_live(self, on_commit: Callable[[str], None] | None) -> Any:
        """One dictation's live transcriber (dictation/live.py), or None when it is off (or a
        server transcribes: its text is the one that counts, at release)."""
        if not self.settings.live_transcription or self.remote is not None:
            return None
        from dictate.dictation.live import LiveTranscriber

        return LiveTranscriber(
            self._dictation_engine, self.options, on_preview=self._on_preview, on_commit=on_commit
        ).start()

    def _dictation_engine(self) -> Any:
        """This computer's engine, holding the dictation claim while it transcribes."""
        from dictate.control.claim import Claiming

        return Claiming(self.holder.get(), self.claim)

    def _on_preview(self, preview: Any) -> None:
        self.last_preview = preview
        for listener in list(self.preview_listeners):
            try:
                listener(preview)
            except Exception:
                log.exception("preview listener failed")

    def _file_engine(self) -> Any:
        remote = self.remote
        return remote if remote is not None else self.holder.get()

    def switch_model(
        self,
        model: str | None,
        device: str | None = None,
        assistant: str | EllipsisType | None = ...,
    ) -> None:
        """Load another model (or device, or draft model) in the background; the current one
        serves meanwhile.

        The choice is saved once the new model is ready; a failure keeps the old one and says why.
        """
        from dictate.engine.catalog import draft_model

        device = device or self.settings.device
        if assistant is ...:
            assistant = self.settings.assistant
        self._model_deferred = False  # this load replaces the one start() held back
        future = self.holder.load(model, device, draft_model(model, assistant))

        def loaded(f: Future[Any]) -> None:  # on the loader thread: hand it to the command one
            if f.cancelled() or f.exception() is not None or f.result() is None:
                return
            with contextlib.suppress(RuntimeError):  # shutting down: the setting stays as is
                self._commands.submit(self._model_loaded, model, device, assistant)

        future.add_done_callback(loaded)

    def _model_loaded(self, model: str | None, device: str, assistant: str | None) -> None:
        with self._settings_lock:
            self._settings = replace(
                self._settings, model=model, device=device, assistant=assistant
            )
            if problem := self._language_problem(self._settings):  # e.g. tray ▸ Model ▸ tiny.en
                self._settings = replace(self._settings, language=None)
                self.options = replace(self.options, language=None)
                self.say(f"language: {problem}; it is set to English")
            self._save()

    def apply_settings(self, new: Settings) -> list[str]:
        """Save `new` and apply what changed to the running parts; returns warnings to show."""
        from dictate.dictation.cleanup import CleanupRules
        from dictate.engine.options import TranscribeOptions

        new, problems = new.validated()
        if problem := self._language_problem(new):  # refused here, not at the next dictation
            problems.append(f"language: {problem}; it is set to English")
            new = replace(new, language=None)
        with self._settings_lock:
            old = self._settings
            # The model is saved once it has loaded (_model_loaded), not now.
            self._settings = replace(
                new, model=old.model, device=old.device, assistant=old.assistant
            )
            self._save()
        if (new.hotkey, new.mode, new.cancel_key) != (old.hotkey, old.mode, old.cancel_key):
            if self.hotkeys is not None:
                self.hotkeys.stop()
            self._start_hotkeys()
        self.inserter.method = new.insert_method
        self.session.spacing.mode = new.start_space
        try:
            self.recorder.reconfigure(
                device=new.input_device, keep_open=new.keep_mic_open, max_s=new.max_record_s
            )
        except DictateError as exc:
            problems.append(f"microphone: {exc}")
        if new.input_device != old.input_device and self.mic_watch is not None:
            self.mic_watch.kick()  # the chosen microphone may work where the old one did not
        self.session.configure(
            rules=CleanupRules(replacements=new.replacements, remove_fillers=new.remove_fillers),
            tail_max_s=new.tail_max_s,
            keep_audio=new.keep_audio,
        )
        self.session.type_while_speaking = new.type_while_speaking
        self.options = TranscribeOptions(language=new.language, prompt=new.prompt or None)
        self.holder.idle_unload_s = new.unload_after_min * 60
        if new.launch_at_login != old.launch_at_login:
            problems += self._set_autostart(new.launch_at_login)
        if new.history_days != old.history_days:
            self._prune_history()
        if (new.model, new.device, new.assistant) != (old.model, old.device, old.assistant):
            self.switch_model(new.model, new.device, new.assistant)
        server = ("engine", "server_url", "server_model", "server_insecure", "server_ca_file")
        if any(getattr(new, k) != getattr(old, k) for k in server):
            if self.remote is not None:
                self.remote.close()
            self.remote = self._connect_server(new)
        return problems

    @staticmethod
    def _language_problem(s: Settings) -> str | None:
        from dictate.engine.device import default_model
        from dictate.engine.languages import language_problem

        if s.engine == "server":
            return None  # the server's model decides (and says so)
        return language_problem(s.model, s.language, default_model(s.device).name)

    def pause_hotkeys(self, paused: bool) -> None:
        """Let go of the global hotkey while the settings dialog captures a new one."""
        if getattr(self.hotkeys, "grabs_keyboard", True) is False:
            return  # the portal's desktop binds the keys; a new session could ask the person
        if paused and self.hotkeys is not None:
            self.hotkeys.stop()
            self.hotkeys = None
        elif not paused and self.hotkeys is None:
            self._start_hotkeys()

    def update_settings(self, **changes: Any) -> list[str]:
        """Change some settings, keeping the rest as they are *now*: read, change and apply in
        one turn, so a model that finishes loading meanwhile is neither lost nor undone."""
        with self._settings_lock:
            return self.apply_settings(replace(self._settings, **changes))

    def set_mode(self, mode: str) -> list[str]:
        return self.update_settings(mode=mode)

    def set_assistant(self, assistant: str | None) -> list[str]:
        """Speculative decoding on (a draft model's name) or off (None)."""
        return self.apply_settings(replace(self.settings, assistant=assistant))

    def set_language(self, language: str | None) -> list[str]:
        return self.update_settings(language=language)

    def insert_text(self, text: str, delay_s: float = 0.3) -> None:
        """Insert `text` again (history); waits `delay_s` so focus returns from the menu first."""

        def insert() -> None:
            self._quit.wait(delay_s)
            result = self.inserter.insert(text)
            if not result.ok:
                # The inserter's error says where the text is (the clipboard, or why not).
                self.say(f"could not insert the text: {result.error}")

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
        """Stop everything; also right after __init__ (a second instance found the first)."""
        self.files.shutdown()
        if self._preroll_timer is not None:
            self._preroll_timer.cancel()
        if self.mic_watch is not None:
            self.mic_watch.stop()
        if self.hotkeys is not None:
            self.hotkeys.stop()
        self._commands.shutdown(wait=True, cancel_futures=True)  # no command runs after this
        if self.session.state is State.RECORDING:
            self.session.cancel()  # a half-spoken sentence is not typed on the way out
        self.session.shutdown()
        self.inserter.flush()  # put the user's clipboard back before leaving
        self.recorder.close()
        self.holder.shutdown()
        if self.remote is not None:
            self.remote.close()
        self.cues.close()
        self.server.stop()
        self.history.close()

    # ---- commands and events -------------------------------------------------------------

    def command(self, name: str) -> Future[Any]:
        """Run start/stop/toggle/cancel on the command thread, after those before it."""
        if name not in COMMANDS:
            raise ValueError(f"not a dictation command: {name!r}")
        return self._commands.submit(getattr(self.session, name))

    def _command_and_wait(self, name: str) -> None:
        """For the hotkey: its next decision reads the state this command leaves (a release
        right after a press must find the recording started), so it waits for it."""
        with contextlib.suppress(CancelledError, RuntimeError):  # shutting down
            self.command(name).result()

    def status(self) -> tuple[str, str]:
        """(state word, detail) for `dictate status` and the tooltip. What needs the person
        comes first: "no microphone: why; where to fix it" rather than "ready"."""
        word, detail = self._state()
        problems = self.health.problems()
        mic = self.health.get(health.MICROPHONE)
        if mic is not None and word in ("ready", "loading model"):
            loading = "; the model is loading" if word == "loading model" else ""
            word, detail = mic.summary, f"{mic.reason}; {mic.fix}{loading}"
        elif word == "error" and (model := self.health.get(health.MODEL)) is not None:
            detail = f"{model.summary}: {model.reason}; {model.fix}"
        extra = [p.describe() for p in problems if p.part == health.HOTKEY]
        return word, "; ".join(x for x in (detail, *extra) if x)

    def _state(self) -> tuple[str, str]:
        holder = self.holder
        if not self._started:
            return "loading model", "starting"
        state = self.session.state
        if holder.engine is None:
            if holder.loading or self._model_deferred or holder.error is None:
                # A dictation made meanwhile is recorded now and typed once the model is in.
                if state is State.RECORDING:
                    return "recording", "will type when the model is ready"
                if state is not State.IDLE:
                    return "loading model", "will type your dictation when the model is ready"
                return "loading model", ""
            return "error", holder.error or "no model is loaded"
        word = "ready" if state is State.IDLE else state.value
        info = holder.info
        detail = f"{info.model} on {info.device}" if info else ""
        if not holder.engine.loaded:
            detail += " (unloaded while idle)"
        if holder.loading and holder.status is not None and holder.status.busy:
            detail += f"; {holder.status.stage} {holder.status.model}"
        if self.remote is not None:
            detail += f"; server {self.remote.client.host} first"
        if self.session.queued:
            detail += f", {self.session.queued} queued"
        preview = self.last_preview
        if state in (State.RECORDING, State.TRANSCRIBING) and preview is not None:
            words = f"{preview.committed} {preview.tentative}".split()
            if words:  # the last words heard (the tooltip and `dictate status` show them)
                detail += f"; heard “{'… ' if len(words) > 8 else ''}{' '.join(words[-8:])}”"
        return word, detail

    def _handle(self, cmd: str, args: dict) -> dict:
        if cmd in COMMANDS:
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
            self.health.clear(health.MICROPHONE)  # it opened and delivers audio
            self.last_preview = None
            self.cues.play("start")
            self.holder.ensure_loaded()  # after an idle unload, load while the person speaks
        elif event.state is State.TRANSCRIBING and event.dictation_id != self._stop_cued:
            # Once per dictation: queued (stop) and taken by the worker both say TRANSCRIBING.
            self._stop_cued = event.dictation_id
            self.cues.play("stop")
        elif event.state is State.ERROR:
            self.cues.play("error")
            if "microphone" in event.message and self.mic_watch is not None:
                self.mic_watch.kick()  # one that could not be opened, or was lost: check it
        if event.state in (State.IDLE, State.ERROR) and self.session.state is not State.RECORDING:
            memory.give_back_soon()  # a transcription's buffers, freed but kept by the C heap
        if event.state is State.ERROR and event.message:
            self.say(event.message)
        elif event.message == "no speech":
            self.say("no speech heard; nothing inserted")
        elif event.state is State.IDLE and event.latency and event.text:
            lat = event.latency
            where = ""
            if lat.engine.startswith("server"):
                where = f", {lat.engine} {lat.remote_ms:.0f}"
            elif lat.engine:  # the server failed and this computer's model stood in
                where = f", {lat.engine} after {lat.remote_ms:.0f} trying the server"
            self.say(
                f"inserted {len(event.text)} characters, {lat.release_to_text_ms:.0f} ms after "
                f"release (tail {lat.tail_ms:.0f}, encoder {lat.encoder_ms:.0f}, decoding "
                f"{lat.decoding_ms:.0f}{where}, insert {lat.insert_ms:.0f})" + live_summary(lat)
            )
        if event.gaps and event.message and event.state is not State.ERROR:
            self.say(event.message)  # text went in, but part of the speech gave none
        self._emit(event)

    def _emit(self, event: Event) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")


def run(settings: Settings, warnings: list[str]) -> int:
    """`dictate`: run the app, or bring the running one forward."""
    from dictate import crash, say
    from dictate.control.ipc import send
    from dictate.control.protocol import AlreadyRunning

    crash.enable()  # a segfault or abort leaves a Python trace in crash.log
    say.keep()  # before any thread: lines said while a library mutes fd 2 still come out
    for warning in warnings:
        _default_say(warning)
    app = App(settings, warnings=warnings)
    try:
        code = app.run()
    except AlreadyRunning:
        app.shutdown()
        send("show")
        _default_say("dictate is already running; brought it forward")
        return 0
    crash.leave(code)  # no interpreter finalisation beside running threads (crash.py)
