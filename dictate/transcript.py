"""Plain result types shared by the engine, the CLI, exporters and the UI (no torch here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Segment:
    """A piece of transcribed speech, with times in seconds from the start of the audio."""

    start: float
    end: float
    text: str


@dataclass
class Timings:
    """Milliseconds spent in each stage of one transcription."""

    gate_ms: float = 0.0
    features_ms: float = 0.0
    encoder_ms: float = 0.0
    decoding_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.gate_ms + self.features_ms + self.encoder_ms + self.decoding_ms


@dataclass
class DictationResult:
    """The text of one dictation-length clip, and how it was obtained."""

    text: str
    timings: Timings = field(default_factory=Timings)
    speech_s: float = 0.0  # seconds of speech the gate found; 0 means "no speech"
    tokens: list[int] = field(default_factory=list)
    # Speech (seconds from the start) that gave no text after every retry (long dictations).
    gaps: list[tuple[float, float]] = field(default_factory=list)

    @property
    def no_speech(self) -> bool:
        return self.speech_s == 0.0


def describe_gaps(gaps: Sequence[tuple[float, float]]) -> str:
    """ "0:12–0:19, 1:02–1:05": where speech gave no text (m:ss from the start)."""

    def clock(t: float) -> str:
        return f"{int(t) // 60}:{int(t) % 60:02d}"

    return ", ".join(f"{clock(a)}–{clock(b)}" for a, b in gaps)
