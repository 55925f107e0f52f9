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
import os
import socket
import stat
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from dictate.errors import DictateError

if TYPE_CHECKING:
    from dictate.control.server import ControlServer


PROTOCOL_VERSION = 1
MAX_MESSAGE = 64 * 1024  # one request or reply line; a command is a few dozen bytes
COMMANDS = ("toggle", "start", "stop", "cancel", "status")
NOT_RUNNING = "dictate is not running (start it with `dictate`)"

Handler = Callable[[str, dict], dict]

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
    # Lazy, and not a top-level import: server.py imports this module (a cycle otherwise), and
    # the client has no use for the server's selector machinery.
    if name == "ControlServer":
        from dictate.control.server import ControlServer

        return ControlServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ControlError(DictateError):
    """The control socket could not be used (unsafe, unsupported, or the app did not answer)."""


class NotRunning(ControlError):
    """No app is listening on the control socket."""


class AlreadyRunning(ControlError):
    """Another app instance already serves the control socket."""


def current_uid() -> int | None:
    getuid = getattr(os, "getuid", None)  # absent on Windows
    return getuid() if getuid is not None else None


def socket_path() -> Path:
    """Where the app listens: $DICTATE_SOCKET, else $XDG_RUNTIME_DIR/dictate/control.sock, else
    <tmp>/dictate-<uid>/control.sock. The directory is created 0700 (and checked when present)."""
    override = os.environ.get("DICTATE_SOCKET")
    if override:
        return Path(override).expanduser()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        base = Path(runtime) / "dictate"  # already private to us and cleared at logout
    else:
        uid = current_uid()
        tag = str(uid) if uid is not None else os.environ.get("USERNAME", "user")
        base = Path(tempfile.gettempdir()) / f"dictate-{tag}"
    private_dir(base)
    return base / "control.sock"


def private_dir(path: Path) -> None:
    """Make `path` a 0700 directory, or check an existing one is a real directory of ours: in a
    shared /tmp another user could create it first (or a symlink) to catch or fake our socket."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)  # never follows a symlink planted at `path`
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise ControlError(f"{path} is not a directory (a symlink?); remove it and try again")
    uid = current_uid()
    if uid is None:
        return
    if st.st_uid != uid:
        raise ControlError(
            f"{path} belongs to another user (uid {st.st_uid}); remove it or set DICTATE_SOCKET"
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)  # ours, just too open (an old umask): fix rather than fail


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end, as the kernel tells it; None where the platform
    cannot tell (then only the file modes protect the socket). Raises OSError on failure."""
    if hasattr(socket, "SO_PEERCRED"):
        # Linux struct ucred is {pid, uid, gid}; OpenBSD's struct sockpeercred is {uid, gid, pid}.
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        fields = struct.unpack("3i", raw)
        return fields[0] if sys.platform.startswith("openbsd") else fields[1]
    if sys.platform == "darwin" or sys.platform.startswith(("freebsd", "dragonfly")):
        # getpeereid(3) is LOCAL_PEERCRED at level SOL_LOCAL (0): struct xucred starts with
        # {u_int cr_version (XUCRED_VERSION = 0); uid_t cr_uid; ...}. Not exercised on Linux CI.
        level = getattr(socket, "SOL_LOCAL", 0)
        raw = sock.getsockopt(level, getattr(socket, "LOCAL_PEERCRED", 1), 128)
        version, uid = struct.unpack_from("=2I", raw)
        if version != 0:
            raise OSError(errno.EPROTO, f"unexpected xucred version {version}")
        return uid
    return None  # NetBSD (LOCAL_PEEREID) and others: rely on the 0700 directory and 0600 socket


def require_af_unix() -> None:
    if not hasattr(socket, "AF_UNIX"):
        raise ControlError("remote control is not supported on this platform (no AF_UNIX)")


def encode_line(message: dict[str, Any]) -> bytes:
    # allow_nan=False: NaN is not JSON and would break strict clients in other languages.
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8") + b"\n"


def error_reply(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


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
