"""A PulseAudio virtual microphone for the capture tests (see docs/desktop-testing.md).

A null sink ``vmic_sink`` (16 kHz mono) whose monitor is remapped to the source ``vmic``, made the
default input: whatever a test plays into the sink with ``paplay`` is what sounddevice's default
input device (ALSA ``default`` -> pulse -> vmic) records. The daemon runs in a private
XDG_RUNTIME_DIR and is torn down after the session.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

TOOLS = ("pulseaudio", "pactl", "parec", "paplay")
PCM = ("--rate=16000", "--channels=1", "--format=s16le")


def _reinit_portaudio() -> None:
    """PortAudio lists devices once, when initialised: re-list them now that the server is up."""
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        sd._terminate()
        sd._initialize()


class VirtualMic:
    """Start/kill/restart the private PulseAudio daemon; play files into the virtual mic."""

    def __init__(self, runtime: Path) -> None:
        self.runtime = runtime
        # For the pulse tools run as subprocesses: no PULSE_SERVER, or a desktop's own would win.
        self.env = {k: v for k, v in os.environ.items() if k != "PULSE_SERVER"}
        self.env["XDG_RUNTIME_DIR"] = str(runtime)
        self.env["PULSE_CLIENTCONFIG"] = str(runtime / "client.conf")
        (runtime / "client.conf").write_text("autospawn = no\n")  # a killed server stays dead
        self._reader: subprocess.Popen[bytes] | None = None

    def _run(self, *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    @property
    def pid(self) -> int | None:
        try:
            return int((self.runtime / "pulse" / "pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def start(self) -> None:
        log = self.runtime / "pulseaudio.log"
        self._run(
            "pulseaudio", "-D", "--exit-idle-time=-1", "--system=false", f"--log-target=file:{log}"
        )
        deadline = time.monotonic() + 15
        while self._run("pactl", "info").returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PulseAudio did not start; see {log}")
            time.sleep(0.1)
        for cmd in (
            ("load-module", "module-null-sink", "sink_name=vmic_sink", "rate=16000", "channels=1"),
            ("load-module", "module-remap-source", "master=vmic_sink.monitor", "source_name=vmic"),
            ("set-default-source", "vmic"),
        ):
            done = self._run("pactl", *cmd)
            if done.returncode != 0:
                raise RuntimeError(f"pactl {' '.join(cmd)} failed: {done.stderr.strip()}")
        # Trap 1: with no reader for a few seconds, a new capture loses its first 1-2 s.
        self._reader = subprocess.Popen(
            ["parec", "--device=vmic_sink.monitor", "--latency-msec=10", *PCM],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Trap 2: the first capture after the server starts loses ~0.3 s: warm up with a read.
        warm = subprocess.Popen(
            ["parec", "--device=vmic", *PCM],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert warm.stdout is not None
            warm.stdout.read(16000)
        finally:
            warm.kill()
            warm.wait()
        _reinit_portaudio()

    def kill(self) -> None:
        """SIGKILL the daemon (a crash, or the device vanishing) and wait until it is gone."""
        pid = self.pid
        comm = Path(f"/proc/{pid}/comm")
        if pid is not None and comm.exists() and comm.read_text().strip() == "pulseaudio":
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.02)
        if self._reader is not None:
            self._reader.kill()
            self._reader.wait()
            self._reader = None

    def stop(self) -> None:
        if self._run("pactl", "exit").returncode != 0:
            self.kill()
        deadline = time.monotonic() + 5
        while self.pid is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.kill()

    def play(self, path: Path) -> subprocess.Popen[bytes]:
        """Start playing a file into the virtual microphone (real time) and return at once."""
        return subprocess.Popen(
            ["paplay", "--device=vmic_sink", str(path)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


@pytest.fixture(scope="session")
def virtual_mic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualMic]:
    """The session's PulseAudio daemon. This process (PortAudio -> ALSA -> libpulse) reaches it
    through PULSE_SERVER, so XDG_RUNTIME_DIR stays as it was for the other tests."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(
            f"needs PulseAudio tools ({', '.join(missing)} missing: apt install "
            "pulseaudio pulseaudio-utils libasound2-plugins)"
        )
    try:
        import sounddevice  # noqa: F401  (PortAudio present?)
    except (OSError, ImportError) as exc:
        pytest.skip(
            f"sounddevice unusable ({exc}): apt install libportaudio2; pip install sounddevice"
        )
    runtime = tmp_path_factory.mktemp("pulse-runtime")
    runtime.chmod(0o700)  # PulseAudio refuses a runtime dir others can read
    saved = {k: os.environ.get(k) for k in ("PULSE_SERVER", "PULSE_CLIENTCONFIG")}
    mic = VirtualMic(runtime)
    os.environ["PULSE_SERVER"] = f"unix:{runtime / 'pulse' / 'native'}"
    os.environ["PULSE_CLIENTCONFIG"] = mic.env["PULSE_CLIENTCONFIG"]
    try:
        mic.start()
        yield mic
    finally:
        mic.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
