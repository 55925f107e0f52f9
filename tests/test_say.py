"""The app's terminal lines survive a library muting fd 2 on another thread (dictate/say.py).

Run in a child process: the lines must reach the real fd 2 (pytest's capture swaps
sys.stderr for its own file, which a mute of fd 2 would not reach)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHILD = """
import os, sys, threading
from dictate import say
if {keep}:
    say.keep()
saved = os.dup(2)  # what sounddevice does around Pa_Initialize: fd 2 to /dev/null, then back
null = os.open(os.devnull, os.O_WRONLY)
os.dup2(null, 2)
t = threading.Thread(target=say.say, args=("no global hotkey here (no portal)",))
t.start()
t.join()
os.dup2(saved, 2)
say.say("ready")
"""


@pytest.mark.parametrize("keep", [True, False])
def test_a_line_said_while_a_library_mutes_fd2_comes_out_once_kept(keep: bool) -> None:
    run = subprocess.run(
        [sys.executable, "-c", CHILD.format(keep=keep)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    if keep:
        assert lines == ["dictate: no global hotkey here (no portal)", "dictate: ready"]
    else:  # the behaviour before say.keep(): the line said meanwhile is gone
        assert lines == ["dictate: ready"]
