#!/usr/bin/env python
"""Footprint: start to ready, memory, and the `dictate toggle` round trip.

- start → ready: `python -m dictate --headless` (tiny.en on the CPU, model already converted
  and cached) from process start until its control socket answers `ready` (asked every 20 ms
  over the socket itself, so the polling costs no process starts);
- idle RSS: the app's resident memory 3 s after it is ready (model loaded and warm);
- peak RSS: its high-water mark (VmHWM) after one dictation of jfk.flac (11 s) through the
  virtual microphone, and that of `dictate transcribe` on a 2 min file;
- `dictate toggle`: wall time of the whole command (process start to exit, as a hotkey daemon
  runs it) while the app runs, and whether it imported torch (`python -X importtime`);
- the window app (`python -m dictate`, no tray host, so its main window is its face): from
  process start until the window is visible on the X display (xdotool, polled), the state it
  shows then, until it says ready, and its RSS 3 s after one dictation of jfk.flac;
- what each import costs: every module on the way to a dictation imported alone in a fresh
  process (wall time and RSS added over a bare interpreter);
- step by step (STEPS_PROBE): one fresh process through the imports, the speech gate, loading,
  warm-up, one dictation and giving memory back, with each step's seconds and the resident
  memory after it, split into anonymous (heap, Python objects) and file-backed (libraries, the
  model file).

Memory comes from /proc/PID/status (Linux). Desktop: Xvfb + PulseAudio, as release_to_text.py.

    python benchmarks/footprint.py [--runs 5] [--write-readme]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

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

TARGET_IDLE_MB, TARGET_TOGGLE_MS = 500.0, 150.0
TARGET_SHOWN_S, TARGET_READY_S = 1.5, 5.0
# On the way to a dictation, cheapest first; each adds what the ones before did not import.
IMPORTS = (
    "numpy",
    "dictate.app",
    "PySide6.QtWidgets",
    "dictate.ui.qt_app",
    "sounddevice",
    "onnxruntime",
    "torch",
    # What transformers' model code pulls in beside torch (each with torch, alone): the compiler
    # front end (it needs sympy), the distributed tensors, and scipy (for object-detection losses).
    "sympy",
    "torch._dynamo",
    "torch.distributed.tensor",
    "scipy.optimize",
    "transformers",
    "transformers.models.whisper.modeling_whisper",
    "dictate.engine.transcriber",
)


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024.0
    return found


def rss_split(pid: int) -> dict[str, float]:
    """A process's resident memory by what it maps, in MB (from /proc/PID/smaps)."""
    split = dict.fromkeys(RSS_PARTS, 0.0)
    where = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and not head[0].endswith(":"):
            where = head[5] if len(head) > 5 else ""
        elif head and head[0] == "Rss:":
            split[_rss_part(where)] += int(head[1]) / 1024.0
    return split


RSS_PARTS = ("anonymous", "model file", "torch", "Qt", "other files")


def _rss_part(where: str) -> str:
    if not where.startswith("/"):
        return "anonymous"  # [heap], [anon], [stack]: Python objects, tensors, buffers
    if where.endswith(".safetensors"):
        return "model file"
    if "/torch/" in where:
        return "torch"
    if "PySide6" in where or "shiboken6" in where or "/libQt" in where:
        return "Qt"
    return "other files"


def wait_ready(sock: Path, proc: subprocess.Popen, timeout: float = 180.0) -> float:
    """Seconds until the app at `sock` says ready (polled over the socket every 20 ms)."""
    from dictate.control.ipc import send
    from dictate.errors import DictateError

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}")
        try:
            if str(send("status", path=sock, timeout=1.0).get("state", "")).startswith("ready"):
                return time.monotonic() - t0
        except DictateError:
            pass
        time.sleep(0.02)
    raise RuntimeError("the app never became ready")


def main(argv: Sequence[str] | None = None) -> int:
    p = arguments(__doc__)
    p.add_argument(
        "--window-only",
        action="store_true",
        help="only the window app's start, ready and memory, and the import costs",
    )
    args = p.parse_args(argv)
    started, load_before, log = begin()
    import desktop

    if missing := desktop.missing_tools():
        print(f"footprint: missing {', '.join(missing)} (bash tests/setup.sh)")
        return 2
    import numpy as np
    import soundfile as sf
    import speech

    from tests.desktop import test_dictation_e2e as e2e

    if args.window_only:
        settings = {"model": "embedded", "device": "cpu", "mode": "hold"}
        with desktop.session(settings) as s:
            ui = [window_app(s, i) for i in range(args.runs + 1)][1:]  # the first: not timed
            steps = steps_probe(s.env, min(args.runs, 3))
        costs = import_costs()
        context = context_lines(command_line("footprint.py", argv), started, load_before)
        print(
            "\n".join(
                [*context, "", *window_rows(ui, costs), *steps_rows(steps, min(args.runs, 3))]
            )
        )
        return 0
    ready_s: list[float] = []
    idle_mb: list[float] = []
    peak_mb: list[float] = []
    toggle_ms: list[float] = []
    torch_in_toggle = None
    settings = {"model": "embedded", "device": "cpu", "mode": "hold"}
    with desktop.session(settings) as s:
        cmd = [sys.executable, "-m", "dictate", "--headless", "--mode", "hold"]
        # A first start converts the model if it is not cached yet: not timed.
        for i in range(args.runs + 1):
            log_file = (s.root / f"app-{i}.log").open("w")
            proc = subprocess.Popen(cmd, env=s.env, stdout=log_file, stderr=subprocess.STDOUT)
            try:
                seconds = wait_ready(s.socket, proc)
                time.sleep(3.0)
                status = proc_status(proc.pid)
                if i:
                    ready_s.append(seconds)
                    idle_mb.append(status["VmRSS"])
                log(f"start {i}: ready in {seconds:.2f} s, RSS {status['VmRSS']:.0f} MB")
                if i == args.runs:  # the last one also dictates, and takes the toggle timings
                    toggle_ms, torch_in_toggle = toggles(s, args.runs)
                    s.desktop.dictate("start")
                    e2e.play(s.desktop, speech.fixtures_dir() / "jfk.flac")
                    s.desktop.dictate("stop")
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:
                        if s.desktop.dictate("status").stdout.startswith("ready"):
                            break
                        time.sleep(0.2)
                    peak_mb.append(proc_status(proc.pid)["VmHWM"])
            finally:
                proc.terminate()
                proc.wait(30)
                log_file.close()
        # `dictate transcribe` on a 2 min file: the peak of a file transcription.
        audio, _ = speech.long_file(2.0)
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "two-minutes.wav"
            sf.write(wav, np.asarray(audio), 16000, subtype="PCM_16")
            run = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import resource, sys; from dictate.cli import main; code = main(sys.argv[1:]);"
                    " print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr);"
                    " sys.exit(code)",
                    "transcribe",
                    str(wav),
                    "--model",
                    "embedded",
                    "--device",
                    "cpu",
                ],
                env=s.env,
                capture_output=True,
                text=True,
                check=True,
            )
            file_peak_mb = int(run.stderr.strip().splitlines()[-1]) / 1024.0

        ui = [window_app(s, i) for i in range(args.runs)]
        steps = steps_probe(s.env, min(args.runs, 3))
    costs = import_costs()

    context = context_lines(command_line("footprint.py", argv), started, load_before)
    med = sorted(idle_mb)[len(idle_mb) // 2]
    tmed = sorted(toggle_ms)[len(toggle_ms) // 2]
    lines = [
        *context,
        "",
        "| measure | value | target |",
        "|---|---:|---|",
        f"| start → ready (model cached), s | {cell(ready_s, 2)} | |",
        f"| idle RSS, model loaded, MB | {cell(idle_mb)} | ≤ {TARGET_IDLE_MB:.0f} MB: "
        f"**{'met' if med <= TARGET_IDLE_MB else 'not met'}** |",
        f"| peak RSS of the app after a dictation (VmHWM), MB | {cell(peak_mb)} | |",
        f"| peak RSS of `dictate transcribe` on a 2 min file, MB | {file_peak_mb:.0f} | |",
        f"| `dictate toggle` round trip (process start → exit), ms | {cell(toggle_ms)} | "
        f"≤ {TARGET_TOGGLE_MS:.0f} ms: **{'met' if tmed <= TARGET_TOGGLE_MS else 'not met'}** |",
        f"| `dictate toggle` imports torch | {'yes' if torch_in_toggle else 'no'} | no |",
        *window_rows(ui, costs)[2:],
        *steps_rows(steps, min(args.runs, 3)),
        f"{args.runs} app starts after one untimed start; toggles: {2 * args.runs} (start and "
        "stop alternately, each a full `dictate toggle` process).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    save_targets(
        args.targets,
        [
            target(
                f"idle RSS with tiny.en ≤ {TARGET_IDLE_MB:.0f} MB",
                f"{med:.0f} MB",
                med <= TARGET_IDLE_MB,
            ),
            target(
                f"`dictate toggle` round trip ≤ {TARGET_TOGGLE_MS:.0f} ms, no torch",
                f"{tmed:.0f} ms, torch {'imported' if torch_in_toggle else 'not imported'}",
                tmed <= TARGET_TOGGLE_MS and not torch_in_toggle,
            ),
        ],
    )
    if args.write_readme:
        write_section("footprint", text)
    return 0


def window_rows(ui: list[dict], costs: list[tuple[str, float, float]]) -> list[str]:
    return [
        "| measure | value | target |",
        "|---|---:|---|",
        f"| window app: start → main window visible, s | {cell([u['shown_s'] for u in ui], 2)} "
        f"| ≤ {TARGET_SHOWN_S} s: **{met([u['shown_s'] for u in ui], TARGET_SHOWN_S)}** |",
        f"| window app: state shown then | {', '.join(sorted({u['state'] for u in ui}))} "
        "| loading |",
        f"| window app: start → ready, s | {cell([u['ready_s'] for u in ui], 2)} "
        f"| ≤ {TARGET_READY_S} s: **{met([u['ready_s'] for u in ui], TARGET_READY_S)}** |",
        f"| window app: RSS 3 s after one dictation, MB | {cell([u['rss_mb'] for u in ui])} "
        f"| ≤ {TARGET_IDLE_MB:.0f} MB: **{met([u['rss_mb'] for u in ui], TARGET_IDLE_MB)}** |",
        *(
            f"| … of which {part}, MB | {cell([u[f'rss {part}'] for u in ui])} | |"
            for part in RSS_PARTS
        ),
        "",
        "| import (alone, fresh process) | s | RSS added, MB |",
        "|---|---:|---:|",
        *(f"| `{name}` | {sec:.2f} | {mb:.0f} |" for name, sec, mb in costs),
        "",
    ]


def met(values: list[float], bound: float) -> str:
    return "met" if sorted(values)[len(values) // 2] <= bound else "not met"


def window_app(s, i: int) -> dict[str, float | str]:
    """`python -m dictate` with a display and no tray host: its main window is what shows."""
    env = {**s.env, "QT_QPA_PLATFORM": "xcb"}
    log_file = (s.root / f"ui-{i}.log").open("w")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dictate"], env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    try:
        shown_s = None
        while time.monotonic() - t0 < 120 and proc.poll() is None:
            found = subprocess.run(
                ["xdotool", "search", "--onlyvisible", "--name", "^dictate$"],
                env=env,
                capture_output=True,
                text=True,
            )
            if found.stdout.strip():
                shown_s = time.monotonic() - t0
                break
            time.sleep(0.02)
        if shown_s is None:
            raise RuntimeError(f"no window: {(s.root / f'ui-{i}.log').read_text()}")
        state = s.desktop.dictate("status").stdout.strip().split(":")[0]
        wait_ready(s.socket, proc)
        ready_s = time.monotonic() - t0
        import speech

        from tests.desktop import test_dictation_e2e as e2e

        s.desktop.dictate("start")
        e2e.play(s.desktop, speech.fixtures_dir() / "jfk.flac")
        s.desktop.dictate("stop")
        wait_ready(s.socket, proc)
        time.sleep(3.0)
        rss_mb = proc_status(proc.pid)["VmRSS"]
        split = rss_split(proc.pid)
        print(
            f"window app {i}: shown {shown_s:.2f} s ({state}), ready {ready_s:.2f} s, "
            f"RSS after a dictation {rss_mb:.0f} MB",
            file=sys.stderr,
        )
        return {
            "shown_s": shown_s,
            "state": state,
            "ready_s": ready_s,
            "rss_mb": rss_mb,
            **{f"rss {part}": mb for part, mb in split.items()},
        }
    finally:
        proc.terminate()
        proc.wait(30)
        log_file.close()


# One fresh process through what the app does, step by step: seconds of each step and the
# resident memory after it (anonymous: heap and Python objects; file: mapped libraries and the
# model's safetensors file, which the fp32 weights are read from in place).
STEPS_PROBE = """
import json, sys, time
t_all = time.perf_counter()
def mem():
    found = {}
    for line in open('/proc/self/status'):
        key, _, value = line.partition(':')
        if key in ('VmRSS', 'RssAnon', 'RssFile'):
            found[key] = int(value.split()[0]) / 1024
    return found
def step(name, fn):
    t0 = time.perf_counter()
    fn()
    print(json.dumps({'step': name, 's': time.perf_counter() - t0, **mem()}), flush=True)
def whisper_code():
    import dictate.engine.transcriber
    from transformers import WhisperForConditionalGeneration, WhisperProcessor
print(json.dumps({'step': 'interpreter', 's': 0.0, **mem()}), flush=True)
step('import numpy, dictate.app', lambda: __import__('dictate.app'))
step('import torch', lambda: __import__('torch'))
step("import transformers' Whisper code (and the engine)", whisper_code)
from dictate.audio.gate import SpeechGate
from dictate.engine.transcriber import Engine
gate = SpeechGate()
step('speech gate (Silero, ONNX Runtime)', gate.load)
engine = Engine('embedded', device='cpu', gate=gate)
step('load tiny.en', engine.load)
step('warm-up (int8 copies, first inference)', engine.warmup)
from dictate.audio.decode import load_audio
audio = load_audio(sys.argv[1])
step('one dictation (jfk.flac, 11 s)', lambda: engine.transcribe(audio))
from dictate import memory
step('give back (gc, malloc_trim)', lambda: memory.give_back(collect=True))
model_mb, where = 0.0, None
for line in open('/proc/self/smaps'):
    head = line.split()
    if head and '-' in head[0] and not head[0].endswith(':'):
        where = head[5] if len(head) > 5 else None
    elif head and head[0] == 'Rss:' and where and where.endswith('.safetensors'):
        model_mb += int(head[1]) / 1024
print(json.dumps({'step': 'total', 's': time.perf_counter() - t_all, 'model_file_mb': model_mb,
                  'modules': len(sys.modules)}))
"""


def steps_probe(env: dict[str, str], runs: int) -> list[dict]:
    """STEPS_PROBE `runs` times, each in a fresh process: [{step, s (min), MB (median)...}]."""
    import speech

    jfk = str(speech.fixtures_dir() / "jfk.flac")
    results: list[list[dict]] = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", STEPS_PROBE, jfk],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        results.append([json.loads(line) for line in done.stdout.splitlines() if line[:1] == "{"])
    rows = []
    for i, first in enumerate(results[0]):
        same = [r[i] for r in results]
        row = {"step": first["step"], "s": min(x["s"] for x in same)}
        for key in ("VmRSS", "RssAnon", "RssFile", "model_file_mb", "modules"):
            if key in first:
                row[key] = sorted(x[key] for x in same)[len(same) // 2]
        rows.append(row)
    return rows


def steps_rows(steps: list[dict], runs: int) -> list[str]:
    body = [s for s in steps if s["step"] != "total"]
    total = next(s for s in steps if s["step"] == "total")
    return [
        f"Step by step in one fresh process (tiny.en on the CPU, no UI; {runs} runs: seconds "
        "the min, MB the median; anonymous = heap and Python objects, file = mapped libraries "
        "and the model file):",
        "",
        "| step | s | RSS after, MB | anonymous | file |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {s['step']} | {s['s']:.2f} | {s['VmRSS']:.0f} | {s['RssAnon']:.0f} "
            f"| {s['RssFile']:.0f} |"
            for s in body
        ),
        "",
        f"At the end: {total['model_file_mb']:.0f} MB of the RSS is the model's safetensors file "
        f"(fp32 weights read in place), {total['modules']:.0f} modules imported; all steps "
        f"{total['s']:.1f} s.",
        "",
    ]


def import_costs() -> list[tuple[str, float, float]]:
    """(module, seconds, MB) for each of IMPORTS imported alone, over a bare interpreter."""
    probe = (
        "import sys, time\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS'):\n"
        "            return int(line.split()[1]) / 1024\n"
        "before = rss(); t0 = time.perf_counter()\n"
        "if sys.argv[1]: __import__(sys.argv[1])\n"
        "print(time.perf_counter() - t0, rss() - before)\n"
    )
    rows = []
    for name in IMPORTS:
        runs = []
        for _ in range(3):
            done = subprocess.run(
                [sys.executable, "-c", probe, name], capture_output=True, text=True, check=True
            )
            runs.append(tuple(float(x) for x in done.stdout.split()))
        sec, mb = sorted(runs)[1]
        rows.append((name, sec, mb))
    return rows


def toggles(s, runs: int) -> tuple[list[float], bool]:
    """`dictate toggle` 2·runs times (start, stop, …): wall ms each; whether torch was imported."""
    times = []
    for _ in range(2 * runs):
        t0 = time.perf_counter()
        done = s.desktop.dictate("toggle")
        times.append((time.perf_counter() - t0) * 1000.0)
        if done.returncode != 0:
            raise RuntimeError(f"dictate toggle failed: {done.stderr}")
        time.sleep(0.5)
    probe = s.desktop.run(sys.executable, "-X", "importtime", "-m", "dictate", "toggle")
    time.sleep(0.5)
    s.desktop.dictate("toggle")  # and stop that recording again
    imported = {line.rsplit("|", 1)[-1].strip() for line in probe.stderr.splitlines()}
    return times, any(name == "torch" or name.startswith("torch.") for name in imported)


if __name__ == "__main__":
    sys.exit(main())
