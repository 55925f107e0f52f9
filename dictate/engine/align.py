"""Where each written word was spoken: Whisper's cross-attention alignment heads and DTW.

The method of openai/whisper's `word_timestamps` (and transformers' `return_token_timestamps`):
the text is fed back through the decoder over the window's encoder output; the heads that
follow the speech (the generation config's `alignment_heads`) give, for each token, attention
over the 20 ms audio frames; normalised, median-filtered and averaged, then dynamic time warping
finds the monotonic path through them. `longform` uses the words' times to see which stretch of
speech has no words at all, however the segments' timestamps were drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

FRAMES_PER_S = 50  # encoder positions per second
MEDIAN_WIDTH = 7  # openai/whisper's filter width over frames


def _heads(attn: Any, x: torch.Tensor) -> torch.Tensor:
    return x.view(x.shape[0], x.shape[1], -1, attn.head_dim).transpose(1, 2)


@torch.inference_mode()
def attention(
    decoder: Any,
    encoded: torch.Tensor,
    tokens: Sequence[int],
    alignment_heads: Sequence[Sequence[int]],
) -> torch.Tensor:
    """The cross-attention weights of the alignment heads for `tokens` (prefix, text, end)
    over `encoded` ([1, frames, width]): [heads, tokens, frames], float32."""
    ids = torch.tensor([list(tokens)], dtype=torch.long, device=encoded.device)
    n = ids.shape[1]
    h = decoder.embed_tokens(ids) + decoder.embed_positions.weight[:n][None]
    wanted: dict[int, list[int]] = {}
    for layer_i, head_i in alignment_heads:
        wanted.setdefault(int(layer_i), []).append(int(head_i))
    found: list[torch.Tensor] = []
    for i, layer in enumerate(decoder.layers):
        attn = layer.self_attn
        x = layer.self_attn_layer_norm(h)
        q = _heads(attn, attn.q_proj(x) * attn.scaling)
        k, v = _heads(attn, attn.k_proj(x)), _heads(attn, attn.v_proj(x))
        a = F.scaled_dot_product_attention(q, k, v, scale=1.0, is_causal=True)
        h = h + attn.out_proj(a.transpose(1, 2).reshape(1, n, -1))
        attn = layer.encoder_attn
        x = layer.encoder_attn_layer_norm(h)
        q = _heads(attn, attn.q_proj(x) * attn.scaling)
        k, v = _heads(attn, attn.k_proj(encoded)), _heads(attn, attn.v_proj(encoded))
        weights = torch.softmax((q @ k.transpose(-1, -2)).float(), dim=-1)
        if i in wanted:
            found += [weights[0, j] for j in wanted[i]]
        a = weights.to(v.dtype) @ v
        h = h + attn.out_proj(a.transpose(1, 2).reshape(1, n, -1))
        if i >= max(wanted):
            break  # the layers after the last alignment head change nothing here
        x = layer.final_layer_norm(h)
        h = h + layer.fc2(layer.activation_fn(layer.fc1(x)))
    return torch.stack(found)


def _usable_heads(model: Any, heads: Any) -> list[tuple[int, int]]:
    """The alignment heads that exist in this decoder: a generation config copied from
    another size of the model (a distilled or a test model) may name layers or heads it lacks."""
    if not heads:
        return []
    config = model.config
    layers, count = config.decoder_layers, config.decoder_attention_heads
    return [(int(a), int(b)) for a, b in heads if 0 <= int(a) < layers and 0 <= int(b) < count]


def dtw(cost: np.ndarray) -> list[int]:
    """The first column of each row on the cheapest monotonic path through `cost` [rows,
    columns] from the top-left to the bottom-right (steps right, down, or both). Each row's
    recurrence is a running minimum, so this is fast enough in numpy for a 30 s window."""
    rows, cols = cost.shape
    total = np.full((rows, cols), np.inf)
    total[0] = np.cumsum(cost[0])
    for i in range(1, rows):
        above = total[i - 1]
        diagonal = np.concatenate(([np.inf], above[:-1]))
        enter = cost[i] + np.minimum(above, diagonal)  # come down into (i, j)
        run = np.cumsum(cost[i])  # or move right along row i after entering at k ≤ j
        total[i] = run + np.minimum.accumulate(enter - run)
    first = [0] * rows
    i, j = rows - 1, cols - 1
    while i > 0 or j > 0:
        first[i] = j
        steps = []
        if i > 0 and j > 0:
            steps.append((total[i - 1, j - 1], i - 1, j - 1))
        if i > 0:
            steps.append((total[i - 1, j], i - 1, j))
        if j > 0:
            steps.append((total[i, j - 1], i, j - 1))
        _, i, j = min(steps)
    first[i] = j
    return first


def token_times(weights: torch.Tensor, seconds: float, first_row: int) -> list[float]:
    """Seconds at which each token from `first_row` on (the row that predicts the first text
    token) is spoken, from `attention`'s weights over a window whose audio lasts `seconds`."""
    frames = max(1, min(weights.shape[-1], round(seconds * FRAMES_PER_S)))
    w = weights[:, first_row:-1, :frames]  # the end token's own row predicts nothing
    w = (w - w.mean(dim=-2, keepdim=True)) / w.std(dim=-2, keepdim=True).clamp_min(1e-6)
    pad = MEDIAN_WIDTH // 2
    if frames > pad:
        padded = F.pad(w, (pad, pad), mode="reflect")
        w = padded.unfold(-1, MEDIAN_WIDTH, 1).median(dim=-1).values
    matrix = w.mean(dim=0).numpy()
    return [j / FRAMES_PER_S for j in dtw(-matrix.astype(np.float64))]


def word_starts(
    model: Any,
    tokenizer: Any,
    encoded: torch.Tensor,
    prefix: Sequence[int],
    texts: Sequence[str],
    seconds: float,
) -> list[list[float]]:
    """For each text (a window's segments, in order), the second each of its words (split on
    spaces) starts, from the window's start; [] for every text where the model has no
    alignment heads."""
    heads = _usable_heads(model, getattr(model.generation_config, "alignment_heads", None))
    if not heads:
        return [[] for _ in texts]
    pieces: list[list[int]] = []  # each word's tokens
    owner: list[int] = []
    for t, text in enumerate(texts):
        for word in text.split():
            pieces.append(tokenizer.encode(" " + word, add_special_tokens=False))
            owner.append(t)
    tokens = [tok for piece in pieces for tok in piece]
    if not tokens:
        return [[] for _ in texts]
    eot = model.generation_config.eos_token_id
    eot = eot[0] if isinstance(eot, (list, tuple)) else eot
    weights = attention(model.get_decoder(), encoded, [*prefix, *tokens, eot], heads)
    times = token_times(weights.float().cpu(), seconds, len(prefix) - 1)
    out: list[list[float]] = [[] for _ in texts]
    at = 0
    for piece, t in zip(pieces, owner, strict=True):
        out[t].append(times[at])
        at += len(piece)
    return out
