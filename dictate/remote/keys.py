"""Where the server's API key is kept: the system keyring where there is one, else a file only
the user can read (0600). Never settings.json, which people paste into bug reports.

Keys are filed under the server's origin (scheme://host:port), so a key typed for one server is
never sent to another one the person points dictate at later.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dictate import paths

log = logging.getLogger(__name__)

SERVICE = "dictate"
FILE_NAME = "server-keys.json"


def origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def _keyring() -> Any | None:
    """The keyring module when a real backend is there (not the 'fail'/'null' ones of a
    headless machine), else None."""
    try:
        import keyring
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken backend configuration must not stop the app
        return None
    return keyring if getattr(backend, "priority", 0) > 0 else None


class KeyStore:
    """get/set/delete one API key per server origin."""

    def __init__(self, file: Path | None = None, *, use_keyring: bool = True) -> None:
        self.file = file or paths.config_dir() / FILE_NAME
        self._keyring = _keyring() if use_keyring else None

    @property
    def where(self) -> str:
        """Where a key set now goes, for the settings dialog."""
        return "the system keyring" if self._keyring is not None else str(self.file)

    def get(self, url: str) -> str | None:
        account = origin(url)
        if self._keyring is not None:
            try:
                key = self._keyring.get_password(SERVICE, account)
                if key:
                    return key
            except Exception as exc:  # locked or broken keyring: the file may still have it
                log.warning("the system keyring could not be read (%s)", type(exc).__name__)
        return self._read().get(account)

    def set(self, url: str, key: str) -> None:
        account, key = origin(url), key.strip()
        if not key:
            self.delete(url)
            return
        if self._keyring is not None:
            try:
                self._keyring.set_password(SERVICE, account, key)
            except Exception as exc:
                log.warning("the system keyring refused the key (%s); using a file", exc)
            else:
                self._write({k: v for k, v in self._read().items() if k != account})
                return
        self._write({**self._read(), account: key})

    def delete(self, url: str) -> None:
        account = origin(url)
        if self._keyring is not None:
            with contextlib.suppress(Exception):  # nothing stored there is fine
                self._keyring.delete_password(SERVICE, account)
        stored = self._read()
        if account in stored:
            del stored[account]
            self._write(stored)

    def _read(self) -> dict[str, str]:
        try:
            with open(self.file, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("%s is unreadable (%s); no stored server key", self.file, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}

    def _write(self, keys: dict[str, str]) -> None:
        """Atomically, created 0600 (never readable by others, not even for a moment)."""
        if not keys and not self.file.exists():
            return
        self.file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.file.with_name(f".{self.file.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(keys, f)
            os.replace(tmp, self.file)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
