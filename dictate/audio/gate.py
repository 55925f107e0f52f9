"""The speech gate: Silero VAD decides whether a clip holds speech before Whisper sees it.

Whisper, given silence or noise, invents "Thank you." or "you"; asking a VAD first costs a few
milliseconds per second of audio and makes silence type nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class GateSettings:
    threshold: float = 0.5  # Silero's speech probability threshold
    min_speech_ms: int = 250  # shorter bursts (clicks, breaths) are not speech
    min_silence_ms: int = 100
    pad_ms: int = 30


def _import_silero():  # -> the silero_vad module
    # silero_vad calls torch.set_num_threads(1) when imported, which would slow Whisper down
    # for the whole process; keep the caller's setting.
    threads = torch.get_num_threads()
    try:
        import silero_vad
    finally:
        torch.set_num_threads(threads)
    return silero_vad


class SpeechGate:
    """Thread-safe speech detector; the model is loaded on first use (~20 ms)."""

    def __init__(self, settings: GateSettings | None = None) -> None:
        self.settings = settings or GateSettings()
        self._model: torch.jit.ScriptModule | None = None
        self._lock = threading.Lock()

    def regions(
        self, audio: np.ndarray, max_region_s: float = float("inf")
    ) -> list[tuple[float, float]]:
        """Speech regions as (start, end) seconds; regions longer than `max_region_s` are split
        at the longest pause inside them (or hard, if there is none)."""
        if audio.size < 512:  # one Silero window: nothing can be told from less
            return []
        silero = _import_silero()
        s = self.settings
        with self._lock:
            if self._model is None:
                self._model = silero.load_silero_vad(onnx=False)
            with torch.inference_mode():
                stamps = silero.get_speech_timestamps(
                    torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)),
                    self._model,
                    threshold=s.threshold,
                    sampling_rate=SAMPLE_RATE,
                    min_speech_duration_ms=s.min_speech_ms,
                    min_silence_duration_ms=s.min_silence_ms,
                    speech_pad_ms=s.pad_ms,
                    max_speech_duration_s=max_region_s,
                )
        return [(t["start"] / SAMPLE_RATE, t["end"] / SAMPLE_RATE) for t in stamps]

    def speech_seconds(self, audio: np.ndarray) -> float:
        """Total seconds of speech in `audio` (0.0 for silence and noise)."""
        return sum(end - start for start, end in self.regions(audio))
