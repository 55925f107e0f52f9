"""The speech gate: Silero through ONNX Runtime finds the same speech as through TorchScript."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from dictate.audio.gate import SpeechGate
from tests.conftest import load_clip

SR = 16000


@pytest.fixture(scope="module")
def onnx_gate() -> SpeechGate:
    pytest.importorskip("onnxruntime")
    gate = SpeechGate(backend="onnx")
    assert gate.load() == "onnx"
    return gate


@pytest.fixture(scope="module")
def torch_gate() -> SpeechGate:
    gate = SpeechGate(backend="torch")
    assert gate.load() == "torch"
    return gate


def test_auto_prefers_onnx_when_it_is_installed():
    pytest.importorskip("onnxruntime")
    assert SpeechGate().load() == "onnx"


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend"):
        SpeechGate(backend="tflite")


def test_both_backends_find_the_same_speech_in_every_fixture(
    onnx_gate, torch_gate, fixtures_dir, references
):
    for name in references:
        audio = load_clip(fixtures_dir / name)
        regions = onnx_gate.regions(audio)
        assert regions == torch_gate.regions(audio), name
        assert sum(e - s for s, e in regions) > 0.5 * audio.size / SR, name


def test_long_regions_are_split_the_same_way(onnx_gate, torch_gate, fixtures_dir):
    audio = load_clip(fixtures_dir / "jfk.flac")
    split = onnx_gate.regions(audio, max_region_s=1.5)
    assert split == torch_gate.regions(audio, max_region_s=1.5)
    assert len(split) > len(onnx_gate.regions(audio))
    assert all(e - s <= 1.5 + 0.1 for s, e in split)


@pytest.mark.parametrize(
    "clip",
    [
        np.zeros(3 * SR, np.float32),
        (np.random.default_rng(1).standard_normal(3 * SR) * 10 ** (-50 / 20)).astype(np.float32),
        np.zeros(300, np.float32),  # less than one Silero window
    ],
    ids=["silence", "white-noise-50dBFS", "too-short"],
)
def test_silence_and_noise_hold_no_speech(onnx_gate, torch_gate, clip):
    assert onnx_gate.regions(clip) == [] == torch_gate.regions(clip)
    assert onnx_gate.speech_seconds(clip) == 0.0


def test_concurrent_calls_give_the_same_regions(onnx_gate, fixtures_dir):
    clips = [load_clip(fixtures_dir / n) for n in ("jfk.flac", "LDC93S1.wav", "hotwords.mp3")]
    expected = [onnx_gate.regions(c) for c in clips]
    results: dict[tuple[int, int], list] = {}

    def work(worker: int) -> None:
        for round_ in range(3):
            for i, clip in enumerate(clips):
                results[(worker, round_ * 10 + i)] = (i, onnx_gate.regions(clip))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 4 * 3 * len(clips)
    assert all(regions == expected[i] for i, regions in results.values())


def test_loading_the_gate_keeps_the_callers_torch_threads():
    before = torch.get_num_threads()
    SpeechGate(backend="torch").load()
    SpeechGate().regions(np.zeros(SR, np.float32))
    assert torch.get_num_threads() == before
