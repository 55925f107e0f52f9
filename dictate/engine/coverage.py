"""Speech hidden under text: a speaking-rate test, and the pieces to decode alone.

Whisper sometimes writes a short sentence over many seconds of speech: it skipped the rest and
stretched the timestamps over it (seen with tiny.en: "The horizon seems extremely distant." over
14 s of speech, a string of digits and the last sentence lost). A check by time sees that speech
covered. But people say about 2–4 words per second of voiced speech (the gate's regions leave
the pauses out), so text that has far fewer words than its speech could hold left words out,
wherever the skipped speech lies under it. Such text is split at the gate's pauses, each piece
is decoded alone, and the pieces replace the text when they hold words it lacks (`better`).

Everything here works on the gate's regions (seconds), so it is tested without a model; the
callers are `longform.settle` (files, long dictations) and `Engine.transcribe` (short clips).
"""

from __future__ import annotations

from collections import Counter

# A segment with speech of at least MIN_SPEECH_S is suspect when it has fewer than
# MIN_WORDS_PER_S words per second of that speech. Slow, careful reading is ~2 words/s of voiced
# time; fillers ("um") that Whisper leaves out and timestamps that reach into a neighbour's
# speech lower it, hence the margin.
MIN_WORDS_PER_S = 1.2
MIN_SPEECH_S = 2.0
MAX_PIECE_S = 8.0  # a piece decoded alone is cut at pauses until it spans at most this much
MIN_PIECE_S = 0.5  # speech shorter than this is joined to the piece beside it
MAX_PIECES = 8  # per suspect segment: a bound on the extra decodes
NEW_WORDS = 2  # pieces replace the text when they add at least this many words it lacks
FILLERS = frozenset(("um", "uh", "er", "ah", "hmm", "mm"))  # not words a piece adds
LEAD_S = 0.2  # a piece starts and ends this far into the pauses around it


def words(text: str) -> list[str]:
    """Lower-case words without punctuation (the unit of the rate and of the comparisons)."""
    out = ["".join(c for c in w.lower() if c.isalnum()) for w in text.replace("-", " ").split()]
    return [w for w in out if w]


def speech_under(start: float, end: float, regions: list[tuple[float, float]]) -> float:
    """Seconds of speech (by the gate) between `start` and `end`."""
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in regions)


def sparse(text: str, start: float, end: float, regions: list[tuple[float, float]]) -> bool:
    """Does `text`, written for the speech between `start` and `end`, have too few words for
    it (fewer than MIN_WORDS_PER_S per second of at least MIN_SPEECH_S of speech)?"""
    speech = speech_under(start, end, regions)
    return speech >= MIN_SPEECH_S and len(words(text)) < MIN_WORDS_PER_S * speech


def pieces(
    start: float, end: float, regions: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The speech between `start` and `end` cut at the gate's pauses into pieces to decode
    alone: (first speech, last speech) of each. A piece over MAX_PIECE_S is cut at its longest
    pause (a sentence boundary more often than not), until none is or it has no pause; pieces
    with less than MIN_PIECE_S of speech join a neighbour; at most MAX_PIECES (the shortest
    pauses are given up first)."""
    under = [(max(a, start), min(b, end)) for a, b in regions if a < end and b > start]
    groups = [under] if under else []
    done: list[list[tuple[float, float]]] = []
    while groups:
        group = groups.pop(0)
        if group[-1][1] - group[0][0] <= MAX_PIECE_S or len(group) == 1:
            done.append(group)
            continue
        cut = max(range(1, len(group)), key=lambda i: (group[i][0] - group[i - 1][1], -i))
        groups[:0] = [group[:cut], group[cut:]]
    while len(done) > 1:
        short = [i for i, g in enumerate(done) if speech_under(start, end, g) < MIN_PIECE_S]
        if len(done) <= MAX_PIECES and not short:
            break
        if short:  # join it to the neighbour across the shorter pause
            i = short[0]
            if i == 0:
                j = 0
            elif i == len(done) - 1:
                j = i - 1
            else:
                j = i - 1 if _pause(done, i - 1) <= _pause(done, i) else i
        else:
            j = min(range(len(done) - 1), key=lambda k: _pause(done, k))
        done[j : j + 2] = [done[j] + done[j + 1]]
    return [(g[0][0], g[-1][1]) for g in done]


def _pause(groups: list[list[tuple[float, float]]], k: int) -> float:
    """The pause between group k and group k + 1."""
    return groups[k + 1][0][0] - groups[k][-1][1]


def bounds(
    piece: tuple[float, float], regions: list[tuple[float, float]], length: float
) -> tuple[float, float]:
    """Where to cut the audio for a piece: LEAD_S into the pauses around it, never into the
    speech before or after it."""
    a, b = piece
    before = max((e for s, e in regions if e <= a), default=0.0)
    after = min((s for s, e in regions if s >= b), default=length)
    return max(before, a - LEAD_S, 0.0), min(after, b + LEAD_S, length)


def better(alone: list[str], text: str, before: str = "", after: str = "") -> list[str] | None:
    """What to write for each piece (its text decoded alone, in order; "" for nothing) instead
    of `text`, or None to keep `text`: the pieces win when they add at least NEW_WORDS words
    that `text` lacks.

    A piece at either end whose words are the neighbouring text's (`before`'s last words,
    `after`'s first: timestamps drift by a second or two) and not `text`'s is left out, so
    nothing is written twice. When the pieces alone lose what `text` said (a piece that gives
    nothing alone), `text` stays, at the piece it shares most words with, and only the pieces
    it lacks are added around it."""
    out = list(alone)
    order = list(range(len(alone)))
    for side, neighbour in ((order, words(before)), (order[::-1], words(after))):
        for i in side:
            said = words(alone[i])
            if not said:
                continue
            near = neighbour[-len(said) - 4 :] if side is order else neighbour[: len(said) + 4]
            if neighbour and holds(near, said) and not holds(words(text), said):
                out[i] = ""
                continue
            break
    said = words(text)
    added = Counter(w for t in out for w in words(t) if w not in FILLERS) - Counter(said)
    if sum(added.values()) < NEW_WORDS:
        return None
    if holds([w for t in out for w in words(t)], said):
        return out
    shared = [sum((Counter(words(t)) & Counter(said)).values()) for t in out]
    # Where `text` belongs: the piece it shares most with, else the first that gave nothing.
    m = shared.index(max(shared))
    if max(shared) * 2 < len(said):
        m = next((i for i, t in enumerate(alone) if not words(t)), m)
    out = ["" if holds(said, words(t)) else t for t in out]
    out[m] = f"{text} {out[m]}".strip()
    return out


def holds(pool: list[str], said: list[str]) -> bool:
    """Are at least half of the words `said` among `pool` (each pool word used once)?"""
    left = list(pool)
    hits = 0
    for w in said:
        if w in left:
            left.remove(w)
            hits += 1
    return hits * 2 >= len(said)
