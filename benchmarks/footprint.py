#!/usr/bin/env python
"""Footprint: start to ready, memory, and the `dictate toggle` round trip.

- start → ready: `python -m dictate --headless` (tiny.en on the CPU, model already converted
  and cached) from process start until its control socket answers `ready` (asked every 20 ms
  over the socket itself, so the polling costs no process starts);
- idle RSS: the app's resident memory 3 s after it is ready (model loaded and warm);
- peak RSS: its high-water mark (VmHWM) after one dictation of jfk.flac (11 s) through the
  virtual microphone, and that of `dictate transcribe` on a 2 min file;
- `dictate toggle`: wall time of the whole command (process start to exit, as a hotkey daemon
  runs it) while the app runs, and whether it imported torch (`python -X importtime`).

Memory comes from /proc/PID/status (Linux). Desktop: Xvfb + PulseAudio, as release_to_text.py.

    python benchmarks/footprint.py [--runs 5] [--write-readme]
"""

from __future__ import annotations

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


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024.0
    return found


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
        "",
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
