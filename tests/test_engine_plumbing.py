"""Engine plumbing on a tiny random-weight Whisper: loading, devices, fallback, long-form flow."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

from dictate.engine import device as devices
from dictate.engine.longform import cut_point
from dictate.engine.options import TranscribeOptions
from dictate.engine.transcriber import Engine
from dictate.errors import Cancelled, DeviceError, ModelError

SR = 16000


def tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def engine(random_model_dir):
    e = Engine(str(random_model_dir), device="cpu")
    e.load()
    return e


def test_loads_folder_on_cpu_fp32_with_sdpa(engine, random_model_dir):
    info = engine.info
    assert info.device == "cpu" and info.dtype == "float32"
    assert info.origin == "folder" and info.model == str(random_model_dir)
    assert info.english_only
    assert engine._model.config._attn_implementation == "sdpa"


def test_short_clip_gives_tokens_and_stage_timings(engine):
    result = engine.transcribe(tone(2.0), TranscribeOptions(use_gate=False))
    assert isinstance(result.text, str)
    no_timestamps = engine._processor.tokenizer.convert_tokens_to_ids("<|notimestamps|>")
    assert no_timestamps in result.tokens[:3]  # forced prompt: transcribe without timestamps
    t = result.timings
    assert t.features_ms > 0 and t.encoder_ms > 0 and t.decoding_ms > 0
    assert t.total_ms == pytest.approx(t.gate_ms + t.features_ms + t.encoder_ms + t.decoding_ms)


@pytest.fixture
def model_runs(engine):
    """Counts the encoder's runs: every way to the model (one clip, batched file windows,
    generate(), the lean greedy loop; fp32 or int8 layers) starts with conv1."""
    runs: list[int] = []
    handle = engine._model.get_encoder().conv1.register_forward_pre_hook(
        lambda module, args: runs.append(args[0].shape[0])
    )
    yield runs
    handle.remove()


@pytest.fixture
def model_must_not_run(engine):
    """The same tripwire, failing at once (a BaseException: no fallback path swallows it)."""
    handle = engine._model.get_encoder().conv1.register_forward_pre_hook(
        lambda module, args: pytest.fail("the model ran on silence")
    )
    yield
    handle.remove()


def test_the_model_runs_tripwire_sees_single_and_batched_decoding(engine, model_runs, monkeypatch):
    from dictate.engine import inference

    engine.transcribe(tone(1.0), TranscribeOptions(use_gate=False))
    assert model_runs and set(model_runs) == {1}  # one clip (the short window may be redone)
    model_runs.clear()
    original = inference.Pass.run_batch
    batches: list[int] = []

    def batch(self, clips, route, timings, outputs=None):
        batches.append(len(clips))  # 4 tokens are enough to run the model; quicker
        return original(self, clips, replace(route, max_new_tokens=4), timings, outputs)

    monkeypatch.setattr(inference.Pass, "run_batch", batch)
    # The windows alone (re-decoding what the random model skips has tests of its own).
    options = TranscribeOptions(use_gate=False, file_batch=3, redecode=False)
    list(engine.transcribe_long(iter([tone(10.0) for _ in range(10)]), options))
    # The first window alone (progress after one window), then the three others together:
    # the tripwire saw all four.
    assert batches == [1, 3] and len(model_runs) >= 4, (batches, model_runs)


def test_gate_stops_silence_before_the_model(engine, model_must_not_run):
    result = engine.transcribe(np.zeros(3 * SR, np.float32))
    assert result.text == "" and result.no_speech
    assert result.timings.gate_ms > 0


def test_english_only_model_refuses_another_language(engine):
    with pytest.raises(ModelError, match="English-only"):
        engine.transcribe(tone(1.0), TranscribeOptions(language="de", use_gate=False))


def test_beam_search_and_prompt_reach_generate_and_its_tokens_are_the_result(engine, monkeypatch):
    calls: list[tuple[dict, list[int]]] = []
    original = engine._model.generate

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        sequence = out.sequences if hasattr(out, "sequences") else out
        calls.append((kwargs, sequence[0].tolist()))
        return out

    monkeypatch.setattr(engine._model, "generate", spy)
    r = engine.transcribe(
        tone(1.0), TranscribeOptions(beam_size=3, prompt="ComfyUI", use_gate=False)
    )
    [(kwargs, tokens)] = calls  # beams go through generate(), once
    assert kwargs["num_beams"] == 3
    tokenizer = engine._processor.tokenizer
    assert tokenizer.decode(kwargs["prompt_ids"]).strip().endswith("ComfyUI")
    assert r.tokens == tokens
    assert r.text == tokenizer.decode(tokens, skip_special_tokens=True).strip()


def test_long_form_streams_windows_in_order_and_reports_progress(engine):
    blocks = [tone(10.0) for _ in range(7)]  # 70 s, no pauses: hard cuts at 30 s
    seen: list[float] = []
    windows: list[int] = []
    original = engine._infer

    def spy(audio, *args, **kwargs):
        windows.append(audio.size)
        return original(audio, *args, **{**kwargs, "max_new_tokens": 4})

    engine._infer = spy
    try:
        segments = list(
            engine.transcribe_long(
                iter(blocks),
                # The windows alone: re-decoding skipped speech has tests of its own.
                TranscribeOptions(use_gate=False, file_batch=1, redecode=False),
                on_progress=seen.append,
            )
        )
    finally:
        del engine._infer
    assert windows == [30 * SR, 30 * SR, 10 * SR]
    assert seen == [30.0, 60.0, 70.0]
    starts = [s.start for s in segments]
    assert starts == sorted(starts) and all(0 <= s.start <= s.end <= 70.0 for s in segments)


def test_long_form_batches_windows_and_reports_progress_per_batch(engine, monkeypatch):
    from dictate.engine import inference

    batches: list[list[int]] = []
    original = inference.Pass.run_batch

    def spy(self, clips, route, timings, outputs=None):
        batches.append([c.size for c in clips])
        return original(self, clips, replace(route, max_new_tokens=4), timings, outputs)

    monkeypatch.setattr(inference.Pass, "run_batch", spy)
    seen: list[float] = []
    blocks = [tone(10.0) for _ in range(13)]  # 130 s, no pauses: hard cuts at 30 s
    options = TranscribeOptions(use_gate=False, file_batch=3, redecode=False)
    segments = list(engine.transcribe_long(iter(blocks), options, on_progress=seen.append))
    # The first window alone (a progress bar moves after one window), then batches of three;
    # every one through the batch path (a cancel stops it between decoder steps).
    assert batches == [[30 * SR], [30 * SR] * 3, [10 * SR]]
    assert seen == [30.0, 120.0, 130.0]
    starts = [s.start for s in segments]
    assert starts == sorted(starts) and all(0 <= s.start <= s.end <= 130.0 for s in segments)


def test_long_form_cancel(engine):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        list(engine.transcribe_long([tone(5.0)], TranscribeOptions(use_gate=False), cancel=cancel))


@pytest.mark.parametrize("file_batch", [1, 4])
def test_long_form_skips_windows_without_speech(engine, model_must_not_run, file_batch):
    options = TranscribeOptions(file_batch=file_batch)
    assert list(engine.transcribe_long([np.zeros(125 * SR, np.float32)], options)) == []


@pytest.mark.parametrize(
    ("regions", "final", "cut"),
    [
        ([], False, 30.0),  # no speech: take the whole window
        ([(1.0, 8.0), (9.0, 20.0), (21.0, 30.0)], False, 20.5),  # the later of equal pauses
        ([(1.0, 16.0), (18.0, 25.0), (25.5, 30.0)], False, 17.0),  # the longest in 2nd half
        ([(1.0, 8.0), (10.0, 14.0), (14.2, 30.0)], False, 9.0),  # else the longest usable
        ([(1.0, 8.0), (9.0, 29.0), (29.2, 30.0)], False, 29.1),  # late half beats early
        ([(1.0, 8.0), (9.0, 25.0)], False, 30.0),  # speech stopped before the end
        ([(0.0, 30.0)], False, 30.0),  # no pause at all: hard cut
        ([(0.0, 2.0), (3.0, 30.0)], False, 30.0),  # the only pause is too early
        ([(1.0, 8.0), (9.0, 30.0)], True, 30.0),  # the end of the audio
    ],
)
def test_cut_point_prefers_the_last_pause(regions, final, cut):
    assert cut_point(regions, 30.0, final=final) == pytest.approx(cut)


def test_auto_device_is_cpu_fp32_here():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    choice = devices.resolve("auto")
    assert (choice.device, choice.dtype) == ("cpu", torch.float32)


def test_explicit_unavailable_device_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(DeviceError, match="cuda.*cannot be used"):
        devices.resolve("cuda")
    with pytest.raises(DeviceError, match="unknown device"):
        devices.resolve("tpu")


def test_gpu_failing_at_load_falls_back_to_cpu(random_model_dir, monkeypatch):
    """On this machine torch has no CUDA, so moving weights to "cuda" really fails."""
    monkeypatch.setattr(
        devices, "resolve", lambda *a, **k: devices.DeviceChoice("cuda", torch.float16)
    )
    notices: list[str] = []
    e = Engine(str(random_model_dir), device="cuda", on_notice=notices.append)
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    info = e.load()
    assert (info.device, info.dtype) == ("cpu", "float32")
    assert len(notices) == 1 and "cuda" in notices[0] and "CPU" in notices[0]
    assert e.transcribe(tone(1.0), TranscribeOptions(use_gate=False)).tokens


def test_gpu_failing_at_first_inference_retries_on_cpu(random_model_dir):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    notices: list[str] = []
    e = Engine(str(random_model_dir), device="cpu", on_notice=notices.append)
    e.load()
    expected = e.transcribe(tone(1.0), TranscribeOptions(use_gate=False)).tokens
    # The engine believes it runs on a GPU; torch here has no CUDA, so the first inference
    # really fails (moving the features to "cuda" raises) and must be redone on the CPU.
    e._choice = devices.DeviceChoice("cuda", torch.float16)
    result = e.transcribe(tone(1.0), TranscribeOptions(use_gate=False))
    assert e.info.device == "cpu" and e.info.dtype == "float32"
    assert result.tokens == expected  # nothing lost: the same clip, transcribed on the CPU
    assert len(notices) == 1 and "inference on cuda" in notices[0] and "CPU" in notices[0]


def test_cpu_failure_is_not_swallowed(random_model_dir):
    e = Engine(str(random_model_dir), device="cpu")
    e.load()
    # conv1 runs on every path (the full and the short encoder window, fp32 and int8 layers).
    handle = e._model.get_encoder().conv1.register_forward_pre_hook(
        lambda m, a: (_ for _ in ()).throw(RuntimeError("broken"))
    )
    try:
        with pytest.raises(RuntimeError, match="broken"):
            e.transcribe(tone(1.0), TranscribeOptions(use_gate=False))
    finally:
        handle.remove()


def test_unload_releases_the_model(random_model_dir):
    e = Engine(str(random_model_dir), device="cpu")
    e.load()
    e.unload()
    assert not e.loaded
    with pytest.raises(ModelError, match="no model is loaded"):
        e.transcribe(tone(1.0), TranscribeOptions(use_gate=False))


def test_segments_with_more_words_than_speech_are_dropped():
    from dictate.engine.longform import speakable

    regions = [(0.0, 3.0), (10.0, 10.2)]
    assert speakable("ask not what your country can do for you", 0.0, 3.0, regions)
    # 22 words over 0.2 s of speech: the decoder repeating itself, not a person speaking.
    repeat = "and so my fellow americans ask not what your country can do for you " * 1
    assert not speakable(repeat + "ask what you can do for your country", 9.5, 12.0, regions)
