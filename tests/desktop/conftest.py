"""Desktop tests: real sound server, real X display. Run with `-m "" -p no:xvfb`."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Session fixtures shared by the desktop test modules. Defined here, once: a module that imports
# a session fixture itself gets its own instance (a second PulseAudio daemon).
from tests.desktop.fixtures_audio import virtual_mic  # noqa: F401


def _display_works(env: dict[str, str]) -> bool:
    try:
        probe = subprocess.run(["xdpyinfo"], env=env, capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """The DISPLAY to use: an answering one from the environment, else a private Xvfb."""
    for tool in ("xdotool", "xdpyinfo"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (apt install xdotool x11-utils)")
    if os.environ.get("DISPLAY") and _display_works(dict(os.environ)):
        yield os.environ["DISPLAY"]
        return
    if shutil.which("Xvfb") is None:
        pytest.skip("no X display and no Xvfb (apt install xvfb)")
    number = next(
        n
        for n in range(140, 240)
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
    try:
        deadline = time.monotonic() + 10
        while not _display_works(env):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"Xvfb {display} did not start")
            time.sleep(0.1)
        saved = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = display  # pynput connects at import, to $DISPLAY
        try:
            yield display
        finally:
            if saved is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = saved
    finally:
        server.terminate()
        server.wait(timeout=10)
