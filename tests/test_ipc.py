"""The control socket: a real in-process server; real clients and processes; hostile input."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dictate.control import ipc
from dictate.control.ipc import NOT_RUNNING, ControlError, ControlServer, NotRunning, send
from dictate.errors import DictateError
from tests.conftest import REPO

HEAVY = ("torch", "transformers", "numpy", "PySide6", "PyQt5", "PyQt6")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NEXT_STATE = {"start": "recording", "stop": "transcribing", "cancel": "ready"}
pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no AF_UNIX here")


class FakeApp:
    """Stands in for the app: a tiny state machine that records where it was called from."""

    def __init__(self) -> None:
        self.state = "ready"
        self.calls: list[tuple[str, dict, str]] = []

    def __call__(self, command: str, args: dict) -> dict:
        self.calls.append((command, args, threading.current_thread().name))
        if command == "toggle":
            self.state = "transcribing" if self.state == "recording" else "recording"
        self.state = NEXT_STATE.get(command, self.state)
        if command == "status" and self.state == "recording":
            return {"state": self.state, "detail": "3.2 s"}
        return {"state": self.state}


@pytest.fixture
def path() -> Iterator[Path]:
    # Not tmp_path: pytest's long test-named folders can pass the ~104-byte AF_UNIX path limit.
    folder = Path(tempfile.mkdtemp(prefix="dct-"))
    yield folder / "c.sock"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def app() -> FakeApp:
    return FakeApp()


@pytest.fixture
def server(app: FakeApp, path: Path) -> Iterator[ControlServer]:
    with ControlServer(app, path, client_timeout=0.5) as srv:
        yield srv


def unix(connect_to: Path | None = None) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    if connect_to is not None:
        s.connect(str(connect_to))
    return s


def raw_exchange(path: Path, payload: bytes, *, half_close: bool = False) -> dict:
    """Send raw bytes and parse the one reply line."""
    with unix(path) as s:
        s.sendall(payload)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        data = b""
        while b"\n" not in data and (chunk := s.recv(65536)):
            data += chunk  # stop at the line: after it a refused flood may see a reset, not EOF
    return json.loads(data.split(b"\n")[0])


def test_all_commands_round_trip(server: ControlServer, app: FakeApp, path: Path) -> None:
    assert send("status", path=path) == {"ok": True, "state": "ready"}
    assert send("toggle", path=path)["state"] == "recording"
    assert send("status", path=path) == {"ok": True, "state": "recording", "detail": "3.2 s"}
    assert send("toggle", path=path)["state"] == "transcribing"
    assert send("start", {"source": "test"}, path=path)["state"] == "recording"
    assert send("stop", path=path)["state"] == "transcribing"
    assert send("cancel", path=path)["state"] == "ready"
    expected = ["status", "toggle", "status", "toggle", "start", "stop", "cancel"]
    assert [c[0] for c in app.calls] == expected
    assert app.calls[4][1] == {"source": "test"}
    assert {c[2] for c in app.calls} == {"dictate-control"}  # always the one server thread
    assert send("ping", path=path) == {"ok": True, "pid": os.getpid(), "v": 1}
    reply = send("explode", path=path)
    assert reply["ok"] is False and reply["error"].startswith("unknown command 'explode'")
    assert len(app.calls) == 7  # neither reached the app


def test_handler_failures_become_error_replies(path: Path) -> None:
    replies = {"cancel": "not a dict", "toggle": {"state": {1, 2}}, "status": {"state": "ready"}}

    def handler(command: str, args: dict) -> dict:
        if command in ("start", "stop"):
            raise DictateError("no microphone") if command == "start" else RuntimeError("bug")
        return replies[command]  # type: ignore[return-value]

    with ControlServer(handler, path):
        assert send("start", path=path) == {"ok": False, "error": "no microphone"}
        assert send("stop", path=path)["error"] == "internal error: RuntimeError: bug"
        assert "internal error" in send("cancel", path=path)["error"]
        assert "not JSON" in send("toggle", path=path)["error"]
        assert send("status", path=path) == {"ok": True, "state": "ready"}


def test_socket_path_locations(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = path.parent
    monkeypatch.delenv("DICTATE_SOCKET", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    assert ipc.socket_path() == base / "dictate" / "control.sock"
    assert stat.S_IMODE(os.lstat(base / "dictate").st_mode) == 0o700

    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setattr(tempfile, "tempdir", str(base))
    fallback = base / f"dictate-{os.getuid()}"
    assert ipc.socket_path() == fallback / "control.sock"
    assert stat.S_IMODE(os.lstat(fallback).st_mode) == 0o700
    fallback.chmod(0o755)  # ours but too open (an old umask): fixed, not refused
    ipc.socket_path()
    assert stat.S_IMODE(os.lstat(fallback).st_mode) == 0o700

    fallback.rmdir()  # planted by someone else in a shared /tmp: refused
    (base / "elsewhere").mkdir(mode=0o700)
    fallback.symlink_to(base / "elsewhere")
    with pytest.raises(ControlError, match="not a directory"):
        ipc.socket_path()
    fallback.unlink()
    if IS_ROOT:  # only root can make a folder that belongs to someone else
        fallback.mkdir(mode=0o700)
        os.chown(fallback, 65534, 65534)
        with pytest.raises(ControlError, match="belongs to another user"):
            ipc.socket_path()

    monkeypatch.setenv("DICTATE_SOCKET", str(base / "x.sock"))
    assert ipc.socket_path() == base / "x.sock"


def test_socket_modes_and_single_instance(server: ControlServer, path: Path) -> None:
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.lstat(path.parent).st_mode) == 0o700
    assert not list(path.parent.glob(".*.tmp"))  # the bind-then-rename left nothing behind
    with pytest.raises(ipc.AlreadyRunning, match="already running"):
        ControlServer(FakeApp(), path).start()
    assert send("status", path=path)["ok"]  # the first one is untouched
    other = path.with_name("o.sock")
    # A live instance that holds no lock (a platform without flock): the connect probe sees it.
    with unix() as live:
        live.bind(str(other))
        live.listen(1)
        with pytest.raises(ipc.AlreadyRunning):
            ControlServer(FakeApp(), other).start()
        assert stat.S_ISSOCK(os.lstat(other).st_mode)


def test_stale_socket_file_is_replaced_other_files_are_not(path: Path) -> None:
    with unix() as dead:
        dead.bind(str(path))  # what a crashed app leaves: the file, no one listening
    with pytest.raises(NotRunning):
        send("status", path=path)
    with ControlServer(FakeApp(), path):
        assert send("status", path=path) == {"ok": True, "state": "ready"}
    path.write_text("mine")
    with pytest.raises(ControlError, match="not a socket"):
        ControlServer(FakeApp(), path).start()
    assert path.read_text() == "mine"


def test_stop_removes_the_socket_and_can_restart(path: Path) -> None:
    srv = ControlServer(FakeApp(), path)
    srv.start()
    srv.stop()
    srv.stop()  # idempotent
    assert not path.exists()
    with pytest.raises(NotRunning, match="^dictate is not running"):
        send("status", path=path)
    with srv:
        assert send("status", path=path)["ok"]


def test_stop_from_inside_the_handler(path: Path) -> None:
    box: list[ControlServer] = []
    box.append(ControlServer(lambda cmd, args: (box[0].stop(), {"bye": True})[1], path))
    box[0].start()
    assert send("cancel", path=path) == {"ok": True, "bye": True}
    for t in [t for t in threading.enumerate() if t.name == "dictate-control"]:
        t.join(2)  # it cleans up once the handler has returned
    assert not path.exists()


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"not json\n", "malformed request"),
        (b"\xff\xfe\x00\n", "malformed request"),
        (b"[" * 50_000 + b"\n", "malformed request"),  # nesting deep enough to hit recursion
        (b"[1, 2]\n", "expected a JSON object"),
        (b'{"cmd": 5}\n', "'cmd' must be a string"),
        (b'{"cmd": "status", "args": []}\n', "'args' an object"),
        (b'{"cmd": "status", "v": 2}\n', "unsupported protocol version 2"),
        (b"x" * (70 * 1024), "request too large"),
        (b"x" * (70 * 1024) + b"\n", "request too large"),
    ],
    ids=["text", "utf8", "nesting", "array", "cmd", "args", "version", "huge", "huge-line"],
)
def test_bad_requests_get_an_error_and_the_server_lives(
    server: ControlServer, path: Path, payload: bytes, error: str
) -> None:
    reply = raw_exchange(path, payload)
    assert reply["ok"] is False and error in reply["error"]
    assert send("status", path=path)["ok"]


def test_eof_ends_a_request_without_newline(server: ControlServer, path: Path) -> None:
    assert raw_exchange(path, b'{"cmd": "status"}', half_close=True)["state"] == "ready"


def test_slow_client_does_not_block_others(server: ControlServer, path: Path) -> None:
    with unix(path) as slow:
        slow.sendall(b'{"cmd": "sta')  # ... and then nothing
        t0 = time.monotonic()
        assert send("status", path=path)["ok"]
        assert time.monotonic() - t0 < 0.3  # not stuck behind the slow one
        reply = json.loads(slow.recv(4096).split(b"\n")[0])  # server's 0.5 s timeout
    assert reply == {"ok": False, "error": "timed out waiting for the request"}
    assert send("status", path=path)["ok"]


def test_clients_that_vanish_or_flood(path: Path) -> None:
    with ControlServer(FakeApp(), path, client_timeout=5):  # idle ones must outlive the test
        for _ in range(20):  # send and leave before the reply: the server writes to a dead peer
            with unix(path) as s:
                s.sendall(b'{"cmd": "status"}\n')
        idle = [unix(path) for _ in range(40)]  # more than MAX_CONNECTIONS open at once
        try:
            reply = send("status", path=path)
            assert reply["ok"] is False and "busy" in reply["error"]
        finally:
            for s in idle:
                s.close()
        # The server frees the slots as it sees the peers gone (at once on an idle machine,
        # later on a loaded one): it serves again within a few seconds.
        deadline = time.monotonic() + 5
        while not (reply := send("status", path=path))["ok"] and time.monotonic() < deadline:
            assert "busy" in reply["error"], reply
            time.sleep(0.05)
        assert reply["ok"], reply


def test_client_times_out_on_a_silent_listener(path: Path) -> None:
    with unix() as mute:
        mute.bind(str(path))
        mute.listen(1)  # the kernel accepts; no one ever answers
        t0 = time.monotonic()
        with pytest.raises(ControlError, match="not answering") as err:
            send("status", path=path, timeout=0.3)
        assert not isinstance(err.value, NotRunning)
        assert time.monotonic() - t0 < 1.0


def test_other_uid_is_refused_injected(app: FakeApp, path: Path) -> None:
    with ControlServer(app, path, allowed_uid=os.getuid() + 1):
        reply = send("toggle", path=path)
    assert reply["ok"] is False and "permission denied" in reply["error"]
    assert app.calls == []


def test_client_refuses_a_server_of_another_user(
    server: ControlServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ipc, "peer_uid", lambda sock: os.getuid() + 1)
    with pytest.raises(ControlError, match="served by another user"):
        send("status", path=path)


CHILD_CLIENT = """
import socket, sys
print("started")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3)
try:
    s.connect(sys.argv[1])
except PermissionError:
    raise SystemExit(print("EACCES"))
try:
    s.sendall(b'{"cmd": "toggle", "v": 1}\\n')
except BrokenPipeError:  # refused before it wrote: the refusal is already waiting to be read
    pass
print(s.recv(4096).decode().strip())
"""


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def python_for_nobody() -> str:
    """A Python that uid 65534 can run: the client needs only socket and sys, so any will do.
    This one often lives in a home folder nobody else may enter (pyenv under /root); the
    system's python3 (python3-minimal, which tests/setup.sh's python3-dev pulls in) is open."""
    tried = []
    for candidate in dict.fromkeys([sys.executable, "/usr/bin/python3", shutil.which("python3")]):
        if candidate is None:
            continue
        cmd = [*AS_NOBODY, candidate, "-I", "-S", "-c", "print('started')"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        if done.stdout.startswith("started"):
            return candidate
        tried.append(f"{candidate}: {done.stderr.strip()[-120:]}")
    pytest.fail(
        "no Python that uid 65534 can run (apt install python3-minimal): " + "; ".join(tried)
    )


@pytest.mark.skipif(not IS_ROOT or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_other_user_is_refused_for_real(app: FakeApp, server: ControlServer, path: Path) -> None:
    python = python_for_nobody()

    def as_nobody() -> str:
        cmd = [*AS_NOBODY, python, "-I", "-S", "-c", CHILD_CLIENT, str(path)]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        assert result.stdout.startswith("started"), result.stderr
        assert result.returncode == 0, result.stderr
        return result.stdout.split("\n", 1)[1].strip()

    assert as_nobody() == "EACCES"  # first line of defence: the 0700 dir and 0600 socket
    path.parent.chmod(0o711)  # open both up, so only the SO_PEERCRED check stands in the way
    path.chmod(0o666)
    reply = json.loads(as_nobody())
    assert reply["ok"] is False and "permission denied" in reply["error"]
    assert app.calls == []


# -- the client command: in-process, then as real processes --------------------------------


def test_control_command(path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from dictate.commands.control import run

    def control(command: str) -> tuple[int, str, str]:
        code = run(argparse.Namespace(command=command))
        return (code, *capsys.readouterr())

    def no_mic(command: str, args: dict) -> dict:
        raise DictateError("no microphone")

    monkeypatch.setenv("DICTATE_SOCKET", str(path))
    assert control("toggle") == (1, "", f"dictate: {NOT_RUNNING}\n")
    with ControlServer(FakeApp(), path):
        assert control("status") == (0, "ready\n", "")
        assert control("toggle") == (0, "", "")
        assert control("status") == (0, "recording: 3.2 s\n", "")  # the key word first
        for command in ("stop", "start", "cancel"):
            assert control(command) == (0, "", "")
    with ControlServer(no_mic, path):
        assert control("start") == (1, "", "dictate: no microphone\n")


# Runs the client as `python -m dictate CMD` does (or the command module directly, until
# cli.py knows the commands) and reports which heavy modules the process ever imported.
PROBE = """
import atexit, json, sys
report, *argv = sys.argv[1:]
atexit.register(lambda: open(report, "w").write(json.dumps(sorted(set(sys.modules) & HEAVY))))
if argv[0] == "-m":
    import runpy
    sys.argv = ["dictate", *argv[1:]]
    runpy.run_module("dictate", run_name="__main__", alter_sys=True)
import argparse
from dictate.commands.control import run
raise SystemExit(run(argparse.Namespace(command=argv[0])))
""".replace("HEAVY", repr(set(HEAVY)))


def client_process(path: Path, *argv: str) -> tuple[int, str, str, list[str]]:
    report = path.parent / "modules.json"
    env = {**os.environ, "DICTATE_SOCKET": str(path), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", PROBE, str(report), *argv]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=30)
    return r.returncode, r.stdout, r.stderr, json.loads(report.read_text())


def cli_knows(command: str) -> bool:
    from dictate.cli import build_parser

    subs = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return any(command in a.choices for a in subs)


NOT_WIRED = pytest.mark.skipif(
    not cli_knows("status"), reason="dictate/cli.py has no `status` yet (see commands/control.py)"
)


@pytest.mark.parametrize("entry", [(), pytest.param(("-m",), marks=NOT_WIRED)], ids=["run", "cli"])
def test_client_process(server: ControlServer, path: Path, entry: tuple[str, ...]) -> None:
    steps = [("status", "ready\n"), ("toggle", ""), ("status", "recording: 3.2 s\n")]
    for command, out in [*steps, ("stop", ""), ("start", ""), ("cancel", "")]:
        assert client_process(path, *entry, command) == (0, out, "", [])
    if entry:  # and once exactly as a user types it
        env = {**os.environ, "DICTATE_SOCKET": str(path), "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "dictate", "status"]
        plain = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=30)
        assert (plain.returncode, plain.stdout) == (0, "ready\n")
    server.stop()
    expected = (1, "", f"dictate: {NOT_RUNNING}\n", [])
    assert client_process(path, *entry, "toggle") == expected
