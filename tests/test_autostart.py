"""Launch at login: the real XDG autostart file (validated), and the macOS LaunchAgent's content."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest

from dictate.integration import APP_ID, autostart
from tests.conftest import REPO

TRICKY = [
    "/opt/My Apps/dictate",
    "--prompt",
    'say "hi" for $5 at 100% `now`',
    r"C:\path\with\backslashes",
    "",
    "plain",
]


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(autostart, "_system", lambda: "linux")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


def desktop_values(path: Path) -> dict[str, str]:
    """The [Desktop Entry] keys of a .desktop file, with the string escapes undone."""
    values, group = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            group = line
        elif group == "[Desktop Entry]" and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def parse_exec(value: str) -> list[str]:
    """Undo an Exec value independently of the code under test, by the Desktop Entry spec: the
    string escape first (\\\\ is one backslash), then the quoting: arguments split on spaces,
    double quotes group, and inside them a backslash escapes " ` $ and itself; %% is %."""
    text = value.replace("\\\\", "\\")
    args: list[str] = []
    current: str | None = None  # None between arguments; "" is an empty argument
    quoted, i = False, 0
    while i < len(text):
        c = text[i]
        if quoted and c == "\\" and text[i + 1 : i + 2] in ('"', "`", "$", "\\"):
            current += text[i + 1]
            i += 2
            continue
        if c == " " and not quoted:
            if current is not None:
                args.append(current)
            current = None
        elif c == '"':
            quoted, current = not quoted, current or ""
        else:
            current = (current or "") + c
        i += 1
    assert not quoted, f"unbalanced quotes in {value!r}"
    if current is not None:
        args.append(current)
    return [arg.replace("%%", "%") for arg in args]


def validate(path: Path) -> None:
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate missing (apt install desktop-file-utils)")
    done = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_linux_entry_is_written_validated_and_removed(xdg: Path) -> None:
    assert not autostart.is_enabled()
    path = autostart.enable(["/usr/bin/dictate", "--mode", "toggle"])
    assert path == xdg / "autostart" / f"{APP_ID}.desktop"
    assert autostart.is_enabled()
    validate(path)
    values = desktop_values(path)
    assert values["Type"] == "Application"
    assert parse_exec(values["Exec"]) == ["/usr/bin/dictate", "--mode", "toggle"]
    assert values["X-GNOME-Autostart-enabled"] == "true"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left over

    autostart.disable()
    assert not path.exists() and not autostart.is_enabled()
    autostart.disable()  # twice is fine


def test_exec_quoting_round_trips(xdg: Path) -> None:
    path = autostart.enable(TRICKY)
    validate(path)
    assert parse_exec(desktop_values(path)["Exec"]) == TRICKY


def test_line_breaks_are_refused(xdg: Path) -> None:
    with pytest.raises(ValueError):
        autostart.enable(["dictate", "two\nlines"])
    assert not autostart.is_enabled()


def test_default_command_starts_this_dictate(xdg: Path) -> None:
    path = autostart.enable()
    argv = parse_exec(desktop_values(path)["Exec"])
    assert Path(argv[0]).is_absolute() and Path(argv[0]).exists(), argv
    # It really is a dictate: ask it for its version (this checkout's, whatever the install).
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0 and done.stdout.startswith("dictate "), done


def test_relative_xdg_config_home_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The XDG spec: a relative path is invalid and must be ignored, so ~/.config is used.
    monkeypatch.setattr(autostart, "_system", lambda: "linux")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    assert autostart.entry_path() == tmp_path / ".config" / "autostart" / f"{APP_ID}.desktop"


def test_macos_launch_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(autostart, "_system", lambda: "darwin")
    monkeypatch.setenv("HOME", str(tmp_path))
    argv = ["/Applications/Dictate.app/Contents/MacOS/dictatew"]
    path = autostart.enable(argv)
    assert path == tmp_path / "Library" / "LaunchAgents" / f"{APP_ID}.plist"
    assert autostart.is_enabled()
    with open(path, "rb") as f:
        agent = plistlib.load(f)
    assert agent["Label"] == APP_ID
    assert agent["ProgramArguments"] == argv
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] is False
    assert agent["LimitLoadToSessionType"] == "Aqua"  # the GUI session, not ssh logins
    autostart.disable()
    assert not path.exists() and not autostart.is_enabled()


@pytest.mark.skipif(os.name != "nt", reason="the Run key exists on Windows only")
def test_windows_run_key() -> None:  # pragma: no cover - runs on Windows CI only
    autostart.enable(["C:\\Program Files\\Dictate\\dictatew.exe"])
    try:
        assert autostart.is_enabled()
        assert autostart._get_run_value() == '"C:\\Program Files\\Dictate\\dictatew.exe"'
    finally:
        autostart.disable()
    assert not autostart.is_enabled()
