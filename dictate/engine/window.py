"""A shorter encoder window for short clips, with the guards that keep it safe.

Whisper pads every clip to 30 s: for a 5 s dictation ~85 % of the encoder's work is silence.
The encoder has a fixed table of 1500 positions (20 ms each), but nothing else in it depends on
the length, so the first 2·N mel frames with the first N positions give a shorter window. The
model was trained on 30 s windows only, so short windows change what the decoder does: measured
on tiny.en, 15 s kept every word, 10 s lost words and 6 s made the decoder repeat the sentence
until the token limit. Hence the guards:

- a floor (`MIN_WINDOW_S`) and a margin of padding after the clip (`MARGIN_S`);
- `looks_broken()` on the result (repetition, gzip compression ratio, too many tokens for the
  time spoken, nothing at all from audio with speech): the caller then runs the full window.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

SAMPLE_RATE = 16000
FULL_WINDOW_S = 30.0
MIN_WINDOW_S = 15.0  # measured: shorter windows cost words on real speech (see benchmarks/)
MARGIN_S = 2.0  # silence after the clip, so the model sees the speech end as in training
STEP_S = 1.0  # round windows up to whole seconds: fewer distinct shapes
FRAMES_PER_S = 100  # mel frames; the encoder halves them (conv stride 2) into positions
# A dictation holds at most ~6 tokens per second of speech; far more means a decoder loop.
MAX_TOKENS_PER_S = 10.0
COMPRESSION_RATIO_LIMIT = 2.4  # openai/whisper's threshold for "this text repeats itself"


def window_seconds(clip_s: float, floor_s: float | None = None) -> float:
    """The encoder window for a clip: clip + margin, rounded up, at least `floor_s` (default
    `MIN_WINDOW_S`), at most 30 s."""
    floor_s = MIN_WINDOW_S if floor_s is None else floor_s
    wanted = math.ceil((clip_s + MARGIN_S) / STEP_S) * STEP_S
    return float(min(FULL_WINDOW_S, max(floor_s, wanted)))


def features(extractor, audio: np.ndarray, window_s: float) -> torch.Tensor:
    """Log-mel features of `audio` padded (or cut) to `window_s`: [1, n_mels, 100·window_s]."""
    samples = round(window_s * SAMPLE_RATE)
    return extractor(
        audio,
        sampling_rate=SAMPLE_RATE,
        return_tensors="pt",
        padding="max_length",
        max_length=samples,
        truncation=True,
    ).input_features


def encode(encoder: Any, feats: torch.Tensor) -> torch.Tensor:
    """The encoder over a window of any length ≤ 30 s: WhisperEncoder.forward with the position
    table sliced to the window (the model itself is not changed, so other threads can use it).
    `encoder` is a WhisperEncoder or anything with its parts (`int8.Int8Encoder`)."""
    frames = feats.shape[-1]
    positions = frames // 2
    if frames % 2 or positions > encoder.embed_positions.num_embeddings:
        raise ValueError(f"{frames} mel frames do not make an encoder window")
    x = torch.nn.functional.gelu(encoder.conv1(feats))
    x = torch.nn.functional.gelu(encoder.conv2(x))
    h = x.permute(0, 2, 1) + encoder.embed_positions.weight[:positions]
    for layer in encoder.layers:
        h = layer(h, None)
    return encoder.layer_norm(h)


def compression_ratio(text: str) -> float:
    """Bytes of text over bytes of its zlib compression (as openai/whisper measures repetition)."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def repeats(tokens: Sequence[int], longest: int = 32) -> bool:
    """True if the tokens loop: a run of 8…`longest` tokens twice in a row (a sentence said
    again), of 2–7 tokens three times, or one token five times ("very, very, very" is speech)."""
    for size in range(1, longest + 1):
        need = 5 if size == 1 else 3 if size < 8 else 2
        for start in range(len(tokens) - size * need + 1):
            gram = tokens[start : start + size]
            if all(
                tokens[start + k * size : start + (k + 1) * size] == gram for k in range(1, need)
            ):
                return True
    return False


def looks_broken(
    tokens: Sequence[int], text: str, speech_s: float, max_new_tokens: int
) -> str | None:
    """Why this short-window result should not be trusted (None if it looks fine)."""
    if len(tokens) >= max_new_tokens:
        return "hit the token limit"
    if speech_s >= 1.0 and not text.strip():
        return "no text from speech"
    if len(tokens) > MAX_TOKENS_PER_S * max(speech_s, 1.0) + 4:
        return "more tokens than the speech can hold"
    if compression_ratio(text) > COMPRESSION_RATIO_LIMIT:
        return "text repeats itself (compression ratio)"
    if repeats(tokens):
        return "tokens repeat"
    return None
