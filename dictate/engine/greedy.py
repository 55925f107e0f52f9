"""Greedy decoding for Whisper without `generate()`: the same tokens, a fraction of the overhead.

`generate()` spends most of a short dictation's decoding time on its own machinery (input
preparation, cache objects, logits-processor lists, stopping criteria) rather than on the
decoder. This loop runs the model's own decoder modules, in the same order and with the same
operations as transformers does, so the logits (and therefore the tokens) are the same, and
applies the generation config's suppress / begin-suppress tokens as `generate()` does; with
timestamps (files) it applies transformers' Whisper timestamp rules (`timestamp_rules`, the same
masks kept step by step). Several clips can be decoded together as one batch (`decode_batch`),
each row the tokens it gets alone.

On the CPU the output projection is most of the per-token time; `screen.ScreenedHead` finds its
arg-max through an int8 copy and checks it in fp32, so the token is the fp32 one.

The decoder's layers are bandwidth-bound too; `decode(..., int8=True)` runs them from an int8
copy (torch.ao dynamic quantisation). That one is not exact: its tokens are those of generate()
on a quantised decoder. It is an option the engine takes on the CPU because it measured the
same word error rate (see benchmarks/README.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from dictate import threads
from dictate.engine import int8 as int8_copies
from dictate.engine.screen import ScreenedHead, can_screen
from dictate.engine.timestamp_rules import TimestampRules


@dataclass(frozen=True)
class DecodePlan:
    """What to decode: the forced prefix and the generation config's token rules."""

    prefix: tuple[int, ...]  # [<|startofprev|> prompt...] <|startoftranscript|> [lang task] ...
    eos: tuple[int, ...]
    max_new_tokens: int
    suppress: tuple[int, ...] = ()
    begin_suppress: tuple[int, ...] = ()
    timestamps: bool = False  # timestamp tokens, by Whisper's rules (timestamp_rules)


class GreedyDecoder:
    """Greedy decoding with a KV cache over a `WhisperForConditionalGeneration`'s decoder."""

    def __init__(self, model: Any, *, screen: bool | None = None) -> None:
        # A WhisperForConditionalGeneration: its parts are reached by attribute, untyped (to
        # mypy, each would be a Tensor | Module union).
        self.model = model
        self.decoder = model.model.decoder
        self._screen = screen
        self._head: ScreenedHead | None = None
        self._int8: torch.nn.ModuleList | None = None
        self._int8_tried = False
        self._banned_cache: dict[tuple[int, ...], torch.Tensor] = {}

    @property
    def head(self) -> ScreenedHead | None:
        """The int8-screened output projection, where it helps (fp32 on the CPU), built once."""
        if self._head is None and self._screen is not False:
            weight = getattr(self.model.proj_out, "weight", None)
            if can_screen(weight):
                self._head = ScreenedHead(weight)
                int8_copies.give_back_freed_memory()  # its float64 work arrays
            else:
                self._screen = False
        return self._head

    def int8_layers(self) -> torch.nn.ModuleList | None:
        """The decoder's layers with int8 weights (`int8.layers_copy`), built once; None where
        int8 does not apply."""
        if not self._int8_tried:
            self._int8 = int8_copies.layers_copy(self.decoder.layers)
            self._int8_tried = True
        return self._int8

    def decode(
        self, encoded: torch.Tensor, plan: DecodePlan, *, screen: bool = True, int8: bool = False
    ) -> list[int]:
        """Token ids after the prefix, without the end-of-text token (as `generate()` returns).

        `screen=False` computes every logit in fp32 (the int8 screen gives the same tokens).
        `int8=True` runs the decoder's layers with int8 weights (CPU only): the tokens are then
        those of generate() on a dynamically quantised decoder, not on the fp32 one.

        With `int8` the loop runs on one intra-op thread: each token is a chain of small
        matrix-vector products, too small to split, and with a second thread every one of them
        waits for the slower core; with another process busy on this 2-core machine, two
        threads made decoding 3–4× slower (one thread: ~10 % slower when the machine is idle).
        """
        return self.decode_batch(encoded, plan, [plan.max_new_tokens], screen=screen, int8=int8)[0]

    def decode_batch(
        self,
        encoded: torch.Tensor,
        plan: DecodePlan,
        limits: Sequence[int],
        *,
        screen: bool = True,
        int8: bool = False,
        between_steps: Callable[[], object] | None = None,
    ) -> list[list[int]]:
        """`decode` for a batch of encoder outputs ([B, positions, d_model], one window length)
        with the same prefix; row i stops at end-of-text or after `limits[i]` tokens.

        The rows advance in step, so one pass over the decoder's weights serves all of them:
        on a CPU, where those passes are bound by memory bandwidth, B rows cost little more
        than one (the file path batches its 30 s windows this way). `between_steps` is called
        after every token step (the engine lets a waiting dictation in there)."""
        if encoded.device.type != "cpu" or not int8:
            # fp32 stays on the caller's threads: another thread count sums in another order,
            # and the tokens would no longer be generate()'s in a near-tie.
            return self._decode(encoded, plan, limits, screen, int8, between_steps)
        with threads.one_thread():  # the owner of torch's count (see dictate.threads)
            return self._decode(encoded, plan, limits, screen, int8, between_steps)

    @torch.inference_mode()
    def _decode(
        self,
        encoded: torch.Tensor,
        plan: DecodePlan,
        limits: Sequence[int],
        screen: bool,
        int8: bool,
        between_steps: Callable[[], object] | None = None,
    ) -> list[list[int]]:
        dec = self.decoder
        rows = encoded.shape[0]
        if len(limits) != rows:
            raise ValueError(f"{len(limits)} token limits for {rows} rows")
        head = self.head if screen else None
        config = self.model.generation_config
        layers = (self.int8_layers() if int8 else None) or dec.layers
        device = encoded.device
        room = dec.max_target_positions - len(plan.prefix)
        caps = [max(0, min(limit, room)) for limit in limits]
        live = [cap > 0 for cap in caps]
        index = [i for i in range(rows) if live[i]]  # the original row of each row decoding
        if len(index) < rows:
            encoded = encoded[torch.tensor(index, dtype=torch.long, device=device)]
        rules = TimestampRules(config, len(index)) if plan.timestamps else None
        cross = [self._cross_kv(layer, encoded) for layer in layers]
        selfkv: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(layers)
        ids = torch.tensor([plan.prefix] * len(index), dtype=torch.long, device=device)
        banned_always = self._banned(plan.suppress, device)
        banned_first = self._banned(plan.suppress + plan.begin_suppress, device)
        out: list[list[int]] = [[] for _ in range(rows)]
        pos = 0
        step = 0
        while index:
            hidden = self._forward(layers, ids, pos, selfkv, cross)
            pos += ids.shape[1]
            banned = banned_first if step == 0 else banned_always
            last = hidden[:, -1].to(torch.float32)
            found: list[int] | None = None
            if head is not None and len(index) == 1 and rules is None:
                found = [head.argmax(last[0], banned)]
            elif head is not None:
                found = head.tokens(last, banned, rules)
            if found is not None:
                tokens = found
            else:
                if head is not None:
                    head.fallbacks += 1
                logits = self.model.proj_out(hidden)[:, -1].to(torch.float32)
                if banned is not None:
                    logits[:, banned] = float("-inf")
                if rules is not None:
                    logits = rules.apply(logits)
                tokens = torch.argmax(logits, dim=-1).tolist()
            step += 1
            for i, token in zip(index, tokens, strict=True):
                if token in plan.eos:
                    live[i] = False
                    continue
                out[i].append(token)
                live[i] = len(out[i]) < caps[i]
            if rules is not None:
                rules.push(tokens)
            keep = [j for j, i in enumerate(index) if live[i]]
            if len(keep) < len(index):  # finished rows leave the batch: fewer bytes per step
                index = [index[j] for j in keep]
                tokens = [tokens[j] for j in keep]
                chosen = torch.tensor(keep, dtype=torch.long, device=device)
                cross = [(k[chosen], v[chosen]) for k, v in cross]
                selfkv = [None if kv is None else (kv[0][chosen], kv[1][chosen]) for kv in selfkv]
                if rules is not None:
                    rules.keep(keep)
            ids = torch.tensor([[t] for t in tokens], dtype=torch.long, device=device)
            if between_steps is not None:
                between_steps()
        return out

    def _banned(self, tokens: Sequence[int], device: torch.device) -> torch.Tensor | None:
        key = tuple(sorted(set(tokens)))
        if not key:
            return None
        found = self._banned_cache.get(key)
        if found is None or found.device != device:
            found = torch.tensor(key, dtype=torch.long, device=device)
            self._banned_cache[key] = found
        return found

    @staticmethod
    def _heads(attn: Any, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], -1, attn.head_dim).transpose(1, 2).contiguous()

    def _cross_kv(self, layer: Any, encoded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        attn = layer.encoder_attn
        return self._heads(attn, attn.k_proj(encoded)), self._heads(attn, attn.v_proj(encoded))

    def _forward(
        self,
        layers: torch.nn.ModuleList,
        ids: torch.Tensor,
        pos: int,
        selfkv: list[tuple[torch.Tensor, torch.Tensor] | None],
        cross: list[tuple[torch.Tensor, torch.Tensor]],
    ) -> torch.Tensor:
        """The decoder over `ids` at positions pos…; appends to `selfkv`; returns the hidden."""
        dec = self.decoder
        b, n = ids.shape
        h = dec.embed_tokens(ids) + dec.embed_positions.weight[pos : pos + n][None]
        layer: Any  # a WhisperDecoderLayer, or its int8 copy
        for i, layer in enumerate(layers):
            # Self-attention (causal over the prefix; one new query afterwards).
            attn = layer.self_attn
            x = layer.self_attn_layer_norm(h)
            q = self._heads(attn, attn.q_proj(x) * attn.scaling)
            k = self._heads(attn, attn.k_proj(x))
            v = self._heads(attn, attn.v_proj(x))
            past = selfkv[i]
            if past is not None:
                k = torch.cat([past[0], k], dim=-2)
                v = torch.cat([past[1], v], dim=-2)
            selfkv[i] = (k, v)
            a = F.scaled_dot_product_attention(q, k, v, scale=1.0, is_causal=n > 1)
            h = h + attn.out_proj(a.transpose(1, 2).contiguous().reshape(b, n, -1))
            # Cross-attention over the encoder output.
            attn = layer.encoder_attn
            x = layer.encoder_attn_layer_norm(h)
            q = self._heads(attn, attn.q_proj(x) * attn.scaling)
            a = F.scaled_dot_product_attention(q, cross[i][0], cross[i][1], scale=1.0)
            h = h + attn.out_proj(a.transpose(1, 2).contiguous().reshape(b, n, -1))
            # Feed-forward.
            x = layer.final_layer_norm(h)
            h = h + layer.fc2(layer.activation_fn(layer.fc1(x)))
        return dec.layer_norm(h)


def supports(model: torch.nn.Module) -> bool:
    """Whether `model` is a Whisper encoder–decoder this loop knows how to run."""
    decoder = getattr(getattr(model, "model", None), "decoder", None)
    return (
        decoder is not None
        and hasattr(model, "proj_out")
        and hasattr(decoder, "embed_positions")
        and all(hasattr(layer, "encoder_attn") for layer in decoder.layers)
        and not model.training
    )


def init_tokens(config, language: str | None, timestamps: bool = False) -> tuple[int, ...] | None:
    """The tokens `generate()` forces before the text: <|startoftranscript|> [<|lang|>
    <|transcribe|>] and, without timestamps, <|notimestamps|>. None where generate() would have
    to decide (a multilingual model and no language: it detects one)."""
    start = getattr(config, "decoder_start_token_id", None)
    no_timestamps = getattr(config, "no_timestamps_token_id", None)
    if start is None or no_timestamps is None:
        return None
    tail = () if timestamps else (no_timestamps,)
    if not getattr(config, "is_multilingual", False):
        return (start, *tail)
    lang_to_id = getattr(config, "lang_to_id", None) or {}
    task_to_id = getattr(config, "task_to_id", None) or {}
    if language is None or "transcribe" not in task_to_id:
        return None
    lang = language_token(language)
    if lang not in lang_to_id:
        return None
    return (start, lang_to_id[lang], task_to_id["transcribe"], *tail)


def language_token(language: str) -> str:
    """ "de", "german", "<|de|>" → "<|de|>" (as generate() reads its `language`)."""
    from transformers.models.whisper.tokenization_whisper import TO_LANGUAGE_CODE

    lang = language.strip().lower()
    if lang.startswith("<|"):
        return lang
    return f"<|{TO_LANGUAGE_CODE.get(lang, lang)}|>"


def plan_for(
    config, prefix: tuple[int, ...], max_new_tokens: int, timestamps: bool = False
) -> DecodePlan | None:
    """The generation config's rules around `prefix` (None if it has no end-of-text token)."""
    eos = getattr(config, "eos_token_id", None)
    if eos is None:
        return None
    return DecodePlan(
        prefix=prefix,
        eos=tuple(eos) if isinstance(eos, (list, tuple)) else (eos,),
        max_new_tokens=max_new_tokens,
        suppress=tuple(getattr(config, "suppress_tokens", None) or ()),
        begin_suppress=tuple(getattr(config, "begin_suppress_tokens", None) or ()),
        timestamps=timestamps,
    )
