"""When live text becomes final: the commit policy of live dictation (pure, no model, no audio).

The live transcriber decodes the audio not yet committed (the *buffer*) again and again while the
person speaks. Two things make words final (*committed*):

- **Local agreement** (LocalAgreement-2, as in whisper_streaming): the words two consecutive
  hypotheses of the growing buffer agree on, from the start of what is not committed yet. Whisper
  rarely changes its mind about words it has heard more audio after twice.
- **A pause**: the audio up to a pause the speech gate found was decoded on its own, so all of
  its text is final and that audio is never decoded again (the buffer starts after the pause).

Committed words are never taken back (they may already be typed). Each new hypothesis starts with
words already committed from the same buffer; `aligned_end` finds where they end in it, by
matching words rather than counting them, so a hypothesis that spells a committed word
differently neither doubles it nor drops the word after it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

_NOT_WORD = re.compile(r"[^\w']+")
_SENTENCE_END = re.compile(r"(?<=\w)[.!?]$")  # a word that ends a sentence: "room."
_TRAILING = re.compile(r"^(.*?\w)([^\w]*)$")  # a word and the punctuation after it


def split_words(text: str) -> list[str]:
    return text.split()


def key(word: str) -> str:
    """A word as compared: case and punctuation do not make two words differ."""
    return _NOT_WORD.sub("", word.lower()).replace("'", "")


def common_prefix(a: list[str], b: list[str]) -> int:
    """How many leading words `a` and `b` share (compared by `key`)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if key(x) != key(y):
            break
        n += 1
    return n


def shares_a_word(done: list[str], words: list[str]) -> bool:
    """Whether `words` holds any word of `done` (compared by `key`)."""
    return not {key(w) for w in done}.isdisjoint(key(w) for w in words)


def aligned_end(done: list[str], words: list[str]) -> int:
    """The index in `words` right after the part that corresponds to `done` (a prefix of the
    same speech, perhaps decoded a little differently): 0 when `done` is empty."""
    if not done:
        return 0
    a, b = [key(w) for w in done], [key(w) for w in words]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    opcodes = matcher.get_opcodes()
    if not any(tag == "equal" for tag, *_ in opcodes):
        # Not one word in common: `words` is other speech (what follows). Keeping all of it
        # may double a word; skipping some would lose words, which is worse.
        return 0
    end = len(a)
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "insert" or not i1 < end <= i2:
            continue
        if tag == "equal":
            return j1 + (end - i1)
        if tag == "delete":
            return j1
        # "replace": the same stretch decoded differently; end where the characters do.
        want = sum(len(w) for w in a[i1:end])
        have, j = 0, j1
        while j < j2 and have + len(b[j]) / 2 < want:
            have += len(b[j])
            j += 1
        return j
    return len(b)


MIN_SKIPPED = 3  # words a chunk holds and the agreed words lack: fewer is decoding variance


def skipped(done: list[str], words: list[str]) -> list[tuple[int, list[str]]]:
    """Runs of ≥ MIN_SKIPPED words of `words` (a checked decode of the buffer) inside the
    stretch that `done` (words committed by agreement of two hypotheses) corresponds to but
    missing from it: (index in `done` they go before, the words). Two hypotheses can agree on
    text that skipped a sentence (seen: "He might even … himself." and "Then you go …" with
    LDC93S1 between them lost); the checked decode holds it."""
    if not done or not words:
        return []
    end = aligned_end(done, words)
    a, b = [key(w) for w in done], [key(w) for w in words]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [
        (i1, words[j1:j2])
        for tag, i1, _, j1, j2 in matcher.get_opcodes()
        if tag == "insert" and i1 < len(a) and j2 <= end and j2 - j1 >= MIN_SKIPPED
    ]


def mend_join(left: list[str], right: list[str], bridge: list[str]) -> tuple[str, str] | None:
    """The last word of `left` and the first of `right`, punctuated and cased as `bridge` (a
    decode of audio across the join) has them; None when the bridge does not hold both words
    side by side.

    Two chunks decoded apart each read as whole sentences ("a room." + "Different from"):
    Whisper ends every clip with a full stop and starts every clip with a capital. A decode
    that hears both sides of the pause says whether a sentence really ends there. Only the
    punctuation after the left word and the case of the right word change: the words are the
    chunks' own, so mending can never lose or double one.
    """
    if not left or not right or not bridge:
        return None
    near = [key(w) for w in left[-3:]] + [key(w) for w in right[:3]]
    at = len(left[-3:]) - 1  # the left word's place in `near`
    heard = [key(w) for w in bridge]
    where: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, near, heard, autojunk=False)
    for i, j, size in matcher.get_matching_blocks():
        for d in range(size):
            where[i + d] = j + d
    p, q = where.get(at), where.get(at + 1)
    if p is None or q != p + 1 or not near[at] or not near[at + 1]:
        return None
    word, right_word = left[-1], right[0]
    old, new = _TRAILING.match(word), _TRAILING.match(bridge[p])
    if old is None or new is None:
        return None
    word = old.group(1) + _end_punctuation(new.group(2))
    said = bridge[q].lstrip("\"'(")
    first = right_word.lstrip("\"'(")
    lead = right_word[: len(right_word) - len(first)]
    if said[:1].isupper() and first[:1].islower():
        first = first[:1].upper() + first[1:]
    elif said[:1].islower() and first[:1].isupper() and first[1:] == first[1:].lower():
        first = first[:1].lower() + first[1:]  # never "nASA" from "NASA"
    return word, lead + first


def _end_punctuation(tail: str) -> str:
    """What of the punctuation after a word in the bridge belongs at a join: sentence and
    clause marks (a closing quote or bracket from the other decode would be unmatched)."""
    return "".join(c for c in tail if c in ".,;:?!…-")


@dataclass(frozen=True)
class Join:
    """Where one chunk's words meet the next chunk's: `index` is the first word of the later
    chunk in the committed words, `at` the sample of the cut between them."""

    index: int
    at: int
    mended: bool = False


@dataclass(frozen=True)
class Update:
    """What one decode changed: words newly committed, and the tentative words after them."""

    committed: list[str]
    tentative: list[str]


class CommitPolicy:
    """The committed words of one dictation. Not thread-safe: one live loop drives it.

    `hold_back`: while speech goes on at the buffer's end, its last words may be cut off
    mid-word, so that many trailing words are never committed by agreement alone.
    """

    def __init__(self, hold_back: int = 1, *, in_place: bool = True) -> None:
        self.hold_back = hold_back
        # Words a chunk's decode finds that the agreed words skipped go in at their place;
        # False (the words are typed already and cannot move): after them, still not lost.
        self.in_place = in_place
        self.committed: list[str] = []
        self._in_buffer: list[str] = []  # committed words spoken in the uncommitted audio
        self._previous: list[str] | None = None  # the last hypothesis after its committed part
        self.cancelled = False
        self.joins: list[Join] = []  # chunk joins, in order (see `mend_join`)
        self._cut: int | None = None  # the last cut, while no word after it is committed

    @property
    def text(self) -> str:
        return " ".join(self.committed)

    @property
    def pending(self) -> list[str]:
        """Committed words whose audio is still in the buffer (decoded again with it)."""
        return list(self._in_buffer)

    def hypothesis(self, text: str, *, speech_ended: bool = False) -> Update:
        """A decode of the whole buffer. `speech_ended`: the buffer ends in silence, so its last
        word is whole."""
        if self.cancelled:
            return Update([], [])
        words = split_words(text)
        if self._in_buffer and not shares_a_word(self._in_buffer, words):
            # The buffer's committed words are not in this decode: it skipped them, or it holds
            # speech said before them that they skipped (random joins through the microphone:
            # "Then you go into" was committed, then a decode of "She had your … year. your
            # ComfyUI folder" put that sentence after them). Either way its words cannot be
            # placed: nothing is agreed from it, and the chunk's checked decode places them.
            self._previous = None
            return Update([], words)
        rest = words[aligned_end(self._in_buffer, words) :]
        new: list[str] = []
        if self._previous is not None:
            n = common_prefix(self._previous, rest)
            if not speech_ended:
                n = min(n, max(0, len(rest) - self.hold_back))
            new = rest[:n]
        self._commit(new)
        self._previous = rest[len(new) :]
        return Update(new, rest[len(new) :])

    def chunk(self, text: str, at: int | None = None) -> list[str]:
        """The buffer's audio up to a pause, decoded: all of it is committed, and the buffer
        now starts after the pause (sample `at`, for the join with the next chunk). Returns
        the words newly committed."""
        if self.cancelled:
            return []
        words = split_words(text)
        new = words[aligned_end(self._in_buffer, words) :]
        # Words committed by agreement that this chunk does not hold were spoken after the
        # pause: they stay committed, and belong to the next buffer.
        carried = self._in_buffer[aligned_end(words, self._in_buffer) :] if words else []
        missed = skipped(self._in_buffer, words)
        if missed and self.in_place:
            base = len(self.committed) - len(self._in_buffer)
            for i, run in reversed(missed):
                self._insert(base + i, run)
        elif missed:
            new = [w for _, run in missed for w in run] + new
        self._commit(new)
        self._in_buffer = carried
        self._previous = None
        if at is not None:
            self._cut = at
            if carried:  # the words after the cut are committed already
                self._join(len(self.committed) - len(carried))
        return new

    def open_cuts(self) -> list[int]:
        """The cuts whose join is not mended yet (the last may have no word after it yet)."""
        cuts = [j.at for j in self.joins if not j.mended]
        return cuts + ([self._cut] if self._cut is not None else [])

    def mend(self, join: Join, bridge: str) -> bool:
        """Punctuate and case the words at `join` as `bridge` (a decode across it) has them;
        True when the bridge held both words (then the join counts as mended either way)."""
        k = self.joins.index(join)
        i = join.index
        if i < 1 or i >= len(self.committed):
            return False
        mended = mend_join(self.committed[:i], self.committed[i:], split_words(bridge))
        self.joins[k] = Join(join.index, join.at, mended=True)
        if mended is None:
            # The bridge heard other words: the later chunk's own case still says whether a
            # sentence starts there ("crease." + "that thereby" is one sentence).
            left, right = self.committed[i - 1], self.committed[i]
            if _SENTENCE_END.search(left) and right[:1].islower():
                self.committed[i - 1] = _SENTENCE_END.sub("", left)
            return False
        self.committed[i - 1], self.committed[i] = mended
        return True

    def finish(self, text: str) -> list[str]:
        """The last buffer (the tail at release), decoded: the rest of the dictation."""
        new = self.chunk(text)
        self._in_buffer = []
        return new

    def cancel(self) -> None:
        """Nothing more is committed (what was is kept: it may be typed already)."""
        self.cancelled = True
        self._previous = None

    def _insert(self, index: int, words: list[str]) -> None:
        """`words` into the committed words before `index`; the joins after it move along."""
        self.committed[index:index] = words
        self.joins = [
            Join(j.index + len(words), j.at, j.mended) if j.index > index else j for j in self.joins
        ]

    def _commit(self, words: list[str]) -> None:
        if words and self._cut is not None:
            self._join(len(self.committed))
        self.committed += words
        self._in_buffer += words

    def _join(self, index: int) -> None:
        if self._cut is not None and index > 0:
            self.joins.append(Join(index, self._cut))
        self._cut = None
