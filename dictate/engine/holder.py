"""The app's one loaded model: switching to another without a gap, and freeing it when idle.

A switch loads the new model beside the old one, which keeps serving dictations until the new
one is warm; then the old one's memory (RAM and VRAM) is given back. If the new model cannot be
loaded the old one simply stays. With `idle_unload_s` set, an unused model is unloaded and comes
back on the next dictation (its loading starts on key press, while the person speaks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dictate.audio.gate import SpeechGate
from dictate.engine import loading
from dictate.errors import DictateError

if TYPE_CHECKING:  # torch and transformers load on the loader thread, not with this module:
    from dictate.engine.transcriber import Engine, EngineInfo  # the tray shows at once

log = logging.getLogger(__name__)


def _real_engine(*args: Any, **kwargs: Any) -> Engine:
    from dictate.engine.transcriber import Engine

    return Engine(*args, **kwargs)


_STAGES = {"download": "downloading", "convert": "converting", "load": "loading"}
_STAGES["warmup"] = "warming up"


@dataclass(frozen=True)
class ModelStatus:
    """One step of getting a model ready (or losing it), for the tooltip and progress window."""

    stage: str  # downloading | converting | loading | warming up | ready | failed | unloaded
    model: str  # what was asked for, as the user would name it
    device: str
    done: int = 0  # bytes, while downloading
    total: int | None = None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None

    @property
    def busy(self) -> bool:
        return self.stage not in ("ready", "failed", "unloaded")


def model_label(model: str | None) -> str:
    return model or "the default model"


def _device_shown(device: str) -> str:
    """The device the user will see named: the kind "auto" stands for here (imports torch: call
    it on the loader thread)."""
    if (device or "auto") != "auto":
        return device
    try:
        from dictate.engine.device import auto_kind

        return auto_kind()
    except Exception:  # no torch yet: the load itself reports that
        return "auto"


class EngineHolder:
    """Holds the current `Engine`; loads, swaps and unloads it on its own thread."""

    def __init__(
        self,
        gate: SpeechGate,
        *,
        on_status: Callable[[ModelStatus], None],
        on_notice: Callable[[str], None],
        idle_unload_s: float = 0.0,
        engine_factory: Callable[..., Engine] | None = None,
    ) -> None:
        self.gate = gate
        self._on_status = on_status
        self._on_notice = on_notice
        self._factory = engine_factory or _real_engine
        self.idle_unload_s = idle_unload_s
        self.engine: Engine | None = None
        self.info: EngineInfo | None = None
        self.error: str | None = None  # why there is no engine, when there is none
        self.status: ModelStatus | None = None
        self._cond = threading.Condition()
        self._pending = 0  # loads queued or running
        self._last_use = time.monotonic()
        self._loader = ThreadPoolExecutor(1, thread_name_prefix="dictate-load")
        self._stop = threading.Event()
        threading.Thread(target=self._idle_loop, name="dictate-idle", daemon=True).start()

    # ---- requests ------------------------------------------------------------------------

    def load(
        self, model: str | None, device: str = "auto", assistant: str | None = None
    ) -> Future[EngineInfo | None]:
        """Queue a (re)load of `model` on `device` (with a draft model for speculative decoding,
        if `assistant`); the current engine serves until it is ready."""
        with self._cond:
            self._pending += 1
        return self._loader.submit(self._switch, model, device, assistant)

    @property
    def loading(self) -> bool:
        with self._cond:
            return self._pending > 0

    def get(self, timeout: float | None = None) -> Engine:
        """The engine to transcribe with: waits for a first load, reloads after an idle unload."""
        with self._cond:
            if not self._cond.wait_for(
                lambda: self.engine is not None or (self._pending == 0 and self.error), timeout
            ):
                raise DictateError("the model is still loading")
            engine = self.engine
            if engine is None:
                raise DictateError(self.error or "no model is loaded")
            self._last_use = time.monotonic()
        if not engine.loaded:
            self.ensure_loaded().result()
            if not engine.loaded:
                raise DictateError(self.error or "the model could not be loaded again")
        return engine

    def ensure_loaded(self) -> Future[None]:
        """Bring an idle-unloaded model back (call it when a recording starts)."""
        self._last_use = time.monotonic()
        return self._loader.submit(self._reload)

    def touch(self) -> None:
        self._last_use = time.monotonic()

    def shutdown(self) -> None:
        self._stop.set()
        self._loader.shutdown(wait=False, cancel_futures=True)

    # ---- loader thread -------------------------------------------------------------------

    def _status(self, status: ModelStatus) -> None:
        self.status = status
        try:
            self._on_status(status)
        except Exception:
            log.exception("model status listener failed")

    def _switch(
        self, model: str | None, device: str, assistant: str | None = None
    ) -> EngineInfo | None:
        label = model_label(model)
        try:
            shown = _device_shown(device)  # the window names the device "auto" picks
            self._status(ModelStatus("loading", label, shown, message=f"loading {label}"))

            def progress(p: loading.Progress) -> None:
                stage = _STAGES.get(p.stage, p.stage)
                self._status(ModelStatus(stage, label, shown, p.done, p.total, p.message))

            drafts = {"assistant": assistant} if assistant else {}
            new = self._factory(
                model,
                device=device,
                gate=self.gate,
                on_notice=self._on_notice,
                progress=progress,
                **drafts,
            )
            try:
                info = new.load()
                new.warmup()
            except DictateError as exc:
                new.unload()
                self._failed(label, shown, str(exc))
                return None
            except Exception as exc:  # a loader bug must still be reported, never swallowed
                log.exception("loading %s failed", label)
                new.unload()
                self._failed(label, shown, f"{label}: cannot load ({exc})")
                return None
            with self._cond:
                old, self.engine, self.info, self.error = self.engine, new, info, None
                self._last_use = time.monotonic()
            if old is not None:
                old.unload()  # gives RAM and VRAM back
            done = f"{info.model} on {info.device}"
            self._status(ModelStatus("ready", info.model, info.device, message=done))
            return info
        finally:
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()

    def _failed(self, label: str, device: str, reason: str) -> None:
        with self._cond:
            if self.engine is None:
                self.error = reason
        keep = f"; still using {self.info.model}" if self.info else ""
        self._status(ModelStatus("failed", label, device, message=f"{reason}{keep}"))
        return None

    def _reload(self) -> None:
        engine = self.engine
        if engine is None or engine.loaded:
            return
        label = self.info.model if self.info else "the model"
        device = self.info.device if self.info else engine.requested_device
        self._status(ModelStatus("loading", label, device, message=f"loading {label} again"))
        try:
            engine.load()
        except DictateError as exc:
            self.error = str(exc)
            self._status(ModelStatus("failed", label, device, message=str(exc)))
            return
        self._last_use = time.monotonic()
        self._status(ModelStatus("ready", label, device, message=f"{label} on {device}"))

    def _unload_if_idle(self) -> bool:
        engine = self.engine
        if engine is None:
            return False
        # A long file touches the engine every window: it is in use, not idle.
        idle = time.monotonic() - max(self._last_use, engine.last_used)
        if not self.idle_unload_s or not engine.loaded or self.loading:
            return False
        if idle < self.idle_unload_s:
            return False
        engine.unload()
        label = self.info.model if self.info else "the model"
        device = self.info.device if self.info else ""
        minutes = self.idle_unload_s / 60
        self._status(
            ModelStatus(
                "unloaded",
                label,
                device,
                message=f"{label} unloaded after {minutes:g} idle minutes; it loads on next use",
            )
        )
        return True

    def _idle_loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self._loader.submit(self._unload_if_idle)
            except RuntimeError:  # executor shut down
                return
