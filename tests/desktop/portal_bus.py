"""A private D-Bus session bus and the stand-in portal (fake_portal.py) on it, for the tests."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

FAKE_PORTAL = Path(__file__).with_name("fake_portal.py")


class Bus:
    """`dbus-daemon --session` of our own; `address` goes into DBUS_SESSION_BUS_ADDRESS."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # "Failed to set fd limit" as root: harmless
            text=True,
        )
        assert self.proc.stdout is not None
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            raise RuntimeError("dbus-daemon did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class FakePortal:
    """fake_portal.py running on `bus`: press/release shortcuts, read what it reports."""

    def __init__(self, bus: Bus, *args: str) -> None:
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": bus.address}
        self.proc = subprocess.Popen(
            [sys.executable, str(FAKE_PORTAL), *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.reports: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert "ready" in self.next_report(), "the stand-in portal did not start"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.reports.put(json.loads(line))

    def next_report(self, key: str | None = None, timeout: float = 10) -> dict:
        """The next report (that has `key`, skipping others)."""
        while True:
            report = self.reports.get(timeout=timeout)
            if key is None or key in report:
                return report

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        self.next_report("sent")

    def press(self, shortcut: str) -> None:
        self.send(f"press {shortcut}")

    def release(self, shortcut: str) -> None:
        self.send(f"release {shortcut}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def missing() -> str | None:
    if shutil.which("dbus-daemon") is None:
        return "dbus-daemon is not installed (apt install dbus)"
    try:
        import jeepney  # noqa: F401
    except ImportError:
        return "jeepney is not installed (pip install jeepney)"
    return None
