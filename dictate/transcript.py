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


@dataclass(frozen=True)
class Route:
    """How the engine decoded a clip: shown beside the stage times, so a latency breakdown
    (and a test) says which path a model took."""

    decoder: str  # "lean" (dictate's greedy loop) or "generate" (transformers' generate())
    window_s: float  # the encoder window: 30 s, or a shorter one for a short clip on the CPU
    redone_from_s: float | None = None  # a shorter window tried first, whose result looked broken
    int8: bool = False  # int8 copies of the encoder's / decoder's layers served this clip
    assistant: bool = False  # speculative decoding: a draft model proposed the tokens
    language: str | None = None  # the language the decoder was told; None: it detected one
    mel_bins: int = 80  # the features' mel bins (128 for the large-v3 family)
    batch: int = 1  # windows decoded together (files)

    def describe(self) -> str:
        """ "lean, 15 s window, int8, en, 80 mel" (for logs and the latency breakdown)."""
        parts = [self.decoder, f"{self.window_s:g} s window"]
        parts += [f"redone from {self.redone_from_s:g} s"] if self.redone_from_s else []
        parts += ["int8"] if self.int8 else []
        parts += ["assistant"] if self.assistant else []
        parts += [self.language or "language detected", f"{self.mel_bins} mel"]
        parts += [f"{self.batch} windows together"] if self.batch > 1 else []
        return ", ".join(parts)


@dataclass
class Timings:
    """Milliseconds spent in each stage of one transcription, and the route it took."""

    gate_ms: float = 0.0
    features_ms: float = 0.0
    encoder_ms: float = 0.0
    decoding_ms: float = 0.0
    route: Route | None = None  # None: the model never ran (silence, or not yet)
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
