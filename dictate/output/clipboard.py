"""The system clipboard as Unicode text, without Qt.

X11 through xclip (xsel as a fallback), Wayland through wl-copy/wl-paste, macOS through
pbcopy/pbpaste, Windows through the Win32 API (ctypes). Every external command runs with a
timeout: reading asks the selection's owner for the data, and an owner that never answers (a Qt
process asked from its own GUI thread, a hung app) must not hang dictation.

X11 selections live in the process that owns them, so setting the clipboard leaves an xclip
process running until someone else takes the selection: that is expected. We start it in the
foreground with -verbose and keep a handle (`Owner`), because its log tells us when a window
fetched the text, which is how a paste is confirmed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from dictate.errors import DictateError

# Targets that carry text, best first; the rest of an owner's list is data we keep as bytes.
TEXT_TARGETS = ("UTF8_STRING", "text/plain;charset=utf-8", "STRING", "TEXT", "text/plain")
_META_TARGETS = {"TARGETS", "TIMESTAMP", "MULTIPLE", "SAVE_TARGETS", "DELETE", "INCR"}

Which = Callable[[str], "str | None"]


class ClipboardError(DictateError):
    """The clipboard could not be read or set (tool missing, no display, owner not answering)."""


def session_kind(env: Mapping[str, str] | None = None, platform: str | None = None) -> str:
    """'x11', 'wayland', 'macos', 'windows' or 'none' (no graphical session at all)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if platform == "darwin":
        return "macos"
    if platform.startswith("win"):
        return "windows"
    # XWayland sets DISPLAY too, but X tools then reach only X clients: Wayland wins.
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland":
        return "wayland"
    return "x11" if env.get("DISPLAY") else "none"


def run_tool(
    argv: list[str],
    *,
    data: bytes | None = None,
    timeout: float = 2.0,
    error: type[DictateError] = ClipboardError,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a helper program; a missing program or a timeout becomes `error` with a plain message."""
    try:
        return subprocess.run(
            argv,
            input=data,
            capture_output=True,
            timeout=timeout,
            env=None if env is None else {**os.environ, **env},
        )
    except FileNotFoundError as e:
        raise error(f"{os.path.basename(argv[0])} is not installed") from e
    except subprocess.TimeoutExpired as e:
        raise error(f"{os.path.basename(argv[0])} did not answer within {timeout:g} s") from e


def stderr_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    lines = proc.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


@dataclass(frozen=True)
class Snapshot:
    """What the clipboard held: one target (MIME type or X atom) and its bytes."""

    target: str
    data: bytes

    @property
    def text(self) -> str | None:
        return self.data.decode("utf-8", "replace") if self.target in TEXT_TARGETS else None


class Owner:
    """A running `xclip -i -verbose` that owns a selection; it exits when another client takes it.

    Its log goes to an unlinked temporary file, not a pipe: a pipe would break when dictate exits
    and xclip would die of SIGPIPE, taking the user's text with it.
    """

    def __init__(self, proc: subprocess.Popen[bytes], log: int) -> None:
        self.proc = proc
        self._log = log
        self._count = 0

    def requests(self) -> int:
        """How many data requests have been served (TARGETS queries are not counted by xclip)."""
        if self._log >= 0:
            log = os.pread(self._log, os.fstat(self._log).st_size, 0).decode(errors="replace")
            self._count = max(0, log.count("Waiting for selection request number") - 1)
        return self._count

    def alive(self) -> bool:
        """True while this process still owns the selection."""
        return self.proc.poll() is None

    def close_log(self) -> None:
        if self._log >= 0:  # once only: a reused descriptor number may belong to someone else
            os.close(self._log)
            self._log = -1


class Clipboard:
    """One clipboard backend. Subclasses implement `_read`, `_write` and `_targets`."""

    name = "clipboard"

    def get_text(self) -> str | None:
        """The clipboard's text, or None when it is empty or holds no text."""
        snap = self._read(TEXT_TARGETS[0])
        return snap.text if snap is not None else None

    def set_text(self, text: str) -> Owner | ProcessOwner | None:
        """Put `text` on the clipboard; an owner where the backend can report paste requests."""
        return self._write(text.encode("utf-8"), TEXT_TARGETS[0])

    def snapshot(self) -> Snapshot | None:
        """The current content (text first, else e.g. an image) to put back later, or None."""
        targets = self._targets()
        if targets is None:  # the backend cannot list targets: text only
            return self._read(TEXT_TARGETS[0])
        for target in TEXT_TARGETS:
            if target in targets:
                return self._read(TEXT_TARGETS[0] if target != "STRING" else target)
        others = [t for t in targets if t not in _META_TARGETS]
        others.sort(key=lambda t: not t.startswith("image/png"))  # png first: lossless, common
        return self._read(others[0]) if others else None

    def restore(self, snap: Snapshot) -> None:
        self._write(snap.data, snap.target)

    def clear(self) -> None:
        """Empty the selection (where the backend can; elsewhere it keeps what it has)."""

    def _read(self, target: str) -> Snapshot | None:
        raise NotImplementedError

    def _write(self, data: bytes, target: str) -> Owner | None:
        raise NotImplementedError

    def _targets(self) -> list[str] | None:
        return None


class XclipClipboard(Clipboard):
    """X11 through xclip; `selection` is 'clipboard' or 'primary' (what xterm pastes)."""

    def __init__(self, xclip: str = "xclip", selection: str = "clipboard", timeout: float = 1.0):
        self.xclip = xclip
        self.selection = selection
        self.timeout = timeout
        self.name = f"xclip ({selection})"
        self._owners: list[Owner] = []

    def _targets(self) -> list[str] | None:
        proc = run_tool(self._argv("-o", "-t", "TARGETS"), timeout=self.timeout)
        # An empty selection makes xclip fail ("target TARGETS not available"): nothing to keep.
        return proc.stdout.decode(errors="replace").split() if proc.returncode == 0 else []

    def _read(self, target: str) -> Snapshot | None:
        proc = run_tool(self._argv("-o", "-t", target), timeout=self.timeout)
        return Snapshot(target, proc.stdout) if proc.returncode == 0 else None

    def _write(self, data: bytes, target: str) -> Owner:
        for old in [o for o in self._owners if not o.alive()]:  # alive() also reaps the process
            old.close_log()
            self._owners.remove(old)
        fd, name = tempfile.mkstemp(prefix="dictate-xclip-")
        os.unlink(name)  # xclip keeps writing to it; nothing is left behind when it exits
        try:
            # start_new_session: a Ctrl+C in dictate's terminal must not kill the user's text.
            proc = subprocess.Popen(
                self._argv("-i", "-verbose", "-t", target),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=fd,
                start_new_session=True,
            )
        except FileNotFoundError as e:
            os.close(fd)
            raise ClipboardError("xclip is not installed (apt install xclip)") from e
        assert proc.stdin is not None
        proc.stdin.write(data)
        proc.stdin.close()
        owner = Owner(proc, fd)
        # xclip logs request number 1 once it owns the selection: only then may anyone paste.
        deadline = time.monotonic() + self.timeout
        while "request number 1" not in os.pread(fd, 4096, 0).decode(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                msg = os.pread(fd, 4096, 0).decode(errors="replace").strip().splitlines()
                proc.kill()
                owner.close_log()
                raise ClipboardError(
                    f"xclip could not set the {self.selection}: {msg[-1] if msg else 'no answer'}"
                )
            time.sleep(0.002)
        self._owners.append(owner)
        return owner

    def _argv(self, *args: str) -> list[str]:
        return [self.xclip, "-selection", self.selection, *args]


class XselClipboard(Clipboard):
    """X11 through xsel (text only; no paste confirmation)."""

    name = "xsel"

    def __init__(self, xsel: str = "xsel", selection: str = "clipboard", timeout: float = 1.0):
        self.xsel, self.timeout = xsel, timeout
        self.flag = "--clipboard" if selection == "clipboard" else "--primary"

    def _read(self, target: str) -> Snapshot | None:
        proc = run_tool([self.xsel, self.flag, "--output"], timeout=self.timeout)
        return Snapshot(TEXT_TARGETS[0], proc.stdout) if proc.stdout else None

    def _write(self, data: bytes, target: str) -> None:
        _run_forking([self.xsel, self.flag, "--input"], data, self.timeout)


class ProcessOwner:
    """A `wl-copy --foreground --paste-once` that serves one paste and exits.

    Wayland has no log of who fetched a selection; a source that exits after its one paste does
    the same job: its end, after the paste keys, is the window taking the text. (It also ends
    when someone else takes the selection first, which the caller rules out by timing.)
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    def requests(self) -> int:
        return 0 if self.proc.poll() is None else 1

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close_log(self) -> None:
        pass


class WaylandClipboard(Clipboard):
    """Wayland through wl-clipboard (wl-copy/wl-paste); `selection` is 'clipboard' or 'primary'.

    `set_text` serves one paste and reports it (`ProcessOwner`); `restore` and `_write` leave a
    lasting owner, as a copy by the person would.
    """

    def __init__(
        self,
        wl_copy: str = "wl-copy",
        wl_paste: str = "wl-paste",
        timeout: float = 1.0,
        selection: str = "clipboard",
    ):
        self.wl_copy, self.wl_paste, self.timeout = wl_copy, wl_paste, timeout
        self.selection = selection
        self.flag = ["--primary"] if selection == "primary" else []
        self.name = "wl-clipboard" + (" (primary)" if self.flag else "")
        self._owners: list[ProcessOwner] = []

    def _targets(self) -> list[str] | None:
        proc = run_tool([self.wl_paste, *self.flag, "--list-types"], timeout=self.timeout)
        return proc.stdout.decode(errors="replace").split("\n") if proc.returncode == 0 else []

    def _read(self, target: str) -> Snapshot | None:
        mime = "text/plain;charset=utf-8" if target == TEXT_TARGETS[0] else target
        argv = [self.wl_paste, *self.flag, "--no-newline", "--type", mime]
        proc = run_tool(argv, timeout=self.timeout)
        return Snapshot(target, proc.stdout) if proc.returncode == 0 else None

    def _write(self, data: bytes, target: str) -> None:
        mime = "text/plain;charset=utf-8" if target == TEXT_TARGETS[0] else target
        _run_forking([self.wl_copy, *self.flag, "--type", mime], data, self.timeout)

    def clear(self) -> None:
        _run_forking([self.wl_copy, *self.flag, "--clear"], b"", self.timeout)

    def set_text(self, text: str) -> ProcessOwner:
        """Offer `text` for exactly one paste; returns once the selection is ours."""
        for old in [o for o in self._owners if not o.alive()]:
            self._owners.remove(old)
        # Cleared first, so that the selection appearing below can only be ours: wl-copy says
        # nothing when it owns it, and the previous owner's list of types looks the same.
        self.clear()
        try:
            proc = subprocess.Popen(
                [
                    self.wl_copy,
                    *self.flag,
                    "--foreground",
                    "--paste-once",
                    "--type",
                    "text/plain;charset=utf-8",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # a Ctrl+C in dictate's terminal keeps the text
            )
        except FileNotFoundError as e:
            raise ClipboardError("wl-copy is not installed (apt install wl-clipboard)") from e
        assert proc.stdin is not None
        proc.stdin.write(text.encode("utf-8"))
        proc.stdin.close()
        deadline = time.monotonic() + self.timeout
        while not self._targets():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                _, err = proc.communicate()
                lines = err.decode(errors="replace").strip().splitlines()
                why = lines[-1] if lines else "no answer"
                raise ClipboardError(f"wl-copy could not set the {self.selection}: {why}")
            time.sleep(0.003)
        owner = ProcessOwner(proc)
        self._owners.append(owner)
        return owner


class MacClipboard(Clipboard):
    """macOS through pbcopy/pbpaste (text only)."""

    name = "pbcopy"
    _ENV: ClassVar[dict[str, str]] = {"LANG": "en_US.UTF-8"}  # else pbcopy mangles non-ASCII

    def __init__(self, timeout: float = 1.0) -> None:
        self.timeout = timeout

    def _read(self, target: str) -> Snapshot | None:
        proc = run_tool(["pbpaste"], timeout=self.timeout, env=self._ENV)
        return Snapshot(TEXT_TARGETS[0], proc.stdout) if proc.stdout else None

    def _write(self, data: bytes, target: str) -> None:
        proc = run_tool(["pbcopy"], data=data, timeout=self.timeout, env=self._ENV)
        if proc.returncode != 0:
            raise ClipboardError(f"pbcopy failed: {stderr_line(proc)}")


class WindowsClipboard(Clipboard):
    """Windows through user32 (CF_UNICODETEXT; text only). Not exercised by the test suite."""

    name = "win32"
    _CF_UNICODETEXT, _GMEM_MOVEABLE = 13, 0x0002

    def __init__(self) -> None:
        import ctypes
        from ctypes import wintypes as w

        self._ct = ctypes
        u = self._user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]
        k = self._kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        # Explicit types: the defaults truncate 64-bit handles to int.
        u.OpenClipboard.argtypes, u.OpenClipboard.restype = [w.HWND], w.BOOL
        u.GetClipboardData.argtypes, u.GetClipboardData.restype = [w.UINT], w.HANDLE
        u.SetClipboardData.argtypes, u.SetClipboardData.restype = [w.UINT, w.HANDLE], w.HANDLE
        k.GlobalAlloc.argtypes, k.GlobalAlloc.restype = [w.UINT, ctypes.c_size_t], w.HGLOBAL
        k.GlobalLock.argtypes, k.GlobalLock.restype = [w.HGLOBAL], ctypes.c_void_p
        k.GlobalUnlock.argtypes = [w.HGLOBAL]
        k.GlobalFree.argtypes = [w.HGLOBAL]

    def _open(self) -> None:
        for _ in range(20):  # another process may hold the clipboard for a moment
            if self._user32.OpenClipboard(None):
                return
            time.sleep(0.01)
        raise ClipboardError("the Windows clipboard is locked by another program")

    def _read(self, target: str) -> Snapshot | None:
        self._open()
        try:
            handle = self._user32.GetClipboardData(self._CF_UNICODETEXT)
            if not handle:
                return None
            ptr = self._kernel32.GlobalLock(handle)
            try:
                text = self._ct.wstring_at(ptr)
            finally:
                self._kernel32.GlobalUnlock(handle)
        finally:
            self._user32.CloseClipboard()
        return Snapshot(TEXT_TARGETS[0], text.encode("utf-8"))

    def _write(self, data: bytes, target: str) -> None:
        raw = data.decode("utf-8", "replace").encode("utf-16-le") + b"\0\0"
        self._open()
        try:
            self._user32.EmptyClipboard()
            handle = self._kernel32.GlobalAlloc(self._GMEM_MOVEABLE, len(raw))
            ptr = self._kernel32.GlobalLock(handle)
            self._ct.memmove(ptr, raw, len(raw))
            self._kernel32.GlobalUnlock(handle)
            if not self._user32.SetClipboardData(self._CF_UNICODETEXT, handle):
                self._kernel32.GlobalFree(handle)  # on success the system owns it
                raise ClipboardError("SetClipboardData failed")
        finally:
            self._user32.CloseClipboard()


def _run_forking(argv: list[str], data: bytes, timeout: float) -> None:
    """Run a setter that forks a selection owner (xsel, wl-copy).

    The owner inherits our stdout/stderr: with pipes, waiting for their end would wait for the
    owner to lose the selection. A file for stderr keeps the error message without that hang.
    """
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.run(
                argv, input=data, stdout=subprocess.DEVNULL, stderr=err, timeout=timeout
            )
        except FileNotFoundError as e:
            raise ClipboardError(f"{os.path.basename(argv[0])} is not installed") from e
        except subprocess.TimeoutExpired as e:
            raise ClipboardError(f"{os.path.basename(argv[0])} did not answer") from e
        if proc.returncode != 0:
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines()
            raise ClipboardError(f"{argv[0]} failed: {lines[-1] if lines else proc.returncode}")


def system_clipboard(
    kind: str | None = None, which: Which = shutil.which, selection: str = "clipboard"
) -> Clipboard:
    """The clipboard backend for this session; ClipboardError says what to install if none."""
    kind = kind or session_kind()
    if kind == "x11":
        if path := which("xclip"):
            return XclipClipboard(path, selection)
        if path := which("xsel"):
            return XselClipboard(path, selection)
        raise ClipboardError("no X11 clipboard tool: install xclip (apt install xclip)")
    if kind == "wayland":
        copy, paste = which("wl-copy"), which("wl-paste")
        if copy and paste:
            return WaylandClipboard(copy, paste, selection=selection)
        raise ClipboardError("no Wayland clipboard tool: install wl-clipboard")
    if kind == "macos":
        return MacClipboard()
    if kind == "windows":
        return WindowsClipboard()
    raise ClipboardError("no graphical session (neither DISPLAY nor WAYLAND_DISPLAY is set)")


def get_text() -> str | None:
    """The system clipboard's text (None when empty or not text)."""
    return system_clipboard().get_text()


def set_text(text: str) -> None:
    """Put `text` on the system clipboard (it stays there after dictate exits)."""
    system_clipboard().set_text(text)
