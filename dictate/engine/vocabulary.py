"""The vocabulary prompt's second half: spell the user's terms the way the user wrote them.

Whisper's `prompt_ids` make a small model hear "ComfyUI" instead of "comfy eye", but it may
still write "comfyUI". A term the user typed is the spelling they want, so a case-insensitive
whole-word match of a term is rewritten to the term exactly. Words are never added or removed.
"""

from __future__ import annotations

import re

_SPLIT = re.compile(r"[,;\n]+")


def prompt_terms(prompt: str | None) -> list[str]:
    """The terms in a vocabulary prompt ("ComfyUI, Kubernetes; PySide6"), longest first."""
    if not prompt:
        return []
    terms = {t.strip() for t in _SPLIT.split(prompt) if t.strip()}
    # A prompt written as a sentence is context, not a list of spellings: keep only short terms.
    terms = {t for t in terms if len(t.split()) <= 3}
    return sorted(terms, key=len, reverse=True)


def apply_spelling(text: str, terms: list[str]) -> str:
    """Rewrite case-insensitive whole-word matches of each term to the term's own spelling."""
    for term in terms:
        pattern = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)
        text = pattern.sub(term, text)
    return text
