"""The models dictate knows by name, and the default for each kind of device.

Figures are for the published safetensors checkpoints; download sizes are rounded. No torch here:
the CLI lists the catalog without loading the inference stack.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dictate import choices


@dataclass(frozen=True)
class CatalogModel:
    """One known model."""

    name: str  # the short name people type: `--model distil-small.en`
    repo_id: str  # its Hugging Face hub id
    params_m: int  # parameters, millions
    download_mb: int  # size of the weights that are downloaded
    languages: str  # "en" or "99 languages"
    suits: str  # the device class it is meant for
    notes: str = ""

    @property
    def english_only(self) -> bool:
        return self.languages == "en"


CATALOG: tuple[CatalogModel, ...] = (
    CatalogModel(
        "tiny.en",
        "openai/whisper-tiny.en",
        39,
        151,
        "en",
        "any CPU, even 2 cores",
        "fastest; embedded offline copy with dictate[offline]",
    ),
    CatalogModel(
        "base.en",
        "openai/whisper-base.en",
        74,
        290,
        "en",
        "CPU with 4+ cores",
        "fewer errors than tiny.en at about twice the time",
    ),
    CatalogModel(
        "distil-small.en",
        "distil-whisper/distil-small.en",
        166,
        332,
        "en",
        "desktop CPU (8+ cores), Apple Silicon",
        "distilled from large-v2; encoder ~2.8 s per clip on a 2-core CPU",
    ),
    CatalogModel(
        "distil-medium.en",
        "distil-whisper/distil-medium.en",
        394,
        789,
        "en",
        "Apple Silicon, any CUDA GPU",
    ),
    CatalogModel(
        "distil-large-v3",
        "distil-whisper/distil-large-v3",
        756,
        1510,
        "en",
        "CUDA GPU (2 GB+ VRAM), Apple Silicon with 16 GB+",
        "English only; by its model card within ~1 % WER of large-v3, ~6x faster; "
        "drafts for large-v3 (--assistant)",
    ),
    CatalogModel(
        "distil-large-v3.5",
        "distil-whisper/distil-large-v3.5",
        756,
        1510,
        "en",
        "CUDA GPU (2 GB+ VRAM), Apple Silicon with 16 GB+",
        "English only; trained on more data than distil-large-v3; drafts for large-v3",
    ),
    CatalogModel(
        "large-v3-turbo",
        "openai/whisper-large-v3-turbo",
        809,
        1620,
        "99 languages",
        "CUDA GPU (3 GB+ VRAM)",
        "multilingual; 4 decoder layers",
    ),
    CatalogModel(
        "large-v3",
        "openai/whisper-large-v3",
        1550,
        3090,
        "99 languages",
        "CUDA GPU (6 GB+ VRAM)",
        "most accurate; distil-large-v3 or distil-large-v3.5 can draft for it (--assistant)",
    ),
)

# The languages offered in the tray's Language menu and the settings dialog (one list for both),
# by Whisper code, most dictated first; every multilingual model knows all of them. Any other
# Whisper code can still be typed in the settings.
LANGUAGES = choices.LANGUAGES  # the one list (dictate/choices.py), for the engine's users

_BY_KEY = {m.name: m for m in CATALOG} | {m.repo_id: m for m in CATALOG}

# Speculative decoding pairs: teacher -> the distilled models that can draft for it, the usual
# one first. A draft model reads the teacher's encoder output, so it must share the teacher's
# width and vocabulary: the distil-large-v3 family (large-v3's encoder) drafts for large-v3.
# It drafts English; large-v3 checks every token, so other languages stay exact, only slower.
ASSISTANTS: dict[str, tuple[str, ...]] = {
    "large-v3": ("distil-large-v3", "distil-large-v3.5"),
}


def assistants_for(name_or_id: str | None) -> tuple[CatalogModel, ...]:
    """The catalog models that can draft for `name_or_id` (none for most models)."""
    entry = find(name_or_id) if name_or_id else None
    return tuple(_BY_KEY[n] for n in ASSISTANTS.get(entry.name, ())) if entry else ()


def draft_model(model: str | None, assistant: str | None) -> str | None:
    """`assistant` where it can draft for `model` (a catalog pair), else None: the app keeps
    one draft-model setting and uses it only with a model it fits."""
    if not assistant:
        return None
    pairs = assistants_for(model)
    return assistant if any(assistant in (m.name, m.repo_id) for m in pairs) else None


def find(name_or_id: str) -> CatalogModel | None:
    """The catalog entry for a short name or hub id, if there is one."""
    return _BY_KEY.get(name_or_id)


def default_model(device: str, cpu_count: int | None = None) -> CatalogModel:
    """The model a fresh install uses on `device` ("cuda", "mps" or "cpu").

    A dictation must come back in about a second: distil-large-v3 does that on any CUDA GPU,
    distil-medium.en on Apple Silicon (both by their sizes and model cards: no GPU figures were
    taken yet, see benchmarks/gpu.sh), distil-small.en on a desktop CPU with 8+ cores. Smaller
    CPUs get base.en, and 2-3 cores tiny.en: distil-small.en's encoder alone takes ~2.8 s on
    2 cores, where tiny.en answers in well under a second.
    """
    if device == "cuda":
        return _BY_KEY["distil-large-v3"]
    if device == "mps":
        return _BY_KEY["distil-medium.en"]
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    if cores >= 8:
        return _BY_KEY["distil-small.en"]
    return _BY_KEY["base.en"] if cores >= 4 else _BY_KEY["tiny.en"]
