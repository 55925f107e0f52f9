"""Shared fixtures: the real tiny.en engine, loaded once, and the recorded speech, decoded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dictate.dictation.history import History
from tests.reliability.pipeline import Pipeline


@pytest.fixture(scope="session")
def tiny_engine(tiny_en_dir: Path):
    """Whisper tiny.en on the CPU with the real speech gate, loaded and warmed up once."""
    from dictate.engine.transcriber import Engine

    engine = Engine(str(tiny_en_dir), device="cpu")
    engine.load()
    engine.warmup()
    return engine


@pytest.fixture(scope="session")
def speech(fixtures_dir: Path, references: dict[str, str]) -> dict[str, np.ndarray]:
    """The recorded speech fixtures as 16 kHz mono float32, by file name."""
    from dictate.audio.decode import load_audio

    return {name: load_audio(fixtures_dir / name) for name in references}


@pytest.fixture
def pipeline(tmp_path: Path, tiny_engine) -> Iterator[Pipeline]:
    """A session with its own history, transcribing with tiny.en."""
    from dictate.engine.options import TranscribeOptions

    options = TranscribeOptions()
    with History(tmp_path / "data") as history:
        p = Pipeline(history, lambda audio: tiny_engine.transcribe(audio, options))
        yield p
        p.session.shutdown()
