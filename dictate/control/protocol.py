"""The control socket's protocol and its safety checks, shared by the client (`ipc`) and the
server (`server`), which import this and not each other.

Version 1: the client sends one JSON line `{"cmd": str, "args": {...}, "v": 1}` and reads one
JSON line back, `{"ok": bool, ...}` (with `"error"` saying why when ok is false). Stdlib only:
the client runs inside `dictate toggle`, on every key press.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dictate.errors import DictateError

PROTOCOL_VERSION = 1
MAX_MESSAGE = 64 * 1024  # one request or reply line; a command is a few dozen bytes
COMMANDS = ("toggle", "start", "stop", "cancel", "status")
NOT_RUNNING = "dictate is not running (start it with `dictate`)"

Handler = Callable[[str, dict[str, Any]], dict[str, Any]]


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
