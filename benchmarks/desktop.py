"""A private desktop for the app benchmarks: Xvfb, a PulseAudio virtual microphone, and the
harness pieces of tests/desktop (the Qt target window, the app process, xdotool helpers)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import REPO

TOOLS = ("Xvfb", "xdpyinfo", "xdotool", "xclip", "pulseaudio", "paplay")


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


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
    from tests.desktop import xvfb as x_server

    xvfb, display = x_server.start(160)
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
