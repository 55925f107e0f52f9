"""The whole app on Wayland, for real: no X display, headless sway with a `foot` terminal
focused, the stand-in desktop portal on a private D-Bus giving the global shortcut, recorded
speech played into the PulseAudio virtual microphone, the real tiny.en model. And weston, a
compositor where neither wtype nor wl-copy work: the app must say so and keep the text."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, wer
from tests.desktop import portal_bus, wayland

pytestmark = [pytest.mark.desktop, pytest.mark.slow]


class App:
    """`dictate --headless` as its own process, with the given environment."""

    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.env, self.root = env, root
        self.log_path = root / f"app-{time.monotonic_ns()}.log"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dictate", "--headless", "--mode", "hold"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_for("ready", timeout=180)

    def dictate(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "dictate", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return done.stdout.strip()

    def wait_for(self, word: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.dictate("status").startswith(word):
                return
            assert self.proc.poll() is None, self.output()
            time.sleep(0.1)
        raise AssertionError(f"app never became {word!r}\n{self.output()}")

    def wait_output(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert time.monotonic() < deadline, f"{text!r} never said:\n{self.output()}"
            time.sleep(0.1)
        return self.output()

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        self.log.close()


def play(env: dict[str, str], root: Path, clip: Path) -> None:
    """Play `clip` into the virtual microphone in real time (as a 16 kHz WAV: see e2e tests)."""
    import soundfile as sf

    from dictate.audio.decode import load_audio

    wav = root / f"{clip.stem}.16k.wav"
    if not wav.exists():
        sf.write(wav, load_audio(clip), 16000, subtype="PCM_16")
    done = subprocess.run(
        ["paplay", "--device=vmic_sink", str(wav)], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def history(root: Path):
    from dictate.dictation.history import History

    h = History(root / "data")
    try:
        return h.recent(5)
    finally:
        h.close()


def app_env(virtual_mic, root: Path, tiny_en_dir: Path, compositor) -> dict[str, str]:
    runtime = Path(virtual_mic.env["XDG_RUNTIME_DIR"])
    env = {
        **compositor.env,  # no DISPLAY; WAYLAND_DISPLAY: the compositor's socket
        **{k: v for k, v in virtual_mic.env.items() if k != "DISPLAY"},
        "WAYLAND_DISPLAY": compositor.env["WAYLAND_DISPLAY"],
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "DICTATE_DATA_DIR": str(root / "data"),
        "DICTATE_CONFIG_DIR": str(root / "config"),
        "DICTATE_SOCKET": str(runtime / f"dictate-{compositor.kind}.sock"),
    }
    env.pop("DISPLAY", None)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    (root / "config").mkdir(exist_ok=True)
    settings = {"model": str(tiny_en_dir), "device": "cpu", "sounds": False}
    (root / "config" / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    return env


def wl_copy(env: dict[str, str], text: str) -> None:
    subprocess.run(
        ["wl-copy"], input=text.encode(), env=env, check=True, timeout=10,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture(scope="module")
def sway_desktop(virtual_mic, tmp_path_factory, tiny_en_dir) -> Iterator[tuple]:
    reason = wayland.missing("sway", "foot", "wtype", "wl-copy", "wl-paste", "paplay")
    reason = reason or portal_bus.missing()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("wayland-app")
    sway = wayland.Compositor("sway")
    bus = portal_bus.Bus()
    portal = portal_bus.FakePortal(bus)
    foot = sway.terminal()
    env = app_env(virtual_mic, root, tiny_en_dir, sway)
    env["DBUS_SESSION_BUS_ADDRESS"] = bus.address
    app = None
    try:
        wl_copy(env, "precious")
        app = App(env, root)
        yield portal, foot, app, root
    finally:
        if app is not None:
            app.stop()
        foot.close()
        portal.kill()
        bus.stop()
        sway.stop()


def test_hold_to_talk_through_the_portal_types_into_a_wayland_window(
    sway_desktop, virtual_mic, fixtures_dir, references
):
    portal, foot, app, root = sway_desktop
    asked = portal.next_report("bound", timeout=30)["bound"]
    assert next(s for s in asked if s["id"] == "dictate")["preferred_trigger"] == "CTRL+ALT+d"
    said = app.wait_output("global shortcut: desktop portal: CTRL+ALT+d (hold)")
    assert "text insertion: Wayland:" in said and "Shift+Insert sent by wtype" in said
    before = foot.text()
    portal.press("dictate")
    app.wait_for("recording", timeout=10)
    play(virtual_mic.env, root, fixtures_dir / "jfk.flac")
    time.sleep(0.2)
    portal.release("dictate")
    deadline = time.monotonic() + 90
    while foot.text() == before or not app.dictate("status").startswith("ready"):
        assert time.monotonic() < deadline, app.output()
        time.sleep(0.1)
    time.sleep(0.6)  # the clipboard goes back ~0.25 s after the paste
    text = foot.text()[len(before) :]
    reference = references["jfk.flac"]
    assert wer(reference, text) <= 0.15, (text, app.output())
    assert text[:3].lower() == reference[:3].lower(), text  # the first characters arrived
    entry = history(root)[0]
    assert entry.status == "inserted" and entry.insert_method == "paste", entry
    copied = subprocess.run(["wl-paste", "-n"], env=app.env, capture_output=True, timeout=10)
    assert copied.stdout == b"precious"


def test_ipc_start_stop_and_the_portal_going_away(
    sway_desktop, virtual_mic, fixtures_dir, references
):
    portal, foot, app, root = sway_desktop
    before = foot.text()
    app.dictate("start")
    app.wait_for("recording", timeout=10)
    play(virtual_mic.env, root, fixtures_dir / "LDC93S1.wav")
    app.dictate("stop")
    deadline = time.monotonic() + 90
    while foot.text() == before or not app.dictate("status").startswith("ready"):
        assert time.monotonic() < deadline, app.output()
        time.sleep(0.1)
    text = foot.text()[len(before) :]
    assert wer(references["LDC93S1.wav"], text) <= 0.5, text
    assert history(root)[0].status == "inserted"

    portal.kill()
    said = app.wait_output("the desktop portal went away")
    assert "dictate toggle" in said.split("the desktop portal went away", 1)[1]
    assert app.dictate("status").startswith("ready")  # the app lives on, IPC still works


def test_on_weston_nothing_can_insert_and_the_app_says_so_and_keeps_the_text(
    virtual_mic, tmp_path, tiny_en_dir, fixtures_dir
):
    if reason := wayland.missing("weston", "wtype", "wl-copy", "wl-paste", "paplay"):
        pytest.skip(reason)
    weston = wayland.Compositor("weston")
    app = None
    try:
        env = app_env(virtual_mic, tmp_path, tiny_en_dir, weston)
        app = App(env, tmp_path)  # no session bus at all: no portal
        # Said from the portal's thread after start-up (a loaded machine: well over 20 s).
        said = app.wait_output("no global hotkey here", timeout=90)
        assert "dictate toggle" in said
        app.dictate("start")
        app.wait_for("recording", timeout=10)
        play(virtual_mic.env, tmp_path, fixtures_dir / "LDC93S1.wav")
        app.dictate("stop")
        said = app.wait_output("could not insert the text", timeout=90)
        assert "virtual keyboard" in said and "kept in the history" in said, said
        entry = history(tmp_path)[0]
        assert entry.status != "inserted" and entry.text, entry
    finally:
        if app is not None:
            app.stop()
        weston.stop()
