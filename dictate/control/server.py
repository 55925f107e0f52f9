"""The control server, run inside the app (the client is `ipc`, the protocol `protocol`).

One daemon thread multiplexes all connections with a selector, so a slow or stuck client can
never hold up another, and the handler is always called on that one thread.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import selectors
import socket
import stat
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dictate.control.protocol import (
    COMMANDS,
    MAX_MESSAGE,
    PROTOCOL_VERSION,
    AlreadyRunning,
    ControlError,
    Handler,
    current_uid,
    encode_line,
    error_reply,
    peer_uid,
    require_af_unix,
    socket_path,
)
from dictate.errors import DictateError

log = logging.getLogger(__name__)

CLIENT_TIMEOUT = 2.0  # seconds a connection gets to send its request and take the reply
MAX_CONNECTIONS = 32  # more at once is not a person pressing keys; refuse, don't pile up
# sun_path holds 108 bytes on Linux and 104 on macOS/BSD, terminating NUL included.
_MAX_PATH_BYTES = 103


@dataclass(eq=False)
class _Conn:
    sock: socket.socket
    deadline: float
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytes | None = None  # set once the reply is decided; reads stop then


class ControlServer:
    """Serves the control socket on one daemon thread. `handler(command, args)` returns the reply
    dict ("ok": true is added unless it sets "ok"); it is always called on that thread, one
    request at a time, so the app needs no locking for it, and should return quickly (post the
    work to the app's own thread rather than doing it there). Many clients are multiplexed
    without blocking, so a slow or stuck client cannot hold up the others. "ping" is answered by
    the server itself. DictateError from the handler becomes the reply's error text."""

    def __init__(
        self,
        handler: Handler,
        path: Path | None = None,
        *,
        commands: Iterable[str] = COMMANDS,
        allowed_uid: int | None = None,
        client_timeout: float = CLIENT_TIMEOUT,
    ) -> None:
        self._handler = handler
        self._given_path = path  # resolved in start(): socket_path() creates directories
        self.path: Path | None = path
        self._commands = frozenset(commands)
        # Injectable so tests can prove the refusal without a second user; None = our own uid.
        self._allowed_uid = allowed_uid if allowed_uid is not None else current_uid()
        self._client_timeout = client_timeout
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._sel: selectors.BaseSelector | None = None
        self._lock_fd: int | None = None
        self._inode: int | None = None
        self._conns: dict[socket.socket, _Conn] = {}

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("ControlServer is already started")
        require_af_unix()
        path = self._given_path or socket_path()
        self.path = path
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        if len(os.fsencode(tmp)) > _MAX_PATH_BYTES:
            raise ControlError(f"socket path too long for the OS: {path}; set DICTATE_SOCKET")
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        self._stopping.clear()
        try:
            self._lock_fd = _take_lock(path)
            _clear_stale(path)
            self._listener = _bind(path, tmp)
            self._inode = os.stat(path).st_ino
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            self._sel = selectors.DefaultSelector()
            self._sel.register(self._listener, selectors.EVENT_READ)
            self._sel.register(self._wake_r, selectors.EVENT_READ)
        except BaseException:
            self._cleanup()
            raise
        self._thread = threading.Thread(target=self._serve, name="dictate-control", daemon=True)
        self._thread.start()
        log.info("control socket listening at %s", path)

    def stop(self) -> None:
        """Stop serving and remove the socket file. Idempotent; safe from the handler too."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        wake = self._wake_w  # read once: the server thread may be closing it right now
        if wake is not None:
            with contextlib.suppress(OSError):
                wake.send(b"x")
        if thread is threading.current_thread():
            return  # called from the handler: the loop cleans up once the handler returns
        thread.join(timeout=5.0)
        if thread.is_alive():
            log.warning("control server thread did not stop (handler stuck?)")
        self._thread = None

    # -- the server thread ------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._sel is not None
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                deadlines = [c.deadline for c in self._conns.values()]
                timeout = max(0.0, min(deadlines) - now) if deadlines else None
                for key, events in self._sel.select(timeout):
                    self._dispatch(key, events)
                self._expire(time.monotonic())
        except Exception:  # a bug here must be visible in the log, not a silent dead thread
            log.exception("control server stopped unexpectedly")
        finally:
            self._cleanup()
            self._thread = None  # so start() works again, also after a stop() from the handler

    def _dispatch(self, key: selectors.SelectorKey, events: int) -> None:
        if key.fileobj is self._listener:
            self._accept()
            return
        if key.fileobj is self._wake_r:
            with contextlib.suppress(OSError):
                self._wake_r.recv(64)
            return
        conn: _Conn = key.data
        try:
            if events & selectors.EVENT_READ and conn.outbuf is None:
                self._read(conn)
            if events & selectors.EVENT_WRITE and conn.outbuf is not None:
                self._write(conn)
        except OSError as e:  # the client went away mid-way: its problem, not the server's
            log.debug("control connection dropped: %s", e)
            self._close(conn)
        except Exception:
            log.exception("control connection failed")
            self._close(conn)

    def _accept(self) -> None:
        assert self._listener is not None and self._sel is not None
        while True:  # drain the backlog: several clients may be waiting
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # EMFILE and friends: back off instead of spinning
                log.warning("control socket accept failed: %s", e)
                time.sleep(0.05)
                return
            sock.setblocking(False)
            conn = _Conn(sock, time.monotonic() + self._client_timeout)
            self._conns[sock] = conn
            self._sel.register(sock, selectors.EVENT_READ, conn)
            if len(self._conns) > MAX_CONNECTIONS:
                self._respond(conn, error_reply("busy: too many control connections"))
                continue
            try:
                uid = peer_uid(sock)
            except OSError as e:  # the kernel could not say who it is: refuse (fail closed)
                log.warning("control: cannot identify peer (%s); refused", e)
                self._respond(conn, error_reply("permission denied: peer could not be identified"))
                continue
            if uid is not None and self._allowed_uid is not None and uid != self._allowed_uid:
                log.warning("control: refused a connection from uid %s", uid)
                self._respond(
                    conn, error_reply("permission denied: the app belongs to another user")
                )

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        if data:
            conn.inbuf += data
        newline = conn.inbuf.find(b"\n")
        if newline < 0 and len(conn.inbuf) < MAX_MESSAGE:
            if data:
                return  # wait for the rest of the line
            if not conn.inbuf:
                self._close(conn)  # connected and left: a liveness probe
                return
            newline = len(conn.inbuf)  # EOF ends the line too: `printf '...' | nc -U` works
        if newline < 0 or newline >= MAX_MESSAGE:
            self._respond(conn, error_reply(f"request too large (limit {MAX_MESSAGE} bytes)"))
            return
        self._respond(conn, self._handle_line(bytes(conn.inbuf[:newline])))

    def _handle_line(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except (ValueError, RecursionError):  # bad JSON, bad UTF-8, absurd nesting
            return error_reply("malformed request: expected one JSON object per line")
        if not isinstance(request, dict):
            return error_reply("malformed request: expected a JSON object")
        version = request.get("v", PROTOCOL_VERSION)
        if version != PROTOCOL_VERSION or isinstance(version, bool):
            return error_reply(f"unsupported protocol version {version!r} (the app speaks 1)")
        command, args = request.get("cmd"), request.get("args")
        args = {} if args is None else args
        if not isinstance(command, str) or not isinstance(args, dict):
            return error_reply("malformed request: 'cmd' must be a string and 'args' an object")
        if command == "ping":
            return {"ok": True, "pid": os.getpid(), "v": PROTOCOL_VERSION}
        if command not in self._commands:
            return error_reply(f"unknown command {command[:64]!r}")
        try:
            reply = self._handler(command, args)
        except DictateError as e:
            return error_reply(str(e))
        except Exception as e:  # the app's bug must not cost the user the control socket
            log.exception("control handler failed on %r", command)
            return error_reply(f"internal error: {type(e).__name__}: {e}")
        if not isinstance(reply, dict):
            log.error("control handler returned %r for %r, not a dict", type(reply), command)
            return error_reply("internal error: bad reply from the app")
        return {"ok": True, **reply}

    def _respond(self, conn: _Conn, reply: dict[str, Any]) -> None:
        assert self._sel is not None
        try:
            data = encode_line(reply)
        except (TypeError, ValueError) as e:  # the handler put something that is not JSON in it
            log.error("control reply is not JSON: %s", e)
            data = encode_line(error_reply("internal error: the reply is not JSON"))
        if len(data) > MAX_MESSAGE:
            data = encode_line(error_reply("internal error: the reply is too large"))
        conn.outbuf = data
        conn.inbuf.clear()
        try:
            self._sel.modify(conn.sock, selectors.EVENT_WRITE, conn)
            self._write(conn)  # a reply fits the socket buffer: usually done here
        except OSError as e:  # the client already left; nothing to tell it
            log.debug("control reply not delivered: %s", e)
            self._close(conn)

    def _write(self, conn: _Conn) -> None:
        assert conn.outbuf is not None
        try:
            sent = conn.sock.send(conn.outbuf)
        except (BlockingIOError, InterruptedError):
            return
        conn.outbuf = conn.outbuf[sent:]
        if not conn.outbuf:
            self._close(conn)

    def _expire(self, now: float) -> None:
        for conn in [c for c in self._conns.values() if c.deadline <= now]:
            if conn.outbuf is None:  # best effort: tell a slow client why it is dropped
                with contextlib.suppress(OSError):
                    conn.sock.send(encode_line(error_reply("timed out waiting for the request")))
            self._close(conn)

    def _close(self, conn: _Conn) -> None:
        if self._conns.pop(conn.sock, None) is None:
            return
        if self._sel is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(conn.sock)
        conn.sock.close()

    def _cleanup(self) -> None:
        for conn in list(self._conns.values()):
            self._close(conn)
        if self._sel is not None:
            self._sel.close()
            self._sel = None
        for sock in (self._listener, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._listener = self._wake_r = self._wake_w = None
        # Remove the socket file only if it is still ours: a newer instance may have taken over.
        if self.path is not None and self._inode is not None:
            with contextlib.suppress(OSError):
                if os.lstat(self.path).st_ino == self._inode:
                    os.unlink(self.path)
        self._inode = None
        if self._lock_fd is not None:  # after the unlink, so no one starts before it is gone
            os.close(self._lock_fd)
            self._lock_fd = None


def _take_lock(path: Path) -> int | None:
    """Hold an exclusive flock beside the socket while serving, so two apps started at the same
    moment cannot both find no one answering and both bind. The kernel drops it when the process
    dies, so a crash leaves nothing to clean up; the lock file itself stays (deleting lock files
    races). flock, not lockf: it also conflicts between two servers in one process."""
    try:
        import fcntl
    except ImportError:  # Windows: only the connect probe in _clear_stale guards us
        return None
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise AlreadyRunning(f"dictate is already running (control socket {path})") from e
        raise
    return fd


def _clear_stale(path: Path) -> None:
    """Remove a socket file no one listens on (left by a crash); refuse if someone does."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ControlError(f"{path} exists and is not a socket; not replacing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(0.5)
    try:
        probe.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        pass  # stale
    except OSError as e:  # busy, or something we cannot judge: never delete a live socket
        raise AlreadyRunning(f"dictate seems to be running already ({path}: {e})") from e
    else:
        raise AlreadyRunning(f"dictate is already running (control socket {path})")
    finally:
        probe.close()
    log.info("removing stale control socket %s", path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _bind(path: Path, tmp: Path) -> socket.socket:
    """Bind under a temporary name, make it 0600, then rename it into place: the socket is never
    visible under its real name with the umask's looser mode, even in a directory not ours."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(tmp))
        os.chmod(tmp, 0o600)
        sock.listen(64)
        os.replace(tmp, path)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return sock
