#!/usr/bin/env python
"""Live text on recordings no one tuned for: the 30 random joins of tests/random_joins.py.

Each recording (every shared clip, random order, pauses 0.2–2 s, gains, telephone band, half
with the pauses inside sentences stretched to 0.7–1.5 s: 31 minutes of speech) is dictated live
at engine level, each live step taken as it falls due (a machine that keeps up; the same text on
every run, as tests/test_random_joins_live.py gates it), and decoded whole as at release with
live transcription off. `--speed N` feeds the live thread at N × the pace of speech instead,
where the steps depend on the machine's load. Scored as a person reads the text: pieces lost
(over half their words missing), WER, WER with case and punctuation (`cased_wer`), and broken
joins (a full stop before a lower-case word, a capital mid-sentence) per minute of speech.
`--no-bridge` measures live text without the decode across each chunk join
(`LiveSettings.bridge_s = 0`) beside it.

    python benchmarks/live_joins.py [--seeds 0-29] [--speed N] [--no-bridge] [--write-readme]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from common import (
    arguments,
    begin,
    command_line,
    context_lines,
    save_targets,
    target,
    write_section,
)


def seeds(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def verdict(met: bool | None) -> str:
    return "met" if met else "**not met**"


def main(argv: Sequence[str] | None = None) -> int:
    p = arguments(__doc__)
    p.add_argument("--seeds", default="0-29", help="seeds of tests/random_joins.py (0-29)")
    p.add_argument("--no-bridge", action="store_true", help="also live without join decodes")
    p.add_argument(
        "--speed", type=float, default=0.0, help="× speech's pace on the live thread (0: as due)"
    )
    args = p.parse_args(argv)
    chosen = seeds(args.seeds)
    if args.write_readme and chosen != list(range(30)):
        raise SystemExit("--write-readme needs all 30 seeds")
    started, load_before, log = begin()
    from dataclasses import replace

    from engine_latency import load_engine
    from speech import fixtures_dir, wer

    from dictate.dictation.live import LiveSettings
    from dictate.engine.options import TranscribeOptions
    from tests import random_joins as rj
    from tests.test_random_joins_live import live_text

    engine, _ = load_engine()
    options = TranscribeOptions()
    variants = {"live": LiveSettings()}
    if args.no_bridge:
        variants["live, no join decode"] = replace(LiveSettings(), bridge_s=0.0)
    paths = ["whole", *variants]
    texts: dict[str, list[str]] = {p: [] for p in paths}
    lost = {p: 0 for p in paths}
    broken = {p: 0 for p in paths}
    seconds = {p: 0.0 for p in paths}
    refs, cased, minutes, pieces = [], [], 0.0, 0
    folder = fixtures_dir()
    for seed in chosen:
        rec = rj.build(seed, seed % 2 == 1, folder)
        ref = rj.joined_cased_reference(rec)
        refs.append(rec.reference)
        cased.append(ref)
        pieces += len(rec.pieces)
        minutes += sum(e - s for s, e in engine.gate.regions(rec.audio)) / 60
        for path in paths:
            t0 = time.perf_counter()
            if path == "whole":
                text = engine.transcribe(rec.audio, options).text
            else:
                speed = args.speed or None
                result = live_text(engine, rec.audio, options, speed=speed, settings=variants[path])
                text = result.text
            seconds[path] += time.perf_counter() - t0
            texts[path].append(text)
            lost[path] += len(rj.lost_pieces(text, rec))
            broken[path] += rj.broken_joins(text, ref)
        log(f"seed {seed}: broken " + ", ".join(f"{p} {broken[p]}" for p in paths))
    reference, cased_ref = " ".join(refs), " ".join(cased)
    rows = []
    scores = {}
    for path in paths:
        w = wer(reference, " ".join(texts[path]))
        cw = rj.cased_wer(cased_ref, " ".join(texts[path]))
        scores[path] = (w, cw, broken[path] / minutes)
        rows.append(
            f"| {path} | {lost[path]} of {pieces} | {100 * w:.1f} % | {100 * cw:.1f} % "
            f"| {broken[path]} ({broken[path] / minutes:.2f} per min) | {seconds[path]:.0f} s |"
        )
    w_whole, cw_whole, _ = scores["whole"]
    w_live, cw_live, per_min = scores["live"]
    targets = [
        target("live: 0 pieces lost over the random joins", f"{lost['live']}", lost["live"] == 0),
        target(
            "live: broken joins ≤ 1 per minute of speech", f"{per_min:.2f} per min", per_min <= 1
        ),
        target(
            "live: cased WER ≤ whole-recording cased WER + 2 points",
            f"{100 * cw_live:.1f} % vs {100 * cw_whole:.1f} %",
            cw_live <= cw_whole + 0.02,
        ),
        target(
            "live: WER ≤ whole-recording WER + 1 point",
            f"{100 * w_live:.1f} % vs {100 * w_whole:.1f} %",
            w_live <= w_whole + 0.01,
        ),
    ]
    text = "\n".join(
        [
            "| Path | Pieces lost | WER | Cased WER | Broken joins | Decoding time |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"{len(chosen)} recordings, {pieces} pieces, {minutes:.1f} min of speech. "
            "whole: each recording decoded at release (live off); live: "
            + (
                f"fed at {args.speed:g}× the pace of speech on the live thread"
                if args.speed
                else "each live step taken as it falls due (a machine that keeps up)"
            )
            + ", then the tail at release. "
            "Cased WER keeps case and punctuation; decoding time is the wall time of each path.",
            "",
            *[f"- {t['target']}: {t['measured']} ({verdict(t['met'])})" for t in targets],
            "",
            *context_lines(command_line("live_joins.py", argv), started, load_before),
        ]
    )
    print(text)
    save_targets(args.targets, targets)
    if args.write_readme:
        from common import REPO

        write_section("live_joins", text)
        write_section("live_joins", text, REPO / "README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
