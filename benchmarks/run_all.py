#!/usr/bin/env python
"""Run every benchmark and rewrite the result tables in benchmarks/README.md.

Each script runs in its own process (fresh memory, no state carried between them) with
`--write-readme`; then the summary of the targets is written from what they measured, here
and in the top-level README's Performance section. About
27 minutes on a 2-core CPU; close other CPU-heavy jobs first, since they move every figure.

    python benchmarks/run_all.py [--runs 5] [--only engine_latency files ...] [--no-readme]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from common import (
    HERE,
    README,
    command_line,
    load_average,
    machine_line,
    prepare_environment,
    versions,
    write_section,
)

# (script, extra arguments): in this order, the quick and the desktop ones between the long ones.
SCRIPTS = (
    ("engine_latency", ()),
    ("release_to_text", ()),
    ("files", ()),
    ("longform", ()),
    ("footprint", ()),
    ("model_sizes", ()),
    ("live_dictation", ()),  # about 6 minutes: the live runs are real time
    ("live_joins", ("--no-bridge",)),  # the 30 random joins, live and whole (~15 minutes)
    # About 14 minutes of real-time speech for one run: its last --runs wins over run_all's.
    ("live_mic", ("--runs", "1")),
)


def main(argv: Sequence[str] | None = None) -> int:
    names = [name for name, _ in SCRIPTS]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help="timed runs for every figure (≥ 5)")
    p.add_argument("--only", nargs="+", choices=names, help="run only these scripts")
    p.add_argument("--no-readme", action="store_true", help="print the tables, leave the README")
    args = p.parse_args(argv)
    started = time.perf_counter()
    load_before = load_average()
    prepare_environment()
    durations: dict[str, float] = {}
    failed: list[str] = []
    # Each script's targets are kept in the cache, so a partial run (--only) still writes a
    # whole summary: the latest figures of every script.
    kept = Path(os.environ["DICTATE_CACHE_DIR"]) / "benchmark-targets"
    kept.mkdir(parents=True, exist_ok=True)
    for name, extra in SCRIPTS:
        if args.only and name not in args.only:
            continue
        out = kept / f"{name}.json"
        out.unlink(missing_ok=True)
        cmd = [sys.executable, str(HERE / f"{name}.py"), "--runs", str(args.runs)]
        cmd += [*extra, "--targets", str(out)]
        if not args.no_readme:
            cmd.append("--write-readme")
        print(f"== {name}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, check=False)
        durations[name] = time.perf_counter() - t0
        if done.returncode != 0:
            failed.append(name)
            print(f"== {name} failed ({done.returncode})", file=sys.stderr)
    targets: list[dict] = []
    for name, _ in SCRIPTS:
        if (kept / f"{name}.json").exists():
            targets += json.loads((kept / f"{name}.json").read_text(encoding="utf-8"))
    total = time.perf_counter() - started
    lines = [
        f"Written by `{command_line('run_all.py', argv)}` on "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')} in {total / 60:.1f} min "
        f"({', '.join(f'{n} {d:.0f} s' for n, d in durations.items())}); load average before: "
        f"{load_before}."
        + (" The other rows are from the scripts' previous runs." if args.only else ""),
        "",
        f"- Machine: {machine_line()}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        "",
        "| target (Whisper tiny.en, this CPU) | measured | |",
        "|---|---|---|",
    ]
    for t in targets:
        mark = "met" if t["met"] else "**not met**" if t["met"] is False else ""
        lines.append(f"| {t['target']} | {t['measured']} | {mark} |")
    if failed:
        lines += ["", f"Failed: {', '.join(failed)} (see the run's output)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_readme:
        write_section("summary", text, README)
        # The user's manual quotes the same table (its Performance section).
        write_section("summary", text, HERE.parent / "README.md")
    print(f"run_all: {total / 60:.1f} min", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
