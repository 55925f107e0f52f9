"""Spacing between dictations that survives a restart of the app and a failed insertion
(issue 28), and a dictation made while the model loads: typed once, whole, never recovered."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass

import numpy as np
import pytest

from dictate.config import Settings
from dictate.dictation.history import _MIGRATIONS, History
from dictate.dictation.session import Session, State
from dictate.dictation.spacing import Spacing, window_key
from dictate.output.inserter import WindowInfo
from dictate.transcript import DictationResult, Timings

EDITOR = WindowInfo(0x3A00007, ("gedit", "Gedit"), "notes.txt")
SR = 16000


def test_spacing_is_remembered_across_a_restart(tmp_path) -> None:
    with History(tmp_path) as first_run:
        Spacing(first_run).remember(EDITOR, "…for your nation.")
    with History(tmp_path) as next_run:
        spacing = Spacing(next_run)
        assert spacing.previous(EDITOR) == "."
        assert spacing.join("And so my fellow", EDITOR) == " And so my fellow"
        assert spacing.join(", and so", EDITOR) == ", and so"  # punctuation joins as it is
        # The same id held by another program now (X reuses ids): a window of its own.
        other = WindowInfo(EDITOR.id, ("xterm", "XTerm"), "bash")
        assert spacing.join("ls", other) == "ls"
        assert spacing.join("Hello", None) == "Hello"  # no window known (Wayland)


def test_the_title_changing_is_the_same_window(tmp_path) -> None:
    with History(tmp_path) as h:
        spacing = Spacing(h)
        spacing.remember(EDITOR, "First.")
        renamed = WindowInfo(EDITOR.id, EDITOR.wm_class, "*notes.txt (modified)")
        assert window_key(renamed) == window_key(EDITOR)
        assert Spacing(h).join("Second.", renamed) == " Second."


@pytest.mark.parametrize(
    ("mode", "previous", "expected"),
    [
        ("smart", None, "Word"),
        ("smart", "First.", " Word"),
        ("smart", "a line\n", "Word"),
        ("always", None, " Word"),
        ("never", "First.", "Word"),
    ],
)
def test_the_start_space_setting(mode, previous, expected) -> None:
    spacing = Spacing(mode=mode)
    if previous is not None:
        spacing.remember(EDITOR, previous)
    assert spacing.join("Word", EDITOR) == expected
    assert spacing.join(", word", EDITOR) == ", word"  # never a space before a comma


def test_the_setting_is_validated() -> None:
    assert Settings().start_space == "smart"
    fixed, problems = Settings(start_space="sometimes").validated()
    assert fixed.start_space == "smart" and "start_space" in problems[0]
    assert Settings(start_space="never").validated() == (Settings(start_space="never"), [])


def test_an_older_history_database_gets_the_table(tmp_path) -> None:
    """A database of schema 2 (before this change) is migrated in place, rows kept."""
    conn = sqlite3.connect(tmp_path / "history.sqlite3")
    for statements in _MIGRATIONS[:2]:
        for statement in statements:
            conn.execute(statement)
    conn.execute(
        "INSERT INTO dictations (started_at, updated_at, status, text) "
        "VALUES (1.0, 1.0, 'inserted', 'kept')"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with History(tmp_path) as h:
        assert h.get(1).text == "kept"
        Spacing(h).remember(EDITOR, "kept.")
        assert h.last_insertion(*window_key(EDITOR))[0] == "."


# ---- through the Session, with the real History ------------------------------------------


@dataclass
class Capture:
    audio: np.ndarray
    tail_s: float = 0.0
    truncated: bool = False
    device_lost: str | None = None


class Recorder:
    def __init__(self) -> None:
        self.session: Session | None = None

    def start(self) -> None:
        assert self.session is not None
        self.session.on_audio(np.full(SR // 2, 0.1, np.float32))  # written to disk as it comes

    def stop(self, tail_max_s: float = 0.4) -> Capture:
        return Capture(np.full(SR, 0.1, np.float32))

    def cancel(self) -> None:
        pass


@dataclass
class Outcome:
    ok: bool
    method: str = "paste"
    error: str | None = None
    ms: float = 5.0


class Inserter:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.ok = True

    def insert(self, text: str) -> Outcome:
        self.texts.append(text)
        return Outcome(self.ok, error=None if self.ok else "no window has the focus")


def session_on(history: History, texts: list[str], *, loaded: threading.Event | None = None):
    """A Session as the app makes it, on `history`; the engine answers `texts` in order and,
    given `loaded`, waits for it first (a model still loading: App's transcriber waits in
    holder.get())."""
    answers = iter(texts)
    calls: list[int] = []

    def transcribe(audio: np.ndarray) -> DictationResult:
        if loaded is not None:
            assert loaded.wait(10)
        calls.append(len(audio))
        return DictationResult(next(answers), Timings(1, 2, 3, 4), speech_s=1.0)

    recorder, inserter = Recorder(), Inserter()
    session = Session(
        recorder=recorder,
        transcribe=transcribe,
        inserter=inserter,
        history=history,
        focused_window=lambda: EDITOR,
        spacing=Spacing(history),
    )
    recorder.session = session
    return session, inserter, calls


def dictate(session: Session) -> None:
    assert session.start()
    assert session.stop()


def test_the_first_dictation_after_a_restart_follows_the_last_one(tmp_path) -> None:
    with History(tmp_path) as h:
        session, inserter, _ = session_on(h, ["For your nation."])
        dictate(session)
        session.shutdown()
        assert inserter.texts == ["For your nation."]
    with History(tmp_path) as h:  # the app started again; the window is still there
        session, inserter, _ = session_on(h, ["And so my fellow Americans."])
        dictate(session)
        session.shutdown()
        assert inserter.texts == [" And so my fellow Americans."]


def test_a_failed_insertion_keeps_the_spacing(tmp_path) -> None:
    with History(tmp_path) as h:
        session, inserter, _ = session_on(h, ["One.", "Two.", "Three."])
        dictate(session)
        session.shutdown()
        session, inserter, _ = session_on(h, ["Two.", "Three."])
        inserter.ok = False
        dictate(session)  # nothing went into the window...
        session.shutdown()
        session, inserter, _ = session_on(h, ["Three."])
        dictate(session)
        session.shutdown()
        assert inserter.texts == [" Three."]  # ...so it still ends "One."


def test_a_dictation_made_while_the_model_loads_is_typed_whole_once(tmp_path) -> None:
    """Issue 28: it was picked up by the crash recovery when the model became ready, and
    transcribed twice: typed, then filed as "Recovered, not typed" with "text 0 ms after"."""
    with History(tmp_path) as crashed:  # an earlier run, killed mid-dictation
        left = crashed.start()
        left.write(np.full(SR, 0.1, np.float32))
        crashed.finish_recording(left)
    loaded = threading.Event()
    with History(tmp_path) as h:
        texts = ["She had your dark suit.", "left over"]
        session, inserter, calls = session_on(h, texts, loaded=loaded)
        dictate(session)  # the model is still loading: recorded and queued
        assert session.state is State.TRANSCRIBING
        row = h.recent(1)[0]
        assert row.status == "recorded" and row.audio_path is not None  # safe on disk
        loaded.set()
        recovered = session.recover()  # what App does when the model becomes ready
        session.shutdown()
        assert recovered == [left.id]  # the earlier run's, not this one's
        assert inserter.texts == ["She had your dark suit."]  # typed, once, whole
        assert calls[0] == SR  # the whole recording reached the engine
        entry = h.get(row.id)
        assert entry.status == "inserted" and entry.timings["release_to_text_ms"] > 0
        assert h.get(left.id).status == "transcribed"  # recovered, offered, not typed
