"""The tray app for real: `dictate` as its own process on Xvfb with a real tray host (trayer),
driven by real mouse and key events, with two models in a (test-built) Hugging Face cache.

Screenshots of the tray menu and the main window are saved to tests/output/screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.desktop, pytest.mark.slow]
SHOTS = Path(os.environ.get("DICTATE_TEST_OUTPUT", REPO / "tests" / "output")) / "screenshots"
COMMIT = "0" * 40


def hub_repo(cache: Path, repo_id: str, src: Path) -> None:
    """Lay `src` out as a cached snapshot of `repo_id`, the way huggingface_hub stores it."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file():
            (snapshot / f.name).symlink_to(f)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)


class TrayApp:
    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.env, self.root = env, root
        self.log = (root / "app.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dictate"], env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def run(self, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def status(self) -> str:
        return self.run(sys.executable, "-m", "dictate", "status").stdout.strip()

    def wait_status(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            status = self.status()
            if re.search(pattern, status):
                return status
            assert self.proc.poll() is None, self.output()
            time.sleep(0.2)
        raise AssertionError(f"status never matched {pattern!r}: {status!r}\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return (self.root / "app.log").read_text()

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=10)

    def icon_geometry(self) -> tuple[int, int, int, int]:
        """Where the tray host put our icon: the window embedded in trayer's panel."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            tree = self.run("xwininfo", "-root", "-tree").stdout
            panel = tree.find('("panel" "trayer")')
            if panel >= 0:
                # The panel's first child is the embedding socket trayer made for our icon.
                for line in tree[panel:].splitlines()[1:4]:
                    m = re.search(r"(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)", line)
                    if m:
                        w, h, x, y = map(int, m.groups())
                        return x, y, w, h
            time.sleep(0.2)
        raise AssertionError(f"no dictate icon in the tray:\n{tree}")

    def window_geometry(self, title_regex: str) -> tuple[int, int, int, int] | None:
        """The largest visible window whose title matches (the tray icon is also "dictate")."""
        best = None
        for wid in self.run(
            "xdotool", "search", "--onlyvisible", "--name", title_regex
        ).stdout.split():
            shell = self.run("xdotool", "getwindowgeometry", "--shell", wid).stdout
            g = dict(line.split("=") for line in shell.split())
            x, y, w, h = (int(g[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
            if best is None or w * h > best[2] * best[3]:
                best = (x, y, w, h)
        return best

    def grab(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        raw = subprocess.run(
            ["import", "-window", "root", "-crop", f"{w}x{h}+{x}+{y}", "-depth", "8", "rgb:-"],
            env=self.env,
            capture_output=True,
            check=True,
            timeout=20,
        ).stdout
        return np.frombuffer(raw, dtype=np.uint8)[: w * h * 3].reshape(h, w, 3)

    def save_shot(self, name: str, x: int, y: int, w: int, h: int) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        subprocess.run(
            ["import", "-window", "root", "-crop", f"{w}x{h}+{x}+{y}", str(path)],
            env=self.env,
            check=True,
            timeout=20,
        )
        return path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        self.log.close()


@pytest.fixture(scope="module")
def tray_host(x_display) -> Iterator[None]:
    if shutil.which("trayer") is None or shutil.which("import") is None:
        pytest.skip("needs trayer and imagemagick (apt install trayer imagemagick)")
    env = {**os.environ, "DISPLAY": x_display}
    trayer = ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel"]
    host = subprocess.Popen(
        [
            *trayer,
            "--width",
            "200",
            "--height",
            "24",
            "--transparent",
            "false",
            "--tint",
            "0xdddddd",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    yield
    host.terminate()
    host.wait(10)


@pytest.fixture(scope="module")
def app(
    tray_host, x_display, virtual_mic, tmp_path_factory, tiny_en_dir, random_model_dir
) -> Iterator[TrayApp]:
    root = tmp_path_factory.mktemp("tray")
    cache = root / "hf"
    hub_repo(cache, "openai/whisper-tiny.en", tiny_en_dir)
    # Another cached catalog model: random weights with the real tokenizer (the text does not
    # matter here, only that the switch happens and the status says so).
    hub_repo(cache, "distil-whisper/distil-small.en", random_model_dir)
    runtime = Path(virtual_mic.env["XDG_RUNTIME_DIR"])
    env = {
        **os.environ,
        **virtual_mic.env,
        "DISPLAY": x_display,
        "QT_QPA_PLATFORM": "xcb",
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(cache),
        "DICTATE_DATA_DIR": str(root / "data"),
        "DICTATE_CONFIG_DIR": str(root / "config"),
        "DICTATE_CACHE_DIR": str(root / "cache"),
        "DICTATE_SOCKET": str(runtime / "dictate-tray.sock"),
    }
    (root / "config").mkdir()
    settings = {"model": "tiny.en", "device": "cpu", "sounds": False}
    (root / "config" / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    a = TrayApp(env, root)
    try:
        a.wait_status(r"^ready\b.*tiny\.en on cpu", timeout=120)
        yield a
    finally:
        a.stop()


def test_icon_appears_and_shows_recording(app: TrayApp) -> None:
    x, y, w, h = app.icon_geometry()
    assert (w, h) != (0, 0)
    idle = app.grab(x, y, w, h).astype(int)
    assert idle.std() > 10, "the tray icon is blank"
    app.run(sys.executable, "-m", "dictate", "start")
    app.wait_status(r"^recording")
    time.sleep(0.5)  # the icon is repainted on the GUI thread after the state change
    recording = app.grab(x, y, w, h).astype(int)
    app.run(sys.executable, "-m", "dictate", "cancel")
    app.wait_status(r"^ready")
    diff = np.abs(recording - idle).mean()
    assert diff > 20, f"idle and recording icons look alike (mean pixel difference {diff:.1f})"
    # Recording is red: more red than blue in the icon's coloured pixels.
    red = recording[..., 0].mean() - recording[..., 2].mean()
    assert red > 10, f"the recording icon is not red enough ({red:.1f})"


def test_left_click_opens_the_main_window(app: TrayApp) -> None:
    x, y, w, h = app.icon_geometry()
    app.xdotool("mousemove", str(x + w // 2), str(y + h // 2), "click", "1")
    deadline = time.monotonic() + 10
    found = None
    while time.monotonic() < deadline and (found is None or found[2] < 100):
        found = app.window_geometry("^dictate$")
        time.sleep(0.2)
    assert found is not None and found[2] >= 100, "the main window did not open"
    app.save_shot("main-window", *found)


SOURCE_W = 220  # the drag source's width (tests/desktop/drag_source.py)


def test_drag_a_file_from_another_process_onto_the_app(
    app: TrayApp, fixtures_dir, tmp_path
) -> None:
    """XDND from a stand-in file manager onto the real app's main window (the files panel)."""
    from tests.conftest import wer

    clip = tmp_path / "jfk.flac"
    shutil.copy(fixtures_dir / "jfk.flac", clip)
    main = app.window_geometry("^dictate$")
    if main is None or main[2] < 100:
        test_left_click_opens_the_main_window(app)
        main = app.window_geometry("^dictate$")
    assert main is not None
    g = dict(zip(("X", "Y", "WIDTH", "HEIGHT"), main, strict=True))
    script = REPO / "tests" / "desktop" / "drag_source.py"
    # Beside the main window, never over its drop area: left of it where there is room, else
    # right of it (the window manager places the main window where it likes: at x 161 once,
    # and a source at x 40 then covered its edge).
    left = g["X"] >= SOURCE_W + 40
    x = 20 if left else g["X"] + g["WIDTH"] + 20
    source = subprocess.Popen(
        [sys.executable, str(script), str(clip), "--x", str(x), "--y", "500"],
        env=app.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert source.stdout is not None and source.stdout.readline().startswith("READY")
        found = app.window_geometry("dictate drag source")
        assert found is not None
        s = dict(zip(("X", "Y", "WIDTH", "HEIGHT"), found, strict=True))
        beside = s["X"] + s["WIDTH"] < g["X"] if left else g["X"] + g["WIDTH"] < s["X"]
        assert beside, (s, g)  # side by side: the drop lands on the app
        start = (s["X"] + s["WIDTH"] // 2, s["Y"] + s["HEIGHT"] // 2)
        # The files panel fills the lower half of the main window: aim at its middle.
        end = (g["X"] + g["WIDTH"] // 2, g["Y"] + g["HEIGHT"] * 3 // 4)
        app.xdotool("mousemove", *map(str, start))
        time.sleep(0.3)
        app.xdotool("mousedown", "1")
        time.sleep(0.3)
        for i in range(1, 26):  # XDND follows the pointer: move like a hand would
            x = start[0] + (end[0] - start[0]) * i // 25
            y = start[1] + (end[1] - start[1]) * i // 25
            app.xdotool("mousemove", str(x), str(y))
            time.sleep(0.04)
        time.sleep(0.4)
        app.xdotool("mouseup", "1")
        assert source.stdout.readline().strip() == "DROPPED copy"
        # Keep the source running, as a file manager would: on X the target asks the source for
        # the dropped URLs, and that can come after the source's drag has already returned.
        deadline = time.monotonic() + 180
        while "transcribed jfk.flac" not in app.output() and time.monotonic() < deadline:
            assert "could not transcribe jfk.flac" not in app.output(), app.output()
            time.sleep(0.3)
    finally:
        source.kill()
        source.communicate(timeout=10)
    line = next(x for x in app.output().splitlines() if "transcribed jfk.flac" in x)
    words = line.split(": ", 2)[-1].rstrip("…")
    reference = "and so my fellow americans ask not what your country can do for you ask"
    assert wer(reference, words) <= 0.2, line
    app.save_shot("main-window-file", g["X"], g["Y"], g["WIDTH"], g["HEIGHT"])


def test_menu_switches_model(app: TrayApp) -> None:
    from dictate.engine import catalog

    x, y, w, h = app.icon_geometry()
    app.xdotool("mousemove", str(x + w // 2), str(y + h // 2), "click", "3")
    time.sleep(1.0)
    app.save_shot("tray-menu", 1280 - 420, 0, 420, 280)
    app.xdotool("key", "m")  # &Model: opens the submenu with its first entry selected
    time.sleep(0.6)
    app.save_shot("tray-menu-model", 1280 - 720, 0, 720, 420)
    index = [m.name for m in catalog.CATALOG].index("distil-small.en")
    for _ in range(index):
        app.xdotool("key", "Down")
    app.xdotool("key", "Return")
    status = app.wait_status(r"distil-small\.en on cpu", timeout=120)
    assert status.startswith("ready")
    deadline = time.monotonic() + 10  # saved once the new model was ready
    saved = ""
    while saved != "distil-small.en" and time.monotonic() < deadline:
        saved = json.loads((app.root / "config" / "settings.json").read_text()).get("model")
        time.sleep(0.1)
    assert saved == "distil-small.en"


def test_failed_switch_keeps_the_model_and_says_why(app: TrayApp) -> None:
    before = app.wait_status(r"^ready")
    x, y, w, h = app.icon_geometry()
    app.xdotool("mousemove", str(x + w // 2), str(y + h // 2), "click", "3")
    time.sleep(1.0)
    app.xdotool("key", "m")
    time.sleep(0.6)
    app.xdotool("key", "Up", "Return")  # Model ▸ Other…: Up wraps to the last entry
    time.sleep(1.5)
    app.xdotool("type", "--delay", "20", "/nonexistent/whisper-model")
    app.xdotool("key", "Return")
    deadline = time.monotonic() + 30
    while "does not exist" not in app.output() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "cannot load the model: model folder /nonexistent/whisper-model does not exist" in (
        app.output()
    )
    assert app.status() == before  # the old model still serves
    window = app.window_geometry("dictate — model")
    assert window is not None, "the model window did not show the failure"
    app.save_shot("model-switch-failed", *window)
