#!/usr/bin/env python
"""Live dictation: the wait after release with live transcription on and off, 5 s to 3 min.

Engine level, fed in real time: dictations of about 5, 15, 40, 90 and 180 s are joined from the
shared real speech (0.7 s of silence after each clip, 0.3 s after the last: the release). With
live transcription on, `LiveTranscriber` gets the audio in 20 ms chunks at the pace of speech
on its own thread, as the recorder gives it, and the clock runs from the last chunk (the
release) to the whole text being back from `finish()`. Off, it is today's path: the whole
recording through `Engine.transcribe` after the release. Neither includes the recorder's end-
of-speech tail nor the insertion (the app adds both in either case; see release_to_text.py).
WER of each against the references, and of whole-recording decoding, on the same recordings.

A live run takes as long as the speech (about 5.5 min for the five), so `--runs` repeats the
decoding after release with live off, and the real-time live run is made `--live-runs` times.

    python benchmarks/live_dictation.py [--runs 5] [--live-runs 1] [--sets 5,40] [--write-readme]
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Sequence

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

SR = 16000
SETS = {
    5: ("more/austen_0890.wav",),
    15: ("jfk.flac", "LDC93S1.wav"),
    40: (
        "jfk.flac",
        "more/austen_0870.wav",
        "more/austen_0890.wav",
        "LDC93S1.wav",
        "more/austen_0920.wav",
        "more/austen_0930.wav",
        "more/austen_0880.wav",
    ),
    90: (
        "more/sonnet001.mp3",
        "jfk.flac",
        "more/austen_0870.wav",
        "more/austen_0890.wav",
        "more/austen_0920.wav",
        "more/austen_0930.wav",
        "more/austen_0880.wav",
    ),
    180: (
        "more/sonnet001.mp3",
        "jfk.flac",
        "more/austen_0870.wav",
        "more/austen_0890.wav",
        "LDC93S1.wav",
        "more/sonnet002.mp3",
        "more/austen_0920.wav",
        "more/austen_0930.wav",
        "more/austen_0880.wav",
        "more/spontaneous_fillers.wav",
    ),
}


def recording(names: Sequence[str]) -> tuple[np.ndarray, str]:
    from speech import fixtures_dir, read_references

    from dictate.audio.decode import load_audio

    folder = fixtures_dir()
    refs = read_references(folder) | read_references(folder / "more")
    parts, texts = [], []
    for i, name in enumerate(names):
        last = i == len(names) - 1
        parts += [load_audio(folder / name), np.zeros(round((0.3 if last else 0.7) * SR))]
        texts.append(refs[name.split("/")[-1]])
    return np.concatenate(parts).astype(np.float32), " ".join(texts)


def live_run(engine, options, audio: np.ndarray):  # -> (release→text ms, LiveResult)
    from dictate.dictation.live import LiveTranscriber

    live = LiveTranscriber(lambda: engine, options).start()
    step, t0 = round(0.02 * SR), time.perf_counter()
    for i in range(0, audio.size, step):
        live.feed(audio[i : i + step])
        wait = t0 + (i + step) / SR - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
    released = time.perf_counter()
    result = live.finish(audio)
    return (time.perf_counter() - released) * 1000, result


def main(argv: Sequence[str] | None = None) -> int:
    p = arguments(__doc__, runs_help="decodes after release with live off (default 5)")
    p.add_argument("--live-runs", type=int, default=1, help="real-time live runs (default 1)")
    p.add_argument(
        "--sets", default="5,15,40,90,180", help="dictation lengths to run (default: all five)"
    )
    args = p.parse_args(argv)
    chosen = {int(x) for x in args.sets.split(",")}
    if args.write_readme and chosen != set(SETS):
        raise SystemExit("--write-readme needs all five lengths")
    started, load_before, log = begin()
    from engine_latency import load_engine
    from speech import wer

    from dictate.engine.options import TranscribeOptions

    engine, _ = load_engine()
    options = TranscribeOptions()
    live_run(engine, options, recording(SETS[5])[0])  # the live path's first use, untimed
    rows, on_ms, wers = [], {}, []
    for target_s, names in SETS.items():
        if target_s not in chosen:
            continue
        audio, reference = recording(names)
        seconds = audio.size / SR
        off = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            whole = engine.transcribe(audio, options).text
            off.append((time.perf_counter() - t0) * 1000)
        log(f"{seconds:.0f} s: live off {statistics.median(off):.0f} ms")
        on, results = [], []
        for _ in range(args.live_runs):
            ms, result = live_run(engine, options, audio)
            on.append(ms)
            results.append(result)
        r = results[-1]
        on_ms[target_s] = statistics.median(on)
        w_whole, w_live = wer(reference, whole), wer(reference, r.text)
        wers.append((len(reference.split()), w_whole, w_live))
        log(f"{seconds:.0f} s: live on {on_ms[target_s]:.0f} ms, WER {w_whole:.3f} → {w_live:.3f}")
        rows.append(
            f"| {seconds:.1f} | {cell(off)} | {cell(on)} | {r.committed_s:.1f} s "
            f"({100 * r.committed_s / seconds:.0f} %) | {r.wait_ms:.0f} ms | "
            + (f"{r.tail_s:.1f} s in {r.tail_ms:.0f} ms " if not r.reused else "none (heard) ")
            + f"| {r.steps} steps, {r.step_ms / 1000 / seconds:.2f} s per s of audio "
            f"| {100 * w_whole:.1f} % | {100 * w_live:.1f} % |"
        )
    if 5 not in on_ms:
        print("\n".join(rows))
        return 0
    base = on_ms[5]
    words = sum(n for n, _, _ in wers)
    whole_set = sum(n * w for n, w, _ in wers) / words
    live_set = sum(n * w for n, _, w in wers) / words
    ratios = {s: on_ms[s] / base for s in (40, 90, 180) if s in on_ms}
    met = all(r <= 1.3 for r in ratios.values())
    targets = [
        target(
            "live: release → text at 40/90/180 s ≤ 1.3 × at 5 s (engine level)",
            ", ".join(f"{s} s: {r:.2f}×" for s, r in ratios.items()),
            met,
        ),
        target(
            "live WER ≤ whole-recording WER + 1 point",
            f"{100 * live_set:.1f} % vs {100 * whole_set:.1f} %",
            live_set <= whole_set + 0.01,
        ),
    ]
    text = "\n".join(
        [
            "| Dictation (s) | Release → text, live off (ms) | Release → text, live on (ms) "
            "| Committed before release | Live step waited for | Tail decoded after release "
            "| Work while speaking | WER whole | WER live |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Over the set ({words} words): WER {100 * whole_set:.1f} % decoding each "
            f"whole recording, {100 * live_set:.1f} % live. Release → text with live on, "
            "relative to 5 s: " + ", ".join(f"{s} s {r:.2f}×" for s, r in ratios.items()) + ".",
            "Times: median (min–max); live off over "
            f"{args.runs} decodes, live on over {args.live_runs} real-time run(s).",
            "",
            *context_lines(command_line("live_dictation.py", argv), started, load_before),
        ]
    )
    print(text)
    save_targets(args.targets, targets)
    if args.write_readme:
        write_section("live_dictation", text)
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "benchmark"
    sys.exit(main())
