"""Progress on stderr as tqdm bars: downloads (`dictate models --download` and the model load of
`dictate transcribe`) and the audio done by `dictate transcribe`."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

FALLBACK_SIZE = {"ncols": ("COLUMNS", 80), "nrows": ("LINES", 24)}
TICK_S = 1.0  # redraw this often, so elapsed and remaining move between the engine's reports


def screen(stream: TextIO) -> dict[str, int]:
    """tqdm's ncols and nrows where the terminal reports none (empty where it has a size).

    A pseudo-terminal nobody sized (`script` run from a pipe, `docker exec -t`, some CI
    runners) says 0 x 0, and tqdm then trims its bar to nothing and counts it as below the
    screen's last row: a bar that is never drawn.
    """
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return {}
    fixed = {}
    for key, have in (("ncols", size.columns), ("nrows", size.lines)):
        if have <= 0:
            env, default = FALLBACK_SIZE[key]
            value = os.environ.get(env, "")
            fixed[key] = int(value) if value.isdigit() and int(value) > 0 else default
    return fixed


def download_bar(say: Callable[[str], None] | None = None) -> tuple[Callable[[Any], None], Any]:
    """(report, close): `report` takes loading.Progress; bytes go to a bar, other steps with a
    message to `say`. Call `close()` at the end to leave the bar finished on its own line."""
    from functools import partial

    from tqdm import tqdm as _tqdm

    tqdm = partial(_tqdm, file=sys.stderr, **screen(sys.stderr))

    bars: dict[str, Any] = {}

    def report(p: Any) -> None:
        if p.stage == "download" and p.total:
            # One bar per download: the model's, then its assistant's (named in the message).
            desc = f"downloading {p.message}" if p.message else "downloading"
            bar = bars.get(desc)
            if bar is None:
                bar = bars[desc] = tqdm(total=p.total, unit="B", unit_scale=True, desc=desc)
            bar.total = p.total
            bar.update(p.done - bar.n)
        elif p.message and say is not None:
            say(p.message)

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return report, close


class AudioBar:
    """Seconds of audio transcribed, over all the files of one run, as one tqdm bar on stderr.

    `enabled` false draws nothing (and `write` still prints). The engine reports once per
    batch of windows (a couple of minutes of audio), so while the bar is on a terminal it is
    redrawn every second: elapsed counts up and remaining counts down between reports.
    Remaining is the run's pace so far (seconds transcribed per second, failed files left out)
    applied to the audio still to do, set at each report: tqdm's own figure would grow while
    no report comes, as if the run slowed down.
    """

    def __init__(
        self, total_s: float | None, files: int, *, enabled: bool, first: str = ""
    ) -> None:
        from tqdm import tqdm

        left = self._left

        class _Tqdm(tqdm):  # tqdm's documented way to add a field to bar_format
            @property
            def format_dict(self) -> dict[str, Any]:
                return {**super().format_dict, "left": left()}

        self.files = files
        self.enabled = enabled
        self._total = total_s
        self._base = 0.0  # seconds of the files before this one
        self._length: float | None = None  # this file's seconds, when known
        self._skipped = 0.0  # seconds of files that failed: passed over, not transcribed
        self._start = time.monotonic()
        self._done_at: float | None = None  # when the run should end, as of the last report
        known = total_s is not None and total_s > 0
        fmt = (
            "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{left}]"
            if known
            else "{desc}: {n:.0f} s of audio [{elapsed}]"
        )
        size = screen(sys.stderr)
        self._bar = _Tqdm(
            total=round(total_s, 1) if known and total_s is not None else None,
            unit="s",
            desc=self._label(0, first),
            file=sys.stderr,
            disable=not enabled,
            dynamic_ncols=not size,  # follow a resized terminal (one that has a size)
            **size,
            bar_format=fmt,
        )
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if enabled and sys.stderr.isatty():
            self._ticker = threading.Thread(target=self._tick, name="progress-tick", daemon=True)
            self._ticker.start()

    def start_file(self, index: int, name: str, length_s: float | None) -> None:
        """File `index` (0-based) of the run begins; `length_s` is its duration if known."""
        self._length = length_s
        self._bar.set_description_str(self._label(index, name), refresh=True)

    def _label(self, index: int, name: str) -> str:
        return (f"[{index + 1}/{self.files}] " if self.files > 1 else "") + name

    def advance(self, done_s: float) -> None:
        """`done_s` seconds of the current file are transcribed (the engine's on_progress)."""
        done = min(done_s, self._length) if self._length is not None else done_s
        self._set(self._base + done)

    def end_file(self, *, failed: bool = False) -> None:
        """The current file is over: the bar moves past all of it (a failed file's seconds
        are not counted in the pace)."""
        if self._length is not None:
            self._base += self._length
        else:
            self._base = self._bar.n
        if failed:
            self._skipped += max(0.0, self._base - self._bar.n)
        self._set(self._base)

    def write(self, line: str, file: TextIO | None = None) -> None:
        """A whole line above the bar (to stderr unless `file`), the bar drawn again below it."""
        out = file if file is not None else sys.stderr
        if self.enabled:
            self._bar.write(line, file=out)
        else:
            print(line, file=out, flush=True)

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self._bar.close()

    def _set(self, n: float) -> None:
        step = round(n, 1) - self._bar.n
        if step <= 0:
            return
        now = time.monotonic()
        done = round(n, 1) - self._skipped
        if self._total and done > 0 and now > self._start:
            pace = done / (now - self._start)
            self._done_at = now + max(0.0, self._total - round(n, 1)) / pace
        self._bar.update(step)

    def _left(self) -> str:
        if self._done_at is None:
            return "?"
        from tqdm import tqdm

        return tqdm.format_interval(max(0.0, self._done_at - time.monotonic()))

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            self._bar.refresh()

    def __enter__(self) -> AudioBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
