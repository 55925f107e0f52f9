"""Transcribe a dictation from the history again, with the settings of now: a dictation that
failed (a language its model could not do, a model that was not loaded) is not lost once the
setting is put right, and any kept audio can be tried with another model.

The text is stored, not typed: the window it was meant for has long moved on. The history
window offers Copy and Insert again for it. A failure leaves the entry as it was.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from dictate.dictation.cleanup import CleanupRules, clean
from dictate.dictation.history import Entry, History

RETRANSCRIBED = "retranscribed"


def transcribe_again(
    history: History,
    dictation_id: int,
    transcribe: Callable[[Any], Any],
    rules: CleanupRules,
) -> Entry:
    """Transcribe the entry's audio with `transcribe` (the app's, with its options of now) and
    store the cleaned text; the entry as it is now. Raises KeyError (no such entry),
    AudioError (no audio kept) or the engine's DictateError, the entry unchanged."""
    audio = history.load_audio(dictation_id)
    started = time.perf_counter()
    result = transcribe(audio)
    text = clean(result.text, rules, speech_s=result.speech_s)
    timings = {"transcribe_again_ms": (time.perf_counter() - started) * 1000}
    status = RETRANSCRIBED if text else "no_speech"
    history.set_result(dictation_id, text, timings, status, gaps=list(result.gaps))
    return history.get(dictation_id)


def in_background(
    history: History,
    dictation_id: int,
    transcribe: Callable[[Any], Any],
    rules: CleanupRules,
    done: Callable[[int, str | None], None],
) -> threading.Thread:
    """transcribe_again on a thread of its own (a minute of audio takes seconds; the caller is
    a window); `done(id, error or None)` is called from that thread."""

    def run() -> None:
        try:
            transcribe_again(history, dictation_id, transcribe, rules)
        except Exception as exc:  # the window says why; the entry stays as it was
            done(dictation_id, str(exc) or type(exc).__name__)
        else:
            done(dictation_id, None)

    thread = threading.Thread(target=run, name="dictate-again", daemon=True)
    thread.start()
    return thread
