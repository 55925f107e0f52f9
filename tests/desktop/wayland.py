"""Headless Wayland compositors for the desktop tests: sway (wlroots, with the virtual-keyboard
protocol) and weston (without it, as GNOME and KDE), and a `foot` terminal as the target window.

sway refuses to run as root, so when the tests run as root the compositor and the target run as
an unprivileged user made for them (`dictate-wl`); the test process may still connect as root. The
socket is handed to clients as an absolute WAYLAND_DISPLAY, which leaves XDG_RUNTIME_DIR to the
PulseAudio fixture.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

USER = "dictate-wl"


def _user() -> tuple[str, int, int] | None:
    """(name, uid, gid) to run the compositor as; None: ourselves (we are not root)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", USER], check=True, capture_output=True)
        entry = pwd.getpwnam(USER)
    return entry.pw_name, entry.pw_uid, entry.pw_gid


def missing(*tools: str) -> str | None:
    """A skip reason when a tool is not installed (or we are root without useradd/runuser)."""
    needed = list(tools) + (["useradd", "runuser"] if os.geteuid() == 0 else [])
    absent = [t for t in needed if shutil.which(t) is None]
    return f"not installed: {', '.join(absent)} (bash tests/setup.sh)" if absent else None


class Compositor:
    """sway or weston, headless, in a private runtime folder; `env` is for its clients."""

    def __init__(self, kind: str, layout: str | None = None, variant: str | None = None) -> None:
        self.kind = kind
        self.user = _user()
        self.runtime = Path(tempfile.mkdtemp(prefix=f"dictate-{kind}-"))
        if self.user is not None:
            os.chown(self.runtime, self.user[1], self.user[2])
        os.chmod(self.runtime, 0o700)
        self.socket = self.runtime / "wayland-1"
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": pwd.getpwuid(self.user[1]).pw_dir if self.user else os.environ["HOME"],
            "XDG_RUNTIME_DIR": str(self.runtime),
        }
        if kind == "sway":
            config = self.runtime / "sway.cfg"
            lines = ["output HEADLESS-1 resolution 1280x800", "xwayland disable"]
            if layout:
                lines.append(f"input * xkb_layout {layout}")
            if variant:
                lines.append(f"input * xkb_variant {variant}")
            config.write_text("\n".join(lines) + "\n")
            os.chmod(config, 0o644)
            argv = ["sway", "-c", str(config)]
            base |= {
                "WLR_BACKENDS": "headless",
                "WLR_LIBINPUT_NO_DEVICES": "1",
                "WLR_RENDERER": "pixman",
            }
        else:
            argv = ["weston", "--backend=headless-backend.so", "--socket=wayland-1"]
            argv.append("--idle-time=0")
        self.log = self.runtime / f"{kind}.log"
        self.proc = self._spawn(argv, base, self.log)
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{kind} did not start: {self.log_text()[-2000:]}")
            time.sleep(0.05)
        self.base = base
        # For clients (the app, wtype, wl-copy): an absolute socket path, no X display.
        self.env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        self.env["WAYLAND_DISPLAY"] = str(self.socket)

    def _spawn(self, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        if self.user is not None:
            argv = ["runuser", "-u", self.user[0], "--", *argv]
        with log.open("wb") as out:
            return subprocess.Popen(
                ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.runtime,
                start_new_session=True,
            )

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def swaymsg(self, *args: str) -> str:
        sock = next(self.runtime.glob("sway-ipc.*.sock"))
        done = subprocess.run(
            ["swaymsg", "-s", str(sock), *args], capture_output=True, text=True, timeout=10
        )
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout

    def terminal(self) -> FootTarget:
        return FootTarget(self)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)  # runuser and the compositor: its own session
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)
        shutil.rmtree(self.runtime, ignore_errors=True)


class FootTarget:
    """A foot terminal running `cat` into a file: what is typed or pasted into it lands there."""

    def __init__(self, compositor: Compositor) -> None:
        self.compositor = compositor
        self.file = compositor.runtime / f"typed-{time.monotonic_ns()}.txt"
        self.file.touch()
        if compositor.user is not None:
            os.chown(self.file, compositor.user[1], compositor.user[2])
        env = {**compositor.base, "WAYLAND_DISPLAY": "wayland-1"}
        # -icanon: bytes reach cat as they come, not per line; -echo: nothing drawn twice.
        script = f"stty -icanon -echo; printf R > {self.file}.ready; exec cat > {self.file}"
        self.proc = compositor._spawn(
            ["foot", "sh", "-c", script], env, compositor.runtime / "foot.log"
        )
        ready = Path(f"{self.file}.ready")
        deadline = time.monotonic() + 20
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("foot did not start: " + compositor.log_text()[-2000:])
            time.sleep(0.05)
        time.sleep(0.3)  # cat is running; give the window its focus

    def text(self) -> str:
        return self.file.read_bytes().decode("utf-8", "replace")

    def wait_text(self, expected: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while self.text() != expected and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.text()

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(10)
