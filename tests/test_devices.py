"""Device choice with the availability checks faked: auto (CUDA > MPS > CPU), cuda:N, dtype
overrides, the CPU thread setting, and which device a stage's timing waits for."""

from __future__ import annotations

import pytest
import torch

from dictate.engine import device as devices
from dictate.engine import inference
from dictate.errors import DeviceError


@pytest.fixture
def machine(monkeypatch):
    """Fake what torch reports: set(cuda=N GPUs, mps=bool)."""

    def set_(cuda: int = 0, mps: bool = False) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        monkeypatch.setattr(torch.version, "cuda", "12.8" if cuda else None)

    return set_


@pytest.mark.parametrize(
    ("cuda", "mps", "kind", "dtype"),
    [
        (1, True, "cuda", torch.float16),  # CUDA first, in half precision
        (0, True, "mps", torch.float16),
        (0, False, "cpu", torch.float32),  # fp32 on the CPU: fp16/bf16 are emulated there
    ],
)
def test_auto_picks_cuda_then_mps_then_cpu(machine, cuda, mps, kind, dtype):
    machine(cuda=cuda, mps=mps)
    assert devices.auto_kind() == kind
    choice = devices.resolve("auto")
    assert (choice.device, choice.dtype, choice.kind) == (kind, dtype, kind)


def test_cuda_index_is_checked_against_the_gpus_found(machine):
    machine(cuda=2)
    assert devices.resolve("cuda:1").device == "cuda:1"
    assert devices.resolve("CUDA:0").device == "cuda:0"
    with pytest.raises(DeviceError, match=r"'cuda:2' does not exist \(2 CUDA device"):
        devices.resolve("cuda:2")
    with pytest.raises(DeviceError, match="'cuda:x' does not exist"):
        devices.resolve("cuda:x")


def test_unavailable_devices_say_why(machine):
    machine(cuda=0, mps=False)
    with pytest.raises(DeviceError, match="no CUDA support"):
        devices.resolve("cuda:0")
    with pytest.raises(DeviceError, match="Apple Silicon"):
        devices.resolve("mps")
    assert devices.unavailable_reason("cpu") is None


@pytest.mark.parametrize(
    ("requested", "dtype", "expected"),
    [
        ("auto", "float32", torch.float32),  # fp32 on a GPU, e.g. to compare with the CPU
        ("cuda:1", "bfloat16", torch.bfloat16),
        ("cpu", "float16", torch.float16),
        ("mps", None, torch.float16),
    ],
)
def test_dtype_override_wins(machine, requested, dtype, expected):
    machine(cuda=2, mps=True)
    assert devices.resolve(requested, dtype).dtype == expected


def test_unknown_dtype_is_refused(machine):
    machine(cuda=1)
    with pytest.raises(DeviceError, match="unknown dtype 'int4'"):
        devices.resolve("cuda", "int4")


def test_threads_use_every_allowed_core_unless_told(monkeypatch):
    set_to: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", set_to.append)
    monkeypatch.setattr(devices.os, "sched_getaffinity", lambda pid: {0, 1, 2, 5}, raising=False)
    monkeypatch.delenv("DICTATE_THREADS", raising=False)
    assert devices.configure_cpu_threads() == 4
    monkeypatch.setenv("DICTATE_THREADS", "3")
    assert devices.configure_cpu_threads() == 3
    monkeypatch.setenv("DICTATE_THREADS", "many")  # not a number: ignored
    assert devices.configure_cpu_threads() == 4
    assert set_to == [4, 3, 4]


@pytest.mark.parametrize(
    ("device", "cuda_calls", "mps_calls"),
    [("cuda:1", ["cuda:1"], 0), ("cuda", ["cuda"], 0), ("mps", [], 1), ("cpu", [], 0)],
)
def test_stage_timings_wait_for_the_right_device(monkeypatch, device, cuda_calls, mps_calls):
    cuda: list[str] = []
    mps: list[int] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda d=None: cuda.append(d))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: mps.append(1))
    inference.Pass(None, None, device, torch.float16).sync()
    assert cuda == cuda_calls and len(mps) == mps_calls


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fp16_lean_decoding_matches_generate_on_cuda(random_model_dir):
    """On a GPU the lean loop runs the model as loaded (fp16): the same tokens as generate()."""
    import numpy as np

    from dictate.engine.options import TranscribeOptions
    from dictate.engine.transcriber import Engine

    engine = Engine(str(random_model_dir), device="cuda")
    assert engine.load().dtype == "float16"
    t = np.arange(2 * 16000) / 16000
    clip = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    lean = engine.transcribe(clip, TranscribeOptions(use_gate=False))
    generated = engine.transcribe(clip, TranscribeOptions(use_gate=False, lean_decoding=False))
    assert lean.timings.route.decoder == "lean" and generated.timings.route.decoder == "generate"
    assert lean.tokens == generated.tokens
