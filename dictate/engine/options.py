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
    # Speed levers for plain greedy dictation; each gives the same words (see benchmarks/), and
    # turning one off is for measuring it or ruling it out.
    lean_decoding: bool = True  # greedy loop without generate() (same tokens)
    int8_screen: bool = True  # CPU: find the arg-max token through an int8 screen (same tokens)
    # CPU, plain greedy dictation: int8 copies (dynamic quantisation) of the encoder's and the
    # decoder's layers. Not the same tokens as fp32, but the same word error rate within a word
    # or two over 43 clips, and ~1.5× faster (benchmarks/README.md).
    int8_encoder: bool = True
    int8_decoder: bool = True
    short_window: bool = True  # encoder window of clip + margin (≥ 15 s) instead of 30 s
    # Files: how many ≤30 s windows the lean decoder decodes together (greedy with timestamp
    # tokens; the same tokens as generate()); one pass over the decoder's weights per token
    # serves them all. Progress moves once per batch. 1: one window at a time.
    file_batch: int = 4
    # Long-form defences (benchmarks/README.md measures each): re-decode speech that a window's
    # text skipped (never off in the app: it is what keeps every sentence), drop segments with
    # more words than their speech could hold, and condition each window on the text before it
    # (faster-whisper's default; off here: it costs the batching and measured no better).
    redecode: bool = True
    drop_unspeakable: bool = True
    condition_on_previous: bool = False
    # The prompt is the text spoken just before this clip (live dictation), not vocabulary: the
    # short window and int8 layers stay on (they weaken a vocabulary prompt's spellings, which
    # this one has none of; live decodes cost 3-5× more without them here).
    prompt_is_context: bool = False
    # A clip of ≤ 30 s decoded as the file path decodes it (timestamps, and every check of
    # `longform.settle`: skipped speech, hidden phrases, the rate and the words' times) instead
    # of the short path's single decode and rate check. Live dictation's committed chunks use
    # it: the short path dropped a whole sentence before a 0.4 s pause (random joins, seed 0).
    checked: bool = False

    def with_fallback(self) -> TranscribeOptions:
        from dataclasses import replace

        return replace(self, temperatures=FALLBACK_TEMPERATURES)
