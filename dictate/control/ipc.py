"""The control socket: `dictate toggle|start|stop|cancel|status` reach the running app.

Protocol, version 1: the client sends one JSON line `{"cmd": str, "args": {...}, "v": 1}` and
reads one JSON line back, `{"ok": bool, ...}` (with `"error"` saying why when ok is false), then
both sides close. One request per connection keeps both ends trivial and stateless.

Security: only the user running the app may control it. The socket sits in a 0700 directory
that we own and is itself 0600; where the kernel can name the peer (Linux SO_PEERCRED,
macOS/FreeBSD LOCAL_PEERCRED, OpenBSD) the server also refuses any other uid, root included:
root bypasses file modes but not this check. The client makes the same check of the server,
so a socket planted by someone else is never talked to.

Windows: CPython does not expose AF_UNIX there (even though Windows 10 has it), so both ends
raise ControlError saying so; a named pipe would be the way to add control on Windows.

Stdlib only, and nothing heavy: the client runs inside `dictate toggle`, which a hotkey daemon
starts on every key press and which must answer in well under 150 ms. The server lives in
`dictate.control.server` (the client never loads it) and is re-exported here as ControlServer.
"""

from __future__ import annotations

import contextlib
import errno
import json
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from dictate.control.protocol import (
    COMMANDS,
    MAX_MESSAGE,
    NOT_RUNNING,
    PROTOCOL_VERSION,
    AlreadyRunning,
    ControlError,
    NotRunning,
    current_uid,
    encode_line,
    peer_uid,
    require_af_unix,
    socket_path,
)

if TYPE_CHECKING:
    from dictate.control.server import ControlServer

__all__ = [
    "COMMANDS",
    "NOT_RUNNING",
    "PROTOCOL_VERSION",
    "AlreadyRunning",
    "ControlError",
    "ControlServer",
    "NotRunning",
    "send",
    "socket_path",
]


def __getattr__(name: str) -> Any:
    # Lazy: the client has no use for the server's selector machinery. (No cycle: the server
    # imports the protocol module, not this one.)
    if name == "ControlServer":
        from dictate.control.server import ControlServer

        return ControlServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def send(
    command: str, args: dict | None = None, *, path: Path | None = None, timeout: float = 2.0
) -> dict:
    """Send one command to the running app and return its reply (`ok` may be false: the caller
    shows `error`). Raises NotRunning when no app listens, ControlError when one does but does
    not answer properly within `timeout` seconds, or the socket is not safe to use."""
    require_af_unix()
    target = path or socket_path()
    request = encode_line({"cmd": command, "args": args or {}, "v": PROTOCOL_VERSION})
    deadline = time.monotonic() + timeout
    with _connect(target, deadline) as sock:
        _check_server(sock, target)
        try:
            # It may have answered at once and hung up (a refusal): read that answer anyway.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(request)
            line = _read_line(sock, deadline)
        except TimeoutError as e:
            raise ControlError(BUSY) from e
        except OSError as e:
            raise ControlError(f"the connection to dictate failed: {e.strerror or e}") from e
    if not line:
        raise ControlError("dictate closed the connection without answering")
    try:
        reply = json.loads(line)
    except ValueError as e:
        raise ControlError("dictate sent a malformed reply") from e
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        raise ControlError("dictate sent a malformed reply")
    return reply


BUSY = "dictate is running but not answering (busy or stuck)"


def _connect(target: Path, deadline: float) -> socket.socket:
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            sock.connect(str(target))
            return sock
        except BaseException as e:
            sock.close()
            # A full listen backlog (a burst of key presses) fails a timed AF_UNIX connect at
            # once with EAGAIN instead of waiting: wait here, the server drains it in moments.
            if isinstance(e, BlockingIOError) and time.monotonic() < deadline:
                time.sleep(0.005)
                continue
            _raise_connect_error(e, target)


def _raise_connect_error(e: BaseException, target: Path) -> NoReturn:
    if isinstance(e, (FileNotFoundError, ConnectionRefusedError)):
        raise NotRunning(NOT_RUNNING) from e
    if isinstance(e, PermissionError):
        raise ControlError(f"permission denied on {target} (another user's socket?)") from e
    if isinstance(e, (TimeoutError, BlockingIOError)):
        raise ControlError(BUSY) from e
    if isinstance(e, OSError):
        if e.errno in (errno.ENOTSOCK, errno.ENOENT, errno.ECONNREFUSED):
            raise NotRunning(NOT_RUNNING) from e
        raise ControlError(f"cannot reach dictate at {target}: {e.strerror or e}") from e
    raise e


def _check_server(sock: socket.socket, target: Path) -> None:
    """Refuse to talk to a socket that another user's process serves (a planted socket)."""
    ours = current_uid()
    try:
        theirs = peer_uid(sock)
    except OSError as e:
        raise ControlError(f"cannot tell who serves {target}: {e}") from e
    if ours is not None and theirs is not None and theirs != ours:
        raise ControlError(f"{target} is served by another user (uid {theirs}); not using it")


def _read_line(sock: socket.socket, deadline: float) -> bytes:
    buf = bytearray()
    while b"\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
        if len(buf) > MAX_MESSAGE:
            raise ControlError("dictate sent a reply that is too large")
    return bytes(buf.split(b"\n", 1)[0])
