"""A private X server (Xvfb) for the desktop tests and the app benchmarks."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def display_works(env: dict[str, str]) -> bool:
    """Whether the display named in `env` answers (xdpyinfo)."""
    try:
        probe = subprocess.run(["xdpyinfo"], env=env, capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def start(first: int) -> tuple[subprocess.Popen, str]:
    """Xvfb on the first free display number from `first` (1280×800): (server, ":N"). Raises
    RuntimeError, with no server left running, if it does not answer within 10 s."""
    number = next(
        n
        for n in range(first, first + 100)
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists()
    )
    display = f":{number}"
    # -noreset: without it ~0.5 % of connections fail with "Connection reset by peer".
    server = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {**os.environ, "DISPLAY": display}
    deadline = time.monotonic() + 10
    while not display_works(env):
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            server.wait(10)
            raise RuntimeError(f"Xvfb {display} did not start")
        time.sleep(0.1)
    return server, display
