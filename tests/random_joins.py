"""Random joins of every shared speech clip, from fixed seeds: recordings no one tuned for.

API (for the file path and the live path alike):

- ``SEEDS`` (``range(30)``, drawn once, not chosen) and ``recordings()``: each seed with its
  ``stretch_pauses`` flag (odd seeds: half of the recordings).
- ``build(seed, stretch_pauses, folder=FIXTURES) -> Joined`` (tests/joined_speech.py): ``.audio``
  float32 16 kHz mono, ``.pieces`` [(start_sample, end_sample, reference_text)], ``.references``,
  ``.reference`` (the joined text), ``.seconds``, ``.name``.
- ``lost_pieces(hypothesis, joined) -> list[int]``: pieces with over half their words missing.
- ``cased_wer(reference, hypothesis)``: WER with case and punctuation kept (``cased_reference``
  gives a lower-case, unpunctuated reference its sentence case first).
- ``broken_joins(text, reference="") -> int``: a full stop, ? or ! followed by a lower-case
  word, or a capitalised word mid-sentence that the reference does not capitalise.

How a recording is made (one ``numpy.random.default_rng(seed)`` per recording): 3–6 pieces,
each a whole clip: the seed's own clip (``CLIPS[seed % len(CLIPS)]``: every clip is used), the
rest drawn, at most one sonnet (~52 s) per recording; random order; 0.2–2 s of silence before each
piece and after the last; a gain of −10…+3 dB per piece; a quarter of the pieces band-limited to
the telephone (resampled to 8 kHz, 300–3400 Hz, back to 16 kHz). With ``stretch_pauses``, the
pauses the speech gate finds *inside* each clip that are shorter than 0.7 s are stretched to
0.7–1.5 s with silence (a person thinking while dictating).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tests.conftest import FIXTURES, normalise
from tests.joined_speech import SAMPLE_RATE, Joined, references

SEEDS = range(30)
CLIPS = (
    "LDC93S1.wav",
    "hotwords.mp3",
    "jfk.flac",
    "more/austen_0870.wav",
    "more/austen_0880.wav",
    "more/austen_0890.wav",
    "more/austen_0920.wav",
    "more/austen_0930.wav",
    "more/sonnet001.mp3",
    "more/sonnet002.mp3",
    "more/sonnet003.mp3",
    "more/spontaneous_fillers.wav",
)
PIECES = (3, 6)  # pieces per recording, inclusive
PAUSE_S = (0.2, 2.0)
GAIN_DB = (-10.0, 3.0)
TELEPHONE = 0.25  # share of pieces band-limited to the telephone
STRETCH_S = (0.7, 1.5)  # a pause inside a clip, stretched


def recordings() -> Iterator[tuple[int, bool]]:
    """Every (seed, stretch_pauses) of the set: odd seeds stretch the pauses inside clips."""
    for seed in SEEDS:
        yield seed, seed % 2 == 1


@functools.cache
def _clip(folder: Path, name: str) -> np.ndarray:
    from dictate.audio.decode import load_audio

    return load_audio(folder / name)


@functools.cache
def _inner_pauses(folder: Path, name: str) -> tuple[tuple[int, int], ...]:
    """The speech gate's pauses between speech regions inside a clip, in samples."""
    from dictate.audio.gate import SpeechGate

    regions = SpeechGate().regions(_clip(folder, name))
    return tuple(
        (round(a * SAMPLE_RATE), round(b * SAMPLE_RATE))
        for (_, a), (b, _) in itertools.pairwise(regions)
    )


def telephone(audio: np.ndarray) -> np.ndarray:
    """`audio` as a telephone line carries it: 8 kHz samples, 300–3400 Hz, back at 16 kHz."""
    from scipy.signal import butter, resample_poly, sosfilt

    narrow = resample_poly(audio, 1, 2)
    sos = butter(4, (300, 3400), btype="bandpass", fs=SAMPLE_RATE // 2, output="sos")
    return resample_poly(sosfilt(sos, narrow), 2, 1).astype(np.float32)[: audio.size]


def stretch(audio: np.ndarray, pauses: tuple[tuple[int, int], ...], rng) -> np.ndarray:
    """Silence added in the middle of every pause shorter than STRETCH_S[0], so it lasts
    STRETCH_S[0]–STRETCH_S[1] seconds."""
    parts, at = [], 0
    for a, b in pauses:
        target = round(rng.uniform(*STRETCH_S) * SAMPLE_RATE)
        if b - a >= STRETCH_S[0] * SAMPLE_RATE:
            continue
        mid = (a + b) // 2
        parts += [audio[at:mid], np.zeros(target - (b - a), np.float32)]
        at = mid
    parts.append(audio[at:])
    return np.concatenate(parts)


def build(seed: int, stretch_pauses: bool, folder: Path = FIXTURES) -> Joined:
    """Recording `seed` of the set (see the module's docstring); the same audio every time."""
    rng = np.random.default_rng(seed)
    refs = references(folder)
    first = CLIPS[seed % len(CLIPS)]
    count = int(rng.integers(PIECES[0], PIECES[1] + 1))
    names = [first]
    for name in rng.permutation([c for c in CLIPS if c != first]):
        if len(names) == count:
            break
        if "sonnet" in name and any("sonnet" in n for n in names):
            continue  # one sonnet at most: recordings of ~0.5–2 min
        names.append(str(name))
    names = [names[i] for i in rng.permutation(len(names))]
    parts: list[np.ndarray] = []
    starts, ends, t = [], [], 0
    for name in names:
        pause = np.zeros(round(rng.uniform(*PAUSE_S) * SAMPLE_RATE), np.float32)
        clip = _clip(folder, name)
        if stretch_pauses:
            clip = stretch(clip, _inner_pauses(folder, name), rng)
        if rng.random() < TELEPHONE:
            clip = telephone(clip)
        gain = 10 ** (rng.uniform(*GAIN_DB) / 20)
        clip = np.clip(clip * gain, -1.0, 1.0).astype(np.float32)
        parts += [pause, clip]
        starts.append((t + pause.size) / SAMPLE_RATE)
        t += pause.size + clip.size
        ends.append(t / SAMPLE_RATE)
    parts.append(np.zeros(round(rng.uniform(*PAUSE_S) * SAMPLE_RATE), np.float32))
    return Joined(
        f"seed {seed}{' stretched' if stretch_pauses else ''}: " + "+".join(names),
        np.concatenate(parts),
        tuple(refs[n] for n in names),
        tuple(starts),
        tuple(ends),
    )


# ---- scoring --------------------------------------------------------------------------------


def _aligned_hits(joined: Joined, hypothesis: str) -> list[tuple[int, int]]:
    """(reference words, words found in the hypothesis) per piece, in one alignment of the
    whole text (jiwer, normalised words: case and punctuation ignored)."""
    import jiwer

    words = [normalise(r).split() for r in joined.references]
    owner = [i for i, w in enumerate(words) for _ in w]
    hits = [0] * len(words)
    out = jiwer.process_words(" ".join(" ".join(w) for w in words), normalise(hypothesis) or "x")
    for chunk in out.alignments[0]:
        if chunk.type == "equal":
            for k in range(chunk.ref_start_idx, chunk.ref_end_idx):
                hits[owner[k]] += 1
    return [(len(w), h) for w, h in zip(words, hits, strict=True)]


def lost_pieces(hypothesis: str, joined: Joined) -> list[int]:
    """Indexes of the pieces with over half their words missing from `hypothesis`."""
    return [i for i, (n, hit) in enumerate(_aligned_hits(joined, hypothesis)) if n - hit > n / 2]


# Words the lower-case references (austen, spontaneous) leave uncased: names and "I".
_CASED = {"john": "John", "dashwood": "Dashwood", "i": "I", "i'm": "I'm"}


def cased_reference(text: str) -> str:
    """A reference as a sentence: one given without case or punctuation (the LibriVox and
    spontaneous clips) gets a capital, its names and "I" cased, and a full stop."""
    if any(c.isupper() for c in text) or not text:
        return text
    words = [_CASED.get(w, w) for w in text.split()]
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words) + "."


def _tokens(text: str) -> list[str]:
    return text.replace("\u2019", "'").split()


def cased_wer(reference: str, hypothesis: str) -> float:
    """Word error rate over words as written: case and attached punctuation count ("country."
    for "country," is an error), so text that breaks sentences scores worse. Relative: compare
    two paths on the same reference."""
    import jiwer

    ref = " ".join(_tokens(reference))
    return float(jiwer.wer(ref, " ".join(_tokens(hypothesis)) or "<empty>"))


def joined_cased_reference(joined: Joined) -> str:
    """The recording's reference with every piece in sentence case (`cased_reference`)."""
    return " ".join(cased_reference(r) for r in joined.references)


_END = re.compile(r"[.?!][\"')\]]*$")
_ABBREVIATIONS = {"mr.", "mrs.", "ms.", "dr.", "st.", "e.g.", "i.e.", "etc.", "vs."}
_ALWAYS_CAPITAL = re.compile(r"^I('|$)")


def _core(word: str) -> str:
    return word.strip("\"'()[]«»“”‘’,;:.?!-")


def broken_joins(text: str, reference: str = "") -> int:
    """How many places read as a sentence broken in two: a full stop, ? or ! followed by a
    lower-case word ("in a room. different from"), or a capitalised word mid-sentence ("ask not
    What your country") that `reference` (as written, e.g. `joined_cased_reference`) does not
    capitalise mid-sentence. "I" and words after an abbreviation ("Mr.") do not count."""
    allowed = set()
    ref = _tokens(reference)
    for prev, word in itertools.pairwise(ref):
        core = _core(word)
        if core[:1].isupper() and not _END.search(prev):
            allowed.add(core)
    tokens = _tokens(text)
    broken = 0
    for prev, word in itertools.pairwise(tokens):
        core = _core(word)
        if not core[:1].isalpha():
            continue
        ends = bool(_END.search(prev)) and prev.lower() not in _ABBREVIATIONS
        if (ends and core[0].islower()) or (
            not ends
            and core[0].isupper()
            and not _ALWAYS_CAPITAL.match(core)
            and core not in allowed
            and prev.lower() not in _ABBREVIATIONS
        ):
            broken += 1
    return broken
