"""Typed settings: one dataclass, loaded from and saved to the platform config directory.

Passed in to whoever needs it, never read from a global. A corrupt or unknown file falls back to
the defaults with a warning the app shows; an invalid value falls back to its default alone.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dictate import paths

MODES = ("hold", "toggle", "auto")
DEVICES = ("auto", "cuda", "mps", "cpu")
INSERT_METHODS = ("auto", "paste", "type", "xdotool", "wtype", "ydotool")


@dataclass
class Settings:
    model: str | None = None  # None: the catalog default for the device
    device: str = "auto"
    hotkey: str = "<ctrl>+<alt>+d"
    mode: str = "auto"  # hold | toggle | auto (tap toggles, hold is push-to-talk)
    cancel_key: str = "<esc>"
    insert_method: str = "auto"
    input_device: str | None = None  # None: the system default microphone
    keep_mic_open: bool = False  # keeps a pre-roll so the first word is never clipped
    language: str | None = None
    prompt: str = ""  # vocabulary hint
    replacements: dict[str, str] = field(default_factory=dict)
    remove_fillers: bool = False
    max_record_s: float = 120.0
    tail_max_s: float = 0.4
    sounds: bool = True  # short start/stop cues
    launch_at_login: bool = False
    history_days: int = 30  # dictations older than this are deleted; 0 keeps them all
    keep_audio: bool = True  # keep each dictation's audio with its history entry
    unload_after_min: float = 0.0  # free the model after this many idle minutes; 0: never

    def validated(self) -> tuple[Settings, list[str]]:
        """A copy with every invalid value replaced by its default, and what was wrong."""
        default = Settings()
        problems: list[str] = []
        values = asdict(self)
        checks = {
            "device": lambda v: v in DEVICES,
            "mode": lambda v: v in MODES,
            "insert_method": lambda v: v in INSERT_METHODS,
            "hotkey": lambda v: isinstance(v, str) and 0 < len(v) <= 100,
            "cancel_key": lambda v: isinstance(v, str) and 0 < len(v) <= 40,
            "model": lambda v: v is None or (isinstance(v, str) and 0 < len(v) <= 4096),
            "input_device": lambda v: v is None or (isinstance(v, str) and len(v) <= 300),
            "language": lambda v: v is None or (isinstance(v, str) and 2 <= len(v) <= 20),
            "prompt": lambda v: isinstance(v, str) and len(v) <= 2000,
            "replacements": lambda v: (
                isinstance(v, dict)
                and len(v) <= 1000
                and all(isinstance(k, str) and isinstance(x, str) and k for k, x in v.items())
            ),
            "keep_mic_open": lambda v: isinstance(v, bool),
            "remove_fillers": lambda v: isinstance(v, bool),
            "max_record_s": lambda v: isinstance(v, (int, float)) and 1 <= v <= 3600,
            "tail_max_s": lambda v: isinstance(v, (int, float)) and 0 <= v <= 2,
            "sounds": lambda v: isinstance(v, bool),
            "launch_at_login": lambda v: isinstance(v, bool),
            "history_days": lambda v: (
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 36500
            ),
            "keep_audio": lambda v: isinstance(v, bool),
            "unload_after_min": lambda v: isinstance(v, (int, float)) and 0 <= v <= 1440,
        }
        for name, ok in checks.items():
            if not ok(values[name]):
                problems.append(
                    f"{name}={values[name]!r} is not valid; using {getattr(default, name)!r}"
                )
                values[name] = getattr(default, name)
        return Settings(**values), problems


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def load(path: Path | None = None) -> tuple[Settings, list[str]]:
    """Settings from disk (defaults when there is no file) and warnings to show the user."""
    path = path or settings_path()
    if not path.exists():
        return Settings(), []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return Settings(), [f"settings file {path} is unreadable ({exc}); using the defaults"]
    known = {f.name for f in fields(Settings)}
    warnings = [f"unknown setting {k!r} in {path} ignored" for k in raw if k not in known]
    settings = Settings(**{k: v for k, v in raw.items() if k in known})
    settings, problems = settings.validated()
    return settings, warnings + problems


def save(settings: Settings, path: Path | None = None) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves half a settings file."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data: dict[str, Any] = asdict(settings)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
