"""The shorter encoder window: its size rule, its encoder, its guards, and real speech."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

from dictate.engine import window
from dictate.engine.options import TranscribeOptions

SR = 16000


@pytest.mark.parametrize(
    ("clip_s", "expected"),
    [(0.5, 15.0), (3.0, 15.0), (12.9, 15.0), (13.2, 16.0), (20.0, 22.0), (27.5, 30.0), (40, 30)],
)
def test_window_is_clip_plus_margin_with_a_floor_and_a_cap(clip_s, expected):
    assert window.window_seconds(clip_s) == expected


def test_floor_can_be_given():
    assert window.window_seconds(1.0, floor_s=5.0) == 5.0


def small_whisper(seed: int = 0) -> WhisperForConditionalGeneration:
    config = WhisperConfig(
        d_model=64,
        encoder_layers=2,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        attn_implementation="sdpa",
    )
    torch.manual_seed(seed)
    return WhisperForConditionalGeneration(config).eval()


def test_full_window_is_the_models_own_encoder():
    model = small_whisper()
    feats = torch.randn(1, 80, 3000)
    with torch.inference_mode():
        expected = model.get_encoder()(feats).last_hidden_state
        got = window.encode(model.get_encoder(), feats)
    assert torch.equal(got, expected)


@pytest.mark.parametrize("seconds", [8, 15])
def test_short_window_equals_an_encoder_built_with_that_many_positions(seconds):
    """The same weights in a model whose config has only `seconds`·50 positions."""
    model = small_whisper(1)
    positions = seconds * 50
    config = WhisperConfig(**{**model.config.to_dict(), "max_source_positions": positions})
    short = WhisperForConditionalGeneration(config).eval()
    state = model.state_dict()
    state["model.encoder.embed_positions.weight"] = state["model.encoder.embed_positions.weight"][
        :positions
    ]
    short.load_state_dict(state, strict=False)
    feats = torch.randn(1, 80, 2 * positions)
    with torch.inference_mode():
        expected = short.get_encoder()(feats).last_hidden_state
        got = window.encode(model.get_encoder(), feats)
    assert got.shape == (1, positions, 64)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


def test_window_longer_than_the_position_table_is_refused():
    model = small_whisper()
    with pytest.raises(ValueError, match="encoder window"):
        window.encode(model.get_encoder(), torch.randn(1, 80, 3002))


def test_features_have_100_frames_per_second_of_window():
    extractor = WhisperFeatureExtractor()
    audio = np.random.default_rng(0).normal(0, 0.1, 3 * SR).astype(np.float32)
    assert window.features(extractor, audio, 15.0).shape == (1, 80, 1500)
    full = extractor(audio, sampling_rate=SR, return_tensors="pt").input_features
    assert torch.equal(window.features(extractor, audio, 30.0), full)


def test_repetition_is_recognised_and_speech_is_not():
    sentence = [464, 3280, 318, 4771, 13, 314, 588, 340, 13]
    assert not window.repeats(sentence)
    assert not window.repeats([845, 845, 845, 922])  # "very very very good"
    assert window.repeats([11, 845, 845, 845, 845, 845])
    assert window.repeats([1, 2, 3, 4, 2, 3, 4, 2, 3, 4])
    assert window.repeats(sentence[:5] * 3)
    assert window.repeats([50, *sentence, *sentence, 60])  # the sentence said twice
    assert not window.repeats(sentence[:5] * 2)  # "I said no. I said no."


def test_looks_broken_catches_loops_limits_and_silence_but_not_speech():
    text = "And so my fellow Americans, ask not what your country can do for you."
    tokens = list(range(100, 118))
    assert window.looks_broken(tokens, text, 5.0, 80) is None
    assert window.looks_broken(list(range(80)), text, 5.0, 80) == "hit the token limit"
    assert window.looks_broken([], "", 3.0, 80) == "no text from speech"
    assert "more tokens" in window.looks_broken(list(range(60)), text, 3.0, 80)
    looped = "She had your dark suit in greasy wash water all year. " * 6
    assert "compression" in window.looks_broken(list(range(40)), looped, 6.0, 200)


@pytest.mark.slow
def test_short_window_keeps_the_words_on_every_speech_fixture(
    tiny_en_dir, fixtures_dir, references
):
    from dictate.audio.decode import load_audio
    from dictate.engine.transcriber import Engine
    from tests.conftest import wer

    engine = Engine(str(tiny_en_dir), device="cpu")
    engine.load()
    frames: list[int] = []
    engine._model.get_encoder().conv1.register_forward_pre_hook(
        lambda _module, args: frames.append(args[0].shape[-1])
    )
    full, short = TranscribeOptions(short_window=False), TranscribeOptions()
    errors = {"full": 0.0, "short": 0.0}
    for name, reference in references.items():
        audio = load_audio(fixtures_dir / name)
        a = engine.transcribe(audio, full)
        b = engine.transcribe(audio, short)
        span = window.window_seconds(audio.size / SR)
        assert span < 30 and frames[-2:] == [3000, int(span * 100)], (name, frames)
        assert wer(reference, b.text) <= wer(reference, a.text) + 0.10, (name, a.text, b.text)
        errors["full"] += wer(reference, a.text)
        errors["short"] += wer(reference, b.text)
    assert errors["short"] <= errors["full"] + 0.10, errors


@pytest.mark.slow
@pytest.mark.parametrize(("floor", "why"), [(3.0, "hit the token limit"), (6.0, "tokens repeat")])
def test_a_looping_short_window_falls_back_to_the_full_window(
    tiny_en_dir, fixtures_dir, monkeypatch, caplog, floor, why
):
    """Windows this short break tiny.en on LDC93S1 (2.9 s): at 3 s it loops until the token
    limit, at 6 s it says the sentence twice. The guard must see it and redo the clip on the
    full window, giving the full window's words."""
    from dictate.audio.decode import load_audio
    from dictate.engine.transcriber import Engine

    engine = Engine(str(tiny_en_dir), device="cpu")
    engine.load()
    audio = load_audio(fixtures_dir / "LDC93S1.wav")
    fp32 = TranscribeOptions(int8_encoder=False, int8_decoder=False)  # measured in fp32
    expected = engine.transcribe(audio, replace(fp32, short_window=False))
    monkeypatch.setattr(window, "MIN_WINDOW_S", floor)
    monkeypatch.setattr(window, "MARGIN_S", 0.0)
    assert window.window_seconds(audio.size / SR) == floor
    caplog.set_level("INFO", logger="dictate.engine.inference")
    got = engine.transcribe(audio, fp32)
    assert f"{floor:.0f} s window: {why}" in caplog.text
    assert "redoing it on the full window" in caplog.text
    assert got.tokens == expected.tokens


@pytest.mark.parametrize("seconds", [8, 30])
def test_int8_encoder_is_the_quantised_encoder_and_close_to_fp32(seconds):
    import copy
    import warnings

    from dictate.engine import int8
    from dictate.engine.parts import LeanParts

    model = small_whisper(2)
    feats = torch.randn(1, 80, seconds * 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model.get_encoder()), {torch.nn.Linear}, dtype=torch.qint8
        )
    parts = LeanParts(model)
    quantised = parts.int8_encoder()
    assert quantised is not None and quantised is parts.int8_encoder()  # built once, kept
    assert not any(isinstance(v, int8.Int8Encoder) for v in vars(model).values())
    with torch.inference_mode():
        got = window.encode(quantised, feats)
        expected = window.encode(reference, feats)
        fp32 = window.encode(model.get_encoder(), feats)
    assert torch.equal(got, expected)
    assert float((got - fp32).norm() / fp32.norm()) < 0.05
    assert model.get_encoder().layers[0].fc1.weight.dtype == torch.float32  # untouched
