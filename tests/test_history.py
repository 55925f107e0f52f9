"""The dictation history: round trips, a killed recorder, damaged databases, permissions,
threads. Every test uses its own folder; none touches the user's data."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from dictate.dictation.history import DB_NAME, SAMPLE_RATE, SCHEMA_VERSION, History, _is_damage
from dictate.errors import AudioError, DictateError

REPO = Path(__file__).resolve().parent.parent
POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and signals")


@pytest.fixture
def history(tmp_path):
    h = History(tmp_path / "data")
    yield h
    h.close()


def chunk(i: int, n: int = 1600) -> np.ndarray:
    """A chunk that survives int16 exactly (multiples of 1/128), different for every i."""
    return np.full(n, (i % 200 - 100) / 128, np.float32)


def record(h: History, chunks: int = 3) -> int:
    rec = h.start()
    for i in range(chunks):
        rec.write(chunk(i))
    h.finish_recording(rec)
    return rec.id


def test_a_dictation_round_trip(history):
    rec = history.start(started_at=1000.0)
    assert history.get(rec.id).status == "recording"  # the row exists before any audio
    assert history.unfinished() == []  # this run's own recording is not a crash to recover
    with History(history.folder) as next_run:  # what the next start of the app finds
        assert next_run.unfinished()[0].id == rec.id
    rec.write(chunk(1))
    rec.write(np.stack([chunk(2), chunk(2)], axis=1))  # (frames, channels) is mixed down
    history.finish_recording(rec)
    assert rec.closed and history.get(rec.id).status == "recorded"
    audio = history.load_audio(rec.id)
    assert audio.dtype == np.float32
    np.testing.assert_array_equal(audio, np.concatenate([chunk(1), chunk(2)]))

    history.set_result(rec.id, "Hello world.", {"encoder_ms": 12.5, "decoding_ms": 30})
    assert history.unfinished() == []
    history.set_inserted(rec.id, True, "paste", app="gedit")
    e = history.get(rec.id)
    assert (e.status, e.text, e.insert_method, e.app, e.error) == (
        "inserted", "Hello world.", "paste", "gedit", None
    )  # fmt: skip
    assert e.timings == {"encoder_ms": 12.5, "decoding_ms": 30.0}
    assert e.started_at == 1000.0 and e.duration_s == pytest.approx(0.2)
    assert e.audio_path is not None and e.audio_path.suffix == ".pcm"


def test_statuses(history):
    ids = [record(history) for _ in range(4)]
    history.set_result(ids[0], "", {}, status="no_speech")
    history.set_inserted(ids[1], False, "typing", "no focused window")
    history.set_cancelled(ids[2])
    history.set_error(ids[3], "engine exploded")
    got = [(e.status, e.error) for e in map(history.get, ids)]
    assert got == [
        ("no_speech", None),
        ("insert_failed", "no focused window"),
        ("cancelled", None),
        ("error", "engine exploded"),
    ]
    with pytest.raises(ValueError):
        history.set_result(ids[0], "x", {}, status="inserted")
    with pytest.raises(KeyError):
        history.set_error(999, "no such row")


def test_samples_are_clipped_and_nan_is_silence(history):
    rec = history.start()
    rec.write(np.array([2.0, -2.0, np.nan, 0.5], np.float32))
    rec.close()
    rec.write(chunk(0))  # a late chunk after stop is ignored, not an error
    history.finish_recording(rec)  # after close, as the session does it
    np.testing.assert_allclose(history.load_audio(rec.id), [32767 / 32768, -1.0, 0.0, 0.5])


def test_recent_search_and_delete(history):
    for i, text in enumerate(["Le café est fermé", "Meeting notes", "CAFÉ au lait notes"]):
        id_ = record(history)
        history.set_result(id_, text, {})
        assert id_ == i + 1
    assert [e.id for e in history.recent(2)] == [3, 2]
    assert [e.id for e in history.search("café")] == [3, 1]  # Unicode case-insensitive
    assert [e.id for e in history.search("NOTES  lait")] == [3]  # every word, any order
    assert history.search("100%") == []
    assert len(history.search("  ")) == 3

    path = history.get(3).audio_path
    assert path is not None and path.exists()
    history.delete(3)
    assert not path.exists()
    with pytest.raises(KeyError):
        history.get(3)
    assert record(history) == 4  # ids are never reused


def test_missing_audio_is_reported_not_fatal(history):
    id_ = record(history)
    entry = history.get(id_)
    assert entry.audio_path is not None
    entry.audio_path.unlink()
    assert history.get(id_).audio_path is None
    with pytest.raises(AudioError, match=f"dictation {id_}"):
        history.load_audio(id_)


def test_reopen_keeps_everything_and_schema_is_versioned(tmp_path):
    with History(tmp_path) as h:
        id_ = record(h)
        h.set_result(id_, "kept", {"gate_ms": 1.0})
    with History(tmp_path) as h:
        assert h.get(id_).text == "kept" and h.warning is None
        assert len(h.load_audio(id_)) == 3 * 1600
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(DictateError, match="newer dictate"):
        History(tmp_path)


_CHILD = """
import sys
import numpy as np
from pathlib import Path
from dictate.dictation.history import History
h = History(Path(sys.argv[1]))
rec = h.start()
print(rec.id, flush=True)
for i in range(200000):
    rec.write(np.full(1600, (i % 200 - 100) / 128, np.float32))
    print(i, flush=True)
"""


@POSIX
def test_a_killed_recording_is_unfinished_with_its_audio(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path)],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env=env,
    )  # fmt: skip
    assert child.stdout is not None
    try:
        rec_id = int(child.stdout.readline())
        for line in child.stdout:  # the child writes on while we read: the kill lands mid-write
            if int(line) >= 30:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    with History(tmp_path) as h:
        assert h.warning is None
        [entry] = h.unfinished()
        assert (entry.id, entry.status) == (rec_id, "recording")
        audio = h.load_audio(rec_id)
        assert len(audio) >= 31 * 1600  # every chunk the child had finished writing
        expected = np.concatenate([chunk(i) for i in range(len(audio) // 1600 + 1)])
        np.testing.assert_array_equal(audio, expected[: len(audio)])
        assert entry.duration_s == pytest.approx(len(audio) / SAMPLE_RATE)


def _fill(h: History, n: int) -> list[int]:
    ids = []
    for i in range(n):
        id_ = record(h, 1)
        h.set_result(id_, f"dictation {i} " + "words " * 60, {"encoder_ms": float(i)})
        ids.append(id_)
    return ids


@pytest.mark.parametrize("damage", ["garbage", "truncated", "header"])
def test_a_damaged_database_is_kept_aside_and_replaced(tmp_path, damage):
    with History(tmp_path) as h:
        _fill(h, 60)
    db = tmp_path / DB_NAME
    if damage == "garbage":
        db.write_bytes(os.urandom(8192))
    elif damage == "truncated":  # the tail of the file lost, as after a failed copy or disk
        os.truncate(db, db.stat().st_size // 2)
    else:
        os.truncate(db, 60)
    damaged_bytes = db.read_bytes()

    with History(tmp_path) as h:
        assert h.warning is not None and "\n" not in h.warning
        [aside] = tmp_path.glob(f"{DB_NAME}.damaged-*")
        assert str(db) in h.warning and str(aside) in h.warning
        assert aside.read_bytes() == damaged_bytes  # kept exactly as it was
        rows = h.recent(100)
        if damage == "truncated":  # what SQLite could still read was brought over
            assert 0 < len(rows) < 60 and all(e.text for e in rows)
        else:
            assert rows == []
        id_ = record(h)  # and the fresh database works
        assert h.get(id_).status == "recorded"
    with History(tmp_path) as h:
        assert h.warning is None


def test_a_busy_database_is_not_damage(history):
    other = sqlite3.connect(history.db_path, timeout=0, isolation_level=None)
    history._conn.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError) as busy:
            other.execute("BEGIN IMMEDIATE")
    finally:
        history._conn.execute("ROLLBACK")
        other.close()
    assert not _is_damage(busy.value)  # so it is never moved aside


def _copy_with_wal(h: History, dst: Path) -> Path:
    """Copy the database as a crash would leave it: the WAL not yet checkpointed."""
    wal = Path(f"{h.db_path}-wal")
    assert wal.stat().st_size > 0
    dst.mkdir()
    shutil.copy(h.db_path, dst / DB_NAME)
    shutil.copy(wal, dst / f"{DB_NAME}-wal")
    return dst / f"{DB_NAME}-wal"


@pytest.mark.parametrize("tear", ["last frame cut short", "partial frame appended"])
def test_a_torn_wal_loses_at_most_the_last_transaction(tmp_path, tear):
    h = History(tmp_path / "live")
    ids = [h.start().id for _ in range(3)]
    h.set_result(ids[2], "the last words", {})
    copy = tmp_path / "crashed"
    wal = _copy_with_wal(h, copy)
    h.close()
    if tear == "last frame cut short":
        os.truncate(wal, wal.stat().st_size - 1000)
    else:
        with open(wal, "ab") as f:
            f.write(os.urandom(1500))

    with History(copy) as crashed:
        # SQLite's WAL recovery checks each frame's checksum and stops at the first bad one:
        # this is not damage, so there is no warning and nothing is moved aside.
        assert crashed.warning is None and not list(copy.glob("*.damaged-*"))
        assert [crashed.get(i).status for i in ids[:2]] == ["recording", "recording"]
        last = crashed.get(ids[2])
        if tear == "last frame cut short":  # the set_result commit is gone, the row is not
            assert (last.status, last.text) == ("recording", None)
            assert [e.id for e in crashed.unfinished()] == ids
        else:
            assert (last.status, last.text) == ("transcribed", "the last words")
            assert [e.id for e in crashed.unfinished()] == ids[:2]


@POSIX
def test_files_and_folders_are_user_only(tmp_path):
    folder = tmp_path / "new" / "data"
    with History(folder) as h:
        rec = h.start()
        rec.write(chunk(0))
        mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
        assert mode(folder) == 0o700 and mode(h.audio_dir) == 0o700
        assert mode(h.db_path) == 0o600 and mode(rec.path) == 0o600
        assert mode(Path(f"{h.db_path}-wal")) == 0o600
        h.finish_recording(rec)


def test_default_folder_is_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DICTATE_DATA_DIR", str(tmp_path / "dd"))
    with History() as h:
        assert h.db_path == tmp_path / "dd" / DB_NAME
        assert h.audio_dir == tmp_path / "dd" / "audio"


def test_two_threads_at_once(history):
    errors: list[BaseException] = []
    stop = threading.Event()

    def worker() -> None:  # what the engine thread does
        try:
            for i in range(40):
                rec = history.start()
                for j in range(3):
                    rec.write(chunk(i + j, 160))
                history.finish_recording(rec)
                history.set_result(rec.id, f"text {i}", {"encoder_ms": 1.0})
                history.set_inserted(rec.id, True, "paste")
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    def ui() -> None:  # what the history window does meanwhile
        try:
            while not stop.is_set():
                history.recent(5)
                history.search("text")
                history.unfinished()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker), threading.Thread(target=ui)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    entries = history.recent(100)
    assert len(entries) == 40 and {e.status for e in entries} == {"inserted"}
    assert all(len(history.load_audio(e.id)) == 480 for e in entries)
