"""Where dictate keeps its files, per platform (platformdirs); DICTATE_* variables override."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "dictate"


def _dir(env: str, default: str) -> Path:
    return Path(os.environ.get(env) or default).expanduser()


def cache_dir() -> Path:
    """Derived files that can be rebuilt: converted models."""
    return _dir("DICTATE_CACHE_DIR", platformdirs.user_cache_dir(APP, appauthor=False))


def data_dir() -> Path:
    """The user's own data: history and kept audio."""
    return _dir("DICTATE_DATA_DIR", platformdirs.user_data_dir(APP, appauthor=False))


def config_dir() -> Path:
    """Settings."""
    return _dir("DICTATE_CONFIG_DIR", platformdirs.user_config_dir(APP, appauthor=False))
