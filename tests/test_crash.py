"""crash.log: a segfault in the app leaves a Python trace of its threads there (issue 23)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_a_segfault_leaves_a_python_trace_in_crash_log(tmp_path: Path) -> None:
    script = (
        "import faulthandler\n"
        "from dictate import crash\n"
        "crash.enable()\n"
        "def dictating():\n"
        "    faulthandler._sigsegv()\n"
        "dictating()\n"
    )
    env = {**os.environ, "DICTATE_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    for _ in range(2):  # the second start appends: the first crash's trace stays
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, timeout=60
        )
        assert done.returncode != 0
    log = (tmp_path / "crash.log").read_text()
    assert log.count("dictate started") == 2
    assert log.count("Fatal Python error: Segmentation fault") == 2
    assert "line 5 in dictating" in log


def test_leave_exits_with_the_code_and_flushes(tmp_path: Path) -> None:
    script = "from dictate import crash\nprint('said', end='')\ncrash.leave(3)\n"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3 and done.stdout == "said"
