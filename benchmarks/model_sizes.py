#!/usr/bin/env python
"""Model sizes: what a dictation costs with bigger Whisper models, on this machine.

No model hub is reachable here, so the models are random-weight Whispers with the exact
architecture of each published config.json (speed does not depend on the weights' values). Each
gets what dictate does for a dictation of up to ~13 s on the CPU: an encoder pass over the
shortened 15 s window and the lean greedy decoder for a fixed number of tokens (`--tokens`, 20 by
default: about 5 s of speech). The int8 screen of the output layer is off here: on random weights
the logits are too even for it to decide, so these decoding times are an upper bound (on real
weights it removes most of the output layer's time: see the engine table). tiny.en's
architecture is measured the same way, for scale.

    python benchmarks/model_sizes.py [--runs 5] [--tokens 20] [--write-readme]
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Sequence

from common import (
    arguments,
    begin,
    cell,
    command_line,
    context_lines,
    write_section,
)

# From the models' config.json on the Hugging Face hub (architecture fields only).
ENGLISH = {"vocab_size": 51864, "decoder_start_token_id": 50257, "eos_token_id": 50256}
MULTILINGUAL = {"vocab_size": 51866, "decoder_start_token_id": 50258, "eos_token_id": 50257}
CONFIGS = {
    "tiny.en": dict(
        d_model=384,
        encoder_layers=4,
        decoder_layers=4,
        encoder_attention_heads=6,
        decoder_attention_heads=6,
        encoder_ffn_dim=1536,
        decoder_ffn_dim=1536,
        num_mel_bins=80,
        **ENGLISH,
    ),
    "distil-small.en": dict(
        d_model=768,
        encoder_layers=12,
        decoder_layers=4,
        encoder_attention_heads=12,
        decoder_attention_heads=12,
        encoder_ffn_dim=3072,
        decoder_ffn_dim=3072,
        num_mel_bins=80,
        **ENGLISH,
    ),
    "distil-medium.en": dict(
        d_model=1024,
        encoder_layers=24,
        decoder_layers=2,
        encoder_attention_heads=16,
        decoder_attention_heads=16,
        encoder_ffn_dim=4096,
        decoder_ffn_dim=4096,
        num_mel_bins=80,
        **ENGLISH,
    ),
    "distil-large-v3": dict(
        d_model=1280,
        encoder_layers=32,
        decoder_layers=2,
        encoder_attention_heads=20,
        decoder_attention_heads=20,
        encoder_ffn_dim=5120,
        decoder_ffn_dim=5120,
        num_mel_bins=128,
        **MULTILINGUAL,
    ),
}
WINDOW_S = 15.0
NO_TIMESTAMPS = {51864: 50362, 51866: 50364}


def random_model(name: str):
    """A WhisperForConditionalGeneration with `name`'s architecture and random weights."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    fields = CONFIGS[name]
    config = WhisperConfig(
        **fields,
        max_source_positions=1500,
        max_target_positions=448,
        pad_token_id=fields["eos_token_id"],
        bos_token_id=fields["eos_token_id"],
        attn_implementation="sdpa",
    )
    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    model = model.to_empty(device="cpu").eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # as transformers initialises Whisper (layer norms at 1, not tiny:
        for pname, param in model.named_parameters():  # tiny values would end in denormals)
            if "layer_norm" in pname:
                param.fill_(1.0 if pname.endswith("weight") else 0.0)
            elif param.dim() >= 2:
                param.normal_(0.0, 0.02, generator=generator)
            else:
                param.zero_()
    model.tie_weights()
    return model


def main(argv: Sequence[str] | None = None) -> int:
    p = arguments(__doc__)
    p.add_argument("--tokens", type=int, default=20)
    p.add_argument("--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = p.parse_args(argv)
    started, load_before, log = begin()
    import torch

    from dictate.engine import greedy, window

    rows = []
    for name in args.models:
        model = random_model(name)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        fields = CONFIGS[name]
        feats = torch.randn(1, fields["num_mel_bins"], int(WINDOW_S * 100))
        plan = greedy.DecodePlan(
            prefix=(fields["decoder_start_token_id"], NO_TIMESTAMPS[fields["vocab_size"]]),
            eos=(),  # never stop early: always `--tokens` tokens
            max_new_tokens=args.tokens,
        )
        decoder = greedy.GreedyDecoder(model, screen=False)
        enc_ms, dec_ms = [], []
        with torch.inference_mode():
            for r in range(args.runs + 1):  # the first is the warm-up
                gc.collect()
                t0 = time.perf_counter()
                encoded = window.encode(model.get_encoder(), feats)
                t1 = time.perf_counter()
                tokens = decoder.decode(encoded, plan, screen=False)
                t2 = time.perf_counter()
                assert len(tokens) == args.tokens
                if r:
                    enc_ms.append((t1 - t0) * 1000.0)
                    dec_ms.append((t2 - t1) * 1000.0)
        rows.append((name, params, enc_ms, dec_ms))
        log(f"{name}: encoder {sorted(enc_ms)[len(enc_ms) // 2]:.0f} ms")
        del model, decoder
        gc.collect()

    context = context_lines(command_line("model_sizes.py", argv), started, load_before)
    lines = [
        *context,
        f"- Random weights, exact architectures; fp32 on the CPU; encoder over a "
        f"{WINDOW_S:.0f} s window, then {args.tokens} greedy tokens (int8 screen off); "
        f"{args.runs} runs after a warm-up.",
        "",
        "Milliseconds, median (min–max). Expected dictation latency ≈ encoder + decoding + "
        "~10–30 ms (features, speech gate) for clips up to ~13 s with ~20 tokens.",
        "",
        "| model | parameters | encoder (15 s window) | decoding, "
        f"{args.tokens} tokens | per token | encoder + decoding |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, params, enc_ms, dec_ms in rows:
        total = [e + d for e, d in zip(enc_ms, dec_ms, strict=True)]
        per_token = [d / args.tokens for d in dec_ms]
        lines.append(
            f"| {name} | {params:.0f} M | {cell(enc_ms)} | {cell(dec_ms)} | "
            f"{cell(per_token, 1)} | {cell(total)} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write_readme:
        write_section("model_sizes", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
