"""Device faults (issue 6, point 6): no microphone, a microphone that vanishes mid-dictation, a
model folder deleted or damaged, a GPU that fails. Each time the app keeps running, says what
happened, and keeps what it had.

The app itself (dictate/app.py's App, in this process: control socket, history, engine holder,
session) where the fault is the app's to report; the session and history with a clip for a
microphone where a dictation must be shown to survive it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dictate.config import Settings
from dictate.dictation.history import History
from dictate.engine.options import TranscribeOptions
from tests.conftest import wer
from tests.desktop.fixtures_audio import virtual_mic  # noqa: F401  (a session fixture)
from tests.reliability.pipeline import Pipeline

pytestmark = pytest.mark.slow

SR = 16000


class RunningApp:
    """dictate's App started in this process, with everything it says collected."""

    def __init__(self, **settings: object) -> None:
        from dictate.app import App

        self.said: list[str] = []
        self._lock = threading.Lock()
        self.app = App(Settings(device="cpu", **settings), say=self._say)
        self.app.start()

    def _say(self, message: str) -> None:
        with self._lock:
            self.said.append(message)

    def wait_said(self, pattern: str, timeout: float = 120.0) -> str:
        """The first message matching `pattern` (a regular expression), waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [m for m in self.said if re.search(pattern, m)]
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"never said /{pattern}/; said: {self.said}")

    def wait_status(self, word: str, timeout: float = 120.0) -> str:
        """The detail once the status word is `word`. "ready" is also the model in with no
        microphone here (CI has no sound card): then the status puts the microphone first."""

        def reached(state: tuple[str, str]) -> bool:
            if word == "ready" and state[0] == "no microphone":
                return "the model is loading" not in state[1]
            return state[0] == word

        deadline = time.monotonic() + timeout
        while not reached(state := self.app.status()):
            assert time.monotonic() < deadline, (state, self.said)
            time.sleep(0.05)
        return state[1]

    def control(self, command: str) -> dict:
        """A command over the control socket, as `dictate status` sends it."""
        from dictate.control.ipc import send

        return send(command, path=self.app.server.path)

    def stop(self) -> None:
        self.app.shutdown()


@pytest.fixture
def start_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session_cache: Path
) -> Iterator[Callable[..., RunningApp]]:
    """Start the app with private folders and socket, and no desktop to reach."""
    short = Path(tempfile.mkdtemp(prefix="dct-"))  # AF_UNIX paths are limited to ~100 bytes
    monkeypatch.setenv("DICTATE_SOCKET", str(short / "c.sock"))
    monkeypatch.setenv("DICTATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DICTATE_CONFIG_DIR", str(tmp_path / "config"))
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    apps: list[RunningApp] = []

    def start(**settings: object) -> RunningApp:
        apps.append(RunningApp(**settings))
        return apps[-1]

    yield start
    for running in apps:
        running.stop()
    shutil.rmtree(short, ignore_errors=True)


def copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# --- the microphone -----------------------------------------------------------------------------


def test_no_microphone_at_start_is_said_and_the_app_keeps_running(
    start_app, tiny_en_dir: Path
) -> None:
    running = start_app(model=str(tiny_en_dir), input_device="USB headset that is not plugged in")
    running.wait_status("ready")
    running.app.command("start")  # the hotkey, or `dictate start`

    # "no microphone 'USB headset…' (input devices: …)", or "no microphone found" where the
    # machine has no input at all, or "PortAudio is not installed".
    message = running.wait_said("microphone|PortAudio")
    assert re.search("no microphone|PortAudio", message) and "\n" not in message, message
    deadline = time.monotonic() + 30  # the start's own failure (the line may be the health check's)
    while (reply := running.control("status"))["state"] == "recording":
        assert time.monotonic() < deadline, reply
        time.sleep(0.05)
    # Still answering, and ready for the next try: the missing microphone said first.
    assert reply["ok"] and reply["state"] == "no microphone", reply
    [entry] = running.app.history.recent(5)
    assert entry.status == "error" and "microphone" in (entry.error or ""), entry


@pytest.mark.desktop
def test_microphone_removed_while_recording_keeps_the_audio_and_its_text(
    start_app,
    tiny_en_dir: Path,
    virtual_mic,  # noqa: F811  (the fixture imported above)
    fixtures_dir: Path,
) -> None:
    """The sound server is SIGKILLed mid-sentence, as when a USB microphone is pulled out."""
    from dictate.audio.decode import load_audio

    jfk = load_audio(fixtures_dir / "jfk.flac")
    clip = Path(tempfile.mkdtemp(prefix="dct-")) / "jfk16k.wav"  # paplay wants plain WAV
    sf.write(clip, jfk, SR, subtype="PCM_16")
    running = start_app(model=str(tiny_en_dir))
    running.wait_status("ready")
    running.app.command("start")
    running.wait_status("recording", timeout=20)
    player = virtual_mic.play(clip)
    time.sleep(4.0)  # "And so my fellow Americans, ask not ..."
    virtual_mic.kill()
    player.wait(10)
    time.sleep(3.0)  # the recorder notices a silent stream after 2 s
    running.app.command("stop")

    message = running.wait_said("microphone lost")
    assert "\n" not in message
    running.wait_said("could not insert|inserted|no speech")  # no window here to type into
    entry = running.app.history.recent(1)[0]
    assert entry.audio_path is not None and 2.0 < (entry.duration_s or 0) < 11.0, entry
    assert "fellow americans" in (entry.text or "").lower(), entry
    running.app.command("start")  # no server now: said, and nothing breaks
    running.wait_said("microphone.*(cannot|no audio|no microphone|not)")
    assert running.control("status")["ok"]
    shutil.rmtree(clip.parent, ignore_errors=True)


# --- the model ----------------------------------------------------------------------------------


def test_model_folder_deleted_is_said_and_the_app_keeps_running(
    start_app, tiny_en_dir: Path, tmp_path: Path
) -> None:
    folder = copy_model(tiny_en_dir, tmp_path / "models" / "tiny")
    shutil.rmtree(folder)
    running = start_app(model=str(folder))

    message = running.wait_said("cannot load the model")
    assert str(folder) in message and "\n" not in message
    state = running.control("status")
    assert state["ok"] and state["state"] == "error" and str(folder) in state["detail"]

    copy_model(tiny_en_dir, folder)  # put back: the app takes it without a restart
    running.app.switch_model(str(folder))
    running.wait_status("ready")
    # CI has no microphone: the status says so first, and the model's error is gone.
    assert running.control("status")["state"] in ("ready", "no microphone")
    assert running.app.holder.engine is not None


DAMAGES = ["weights cut short", "config is not JSON", "tokenizer gone"]


@pytest.mark.parametrize("damage", DAMAGES)
def test_model_folder_damaged_is_one_clear_line(
    start_app, tiny_en_dir: Path, tmp_path: Path, damage: str
) -> None:
    folder = copy_model(tiny_en_dir, tmp_path / "models" / "tiny")
    if damage == "weights cut short":
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
    elif damage == "config is not JSON":
        (folder / "config.json").write_text('{"model_type": "whisper", "d_model": ')
    else:
        for name in ("tokenizer.json", "vocab.json", "tokenizer_config.json"):
            (folder / name).unlink(missing_ok=True)
    running = start_app(model=str(folder))
    deadline = time.monotonic() + 120
    while running.app.holder.loading:
        assert time.monotonic() < deadline, running.said
        time.sleep(0.05)

    messages = [m for m in running.said if m.startswith("cannot load the model")]
    assert len(messages) == 1, running.said
    assert "\n" not in messages[0] and len(messages[0]) < 600, messages
    assert running.control("status")["state"] == "error"


def test_a_dictation_made_while_the_model_is_gone_keeps_its_audio(
    tmp_path: Path, tiny_en_dir: Path, speech: dict[str, np.ndarray], references: dict[str, str]
) -> None:
    """The model folder vanishes under a running app (deleted, a drive unmounted) and the model
    had been unloaded while idle: the next dictation cannot be transcribed, but is kept."""
    from dictate.audio.gate import SpeechGate
    from dictate.engine.holder import EngineHolder

    folder = copy_model(tiny_en_dir, tmp_path / "models" / "tiny")
    statuses: list[str] = []
    holder = EngineHolder(
        SpeechGate(),
        on_status=lambda s: statuses.append(f"{s.stage}: {s.message}"),
        on_notice=statuses.append,
    )
    holder.load(str(folder), "cpu").result(timeout=300)
    options = TranscribeOptions()
    clip = speech["LDC93S1.wav"]
    with History(tmp_path / "data") as history:
        pipeline = Pipeline(history, lambda audio: holder.get().transcribe(audio, options))
        try:
            assert pipeline.wait_done(pipeline.dictate(clip)) == "inserted"
            shutil.rmtree(folder)
            holder.engine.unload()  # what the idle unload does

            dictation = pipeline.dictate(clip)
            assert pipeline.wait_done(dictation) == "error"
            entry = history.get(dictation)
            assert str(folder) in (entry.error or ""), entry
            assert any("failed" in s and str(folder) in s for s in statuses), statuses
            kept = history.load_audio(dictation)
            assert len(kept) == len(clip)  # the audio is all there, to transcribe later

            copy_model(tiny_en_dir, folder)  # the drive is back
            later = holder.get().transcribe(kept, options)
            assert wer(references["LDC93S1.wav"], later.text) <= 0.25, later.text
            assert pipeline.wait_done(pipeline.dictate(clip)) == "inserted"
        finally:
            pipeline.session.shutdown()
            holder.shutdown()


# --- the GPU ------------------------------------------------------------------------------------


def test_gpu_failing_at_inference_moves_to_the_cpu_and_redoes_the_dictation(
    tmp_path: Path,
    tiny_en_dir: Path,
    speech: dict[str, np.ndarray],
    references: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine believes it runs on CUDA; its first inference fails as an out-of-memory
    GPU does. The same audio must come back as text, from the CPU, and the user told."""
    import torch

    from dictate.engine import device as devices
    from dictate.engine.transcriber import Engine

    notices: list[str] = []
    engine = Engine(str(tiny_en_dir), device="cpu", on_notice=notices.append)
    engine.load()
    real_infer = engine._infer
    failures = iter([torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")])

    def gpu_infer(*args, **kwargs):
        if (error := next(failures, None)) is not None:
            raise error
        return real_infer(*args, **kwargs)

    monkeypatch.setattr(engine, "_infer", gpu_infer)
    monkeypatch.setattr(engine, "_choice", devices.DeviceChoice("cuda", torch.float16))
    options = TranscribeOptions()
    with History(tmp_path / "data") as history:
        pipeline = Pipeline(history, lambda audio: engine.transcribe(audio, options))
        try:
            dictation = pipeline.dictate(speech["LDC93S1.wav"])
            assert pipeline.wait_done(dictation) == "inserted"
        finally:
            pipeline.session.shutdown()
        [typed] = pipeline.window.texts
    assert wer(references["LDC93S1.wav"], typed) <= 0.25, typed
    assert engine.info.device == "cpu" and next(failures, None) is None
    [notice] = notices
    assert "out of memory" in notice and "CPU" in notice and "\n" not in notice, notice


def test_gpu_failing_at_load_moves_to_the_cpu(
    tiny_en_dir: Path, speech: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from dictate.engine import device as devices
    from dictate.engine.transcriber import Engine

    real_place = Engine._place

    def place(self: Engine, choice: devices.DeviceChoice) -> None:
        if choice.kind != "cpu":
            raise RuntimeError("CUDA error: no kernel image is available for execution")
        real_place(self, choice)

    monkeypatch.setattr(Engine, "_place", place)
    monkeypatch.setattr(devices, "resolve", lambda *a: devices.DeviceChoice("cuda", torch.float16))
    notices: list[str] = []
    engine = Engine(str(tiny_en_dir), device="auto", on_notice=notices.append)

    info = engine.load()
    assert info.device == "cpu" and info.dtype == "float32"
    assert any("CUDA error" in n and "CPU" in n for n in notices), notices
    assert "greasy" in engine.transcribe(speech["LDC93S1.wav"]).text
