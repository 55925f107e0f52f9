"""Speech that gives no text is never silent: the CLI warns, the files queue and panel mark it,
the JSON export lists it, a dictation's history entry records it and the person is told."""

from __future__ import annotations

import json
import sqlite3
import sys

import numpy as np
import pytest
import soundfile as sf

from dictate.dictation.history import History
from dictate.engine.longform import Gap
from dictate.transcript import DictationResult, Segment, Timings, describe_gaps

SR = 16000


class GappyEngine:
    """An engine whose long-form pass reports one stretch of speech without text."""

    loaded = True
    info = type("Info", (), {"model": "fake", "device": "cpu"})()

    def transcribe_long(self, blocks, options=None, *, on_progress=None, on_gap=None, **_):
        for _ in blocks:
            pass
        yield Segment(0.0, 4.0, "before the gap")
        if on_gap:
            on_gap(Gap(72.5, 79.25))
        yield Segment(80.0, 84.0, "after the gap")
        if on_progress:
            on_progress(90.0)


def test_describe_gaps_says_where_in_minutes_and_seconds():
    assert describe_gaps([(72.5, 79.25), (3600.0, 3601.0)]) == "1:12–1:19, 60:00–60:01"


def test_cli_warns_on_one_line_with_the_time_range(tmp_path, capsys):
    from dictate.audio.decode import probe
    from dictate.commands.transcribe import _transcribe_one
    from dictate.engine.options import TranscribeOptions

    path = tmp_path / "talk.wav"
    sf.write(path, np.zeros(SR, np.float32), SR)
    segments, gaps = _transcribe_one(GappyEngine(), probe(path), TranscribeOptions(), False)
    assert [s.text for s in segments] == ["before the gap", "after the gap"]
    assert gaps == [Gap(72.5, 79.25)]
    lines = capsys.readouterr().err.splitlines()
    assert "dictate: warning: talk.wav: no text came from the speech at 1:12–1:19" in lines


def test_file_queue_keeps_gaps_in_order_and_the_json_export_lists_them(tmp_path):
    from dictate.engine.options import TranscribeOptions
    from dictate.files.queue import FileQueue

    path = tmp_path / "talk.wav"
    sf.write(path, np.zeros(SR, np.float32), SR)
    queue = FileQueue(GappyEngine, TranscribeOptions)
    try:
        job = queue.add(path)
        import time

        deadline = time.monotonic() + 30
        while not job.finished and time.monotonic() < deadline:
            time.sleep(0.01)
        assert job.status == "done", job.error
        assert job.gaps == [Gap(72.5, 79.25)]
        out = queue.export(job.id, "json", tmp_path / "talk.json")
        doc = json.loads(out.read_text())
        assert doc["gaps"] == [{"start": 72.5, "end": 79.25}]
        assert [s["text"] for s in doc["segments"]] == ["before the gap", "after the gap"]
    finally:
        queue.shutdown(timeout=10)


def test_history_records_gaps_and_an_old_database_is_upgraded(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    h = History(old)
    rec = h.start()
    h.finish_recording(rec)
    h.set_result(rec.id, "some text", {"encoder_ms": 3.0}, gaps=[(12.0, 19.5)])
    assert h.get(rec.id).gaps == ((12.0, 19.5),)
    h.close()
    # A database written before gaps existed (schema 1) opens, keeps its rows, gains the column.
    db = next(old.glob("*.sqlite*"), None) or next(old.glob("*.db"))
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE dictations DROP COLUMN gaps")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    h = History(old)
    entry = h.get(rec.id)
    assert entry.text == "some text" and entry.gaps == ()
    h.set_result(rec.id, "some text", {}, gaps=[(1.0, 2.0)])
    assert h.get(rec.id).gaps == ((1.0, 2.0),)
    h.close()


@pytest.fixture
def session_parts():
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from tests.test_session import make_session

    return make_session


def test_a_dictation_with_a_gap_is_inserted_recorded_and_said(session_parts):
    result = DictationResult("Hello world.", Timings(1, 2, 3, 4), 40.0, gaps=[(12.0, 19.0)])
    s, _, history, inserter, events = session_parts([result])
    s.start()
    s.stop()
    s.shutdown()
    assert inserter.texts == ["Hello world."]
    row = history.rows[1]
    assert row["status"] == "inserted" and row["gaps"] == ((12.0, 19.0),)
    said = [e for e in events if e.gaps]
    assert len(said) == 1 and said[0].state.value == "idle" and said[0].text == "Hello world."
    assert "no text came from the speech at 0:12–0:19" in said[0].message


def test_a_dictation_whose_speech_gave_no_text_is_an_error_not_no_speech(session_parts):
    result = DictationResult("", Timings(), 40.0, gaps=[(0.5, 38.0)])
    s, _, history, inserter, events = session_parts([result])
    s.start()
    s.stop()
    s.shutdown()
    assert inserter.texts == []
    assert history.rows[1]["status"] == "transcribed" and history.rows[1]["gaps"]
    said = [e for e in events if e.gaps]
    assert len(said) == 1 and said[0].state.value == "error" and "0:00–0:38" in said[0].message
    assert not any(e.message == "no speech" for e in events)
