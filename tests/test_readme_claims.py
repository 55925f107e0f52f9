"""Claims the README makes about devices, threads and settings, checked where they are made true:
GPUs use fp16 (GPU availability faked), an explicit --device is honoured or refused, never
replaced, DICTATE_THREADS sets torch's threads, and the running App applies settings at once
(keep_audio = false: in the desktop end-to-end test)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from dictate import config
from dictate.config import Settings
from dictate.dictation.session import State
from dictate.engine import device as devices
from dictate.errors import DeviceError
from tests.conftest import REPO

FP16, FP32 = torch.float16, torch.float32


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two CUDA GPUs, as far as the device choice can tell."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


# --- "GPUs use fp16"; "an explicit --device is honoured" ----------------------------------------


def test_a_cuda_gpu_is_chosen_and_runs_in_fp16(fake_cuda) -> None:
    assert devices.resolve("auto") == devices.DeviceChoice("cuda", FP16)
    assert devices.resolve("cuda") == devices.DeviceChoice("cuda", FP16)
    assert devices.resolve("cuda:1") == devices.DeviceChoice("cuda:1", FP16)
    assert devices.resolve("cuda", "float32").dtype == FP32  # --dtype overrides


def test_apple_mps_runs_in_fp16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert devices.resolve("auto") == devices.DeviceChoice("mps", FP16)


def test_the_cpu_runs_in_fp32(no_gpu) -> None:
    assert devices.resolve("auto") == devices.DeviceChoice("cpu", FP32)


def test_an_explicit_cpu_is_honoured_with_a_gpu_present(fake_cuda) -> None:
    assert devices.resolve("cpu") == devices.DeviceChoice("cpu", FP32)


def test_an_explicit_device_that_is_missing_is_refused_not_replaced(no_gpu, fake_cuda) -> None:
    # fake_cuda after no_gpu: CUDA "present" with two GPUs, so cuda:2 does not exist.
    with pytest.raises(DeviceError, match="'cuda:2' does not exist"):
        devices.resolve("cuda:2")


def test_an_explicit_gpu_on_a_machine_without_one_is_refused(no_gpu) -> None:
    for kind in ("cuda", "mps"):
        with pytest.raises(DeviceError, match=f"device '{kind}' cannot be used"):
            devices.resolve(kind)


def test_the_engine_loads_on_the_cpu_it_was_told_although_a_gpu_is_there(
    fake_cuda, random_model_dir: Path
) -> None:
    from dictate.engine.transcriber import Engine

    engine = Engine(str(random_model_dir), device="cpu")
    info = engine.load()
    assert (info.device, info.dtype) == ("cpu", "float32")
    assert next(engine._model.parameters()).device.type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_transcribe_device_cuda_without_a_gpu_is_one_clear_line(fixtures_dir: Path) -> None:
    clip = str(fixtures_dir / "LDC93S1.wav")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dictate",
            "transcribe",
            clip,
            "--device",
            "cuda",
            "--model",
            "tiny.en",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 2 and done.stdout == "", done
    [line] = [x for x in done.stderr.splitlines() if not x.startswith("dictate: note:")]
    assert line.startswith("dictate: ") and "'cuda' cannot be used" in line, done.stderr


def test_the_app_s_device_flag_overrides_the_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dictate import app, cli

    monkeypatch.setenv("DICTATE_CONFIG_DIR", str(tmp_path))
    config.save(Settings(device="cuda", model="distil-small.en"))
    started: list[Settings] = []
    monkeypatch.setattr(app, "run", lambda settings, warnings: started.append(settings) or 0)
    assert cli.main(["--headless", "--device", "cpu"]) == 0
    assert started[0].device == "cpu" and started[0].model == "distil-small.en"


# --- DICTATE_THREADS ----------------------------------------------------------------------------

THREADS_PROBE = (
    "import sys, torch\n"
    "from dictate.engine.transcriber import Engine\n"
    "Engine(sys.argv[1], device='cpu').load()\n"
    "print(torch.get_num_threads())\n"
)


def _threads_after_load(model: Path, value: str | None) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DICTATE_THREADS", None)
    if value is not None:
        env["DICTATE_THREADS"] = value
    done = subprocess.run(
        [sys.executable, "-c", THREADS_PROBE, str(model)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.mark.slow  # three processes that import torch and transformers
def test_dictate_threads_sets_the_engine_s_cpu_threads(random_model_dir: Path) -> None:
    usable = len(os.sched_getaffinity(0))
    assert _threads_after_load(random_model_dir, None) == usable  # every usable core
    assert _threads_after_load(random_model_dir, "3") == 3  # more than this machine's 2
    assert _threads_after_load(random_model_dir, "none") == usable  # nonsense is ignored


# --- settings applied at once; keep_audio = false ----------------------------------------------


@pytest.fixture
def running_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_en_dir: Path
) -> Iterator[object]:
    """The real App, started in this process with private folders and no desktop."""
    from dictate.app import App

    short = Path(tempfile.mkdtemp(prefix="dct-"))  # AF_UNIX paths are limited to ~100 bytes
    monkeypatch.setenv("DICTATE_SOCKET", str(short / "c.sock"))
    monkeypatch.setenv("DICTATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DICTATE_CONFIG_DIR", str(tmp_path / "config"))
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    app = App(Settings(model=str(tiny_en_dir), device="cpu"), say=lambda message: None)
    app.start()
    try:
        deadline = time.monotonic() + 300
        # The model in, the session idle (shutting down mid-load is another test's subject);
        # the status may say "no microphone" first where the machine has none (CI).
        while app.holder.engine is None or app.session.state is not State.IDLE:
            assert time.monotonic() < deadline, app.status()
            time.sleep(0.05)
        yield app
    finally:
        app.shutdown()
        shutil.rmtree(short, ignore_errors=True)


@pytest.mark.slow
def test_settings_are_applied_to_the_running_app_at_once(running_app, tmp_path: Path) -> None:
    app = running_app
    new = replace(
        app.settings,
        replacements={"dark": "DARK"},
        remove_fillers=True,
        insert_method="type",
        tail_max_s=0.2,
        max_record_s=30,
        prompt="ComfyUI",
        language="en",
        unload_after_min=7,
    )
    assert app.apply_settings(new) == []
    from dictate.dictation.cleanup import clean

    assert clean("um, she had your dark suit", app.session.rules) == "she had your DARK suit"
    assert app.inserter.method == "type"
    assert app.session.tail_max_s == 0.2 and app.recorder.max_s == 30
    assert app.options.prompt == "ComfyUI" and app.options.language == "en"
    assert app.holder.idle_unload_s == 7 * 60
    saved = json.loads((tmp_path / "config" / "settings.json").read_text())
    assert saved["replacements"] == {"dark": "DARK"} and saved["insert_method"] == "type"
    assert config.load()[0] == app.settings == new


# keep_audio = false: tests/desktop/test_dictation_e2e.py (a real dictation through the app).
