"""Start-up as a person meets it (issue 28): a dictation made while the model loads, spacing
after a restart of the app, and a machine without a microphone. The app runs as its own
process under Xvfb, a Qt text field in another process has the focus, xdotool holds the
hotkey, and speech is played into a PulseAudio virtual microphone (test_dictation_e2e.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.desktop.test_dictation_e2e import (
    HOTKEY,
    KEYS,
    App,
    Desktop,
    Target,
    history,
    play,
    release_hotkey,
)
from tests.desktop.test_tray_x11 import TrayApp, tray_host  # noqa: F401 (a fixture)
from tests.desktop.wayland import missing

pytestmark = [pytest.mark.desktop]

SPOKEN = "café — naïve 😀"  # what the settings' replacement makes of "greasy wash" (LDC93S1)


class Starting(App):
    """`dictate` as its own process, handed over as soon as its control socket answers (the
    model is still loading then)."""

    def __init__(self, desktop: Desktop, *args: str) -> None:
        self.desktop = desktop
        self.log = (desktop.root / f"app-{time.monotonic_ns()}.log").open("w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dictate", "--headless", *args],
            env=desktop.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while not self.status():
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.05)


def _environment(root: Path, base: dict[str, str], x_display: str, model: Path) -> dict[str, str]:
    env = {
        **base,
        "DISPLAY": x_display,
        "QT_QPA_PLATFORM": "xcb",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "HF_HUB_OFFLINE": "1",
        "DICTATE_DATA_DIR": str(root / "data"),
        "DICTATE_CONFIG_DIR": str(root / "config"),
    }
    (root / "config").mkdir()
    (root / "config" / "settings.json").write_text(
        json.dumps(
            {
                "model": str(model),
                "device": "cpu",
                "replacements": {"greasy wash": SPOKEN},
                "sounds": False,  # the cues would play into the virtual microphone itself
            }
        ),
        encoding="utf-8",
    )
    return env


@pytest.fixture(scope="module")
def desktop(x_display, virtual_mic, tmp_path_factory, tiny_en_dir) -> Iterator[Desktop]:
    for tool in ("xdotool", "xclip", "paplay"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            pytest.skip(f"{tool} is not installed")
    root = tmp_path_factory.mktemp("startup")
    env = _environment(root, {**os.environ, **virtual_mic.env}, x_display, tiny_en_dir)
    env["DICTATE_SOCKET"] = str(Path(virtual_mic.env["XDG_RUNTIME_DIR"]) / "dictate-start.sock")
    yield Desktop(env, root)


@pytest.fixture(scope="module")
def target(desktop) -> Iterator[Target]:
    t = Target(desktop)
    yield t
    t.close()


def _wait_for_text(app: App, target: Target, before: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout  # a hang guard, not a speed target
    while time.monotonic() < deadline:
        if target.text() != before and app.status().startswith("ready"):
            break
        time.sleep(0.1)
    time.sleep(1.0)  # anything typed a second time would be in by now
    return target.text()[len(before) :]


@pytest.mark.slow
def test_a_dictation_made_while_the_model_loads_is_typed_whole_once(desktop, target, fixtures_dir):
    target.focus()
    before = target.text()
    app = Starting(desktop, "--mode", "hold", "--hotkey", HOTKEY)
    try:
        assert app.status().startswith("loading model"), app.status()
        desktop.xdotool("keydown", KEYS)
        app.wait_for("recording", timeout=10)
        waiting = app.status()
        play(desktop, fixtures_dir / "LDC93S1.wav")
        time.sleep(0.3)
        release_hotkey(desktop)
        released = app.status()
        text = _wait_for_text(app, target, before)
        log = app.output()
        assert text.lower().lstrip().startswith("she had"), (text, log)  # the first word too
        assert text.count(SPOKEN) == 1, (text, log)  # typed once
        assert "recovering" not in log, log  # not taken for a crash's leftover
        assert "will type when the model is ready" in waiting, waiting
        if released.startswith("loading model"):  # released before the model was in
            assert "will type your dictation when the model is ready" in released, released
        entry = history(desktop)[0]
        assert entry.status == "inserted" and SPOKEN in (entry.text or ""), entry
        assert entry.timings.get("release_to_text_ms", 0) > 0, entry
    finally:
        app.stop()


@pytest.mark.slow
def test_spacing_after_a_restart_of_the_app(desktop, target, fixtures_dir):
    """The first dictation after a restart follows the last one into the same window as the
    next one in the same run would ("…all year. She had…"), not glued to it."""

    def dictate_into_target() -> str:
        app = App(desktop, "--mode", "hold", "--hotkey", HOTKEY)  # waits for "ready"
        try:
            target.focus()
            before = target.text()
            desktop.xdotool("keydown", KEYS)
            app.wait_for("recording", timeout=10)
            play(desktop, fixtures_dir / "LDC93S1.wav")
            time.sleep(0.3)
            release_hotkey(desktop)
            return _wait_for_text(app, target, before)
        finally:
            app.stop()

    first = dictate_into_target()
    assert first.rstrip().endswith((".", "!", "?")), first
    second = dictate_into_target()  # a new process: nothing of the first run in memory
    assert second.startswith(" ") and second[1:2].isupper(), (first, second)
    joined = target.text()
    assert f"{first.rstrip()[-1]} {second.strip()[0]}" in joined, joined


@pytest.fixture(params=["no sound server", "a sound server without a source"])
def without_microphone(request, tmp_path, x_display, tiny_en_dir) -> Iterator[dict[str, str]]:
    """The app's environment with no microphone: no sound server answers at all (the
    person's case in issue 28), or PulseAudio runs with no input source (only its protocol
    module: no sink, no source)."""
    env = _no_sound_server(tmp_path, x_display, tiny_en_dir)
    if request.param == "no sound server":
        yield env
        return
    if reason := missing("pulseaudio", "pactl"):
        pytest.skip(reason)
    log = Path(env["XDG_RUNTIME_DIR"]) / "pulseaudio.log"
    subprocess.run(
        ["pulseaudio", "-n", "-D", "--exit-idle-time=-1", "--system=false",
         "-L", "module-native-protocol-unix", f"--log-target=file:{log}"],
        env=env, check=True, timeout=30,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode:
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
        sources = subprocess.run(
            ["pactl", "list", "short", "sources"], env=env, capture_output=True, text=True
        )
        assert sources.returncode == 0 and not sources.stdout.strip(), sources
        yield env
    finally:
        subprocess.run(["pactl", "exit"], env=env, capture_output=True, timeout=10)


def test_no_microphone_is_said_at_start(without_microphone, tmp_path):
    """`dictate status` says "no microphone" and where to fix it, not "ready"."""
    desktop = Desktop(without_microphone, tmp_path)
    app = Starting(desktop, "--mode", "hold", "--hotkey", HOTKEY)
    try:
        deadline = time.monotonic() + 60
        while not (status := app.status()).startswith("no microphone"):
            assert time.monotonic() < deadline, (status, app.output())
            time.sleep(0.2)
        assert "Settings ▸ Audio" in status, status
        assert "microphone: no microphone" in app.output()
        # Still so once the model is in (a quit during the model's imports waits for them).
        while "the model is loading" in (status := app.status()):
            assert time.monotonic() < deadline + 120, (status, app.output())
            time.sleep(0.5)
        assert status.startswith("no microphone"), status
    finally:
        app.stop()


def _no_sound_server(tmp_path: Path, x_display: str, model: Path) -> dict[str, str]:
    """An environment where no sound server answers and none is started on demand."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    (runtime / "client.conf").write_text("autospawn = no\n")
    base = {k: v for k, v in os.environ.items() if k != "PULSE_SERVER"}
    base.update(XDG_RUNTIME_DIR=str(runtime), PULSE_CLIENTCONFIG=str(runtime / "client.conf"))
    env = _environment(tmp_path, base, x_display, model)
    env["DICTATE_SOCKET"] = str(runtime / "dictate-nomic.sock")
    return env


@pytest.mark.slow
@pytest.mark.usefixtures("tray_host")
def test_the_tray_icon_turns_to_needs_you_without_a_microphone(x_display, tmp_path, tiny_en_dir):
    """The window app, in a real tray: the grey "!" at start, not the blue "ready" one."""
    app = TrayApp(_no_sound_server(tmp_path, x_display, tiny_en_dir), tmp_path)
    try:
        status = app.wait_status(r"^no microphone", timeout=90)
        assert "Settings ▸ Audio" in status, status
        deadline = time.monotonic() + 20
        while (geometry := app.icon_geometry())[2] < 8:  # embedded, not yet sized
            assert time.monotonic() < deadline, geometry
            time.sleep(0.2)
        x, y, w, h = geometry
        time.sleep(1.0)  # repainted on the GUI thread after the change
        icon = app.grab(x, y, w, h).astype(int)
        app.save_shot("tray-no-microphone", x, y, w, h)
        r, g, b = icon[..., 0], icon[..., 1], icon[..., 2]
        blue = ((b - r) > 40).mean()  # the "ready" icon is a blue disc
        grey = ((abs(r - g) < 12) & (abs(g - b) < 12) & (r < 130)).mean()  # the "!" disc
        shown = f"blue {blue:.2f}, dark grey {grey:.2f}: {status}\n{app.output()}"
        assert blue < 0.05 and grey > 0.25, shown
        app.wait_status(r"^no microphone: .*Audio$", timeout=120)  # the model in, still so
    finally:
        app.stop()
