"""How to transcribe: the knobs callers may turn (plain data, no torch)."""

from __future__ import annotations

from dataclasses import dataclass

FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class TranscribeOptions:
    """Decoding options. The defaults are greedy, English-forced for .en models, no fallback."""

    language: str | None = None  # None: English for .en models, detected for multilingual ones
    prompt: str | None = None  # vocabulary hint ("ComfyUI, Kubernetes"), sent as prompt_ids
    beam_size: int = 1
    # Temperature fallback (as in openai/whisper): retry hotter when the output looks broken.
    temperatures: tuple[float, ...] = (0.0,)
    compression_ratio_threshold: float | None = 2.4
    logprob_threshold: float | None = -1.0
    use_gate: bool = True  # run the speech gate first; silence then gives ""

    def with_fallback(self) -> TranscribeOptions:
        from dataclasses import replace

        return replace(self, temperatures=FALLBACK_TEMPERATURES)
