"""History retention: prune() by age (rows, their audio, old orphan files), drop_audio(), count().
Every test uses its own folder."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from dictate.dictation.history import History
from dictate.errors import AudioError, DictateError

DAY = 86400.0
NOW = 2_000_000_000.0  # a fixed "now", so ages do not depend on the clock


@pytest.fixture
def history(tmp_path):
    h = History(tmp_path / "data")
    yield h
    h.close()


def dictation(h: History, days_ago: float, text: str | None = "words", samples: int = 1600) -> int:
    """A finished dictation (or, with text=None, one left "recorded") started `days_ago`."""
    rec = h.start(started_at=NOW - days_ago * DAY)
    rec.write(np.full(samples, 0.25, np.float32))
    h.finish_recording(rec)
    if text is not None:
        h.set_result(rec.id, text, {"encoder_ms": 10.0})
        h.set_inserted(rec.id, True, "paste")
    return rec.id


def test_prune_deletes_old_dictations_and_their_audio_and_keeps_new_ones(history):
    old = [dictation(history, d, f"old {d}") for d in (400, 45, 30.5)]
    new = [dictation(history, d, f"new {d}") for d in (29.5, 3, 0)]
    old_files = [history.get(i).audio_path for i in old]
    assert all(p is not None and p.is_file() for p in old_files)

    assert history.prune(30, now=NOW) == 3

    for i in old:
        with pytest.raises(KeyError):
            history.get(i)
    assert not any(p.exists() for p in old_files)
    kept = [history.get(i) for i in new]
    assert [e.text for e in kept] == ["new 29.5", "new 3", "new 0"]
    assert all(e.audio_path is not None and e.audio_path.is_file() for e in kept)
    assert sorted(p.name for p in history.audio_dir.iterdir()) == sorted(
        e.audio_path.name for e in kept
    )
    assert history.count() == 3
    assert history.prune(30, now=NOW) == 0  # nothing left to prune


def test_prune_zero_keeps_everything(history):
    ids = [dictation(history, d) for d in (10_000, 365, 1)]
    assert history.prune(0, now=NOW) == 0
    assert [history.get(i).id for i in ids] == ids
    assert len(list(history.audio_dir.iterdir())) == 3


def test_prune_never_deletes_an_unfinished_dictation(history):
    """Its audio is all there is until the next start transcribes it."""
    waiting = dictation(history, 90, text=None)
    done = dictation(history, 90)
    assert history.prune(30, now=NOW) == 1
    entry = history.get(waiting)
    assert entry.status == "recorded" and entry.audio_path is not None
    assert entry.audio_path.is_file()
    with History(history.folder) as next_run:  # recovered by the next start
        assert [e.id for e in next_run.unfinished()] == [waiting]
    with pytest.raises(KeyError):
        history.get(done)


def test_prune_removes_old_orphan_audio_only(history):
    """Files no row names (a crash between delete's two steps, a replaced damaged database)
    go once they are older than the limit; recent ones and named ones stay."""
    named = dictation(history, 1)
    old_orphan = history.audio_dir / "20000101-000000-deadbeef.pcm"
    new_orphan = history.audio_dir / "20330101-000000-cafebabe.pcm"
    for path, days in ((old_orphan, 60), (new_orphan, 2)):
        path.write_bytes(b"\0\0" * 100)
        os.utime(path, (NOW - days * DAY, NOW - days * DAY))
    named_path = history.get(named).audio_path
    assert named_path is not None
    os.utime(named_path, (NOW - 90 * DAY, NOW - 90 * DAY))  # old file, recent row: kept

    assert history.prune(30, now=NOW) == 0
    assert not old_orphan.exists()
    assert new_orphan.exists() and named_path.exists()


def test_prune_with_the_real_clock(history):
    now = time.time()
    rec = history.start(started_at=now - 8 * DAY)
    history.finish_recording(rec)
    history.set_result(rec.id, "a week ago", {})
    recent = dictation(history, 0)  # NOW is in the future: "0 days ago" is NOW
    assert history.prune(7) == 1
    assert history.get(recent).text == "words"


def test_drop_audio_keeps_the_text(history):
    i = dictation(history, 0, "keep me")
    path = history.get(i).audio_path
    assert path is not None and path.is_file()
    history.drop_audio(i)
    entry = history.get(i)
    assert entry.text == "keep me" and entry.status == "inserted"
    assert entry.audio_path is None and entry.duration_s is None
    assert not path.exists()
    with pytest.raises(AudioError, match="has no audio"):
        history.load_audio(i)
    history.drop_audio(i)  # twice is fine
    with pytest.raises(KeyError):
        history.drop_audio(i + 100)


def test_drop_audio_refuses_an_unfinished_dictation(history):
    i = dictation(history, 0, text=None)
    with pytest.raises(DictateError, match="not transcribed yet"):
        history.drop_audio(i)
    assert history.load_audio(i).size == 1600


def test_count_and_a_second_connection_see_the_pruned_state(history, tmp_path):
    for d in (100, 50, 1):
        dictation(history, d)
    assert history.count() == 3
    history.prune(30, now=NOW)
    with History(tmp_path / "data") as other:
        assert other.count() == 1
        assert [e.text for e in other.recent()] == ["words"]
