"""A real drag and drop between two processes on X11 (XDND), driven by xdotool on Xvfb with no
window manager: a stand-in file manager (drag_source.py) drags jfk.flac onto the files panel
(files_panel_app.py, real tiny.en), both in tests/desktop. Run with `-m "" -p no:xvfb`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import wer

pytestmark = [pytest.mark.desktop, pytest.mark.slow]
HERE = Path(__file__).parent
REPO = HERE.parent.parent
SOURCE_AT, PANEL_AT = (40, 80), (400, 60)  # asked-for window positions (a frame shifts them)


def wait_for(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Process:
    """A helper Qt app on the X display; waits for its READY line."""

    def __init__(self, script: str, *args: str, display: str) -> None:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / script), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.proc.kill()
            pytest.fail(f"{script} did not start: {line!r} {self.proc.stderr.read()}")
        self.wid = int(line.split()[1])

    def close(self) -> str:
        self.proc.kill()
        out, err = self.proc.communicate(timeout=10)
        return out + err


def xdotool(display: str, *args: str) -> str:
    result = subprocess.run(
        ["xdotool", *args],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return result.stdout


def geometry(display: str, title: str) -> tuple[int, int, int, int]:
    """x, y, width, height of the window with this title, as the X server has it."""
    wid = xdotool(display, "search", "--name", f"^{title}$").split()[0]
    shell = dict(
        line.split("=", 1)
        for line in xdotool(display, "getwindowgeometry", "--shell", wid).split()
        if "=" in line
    )
    return int(shell["X"]), int(shell["Y"]), int(shell["WIDTH"]), int(shell["HEIGHT"])


@pytest.fixture
def apps(x_display, tiny_en_dir, fixtures_dir, tmp_path) -> Iterator[tuple[Process, Path, Process]]:
    """The panel (real tiny.en) and the drag source, each in its own process and window."""
    pytest.importorskip("PySide6.QtWidgets", reason="the windows need PySide6")
    state = tmp_path / "panel.json"
    panel = Process(
        "files_panel_app.py",
        str(tiny_en_dir),
        str(state),
        "--x",
        str(PANEL_AT[0]),
        "--y",
        str(PANEL_AT[1]),
        display=x_display,
    )
    source = Process(
        "drag_source.py",
        str(fixtures_dir / "jfk.flac"),
        "--x",
        str(SOURCE_AT[0]),
        "--y",
        str(SOURCE_AT[1]),
        display=x_display,
    )
    try:
        yield panel, state, source
    finally:
        source.close()
        panel.close()


def test_drag_jfk_from_another_process_onto_the_panel(apps, x_display, fixtures_dir, references):
    _, state_file, source = apps

    def state() -> dict:
        try:
            return json.loads(state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    wait_for(lambda: state().get("drop_zone"), 10, "the panel's first state")
    sx, sy, sw, sh = geometry(x_display, "dictate drag source")
    px, py, pw, ph = geometry(x_display, "dictate files test")
    zx, zy, zw, zh = state()["drop_zone"]
    start = (sx + sw // 2, sy + sh // 2)
    # Where the window manager put them (openbox's frame shifts them a little): the drag starts
    # outside the panel.
    assert not (px <= start[0] < px + pw and py <= start[1] < py + ph), (sx, sy, px, py)
    end = (px + zx + zw // 2, py + zy + zh // 2)

    xdotool(x_display, "mousemove", str(start[0]), str(start[1]))
    time.sleep(0.3)
    xdotool(x_display, "mousedown", "1")
    time.sleep(0.3)  # the source's QDrag is running now
    steps = 25
    for i in range(1, steps + 1):  # XDND follows the pointer: move like a hand would
        x = start[0] + (end[0] - start[0]) * i // steps
        y = start[1] + (end[1] - start[1]) * i // steps
        xdotool(x_display, "mousemove", str(x), str(y))
        time.sleep(0.04)
    time.sleep(0.4)  # let the target answer the last XdndPosition
    xdotool(x_display, "mouseup", "1")

    assert source.proc.stdout is not None
    assert source.proc.stdout.readline().strip() == "DROPPED copy"  # taken, and as a copy
    wait_for(lambda: state().get("jobs"), 10, "the dropped file in the queue")
    job = state()["jobs"][0]
    assert Path(job["path"]).resolve() == (fixtures_dir / "jfk.flac").resolve()
    wait_for(lambda: state()["jobs"][0]["status"] not in ("queued", "running"), 180, "the job")
    s = state()
    job = s["jobs"][0]
    assert job["status"] == "done", job["error"]
    assert wer(references["jfk.flac"], job["text"]) <= 0.15, job["text"]
    assert s["rows"] == ["Done"]
    assert s["results"].startswith("[00:00] ")  # the panel shows it, selected, with timestamps
    assert wer(references["jfk.flac"], _untimed(s["results"])) <= 0.15, s["results"]
    _screenshot(x_display)


def _untimed(results: str) -> str:
    return " ".join(line.split("] ", 1)[1] for line in results.splitlines() if "] " in line)


def _screenshot(display: str) -> None:
    """The whole X screen, for the record (needs ImageMagick's `import`)."""
    if shutil.which("import") is None:
        return
    folder = Path(os.environ.get("DICTATE_TEST_OUTPUT", HERE.parent / "output")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["import", "-window", "root", str(folder / "files-drag-x11.png")],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        timeout=30,
        check=False,
    )
