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

from dictate.engine import coverage
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


# Where each word of a window's texts was spoken (seconds from the window's start, one list
# per text, a time per word split on spaces); empty lists where the model cannot tell.
Locate = Callable[[Window, list[str]], list[list[float]]]

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
    batch: list[Window], decode: Decode, *, redecode: bool = True, locate: Locate | None = None
) -> Iterator[Segment | Gap]:
    """Decode `batch` and re-decode whatever speech its segments skipped, until every stretch of
    speech has text or is reported as a `Gap`; yields segments and gaps in time order.

    Whisper, like its own sequential `seek`, resumes from where its text stopped: the skipped
    speech is decoded again as a window of its own that starts there (windows end in pauses, so
    nothing after it is cut). When such a window makes no progress, the skipped speech alone is
    decoded without timestamps; if even that gives no text, it is a gap. `redecode=False` takes
    each window's first decode as it is (the first version's behaviour, for measuring).

    Then the checks that timestamps cannot make: a phrase hidden under a segment's start
    (`_check_phrases`), a segment with too few words for its speech (`_check_rates`), and,
    with `locate`, every speech region of ≥ MIN_RETRY_S that no word was spoken in
    (`_check_words`).
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
    _check_rates(tracks, decode)
    if locate is not None:
        _check_words(tracks, decode, locate)
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
    # A phrase is decoded from the start of its speech region, also where the segment before
    # claims that region's beginning: a sentence cut by a timestamp decodes as its tail alone
    # ("was for all year.") and its head stays lost under the previous segment's time.
    pieces = [
        slice_window(
            t.window, max(0.0, _region_start(a, t) - t.window.offset - LEAD_S), b - t.window.offset
        )
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


def _region_start(at: float, track: _Track) -> float:
    """The start of the speech region (seconds from the recording's start) that holds `at`."""
    w = track.window
    return next((w.offset + a for a, b in w.regions if w.offset + a <= at < w.offset + b), at)


def _check_rates(tracks: list[_Track], decode: Decode) -> None:
    """The speaking-rate check of a batch (`coverage.sparse`): a segment with too few words for
    the speech under its time is cut at the gate's pauses and each piece decoded alone, all of
    them together; when the pieces hold words the segment lacks (`coverage.better`), they
    replace it, and a piece of ≥ MIN_STRETCH_S that still gives nothing is a gap."""
    checks: list[tuple[_Track, Segment, list[Window]]] = []
    for track in tracks:
        w = track.window
        regions = [(w.offset + a, w.offset + b) for a, b in w.regions]
        for seg in (item for item in track.items if isinstance(item, Segment)):
            if not coverage.sparse(seg.text, seg.start, seg.end, regions):
                continue
            spans = coverage.pieces(seg.start, seg.end, regions)
            length = w.end - w.offset
            cuts = [
                coverage.bounds((a - w.offset, b - w.offset), w.regions, length) for a, b in spans
            ]
            checks.append((track, seg, [slice_window(w, a, b) for a, b in cuts]))
    if not checks:
        return
    rows = iter(decode([p for _, _, parts in checks for p in parts], False))
    for track, seg, parts in checks:
        found = [next(rows) for _ in parts]
        segments = [item for item in track.items if isinstance(item, Segment)]
        at = segments.index(seg)
        before = segments[at - 1].text if at else ""
        after = segments[at + 1].text if at + 1 < len(segments) else ""
        alone = [row[0].text if row else "" for row in found]
        plan = coverage.better(alone, seg.text, before, after)
        log.debug("%.1f–%.1f s: %r, few words for its speech; alone %r: %s", seg.start, seg.end,
                  seg.text, alone, "rewritten" if plan else "kept")  # fmt: skip
        if plan is None:
            continue
        new: list[Segment | Gap] = []
        for part, row, text in zip(parts, found, plan, strict=True):
            a, b = part.regions[0][0], part.regions[-1][1]
            start, end = round(part.offset + a, 3), round(part.offset + b, 3)
            if text:
                new.append(Segment(start, end, text))
            elif not row and b - a >= MIN_STRETCH_S:  # nothing even alone: a gap
                new.append(Gap(start, end))
        i = track.items.index(seg)
        track.items[i : i + 1] = new


WORD_EDGE_S = 0.2  # a word's aligned start may fall this far before its speech
MAX_WORD_S = 1.2  # speech between one word's start and the next's: more hides words
NEAR_S = 4.0  # text decoded alone that the words this close already hold was misplaced

# Where a piece decoded alone goes: by its time (None), or after word i of a segment (i = -1:
# before it).
Anchor = tuple[Segment, int] | None
Timed = list[tuple[Segment | Gap, list[float]]]


def _wordless(
    timed: Timed, regions: list[tuple[float, float]], end: float
) -> list[tuple[float, float, Anchor]]:
    """Speech without words, by the words' times: a region of ≥ MIN_RETRY_S that no word
    starts in (anchored by time), and the regions under a word whose time holds more than
    MAX_WORD_S of speech before the next word starts (the alignment stretched one word over
    speech nothing was written for; anchored before the segment if it is its first word, else
    after the word). Each region is in one stretch at most."""
    said = sorted(
        (t, k, i)
        for k, (item, ts) in enumerate(timed)
        if isinstance(item, Segment)
        for i, t in enumerate(ts)
    )
    gaps = [(g.start, g.end) for g, _ in timed if isinstance(g, Gap)]
    found: list[tuple[float, float, Anchor]] = []
    for a, b in regions:
        if b - a < MIN_RETRY_S or any(ga < b and gb > a for ga, gb in gaps):
            continue
        if not any(a - WORD_EDGE_S <= t <= b for t, _, _ in said):
            found.append((a, b, None))
    nexts = [t for t, _, _ in said[1:]] + [min(end, max(s.end for s, _ in timed) + EDGE_S)]
    for (t, k, i), after in zip(said, nexts, strict=True):
        if coverage.speech_under(t, after, regions) <= MAX_WORD_S:
            continue
        # The whole regions under the stretch: the alignment's word times are no place to cut
        # a sentence (each region is decoded once).
        under = [(a, b) for a, b in regions if a < after and b > t]
        a, b = under[0][0], under[-1][1]
        if any(fa < b and fb > a for fa, fb, _ in found):
            continue
        seg = timed[k][0]
        assert isinstance(seg, Segment)  # only segments have words
        found.append((a, b, (seg, i - 1 if i == 0 else i)))
    return found


def _check_words(tracks: list[_Track], decode: Decode, locate: Locate) -> None:
    """Every stretch of speech has words spoken in it (by `locate`, the words' times; see
    `_wordless`). What has none is cut into pieces (`coverage.pieces`) and decoded alone, all
    together; a piece's text goes in at its place, unless the words near it already hold it
    (the alignment put them elsewhere) or it is only a filler ("Um."); a piece of ≥
    MIN_STRETCH_S that gives nothing is a gap."""
    checks: list[tuple[_Track, Timed, Window, Anchor]] = []
    for track in tracks:
        w = track.window
        segments = [item for item in track.items if isinstance(item, Segment)]
        if not segments:
            continue
        times = locate(w, [seg.text for seg in segments])
        if not any(times):
            continue  # the model gives no alignment
        starts = iter(times)
        timed: Timed = [
            (item, [w.offset + t for t in next(starts)] if isinstance(item, Segment) else [])
            for item in track.items
        ]
        regions = [(w.offset + a, w.offset + b) for a, b in w.regions]
        length = w.end - w.offset
        for a, b, anchor in _wordless(timed, regions, w.end):
            for pa, pb in coverage.pieces(a - w.offset, b - w.offset, w.regions):
                cut = coverage.bounds((pa, pb), w.regions, length)
                checks.append((track, timed, slice_window(w, *cut), anchor))
    if not checks:
        return
    rows = decode([piece for _, _, piece, _ in checks], False)
    changed: dict[int, tuple[_Track, Timed]] = {}
    for (track, timed, piece, anchor), row in zip(checks, rows, strict=True):
        a = round(piece.offset + piece.regions[0][0], 3)
        b = round(piece.offset + piece.regions[-1][1], 3)
        if not row:
            log.debug("%.1f–%.1f s: no words were spoken here, and none alone", a, b)
            if b - a >= MIN_STRETCH_S:
                timed.append((Gap(a, b), []))
                changed[id(track)] = (track, timed)
            continue
        near = [
            word
            for seg, ts in timed
            if isinstance(seg, Segment)
            for word, t in zip(seg.text.split(), ts, strict=False)
            if a - NEAR_S <= t <= b + NEAR_S
        ]
        alone = [w for w in coverage.words(row[0].text) if w not in coverage.FILLERS]
        if not alone or coverage.holds(coverage.words(" ".join(near)), alone):
            log.debug("%.1f–%.1f s: %r is in the text near it", a, b, row[0].text)
            continue
        log.debug("%.1f–%.1f s: no words were spoken here; alone: %r", a, b, row[0].text)
        _insert(timed, Segment(a, b, row[0].text), anchor)
        changed[id(track)] = (track, timed)
    for track, timed in changed.values():
        track.items = [item for item, _ in timed]


def _insert(timed: Timed, new: Segment, anchor: Anchor) -> None:
    """Put `new` among the timed items, in place: at `anchor` (see `Anchor`), else at its time;
    a segment with words on both sides is split there."""
    for k, (seg, ts) in enumerate(timed):
        if not isinstance(seg, Segment):
            continue
        words = seg.text.split()
        if len(ts) != len(words):
            continue
        if anchor is not None:
            if seg is not anchor[0]:
                continue
            cut = anchor[1] + 1
        else:
            cut = next((i for i, t in enumerate(ts) if t >= new.start), len(ts))
            if cut == len(ts) and seg.end > new.start:
                cut = 0 if seg.start >= new.start else cut
            elif cut == len(ts):
                continue
        if cut == 0:
            timed.insert(k, (new, [new.start]))
            if seg.start < new.end:
                timed[k + 1] = (Segment(new.end, max(seg.end, new.end), seg.text), ts)
            return
        if cut >= len(words):
            timed.insert(k + 1, (new, [new.start]))
            return
        head = Segment(seg.start, min(max(seg.start, new.start), seg.end), " ".join(words[:cut]))
        tail = Segment(max(new.end, head.end), max(seg.end, new.end), " ".join(words[cut:]))
        timed[k : k + 1] = [(head, ts[:cut]), (new, [new.start]), (tail, ts[cut:])]
        return
    at = next((k for k, (item, _) in enumerate(timed) if item.start > new.start), len(timed))
    timed.insert(at, (new, [new.start]))


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
