"""A private desktop for the app benchmarks: Xvfb, a PulseAudio virtual microphone, and the
harness pieces of tests/desktop (the Qt target window, the app process, xdotool helpers)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import REPO

TOOLS = ("Xvfb", "xdpyinfo", "xdotool", "xclip", "pulseaudio", "paplay")


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def start_xvfb() -> tuple[subprocess.Popen, str]:
    number = next(
        n
        for n in range(160, 260)
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists()
    )
    display = f":{number}"
    # -noreset: without it a few connections in a thousand fail (see tests/desktop/conftest.py).
    server = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {**os.environ, "DISPLAY": display}
    deadline = time.monotonic() + 10
    while subprocess.run(["xdpyinfo"], env=env, capture_output=True).returncode != 0:
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"Xvfb {display} did not start")
        time.sleep(0.1)
    return server, display


@dataclass
class Session:
    """What a benchmark gets: the environment for the app's processes and the harness."""

    root: Path
    env: dict[str, str]
    socket: Path
    desktop: Any  # tests.desktop.test_dictation_e2e.Desktop


@contextlib.contextmanager
def session(settings: dict[str, Any]) -> Iterator[Session]:
    """Xvfb + PulseAudio virtual microphone + a private config (`settings`), data and socket;
    everything is torn down afterwards."""
    from tests.desktop import test_dictation_e2e as e2e
    from tests.desktop.fixtures_audio import VirtualMic

    root = Path(tempfile.mkdtemp(prefix="dictate-bench-"))
    runtime = root / "pulse"
    runtime.mkdir(mode=0o700)
    xvfb, display = start_xvfb()
    mic = VirtualMic(runtime)
    try:
        mic.start()
        sock = runtime / "dictate-bench.sock"
        env = {
            **os.environ,
            **mic.env,
            "DISPLAY": display,
            "PYTHONPATH": str(REPO),
            "DICTATE_DATA_DIR": str(root / "data"),
            "DICTATE_CONFIG_DIR": str(root / "config"),
            "DICTATE_SOCKET": str(sock),
        }
        (root / "config").mkdir()
        (root / "config" / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
        yield Session(root, env, sock, e2e.Desktop(env, root))
    finally:
        mic.stop()
        xvfb.terminate()
        xvfb.wait(10)
        shutil.rmtree(root, ignore_errors=True)
