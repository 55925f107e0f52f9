"""Desktop tests: real sound server, real X display. Run with `-m "" -p no:xvfb`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

# Session fixtures shared by the desktop test modules. Defined here, once: a module that imports
# a session fixture itself gets its own instance (a second PulseAudio daemon).
from tests.desktop import xvfb
from tests.desktop.fixtures_audio import virtual_mic  # noqa: F401


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """The DISPLAY to use: an answering one from the environment (a desktop, with its window
    manager), else a private Xvfb run by openbox (tests/desktop/xvfb.py)."""
    for tool in ("xdotool", "xdpyinfo"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (apt install xdotool x11-utils)")
    if os.environ.get("DISPLAY") and xvfb.display_works(dict(os.environ)):
        yield os.environ["DISPLAY"]
        return
    if shutil.which("Xvfb") is None:
        pytest.skip("no X display and no Xvfb (apt install xvfb)")
    if shutil.which("openbox") is None:
        pytest.skip("no window manager for the private X display (apt install openbox)")
    try:
        server, display = xvfb.start(140)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    try:
        saved = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = display  # pynput connects at import, to $DISPLAY
        try:
            yield display
        finally:
            if saved is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = saved
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(autouse=True)
def x_left_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test on the shared X display leaves no key held down and no grab behind it. Where one
    does, the keys are released (so the tests after it run on a clean keyboard) and the test that
    left them fails, naming them: otherwise every later X test fails for its reason."""
    yield
    if "x_display" not in request.fixturenames:
        return
    from tests.desktop import xstate

    name = request.getfixturevalue("x_display")
    released = xstate.release_all(name)
    grabs = xstate.grabbed(name)
    if released or grabs:
        pytest.fail(f"left behind on the X display: keys down {released}, grabbed {grabs}")
