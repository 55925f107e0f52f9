"""Which languages a model can transcribe, known before it loads: the settings offer only
those, and a language the model cannot do is refused when the settings are applied, not at the
next dictation (where route.decide would refuse it, and the dictation would fail).

No torch here: the settings dialog and the app ask while nothing is loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

from dictate.engine import catalog, loading

_ENGLISH_VOCAB_SIZE = 51864  # a .en Whisper's vocabulary; multilingual ones have 51865+
_ENGLISH = (None, "en", "english")  # what an English-only model accepts (None: its default)


def _folder_english_only(folder: Path) -> bool | None:
    """From a model folder's files: transformers' generation_config.json, or the vocabulary
    size in config.json, or a CTranslate2 folder's vocabulary file, counted."""
    try:
        generation = json.loads((folder / "generation_config.json").read_text("utf-8"))
        if "is_multilingual" in generation:
            return not generation["is_multilingual"]
    except (OSError, ValueError):
        pass
    try:
        size = json.loads((folder / "config.json").read_text("utf-8")).get("vocab_size")
        if isinstance(size, int):
            return size <= _ENGLISH_VOCAB_SIZE
    except (OSError, ValueError, AttributeError):
        pass
    try:  # CTranslate2: one token a line in vocabulary.txt, or a JSON list
        if (folder / "vocabulary.json").is_file():
            tokens = len(json.loads((folder / "vocabulary.json").read_text("utf-8")))
        else:
            tokens = (folder / "vocabulary.txt").read_text("utf-8").rstrip("\n").count("\n") + 1
        return tokens <= _ENGLISH_VOCAB_SIZE
    except (OSError, ValueError, TypeError):
        return None


def english_only(model: str | None, default: str | None = None) -> bool | None:
    """Whether `model` (a catalog name, hub id, folder or "embedded"; None: `default`, the
    automatic choice) understands English only. None when it cannot be told before loading
    (a hub id that is neither in the catalog nor cached, and not named *.en)."""
    name = model or default
    if not name:
        return None
    if name == loading.EMBEDDED:
        return True
    entry = catalog.find(name)
    if entry is not None:  # the distil-large-v3 family: a multilingual vocabulary, English only
        return entry.english_only
    folder = Path(name).expanduser()
    if folder.is_dir():
        return _folder_english_only(folder)
    if name.count("/") == 1 and loading.is_cached(name):
        try:
            path, _ = loading._snapshot(name, local_only=True, progress=None)
        except Exception:  # a broken cache entry: the name decides below
            path = None
        if path is not None and (found := _folder_english_only(path)) is not None:
            return found
    return True if name.lower().endswith(".en") else None


def language_problem(
    model: str | None, language: str | None, default: str | None = None
) -> str | None:
    """Why `model` cannot transcribe `language` (None: it can, or it cannot be told)."""
    if language in _ENGLISH or not english_only(model, default):
        return None
    shown = model or f"the automatic model ({default})"
    if model == loading.EMBEDDED:
        shown = "the built-in tiny.en"
    return (
        f"{shown} understands English only, so it cannot transcribe language {language!r}; "
        "choose English or automatic, or a multilingual model such as large-v3-turbo"
    )
