"""Typed settings: one dataclass, loaded from and saved to the platform config directory.

Passed in to whoever needs it, never read from a global. A corrupt or unknown file falls back to
the defaults with a warning the app shows; an invalid value falls back to its default alone.

A settings file is treated as untrusted input: no value is ever run, and text that is typed into
windows (replacements) may not hold control characters, so a planted file cannot make a
dictation press Enter in a terminal.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import unicodedata
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dictate import choices, paths

MODES = choices.values(choices.MODES)
DEVICES = choices.values(choices.DEVICES)
INSERT_METHODS = choices.values(choices.INSERT_METHODS)
ENGINES = ("local", "server")  # this computer's model, or a transcription server
START_SPACE = ("smart", "always", "never")  # dictation.spacing.MODES
MAX_FILE_BYTES = 1 << 20  # a settings file is a few hundred bytes; more is not one
_LANGUAGE = re.compile(r"[A-Za-z][A-Za-z_-]{1,19}")  # "en", "pt-BR", "english"


def _plain(text: object, limit: int, *, newlines: bool = False) -> bool:
    """A string of at most `limit` characters with no control characters (C0, C1, line and
    paragraph separators); `newlines` lets line breaks and tabs through."""
    if not isinstance(text, str) or len(text) > limit:
        return False
    allowed = "\n\t" if newlines else ""
    return not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") and c not in allowed for c in text)


def _key_combo(text: object, limit: int, *, single: bool = False) -> bool:
    from dictate.control.hotkeys import HotkeyError, parse_combo  # stdlib only, no pynput

    if not isinstance(text, str) or not 0 < len(text) <= limit:
        return False
    try:
        keys = parse_combo(text)
    except HotkeyError:
        return False
    return len(keys) == 1 or not single


def _server_url(text: str) -> bool:
    """A well-formed http(s) URL without credentials (whether plain http is allowed to it
    is the client's call, with the person's "allow insecure" tick)."""
    from dictate.remote.client import RemoteError, check_url  # no heavy imports

    try:
        check_url(text, allow_insecure=True)
    except RemoteError:
        return False
    return True


def _number(v: object, low: float, high: float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high


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
    max_record_s: float = 600.0  # live transcription keeps long dictations quick (10 min)
    tail_max_s: float = 0.4
    sounds: bool = True  # short start/stop cues
    launch_at_login: bool = False
    history_days: int = 30  # dictations older than this are deleted; 0 keeps them all
    keep_audio: bool = True  # keep each dictation's audio with its history entry
    unload_after_min: float = 0.0  # free the model after this many idle minutes; 0: never
    # Speculative decoding: a draft model for the chosen one (catalog.ASSISTANTS, e.g.
    # distil-large-v3 for large-v3); used only with a model it can draft for.
    assistant: str | None = None
    # A transcription server (dictate.remote); "local": this computer's model only. The API key
    # is kept in the keyring or a 0600 file (dictate.remote.keys), never here.
    engine: str = "local"  # local | server
    server_url: str = ""
    server_model: str = "whisper-1"
    server_insecure: bool = False  # allow plain http:// to another machine
    server_ca_file: str = ""  # a CA certificate to trust for https (a self-signed server)
    # Live dictation (dictation/live.py): transcribe while recording, so release waits only
    # for the last words; show them in a preview near the bottom of the screen; optionally type
    # committed text while still speaking (cancel then removes nothing already typed).
    # On by default: through the microphone, release → text stays ~0.4 s from 15 s to 3 min
    # (live off: 6.2 s at 43 s, 12.7 s at 3 min), and live text is as accurate as decoding the
    # whole recording (benchmarks/README.md); a dictation under 6 s is decoded at release
    # exactly as with it off.
    live_transcription: bool = True
    live_preview: bool = True
    type_while_speaking: bool = False
    # A leading space before a dictation (dictation/spacing.py): "smart" after a dictation
    # into the same window (remembered across restarts), "always", or "never".
    start_space: str = "smart"

    def validated(self) -> tuple[Settings, list[str]]:
        """A copy with every invalid value replaced by its default, and what was wrong."""
        default = Settings()
        problems: list[str] = []
        # Not asdict(): it deep-copies first, and a hostile value nested a few hundred levels
        # deep would overflow the stack before any check ran.
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        checks = {
            "device": lambda v: v in DEVICES,
            "mode": lambda v: v in MODES,
            "insert_method": lambda v: v in INSERT_METHODS,
            "hotkey": lambda v: _key_combo(v, 100),
            "cancel_key": lambda v: _key_combo(v, 40, single=True),
            # A model is a name, a hub id or a folder: any folder may hold one (only safetensors
            # and JSON are read from it, no code is run); a URL is not a model.
            "model": lambda v: v is None or (_plain(v, 4096) and v.strip() and "://" not in v),
            "input_device": lambda v: v is None or _plain(v, 300),
            "language": lambda v: v is None or (isinstance(v, str) and _LANGUAGE.fullmatch(v)),
            "prompt": lambda v: _plain(v, 2000, newlines=True),
            # Typed into windows: no control characters, so no Enter, Tab or escape sequences.
            "replacements": lambda v: (
                isinstance(v, dict)
                and len(v) <= 1000
                and all(_plain(k, 200) and k.strip() and _plain(x, 1000) for k, x in v.items())
            ),
            "keep_mic_open": lambda v: isinstance(v, bool),
            "remove_fillers": lambda v: isinstance(v, bool),
            "max_record_s": lambda v: _number(v, 1, 3600),
            "tail_max_s": lambda v: _number(v, 0, 2),
            "sounds": lambda v: isinstance(v, bool),
            "launch_at_login": lambda v: isinstance(v, bool),
            "history_days": lambda v: (
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 36500
            ),
            "keep_audio": lambda v: isinstance(v, bool),
            "unload_after_min": lambda v: _number(v, 0, 1440),
            "assistant": lambda v: v is None or (_plain(v, 4096) and v.strip() and "://" not in v),
            "engine": lambda v: v in ENGINES,
            "server_url": lambda v: _plain(v, 500) and (not v or _server_url(v)),
            "server_model": lambda v: _plain(v, 200) and v.strip(),
            "server_insecure": lambda v: isinstance(v, bool),
            "server_ca_file": lambda v: _plain(v, 4096),
            "live_transcription": lambda v: isinstance(v, bool),
            "live_preview": lambda v: isinstance(v, bool),
            "type_while_speaking": lambda v: isinstance(v, bool),
            "start_space": lambda v: v in START_SPACE,
        }
        for name, ok in checks.items():
            if not ok(values[name]):
                shown = repr(values[name])
                shown = shown if len(shown) <= 80 else shown[:79] + "…"
                problems.append(f"{name}={shown} is not valid; using {getattr(default, name)!r}")
                values[name] = getattr(default, name)
        values["replacements"] = dict(values["replacements"])  # not shared with the caller
        return Settings(**values), problems


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def load(path: Path | None = None) -> tuple[Settings, list[str]]:
    """Settings from disk (defaults when there is no file) and warnings to show the user."""
    path = path or settings_path()
    try:
        st = path.stat()
    except FileNotFoundError:
        return Settings(), []
    except OSError as exc:
        return Settings(), [f"settings file {path} is unreadable ({exc}); using the defaults"]
    try:
        # Checked before reading: a FIFO or a device planted here would block or never end.
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES // 1024} KiB")
        raw = json.loads(data.decode("utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: absurd nesting
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        return Settings(), [f"settings file {path} is unreadable ({reason}); using the defaults"]
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
