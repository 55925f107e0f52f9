"""Clean-up of Whisper's text before it is typed: pure functions, no I/O.

The order matters. User replacements are matched first, on Whisper's own words (so a user's entry
wins over the built-in rules), and parked behind placeholders so that nothing later rewrites their
values. Spoken commands and filler removal then run until the text stops changing (removing one can
expose another), which is what makes `clean` idempotent. Whisper's stock silence phrases are
dropped only when the speech gate heard little speech, so real speech is never thrown away.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

# What Whisper writes for silence, breath or noise (it learned them from subtitles).
STOCK_PHRASES: tuple[str, ...] = (
    "Thank you.",
    "Thank you very much.",
    "Thank you so much.",
    "Thanks.",
    "Thanks for watching!",
    "Thank you for watching.",
    "Thanks for watching and see you next time.",
    "Please subscribe.",
    "Like and subscribe.",
    "Subtitles by the Amara.org community",
    "you",
    "Bye.",
    "Bye-bye.",
    "Goodbye.",
    "[BLANK_AUDIO]",
    "[Music]",
    "(music)",
    "(silence)",
    "[silence]",
    "♪",
    ". . .",
    "...",
)
# Stock phrases are dropped only when the gate found less speech than this (seconds): a real
# "Thank you." takes about half a second, a hallucination on a cough or a keyboard click less.
STOCK_MAX_SPEECH_S = 1.0

# Hesitations only, in the forms Whisper spells them. All-caps forms are left alone ("ER" is a
# ward, "UM" a university), and so are words that carry meaning: "like", "you know", "uh-huh".
_FILLER_WORD = r"[Uu]h*m+|[Uu]h+|[Hh]m+|[Ee]rm?"
_FILLER_TOKEN = re.compile(rf"(?:{_FILLER_WORD})(?P<punct>[,;:.!?…—–]*)")

# "new line" / "new paragraph" count as commands only when set off by punctuation or a line edge
# on both sides, as Whisper writes a phrase said after a pause ("Hello. New line. World" or
# "Hello, new line, world"); "a new line of products" stays text. A sentence end before the
# command is kept, a comma before it and any punctuation after it are dropped.
_COMMAND = re.compile(
    r"(?:^|(?<=[.!?…])|[ ]*[,;:])[ ]*"
    r"\b(?P<cmd>new[ ]*line|new[ ]+paragraph)\b"
    r"[ ]*(?:[.,;:!?…]+[ ]*|$)",
    re.IGNORECASE | re.MULTILINE,
)

# Placeholders for replacement values: private-use characters Whisper never writes.
_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile(f"{_OPEN}(\\d+){_CLOSE}")


@dataclass(frozen=True)
class CleanupRules:
    """What `clean` does besides tidying whitespace and dropping stock silence phrases."""

    replacements: Mapping[str, str] = field(default_factory=dict)  # whole-word, any case
    remove_fillers: bool = False
    spoken_commands: bool = True


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


_STOCK = frozenset(tuple(_norm(p).split()) for p in STOCK_PHRASES)
_STOCK_MAX_WORDS = max(len(p) for p in _STOCK)


def is_stock(text: str) -> bool:
    """True when the text is nothing but stock phrases ("Thank you. Thank you.", "♪ ♪")."""
    if "\n" in text:  # a spoken "new line" is deliberate
        return False
    words = _norm(text).split()
    if len(words) > 40:
        return False
    # can[i]: words[:i] splits into stock phrases.
    can = [True] + [False] * len(words)
    for i in range(1, len(words) + 1):
        can[i] = any(
            can[j] and tuple(words[j:i]) in _STOCK for j in range(max(0, i - _STOCK_MAX_WORDS), i)
        )
    return can[-1]


def _tidy(text: str) -> str:
    text = re.sub(r"[^\S\n]+", " ", text)  # runs of blanks (not line breaks) -> one space
    text = re.sub(r" ?\n ?", "\n", text)
    return text.strip(" ")


@lru_cache(maxsize=16)
def _replacement_pattern(
    items: tuple[tuple[str, str], ...],
) -> tuple[re.Pattern[str] | None, tuple[str, ...]]:
    keyed = [(unicodedata.normalize("NFC", k).split(), v) for k, v in items if k.strip()]
    keyed.sort(key=lambda kv: -len(" ".join(kv[0])))  # longest first: "new york city" wins
    parts = []
    for i, (words, _) in enumerate(keyed):
        body = r"\s+".join(re.escape(w) for w in words)
        # Not \b: for ":smile:" or "c++", \b would demand a letter next to the punctuation.
        # "Not touching a word character" is whole-word for every key.
        parts.append(rf"(?P<r{i}>(?<!\w){body}(?!\w))")
    if not parts:
        return None, ()
    return re.compile("|".join(parts), re.IGNORECASE), tuple(v for _, v in keyed)


def _park_replacements(text: str, replacements: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace dictionary keys by placeholders; returns the text and the parked values."""
    pattern, values = _replacement_pattern(tuple(replacements.items()))
    parked: list[str] = []
    if pattern is None:
        return text, parked

    def sub(m: re.Match[str]) -> str:
        value = values[int((m.lastgroup or "r0")[1:])]
        if not value:  # deleting a word: let the whitespace tidy close the gap
            return ""
        parked.append(value)
        return f"{_OPEN}{len(parked) - 1}{_CLOSE}"

    return pattern.sub(sub, text), parked


def _terminal(punct: str) -> str:
    """The sentence end in a filler's trailing punctuation ("um." -> "."), but not "um...":
    an ellipsis trails off, it does not end the sentence."""
    ends = [c for c in punct.replace("...", "") if c in ".!?"]
    return ends[-1] if ends else ""


def _remove_fillers_line(line: str) -> str:
    kept: list[str] = []
    capitalise = False
    words = [w for w in line.split(" ") if w]
    for word in words:
        m = _FILLER_TOKEN.fullmatch(word)
        if m is None:
            if capitalise and word.islower():  # "Um, so we" -> "So we"; "iPhone" stays
                word = word[0].upper() + word[1:]
            capitalise = False
            kept.append(word)
            continue
        prev = kept[-1] if kept else ""
        sentence_start = not prev or prev[-1] in ".!?…"
        end = _terminal(m["punct"])
        if end and not sentence_start:  # "We need, um." -> "We need."
            kept[-1] = prev.rstrip(",;:") + end
        elif not end:  # "So, um, we" -> "So, we"
            capitalise = capitalise or (sentence_start and word[0].isupper())
    if words and _FILLER_TOKEN.fullmatch(words[-1]) and kept:  # "Yes, um" -> "Yes"
        kept[-1] = kept[-1].rstrip(",;:")
    return " ".join(kept)


def _remove_fillers(text: str) -> str:
    return "\n".join(_remove_fillers_line(line) for line in text.split("\n"))


def _command(m: re.Match[str]) -> str:
    return "\n" if m["cmd"].lower().endswith("line") else "\n\n"


def clean(text: str, rules: CleanupRules, *, speech_s: float | None = None) -> str:
    """Whisper's text as it should be typed. `speech_s` is the speech the gate found (None:
    unknown, in which case stock phrases are kept)."""
    little_speech = speech_s is not None and speech_s < STOCK_MAX_SPEECH_S
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace(_OPEN, "").replace(_CLOSE, "")
    if little_speech and is_stock(text):
        return ""
    text, parked = _park_replacements(text, rules.replacements)
    text = _tidy(text)
    # Each pass removes letters or changes nothing, so this ends.
    while True:
        new = text
        if rules.spoken_commands:
            new = _tidy(_COMMAND.sub(_command, new))
        if rules.remove_fillers:
            new = _tidy(_remove_fillers(new))
        if new == text:
            break
        text = new
    # Again after the rules: "You, um." is stock once the filler is gone. A user's replacement
    # means the words were meant.
    if little_speech and not parked and is_stock(text):
        return ""
    return _PLACEHOLDER.sub(lambda m: parked[int(m[1])], text)


_NO_SPACE_AFTER = "([{“‘/\n\t "
_NO_SPACE_BEFORE = ",.;:!?)]}”’…%\n\t "


def join_with_previous(text: str, previous_tail: str | None) -> str:
    """`text` as it should follow the previous dictation into the same window: with a leading
    space unless that one ended a line (or with a space) or `text` starts with punctuation."""
    if not text or not previous_tail:
        return text
    if previous_tail[-1] in _NO_SPACE_AFTER or text[0] in _NO_SPACE_BEFORE:
        return text
    return " " + text
