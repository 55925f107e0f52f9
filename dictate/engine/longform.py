"""Long-form helpers: a recording cut into ≤30 s windows at pauses, and which decoded segments
were really spoken.

Everything works on the speech gate's regions (seconds), so it is tested without a model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from dictate.errors import Cancelled

SAMPLE_RATE = 16000
WINDOW_S = 30.0  # Whisper's input window

MIN_CUT_S = 5.0  # long-form windows are cut at a pause no earlier than this
MAX_WORDS_PER_S, SLACK_S = 6.0, 1.0  # see speakable


def cut_point(regions: list[tuple[float, float]], length: float, *, final: bool) -> float:
    """Where to end this window: in a pause, so no sentence is split between two windows.

    A window that ends mid-sentence makes Whisper finish the sentence from its own imagination
    (seen here: tiny.en completed a half-heard quote it had just transcribed), so the longest
    pause in the second half of the window wins (the later one on a tie); failing that, the
    longest pause after MIN_CUT_S; a hard cut only when there is no pause at all.
    """
    if final or not regions:
        return length  # the end of the audio, or a window with no speech at all
    gaps = [(a_end, b_start) for (_, a_end), (b_start, _) in pairwise(regions)]
    if regions[-1][1] < length - 0.3:
        gaps.append((regions[-1][1], length))  # the speech stopped before the window's end
    usable = [(a, b) for a, b in gaps if (a + b) / 2 >= MIN_CUT_S]
    if not usable:
        return length
    late = [(a, b) for a, b in usable if (a + b) / 2 >= length / 2] or usable
    a, b = max(late, key=lambda g: (round(g[1] - g[0], 2), g[0]))
    return length if b >= length else (a + b) / 2


def speakable(text: str, start: float, end: float, regions: list[tuple[float, float]]) -> bool:
    """Could the speech the gate heard between start and end hold this many words?

    Whisper sometimes repeats a sentence it has just written over a pause or a fragment of
    speech (seen with tiny.en on long files). People speak under ~4 words/s; a segment that
    needs more than MAX_WORDS_PER_S over its speech, with SLACK_S for timestamp error, was not said.
    """
    speech = sum(max(0.0, min(b, end) - max(a, start)) for a, b in regions)
    return len(text.split()) <= MAX_WORDS_PER_S * (speech + SLACK_S)


@dataclass(frozen=True)
class Window:
    """A ≤30 s piece of a long recording, cut at a pause, and the speech regions in it."""

    audio: np.ndarray
    offset: float  # seconds from the start of the recording
    regions: list[tuple[float, float]]

    @property
    def end(self) -> float:
        return self.offset + self.audio.size / SAMPLE_RATE


def windows(
    blocks: Iterable[np.ndarray],
    regions_of: Callable[[np.ndarray], list[tuple[float, float]]],
    cancel: threading.Event | None = None,
) -> Iterator[Window]:
    """A stream of 16 kHz mono blocks cut into ≤30 s windows at pauses (`cut_point`), with
    `regions_of(audio)`'s speech regions in each (an empty list: no speech). Memory stays
    bounded by one window plus one block; a set `cancel` raises `Cancelled` at the next window."""
    window = int(WINDOW_S * SAMPLE_RATE)
    buffer = np.zeros(0, dtype=np.float32)
    offset = 0.0  # seconds from the start of the audio to buffer[0]
    stream = iter(blocks)
    exhausted = False
    while not exhausted or buffer.size:
        while not exhausted and buffer.size < window:
            try:
                block = next(stream)
            except StopIteration:
                exhausted = True
                break
            block = np.asarray(block, dtype=np.float32).reshape(-1)
            buffer = np.concatenate([buffer, block]) if buffer.size else block
        if cancel is not None and cancel.is_set():
            raise Cancelled("transcription cancelled")
        head = buffer[:window]
        regions = regions_of(head)
        cut = cut_point(regions, head.size / SAMPLE_RATE, final=exhausted and buffer.size <= window)
        n = round(cut * SAMPLE_RATE)
        yield Window(buffer[:n], offset, [(s, min(e, cut)) for s, e in regions if s < cut])
        buffer = buffer[n:]
        offset += n / SAMPLE_RATE
