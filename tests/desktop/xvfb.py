"""A private X server (Xvfb) with a real window manager (openbox) for the desktop tests and the
app benchmarks. Every desktop has a window manager, and focus and activation are its doing: a bare
Xvfb focuses nothing by itself, so it hid a model window that openbox made the active window
(issue 23)."""

from __future__ import annotations

import os
import shutil
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


def wm_running(env: dict[str, str]) -> bool:
    """Whether an EWMH window manager manages the display in `env` (_NET_SUPPORTING_WM_CHECK)."""
    try:
        probe = subprocess.run(
            ["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"],
            env=env,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0 and "window id" in probe.stdout


class XSession:
    """Xvfb and its window manager, stopped together (the Popen calls callers make on it)."""

    def __init__(self, server: subprocess.Popen, wm: subprocess.Popen | None) -> None:
        self.server, self.wm = server, wm

    def poll(self) -> int | None:
        return self.server.poll()

    def terminate(self) -> None:
        if self.wm is not None and self.wm.poll() is None:
            self.wm.terminate()
            try:
                self.wm.wait(5)
            except subprocess.TimeoutExpired:
                self.wm.kill()
                self.wm.wait(5)
        self.server.terminate()

    def kill(self) -> None:
        if self.wm is not None and self.wm.poll() is None:
            self.wm.kill()
        self.server.kill()

    def wait(self, timeout: float | None = None) -> int:
        return self.server.wait(timeout)


def start_wm(env: dict[str, str]) -> subprocess.Popen | None:
    """openbox on the display in `env`, once it manages it; None where openbox is not installed.
    Raises RuntimeError if it does not take the display within 10 s."""
    if shutil.which("openbox") is None:
        return None
    wm = subprocess.Popen(
        ["openbox", "--sm-disable"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not wm_running(env):
        if wm.poll() is not None or time.monotonic() > deadline:
            wm.kill()
            wm.wait(10)
            raise RuntimeError("openbox did not take the display")
        time.sleep(0.1)
    return wm


def start(first: int, *, wm: bool = True) -> tuple[XSession, str]:
    """Xvfb on the first free display number from `first` (1280×800), with openbox when `wm`
    and installed: (session, ":N"). Raises RuntimeError, with nothing left running, if either
    does not answer within 10 s."""
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
    try:
        manager = start_wm(env) if wm else None
    except RuntimeError:
        server.kill()
        server.wait(10)
        raise
    return XSession(server, manager), display
