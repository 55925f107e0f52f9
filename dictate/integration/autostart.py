"""Launch at login: an XDG autostart entry (Linux), a LaunchAgent (macOS) or a Run key (Windows).

The entry starts the same dictate that wrote it (the bundle's executable, the installed
`dictate` script, or `python -m dictate`) by absolute path: a login session's PATH often lacks
~/.local/bin, where pipx puts it.
"""

from __future__ import annotations

import importlib
import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from dictate.integration import APP_ID

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = "Dictate"


def _system() -> str:
    """ "linux" (any XDG desktop), "darwin" or "win32"."""
    if sys.platform in ("darwin", "win32"):
        return sys.platform
    return "linux"


def default_argv() -> list[str]:
    """The command that starts this dictate's tray app."""
    if getattr(sys, "frozen", False):  # a PyInstaller bundle: its own executable
        exe = Path(sys.executable)
        windowed = exe.with_name("dictatew" + exe.suffix)  # no console window (Windows, macOS)
        return [str(windowed if windowed.is_file() else exe)]
    if _system() == "win32":
        pythonw = Path(sys.executable).with_name("pythonw.exe")
        return [str(pythonw if pythonw.is_file() else sys.executable), "-m", "dictate"]
    script = shutil.which("dictate")
    if script:
        return [str(Path(script).resolve())]
    return [sys.executable, "-m", "dictate"]


def entry_path() -> Path:
    """Where the entry lives on this platform (for Windows, the registry value's name)."""
    system = _system()
    if system == "darwin":
        return Path.home() / "Library" / "LaunchAgents" / f"{APP_ID}.plist"
    if system == "win32":
        return Path("HKEY_CURRENT_USER", RUN_KEY, RUN_VALUE)
    config = os.environ.get("XDG_CONFIG_HOME") or ""
    base = Path(config) if os.path.isabs(config) else Path.home() / ".config"  # as the spec says
    return base / "autostart" / f"{APP_ID}.desktop"


def enable(argv: list[str] | None = None) -> Path:
    """Start dictate (`argv`, default: this one) at login; returns where the entry was written."""
    argv = list(argv or default_argv())
    path = entry_path()
    system = _system()
    if system == "win32":
        _set_run_value(subprocess.list2cmdline(argv))
        return path
    text = launch_agent(argv) if system == "darwin" else desktop_entry(argv)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(text)
    os.replace(tmp, path)  # never a half-written entry
    return path


def disable() -> None:
    """Stop starting dictate at login (nothing to do when it was not enabled)."""
    if _system() == "win32":
        _delete_run_value()
    else:
        entry_path().unlink(missing_ok=True)


def is_enabled() -> bool:
    if _system() == "win32":
        return _get_run_value() is not None
    return entry_path().is_file()


def desktop_entry(argv: list[str]) -> bytes:
    """An XDG autostart .desktop file that runs `argv`."""
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        "Name=Dictate",
        "Comment=Private dictation: starts in the tray at login",
        f"Exec={exec_line(argv)}",
        "Icon=dictate",
        "Terminal=false",
        "NoDisplay=true",  # not a menu entry: the menu has its own
        "X-GNOME-Autostart-enabled=true",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def launch_agent(argv: list[str]) -> bytes:
    """A macOS LaunchAgent plist that runs `argv` once at login, in the user's GUI session."""
    agent = {
        "Label": APP_ID,
        "ProgramArguments": argv,
        "RunAtLoad": True,
        "KeepAlive": False,  # quitting from the tray means quit, not restart
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }
    return plistlib.dumps(agent)


def exec_line(argv: list[str]) -> str:
    """`argv` as a desktop-entry Exec value (quoting and escapes of the Desktop Entry spec)."""
    return " ".join(_exec_arg(a) for a in argv)


_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`=")


def _exec_arg(arg: str) -> str:
    if not arg:
        return '""'
    if any(c in arg for c in "\n\r\0"):
        raise ValueError(f"cannot put a line break or NUL in a desktop entry: {arg!r}")
    arg = arg.replace("%", "%%")  # field codes start with %
    if not _RESERVED & set(arg):
        return arg
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    # The value is also a desktop-file string, whose own escape turns \\ into \.
    return '"' + quoted.replace("\\", "\\\\") + '"'


def _winreg() -> Any:
    """The Windows registry module; Any, so type checks pass on the platforms without it."""
    return importlib.import_module("winreg")


def _set_run_value(command: str) -> None:
    winreg = _winreg()

    with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
        winreg.SetValueEx(key, RUN_VALUE, 0, winreg.REG_SZ, command)


def _get_run_value() -> str | None:
    winreg = _winreg()

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            return str(winreg.QueryValueEx(key, RUN_VALUE)[0])
    except FileNotFoundError:
        return None


def _delete_run_value() -> None:
    winreg = _winreg()

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.DeleteValue(key, RUN_VALUE)
    except FileNotFoundError:
        pass
