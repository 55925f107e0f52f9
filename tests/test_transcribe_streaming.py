"""`dictate transcribe` prints a file's text as the engine produces it, not once it is done
(the README promised this; the command collected every segment first)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import soundfile

from dictate.commands import transcribe
from dictate.transcript import Segment


class StepEngine:
    """Yields three segments; before each one after the first it notes what stdout shows."""

    loaded = False

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.seen: list[str] = []

    def transcribe_long(self, blocks, options, *, on_progress=None, cancel=None, on_gap=None):
        texts = [" The first words,", "  then   more ", "and the end."]
        for i, text in enumerate(texts):
            if i:
                self.seen.append(self.capsys.readouterr().out)
            yield Segment(float(i), float(i + 1), text)


def args(*files: Path, fmt: str = "txt") -> argparse.Namespace:
    return argparse.Namespace(
        files=[str(f) for f in files],
        output=None,
        format=fmt,
        language=None,
        prompt=None,
        beam_size=1,
        no_gate=False,
        temperature_fallback=False,
        progress=False,
        model=None,
        device="cpu",
        dtype=None,
        assistant=None,
        overwrite=False,
    )


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "talk.wav"
    soundfile.write(path, np.zeros(16000, np.float32), 16000)
    return path


def test_text_is_printed_segment_by_segment(wav, capsys, monkeypatch) -> None:
    engine = StepEngine(capsys)
    monkeypatch.setattr(transcribe, "_load_engine", lambda a: engine)
    assert transcribe.run(args(wav)) == 0
    rest = capsys.readouterr().out
    assert engine.seen == ["The first words,", " then more"]  # there before the next segment
    assert "".join(engine.seen) + rest == "The first words, then more and the end.\n"


def test_each_file_is_one_line_also_when_streamed(wav, tmp_path, capsys, monkeypatch) -> None:
    engine = StepEngine(capsys)
    monkeypatch.setattr(transcribe, "_load_engine", lambda a: engine)
    missing = tmp_path / "missing.wav"
    assert transcribe.run(args(wav, missing, wav)) == 1
    out = "".join(engine.seen) + capsys.readouterr().out
    line = "The first words, then more and the end."
    assert out == f"{line}\n\n{line}\n"  # a failed file is an empty line, in its place
