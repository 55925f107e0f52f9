"""Plain result types shared by the engine, the CLI, exporters and the UI (no torch here)."""

from __future__ import annotations

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
    remote_ms: float = 0.0  # the round trip to a transcription server (dictate.remote)
    engine: str = ""  # who transcribed, when not this computer's model as usual

    @property
    def total_ms(self) -> float:
        return self.gate_ms + self.features_ms + self.encoder_ms + self.decoding_ms + self.remote_ms


@dataclass
class DictationResult:
    """The text of one dictation-length clip, and how it was obtained."""

    text: str
    timings: Timings = field(default_factory=Timings)
    speech_s: float = 0.0  # seconds of speech the gate found; 0 means "no speech"
    tokens: list[int] = field(default_factory=list)

    @property
    def no_speech(self) -> bool:
        return self.speech_s == 0.0
