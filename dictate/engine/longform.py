"""Long-form helpers: a recording cut into ≤30 s windows at pauses, and which decoded segments
were really spoken.

Everything works on the speech gate's regions (seconds), so it is tested without a model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from dictate.errors import Cancelled
from dictate.transcript import Segment

log = logging.getLogger(__name__)

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


# ---- coverage: every second of speech is accounted for ------------------------------------

MIN_RETRY_S = 0.5  # a whole speech region this long with no text is decoded again
MIN_STRETCH_S = 1.0  # and so is a stretch this long inside a region that has text elsewhere
EDGE_S = 0.3  # slack around a segment's timestamps (tiny.en often rounds them to whole seconds)
LEAD_S = 0.2  # a re-decode starts this far before the speech it is for, inside the pause
MAX_ROUNDS = 12  # re-decodes per window, a bound on a decoder that keeps skipping
SPLIT_PAUSE_S = 0.5  # a pause this long inside one segment's time may hide a skipped sentence
FOUND = 0.5  # share of a phrase's own words that its segment must hold to count as written


@dataclass(frozen=True)
class Gap:
    """Speech (by the gate) that gave no text after every retry, in seconds from the start."""

    start: float
    end: float


# Decodes windows together: with timestamps → each window's segments (seconds from the window's
# start, already filtered by `speakable`); without → at most one segment over the window's speech.
Decode = Callable[[list[Window], bool], list[list[Segment]]]


def uncovered(
    segments: list[Segment], regions: list[tuple[float, float]]
) -> tuple[float, float, bool] | None:
    """The first stretch of speech that no segment accounts for: (start, end, whole region).

    A whole region of ≥ MIN_RETRY_S with no overlapping segment counts, and so does a stretch of
    ≥ MIN_STRETCH_S inside a region (Whisper wrote the start of a sentence, then jumped to the
    window's end). Segment times get EDGE_S of slack on each side.
    """
    spans = sorted((s.start - EDGE_S, s.end + EDGE_S) for s in segments)
    for a, b in regions:
        if not any(lo < b and hi > a for lo, hi in spans):
            if b - a >= MIN_RETRY_S:
                return a, b, True
            continue
        t = a
        for lo, hi in spans:
            if hi <= t or lo >= b:
                continue
            if lo - t >= MIN_STRETCH_S:
                return t, lo, False
            t = max(t, hi)
        if b - t >= MIN_STRETCH_S:
            return t, b, False
    return None


def slice_window(window: Window, start: float, end: float | None = None) -> Window:
    """The part of `window` from `start` to `end` (seconds from its start), regions clipped."""
    end = window.audio.size / SAMPLE_RATE if end is None else end
    a, b = round(start * SAMPLE_RATE), round(end * SAMPLE_RATE)
    regions = [
        (max(s, start) - start, min(e, end) - start)
        for s, e in window.regions
        if e > start and s < end
    ]
    return Window(window.audio[a:b], window.offset + a / SAMPLE_RATE, regions)


def hidden_phrases(segments: list[Segment], regions: list[tuple[float, float]]) -> list[int]:
    """Segments whose time starts with a phrase that their text may not hold: indexes into
    `segments` whose span covers speech, a pause of ≥ SPLIT_PAUSE_S, and more speech, where the
    first phrase has ≥ MIN_STRETCH_S of speech.

    Whisper sometimes skips a sentence and starts the next one's timestamps early, so the skipped
    speech lies under a segment and a check by time alone sees no gap (seen with tiny.en: a
    recording of a different voice between two others). Such a phrase is decoded alone and
    compared (`first_phrase`, `written`).
    """
    found = []
    for i, seg in enumerate(segments):
        phrases = _phrases(seg, regions)
        if len(phrases) >= 2 and phrases[0][1] - phrases[0][0] >= MIN_STRETCH_S:
            found.append(i)
    return found


def first_phrase(segment: Segment, regions: list[tuple[float, float]]) -> tuple[float, float]:
    """The first phrase under `segment` (speech up to its first long pause), and where the next
    phrase starts: (phrase start, next phrase start)."""
    phrases = _phrases(segment, regions)
    return phrases[0][0], phrases[1][0] if len(phrases) > 1 else phrases[0][1]


def _phrases(seg: Segment, regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The speech under a segment's time, joined across pauses shorter than SPLIT_PAUSE_S."""
    under = [
        (max(a, seg.start), min(b, seg.end)) for a, b in regions if a < seg.end and b > seg.start
    ]
    phrases: list[tuple[float, float]] = []
    for a, b in under:
        if phrases and a - phrases[-1][1] < SPLIT_PAUSE_S:
            phrases[-1] = (phrases[-1][0], b)
        else:
            phrases.append((a, b))
    return phrases


def _words(text: str) -> list[str]:
    return ["".join(c for c in w.lower() if c.isalnum()) for w in text.split()]


def written(phrase_text: str, segment_text: str, before: str = "") -> bool:
    """Does the text around the phrase hold it (the phrase decoded alone)? At least FOUND of
    its words appear among the segment's first words or the previous segment's last ones (as
    many as the phrase has, plus slack): Whisper's timestamps drift by a second or two, so a
    phrase under one segment's time is often written at the end of the one before."""
    said = [w for w in _words(phrase_text) if w]
    if not said:
        return True  # the phrase alone gives no words: nothing was left out
    n = len(said) + 4
    pool = [w for w in _words(before) if w][-n:] + [w for w in _words(segment_text) if w][:n]
    hits = 0
    for w in said:
        if w in pool:
            pool.remove(w)
            hits += 1
    return hits >= FOUND * len(said)


@dataclass
class _Track:
    """One window being settled: what is accepted so far and what is left to decode."""

    window: Window  # the whole window, for the last check (`hidden_phrases`)
    left: Window | None  # the part still to account for; None: settled
    timestamps: bool = True
    rounds: int = 0
    items: list[Segment | Gap] = field(default_factory=list)
    rest: Window | None = None  # after a no-timestamps decode: where to go on


def _shift(segments: list[Segment], offset: float) -> list[Segment]:
    return [Segment(round(offset + s.start, 3), round(offset + s.end, 3), s.text) for s in segments]


def settle(
    batch: list[Window], decode: Decode, *, redecode: bool = True
) -> Iterator[Segment | Gap]:
    """Decode `batch` and re-decode whatever speech its segments skipped, until every stretch of
    speech has text or is reported as a `Gap`; yields segments and gaps in time order.

    Whisper, like its own sequential `seek`, resumes from where its text stopped: the skipped
    speech is decoded again as a window of its own that starts there (windows end in pauses, so
    nothing after it is cut). When such a window makes no progress, the skipped speech alone is
    decoded without timestamps; if even that gives no text, it is a gap. `redecode=False` takes
    each window's first decode as it is (the first version's behaviour, for measuring).
    """
    if not redecode:
        for window, row in zip(batch, decode(batch, True), strict=True):
            yield from _shift(row, window.offset)
        return
    tracks = [_Track(w, w) for w in batch]
    active = list(tracks)
    while active:
        for timestamps in (True, False):
            group = [t for t in active if t.timestamps == timestamps]
            if not group:
                continue
            rows = decode([w for t in group if (w := t.left) is not None], timestamps)
            for track, row in zip(group, rows, strict=True):
                _advance(track, row)
        active = [t for t in tracks if t.left is not None]
    _check_phrases(tracks, decode)
    for track in tracks:
        yield from track.items


def _check_phrases(tracks: list[_Track], decode: Decode) -> None:
    """The last check of a batch: a phrase that a segment's time covers but whose words the
    segment lacks (`hidden_phrases`) is decoded alone, all of them together; when its words are
    missing from the segment they become a segment of their own before it."""
    checks: list[tuple[_Track, Segment, Segment | None, float, float]] = []
    for track in tracks:
        w = track.window
        regions = [(w.offset + a, w.offset + b) for a, b in w.regions]
        segments = [item for item in track.items if isinstance(item, Segment)]
        for i in hidden_phrases(segments, regions):
            start, after = first_phrase(segments[i], regions)
            checks.append((track, segments[i], segments[i - 1] if i else None, start, after))
    if not checks:
        return
    pieces = [
        slice_window(t.window, max(0.0, a - t.window.offset - LEAD_S), b - t.window.offset)
        for t, _, _, a, b in checks
    ]
    rows = decode(pieces, False)
    for (track, seg, prev, start, after), piece, row in zip(checks, pieces, rows, strict=True):
        if not row or written(row[0].text, seg.text, prev.text if prev else ""):
            log.debug("phrase at %.1f s is in its segment", start)
            continue
        log.debug("phrase at %.1f s was hidden: %r", start, row[0].text)
        at = track.items.index(seg)
        alone = _shift(row[:1], piece.offset)[0]
        start = max(start, prev.end if prev else 0.0)
        track.items[at : at + 1] = [
            Segment(
                round(start, 3), max(round(start, 3), min(alone.end, round(after, 3))), alone.text
            ),
            Segment(round(after, 3), max(seg.end, round(after, 3)), seg.text),
        ]


def _advance(track: _Track, row: list[Segment]) -> None:
    """Take what `row` (the decode of `track.left`) accounts for; set what is left, if any."""
    window = track.left
    assert window is not None  # only tracks with something left are decoded
    track.rounds += 1
    if not track.timestamps:  # the skipped speech alone: text, or a gap
        if row:
            track.items += _shift(row[:1], window.offset)
        elif window.regions:
            a, b = window.regions[0][0], window.regions[-1][1]
            if b - a >= MIN_STRETCH_S:
                track.items.append(Gap(round(window.offset + a, 3), round(window.offset + b, 3)))
        track.left = track.rest
        track.timestamps = True
        return
    stretch = uncovered(row, window.regions)
    if stretch is None:
        track.items += _shift(row, window.offset)
        track.left = None
        return
    start, end, whole = stretch
    kept = [s for s in row if s.end <= start + EDGE_S]
    track.items += _shift(kept, window.offset)
    done = max((s.end for s in kept), default=0.0)
    # Resume in the pause before a skipped sentence; inside a sentence, where the text stopped.
    resume = min(max(done, start - LEAD_S), start) if whole else max(min(done, start), 0.0)
    region_end = next((b for a, b in window.regions if a <= start < b), end)
    if resume <= 0.05 or track.rounds >= MAX_ROUNDS:
        # No progress from here: decode the skipped speech alone, then go on after it.
        stop = min(region_end + LEAD_S, window.audio.size / SAMPLE_RATE)
        track.rest = slice_window(window, stop) if stop < window.audio.size / SAMPLE_RATE else None
        if track.rest is not None and not track.rest.regions:
            track.rest = None
        track.left = slice_window(window, max(0.0, start - LEAD_S), stop)
        track.timestamps = False
        return
    track.left = slice_window(window, resume)
    if not track.left.regions:
        track.left = None
