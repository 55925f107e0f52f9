"""The speech gate: Silero VAD decides whether a clip holds speech before Whisper sees it.

Whisper, given silence or noise, invents "Thank you." or "you"; asking a VAD first costs a few
milliseconds per second of audio and makes silence type nothing.

Silero runs through ONNX Runtime when it is installed: its "sequence" model computes the same
per-frame probabilities as the streaming model in one call per 16 s block, on one thread, so
the gate neither holds the GIL per 32 ms frame nor competes with Whisper's threads (the
TorchScript model took ~20 ms per second of audio here, and far more under CPU contention).
Without onnxruntime (or with a silero-vad too old for it) the TorchScript model is used.
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from dictate.choices import SAMPLE_RATE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateSettings:
    threshold: float = 0.5  # Silero's speech probability threshold
    min_speech_ms: int = 250  # shorter bursts (clicks, breaths) are not speech
    min_silence_ms: int = 100
    pad_ms: int = 30


def _import_silero():  # -> the silero_vad module
    # silero_vad imports torch and calls torch.set_num_threads(1) when imported, which would
    # slow Whisper down for the whole process; keep the count dictate.threads owns.
    import torch  # noqa: F401  (loaded first, so kept() has a count to keep)

    from dictate import threads

    with threads.kept():
        import silero_vad
    return silero_vad


def _load_sequence(silero: Any) -> Any | None:
    """Silero's ONNX sequence model on one thread, or None if it cannot be had here."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():  # silero-vad's own use of importlib.resources.path
            warnings.simplefilter("ignore", DeprecationWarning)
            return silero.load_silero_vad(sequence=True)
    except (TypeError, ImportError, FileNotFoundError, OSError, RuntimeError) as exc:
        # TypeError: silero-vad < 6.2 has no `sequence` argument.
        log.info("Silero's ONNX sequence model is unavailable (%s): using TorchScript", exc)
        return None


class SpeechGate:
    """Thread-safe speech detector; the model is loaded on first use (~20 ms).

    `backend`: "auto" (ONNX if available, else TorchScript), "onnx" or "torch".
    """

    def __init__(self, settings: GateSettings | None = None, backend: str = "auto") -> None:
        if backend not in ("auto", "onnx", "torch"):
            raise ValueError(f"unknown speech gate backend {backend!r}")
        self.settings = settings or GateSettings()
        self.requested_backend = backend
        self.backend: str | None = None  # "onnx" or "torch" once loaded
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> str:
        """Load the model now (the first `regions()` call does it otherwise); its backend."""
        with self._lock:
            return self._load()

    def _load(self) -> str:
        if self._model is not None and self.backend is not None:
            return self.backend
        silero = _import_silero()
        if self.requested_backend in ("auto", "onnx"):
            self._model = _load_sequence(silero)
            if self._model is not None:
                self.backend = "onnx"
                return self.backend
            if self.requested_backend == "onnx":
                raise RuntimeError("Silero's ONNX model needs onnxruntime and silero-vad ≥ 6.2")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._model = silero.load_silero_vad(onnx=False)
        self.backend = "torch"
        return self.backend

    def regions(
        self, audio: np.ndarray, max_region_s: float = float("inf")
    ) -> list[tuple[float, float]]:
        """Speech regions as (start, end) seconds; regions longer than `max_region_s` are split
        at the longest pause inside them (or hard, if there is none)."""
        if audio.size < 512:  # one Silero window: nothing can be told from less
            return []
        silero = _import_silero()
        s = self.settings
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        options = dict(
            threshold=s.threshold,
            sampling_rate=SAMPLE_RATE,
            min_speech_duration_ms=s.min_speech_ms,
            min_silence_duration_ms=s.min_silence_ms,
            speech_pad_ms=s.pad_ms,
            max_speech_duration_s=max_region_s,
        )
        with self._lock:
            backend = self._load()
            model = self._model
            if backend == "torch":  # the streaming TorchScript model keeps state: one at a time
                import torch

                with torch.inference_mode():
                    stamps = silero.get_speech_timestamps(torch.from_numpy(audio), model, **options)
        if backend == "onnx":  # stateless per call (the state is passed in): no lock needed
            stamps = silero.get_speech_timestamps_sequence(audio, model, **options)
        return [(t["start"] / SAMPLE_RATE, t["end"] / SAMPLE_RATE) for t in stamps]

    def speech_seconds(self, audio: np.ndarray) -> float:
        """Total seconds of speech in `audio` (0.0 for silence and noise)."""
        return sum(end - start for start, end in self.regions(audio))
