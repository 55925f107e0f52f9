"""HTTP servers for the remote-engine and `dictate serve` tests, all on 127.0.0.1 only:
an ASGI app on a thread (uvicorn), and server processes (dictate serve, faster-whisper-server)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_on_thread(app, *, certfile: str | None = None, keyfile: str | None = None) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port) until the block ends; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", ssl_certfile=certfile, ssl_keyfile=keyfile, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"{'https' if certfile else 'http'}://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class ServerProcess:
    """A server started as its own process (its output goes to a log file)."""

    def __init__(self, argv: Sequence[str], port: int, log: Path, env: dict | None = None) -> None:
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115  (closed by stop())
        self.proc = subprocess.Popen(
            list(argv),
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=REPO,
        )

    def wait_healthy(self, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"server not healthy in {timeout} s: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: the server dies mid-request, as a crash or a pulled cable would."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._out.close()


def dictate_serve(
    model: Path | str, log: Path, *extra: str, key: str | None = None, env: dict | None = None
):
    port = free_port()
    argv = [sys.executable, "-m", "dictate", "serve", "--model", str(model), "--device", "cpu"]
    argv += ["--host", HOST, "--port", str(port), *extra]
    env = {**({"DICTATE_API_KEY": key} if key else {}), **(env or {})}
    return ServerProcess(argv, port, log, env)


def faster_whisper_server(ct2_folder: Path, log: Path) -> ServerProcess:
    """faster-whisper-server (PyPI) on a CTranslate2 Whisper folder."""
    port = free_port()
    argv = [sys.executable, "-m", "faster_whisper_server", str(ct2_folder)]
    argv += ["--host", HOST, "--port", str(port)]
    return ServerProcess(argv, port, log)
