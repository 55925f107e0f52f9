"""Dictation history: never lose a dictation.

A dictation's row exists before its audio arrives, and the audio reaches the disk chunk by chunk,
so after a crash, kill or power cut `unfinished()` hands it back. Decisions:
- WAL, ``synchronous=FULL``: each commit fsyncs the WAL. A dictation makes about four tiny
  commits (a millisecond or two each on an SSD, beside hundreds of ms of Whisper); NORMAL survives
  an app crash but a power cut could roll back the row of a recording whose audio is on disk.
- Audio is raw int16 LE 16 kHz mono (``.pcm``), appended by ``os.write`` on an ``O_APPEND`` fd: no
  user-space buffer to lose, no header a kill would leave wrong. It stays PCM, not FLAC: readable
  at every instant, no re-encoding before insertion; disk use (32 kB/s) is for a retention rule.
- One connection behind a lock (``check_same_thread=False``): a few tiny queries per dictation.
- A file SQLite calls corrupt or not a database is moved aside with its -wal/-shm (never deleted),
  the rows it can still read are copied into a fresh database, and `warning` says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dictate import paths
from dictate.choices import SAMPLE_RATE
from dictate.errors import AudioError, DictateError

log = logging.getLogger(__name__)

DB_NAME = "history.sqlite3"
AUDIO_DIR = "audio"
SCHEMA_VERSION = 3
UNFINISHED = ("recording", "recorded")
# "retranscribed": transcribed again from the history with the settings of the time, typed nowhere.
RESULT_STATUSES = ("transcribed", "no_speech", "retranscribed")
STATUSES = (*UNFINISHED, *RESULT_STATUSES, "inserted", "insert_failed", "cancelled", "error")

_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows would otherwise translate bytes in the PCM
_sync = getattr(os, "fdatasync", os.fsync)  # the data, not the mtime, is what must survive

# _MIGRATIONS[v] upgrades a database at user_version v to v + 1.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE dictations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: ids appear in the UI and logs
            started_at REAL NOT NULL, updated_at REAL NOT NULL, status TEXT NOT NULL,
            timings TEXT NOT NULL DEFAULT '{}',  -- JSON: stage name -> milliseconds
            audio TEXT,  -- a file name in the audio folder, so that the folder can move
            text TEXT, error TEXT, insert_method TEXT, app TEXT
        )""",
        "CREATE INDEX dictations_status ON dictations(status)",
        "CREATE INDEX dictations_started ON dictations(started_at)",
    ),
    # 2: speech that gave no text (JSON [[start, end], ...] in seconds), so it is never silent.
    ("ALTER TABLE dictations ADD COLUMN gaps TEXT",),
    # 3: the last insertion into each window, so spacing survives a restart (dictation/spacing).
    (
        """CREATE TABLE IF NOT EXISTS insertions (
            window TEXT NOT NULL, wm_class TEXT NOT NULL,  -- an X11 id, and its WM_CLASS
            tail TEXT NOT NULL,  -- the last character the insertion left
            at REAL NOT NULL,  -- when (only the newest rows are kept)
            PRIMARY KEY (window, wm_class)
        )""",
    ),
)
INSERTIONS_KEPT = 200  # windows remembered; older rows go
_COLUMNS = "id, started_at, status, text, audio, timings, error, insert_method, app, gaps"
_SALVAGED = "id, started_at, updated_at, status, timings, audio, text, error, insert_method, app"


@dataclass(frozen=True)
class Entry:
    """One dictation as stored. `audio_path` is None when no audio is kept (or it was lost)."""

    id: int
    started_at: float
    status: str
    text: str | None
    audio_path: Path | None
    duration_s: float | None
    timings: dict[str, float]
    error: str | None
    insert_method: str | None
    app: str | None
    # Speech (seconds from the start) that gave no text after every retry; its audio is kept.
    gaps: tuple[tuple[float, float], ...] = ()


class _Damaged(Exception):
    """The database file is not usable as it is."""


def _to_pcm16(samples: np.ndarray) -> bytes:
    a = np.asarray(samples, dtype=np.float32)
    if a.ndim == 2:  # (frames, channels), as sounddevice delivers it
        a = a.mean(axis=1)
    a = np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=-1.0)
    # x * 32768 and back / 32768, the scale libsndfile uses, so an exported WAV reads the same.
    return np.clip(np.rint(a * 32768.0), -32768, 32767).astype("<i2").tobytes()


def _from_pcm16(data: bytes) -> np.ndarray:
    data = data[: len(data) // 2 * 2]  # a write torn mid-sample leaves an odd byte
    return np.frombuffer(data, "<i2").astype(np.float32) * np.float32(1 / 32768)


class Recording:
    """The open, append-only audio file of one dictation; the recorder writes into it."""

    def __init__(self, id: int, path: Path, fd: int) -> None:
        self.id = id
        self.path = path
        self._fd: int | None = fd
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self._fd is None

    def write(self, samples: np.ndarray) -> None:
        """Append a float32 16 kHz mono chunk; it is in the kernel when this returns."""
        data = memoryview(_to_pcm16(samples))
        with self._lock:
            if self._fd is None:
                return  # a chunk racing stop/cancel: the capture is already over
            while data:
                data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        """Flush to the disk and close; safe to call twice."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            try:
                with contextlib.suppress(OSError):  # some file systems cannot sync
                    _sync(fd)
            finally:
                os.close(fd)


def _is_damage(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    if name := getattr(exc, "sqlite_errorname", None):  # Python 3.11+
        return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
    msg = str(exc).lower()  # a locked or full disk is not damage: never move those aside
    return "not a database" in msg or "malformed" in msg


def _sane(row: tuple[Any, ...], audio_dir: Path) -> tuple[Any, ...] | None:
    """A row read from a damaged file with its damaged fields cleared, or None when it is noise
    (a lost page reads as zeros: rows of id 0, strings of NULs)."""
    id_, started, updated, status, timings, audio, *texts = row
    if not (isinstance(id_, int) and id_ > 0 and isinstance(started, float) and status in STATUSES):
        return None
    texts = [v.split("\0")[0] if isinstance(v, str) else None for v in texts]
    if not (isinstance(audio, str) and Path(audio).name == audio and (audio_dir / audio).is_file()):
        audio = None
    try:
        timings = timings if isinstance(json.loads(timings), dict) else "{}"
    except (TypeError, ValueError):
        timings = "{}"
    updated = updated if isinstance(updated, float) else started
    return id_, started, updated, status, timings, audio, *texts


class History:
    """The dictation log and its audio; safe to use from several threads."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else paths.data_dir()
        self.db_path = self.folder / DB_NAME
        self.audio_dir = self.folder / AUDIO_DIR
        self.warning: str | None = None
        self._lock = threading.RLock()
        # Rows this process started: never "unfinished" to it (a dictation in progress, or
        # queued while the model loads, is not a crash to recover).
        self._mine: set[int] = set()
        # Only a folder we create is tightened: a user may point DICTATE_DATA_DIR at their own.
        if not self.folder.is_dir():
            self.folder.mkdir(mode=0o700, parents=True)
            os.chmod(self.folder, 0o700)
        self.audio_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.audio_dir, 0o700)
        try:
            self._conn = self._connect()
        except _Damaged as exc:
            self._conn = self._replace_damaged(str(exc).split("\n")[0][:200])

    def _connect(self) -> sqlite3.Connection:
        # Created 0600 by us; SQLite gives -wal and -shm the mode of the database.
        os.close(os.open(self.db_path, os.O_RDWR | os.O_CREAT | _O_BINARY, 0o600))
        os.chmod(self.db_path, 0o600)
        conn = sqlite3.connect(
            self.db_path, timeout=10, isolation_level=None, check_same_thread=False
        )
        try:
            if (mode := conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]) != "wal":
                log.warning("history database in %s mode, not WAL", mode)  # e.g. a network FS
            conn.execute("PRAGMA synchronous=FULL")
            problems = [r[0] for r in conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise _Damaged("; ".join(problems[:3]))
            self._migrate(conn)
        except BaseException as exc:
            conn.close()  # which also rolls back a half-done migration
            if _is_damage(exc):
                raise _Damaged(str(exc)) from exc
            raise
        conn.create_function("casefold", 1, lambda v: v and v.casefold(), deterministic=True)
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")  # another process may be opening the same file
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            msg = f"{DB_NAME} is from a newer dictate (schema {version}): update dictate"
            raise DictateError(msg)
        for v in range(version, SCHEMA_VERSION):
            for statement in _MIGRATIONS[v]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {v + 1}")
        conn.execute("COMMIT")

    def _replace_damaged(self, reason: str) -> sqlite3.Connection:
        stamp, n = time.strftime("%Y%m%d-%H%M%S"), 1
        aside = self.db_path.with_name(f"{DB_NAME}.damaged-{stamp}")
        while aside.exists():
            n += 1
            aside = self.db_path.with_name(f"{DB_NAME}.damaged-{stamp}-{n}")
        os.rename(self.db_path, aside)
        # The WAL goes with it: left here, SQLite would replay it into the fresh database.
        for suffix in ("-wal", "-shm"):
            if os.path.exists(f"{self.db_path}{suffix}"):
                os.rename(f"{self.db_path}{suffix}", f"{aside}{suffix}")
        conn = self._connect()
        recovered = self._salvage(aside, conn)
        saved = f"; {recovered} dictations were recovered from it" if recovered else ""
        self.warning = (
            f"The history database {self.db_path} was damaged ({reason}): it was kept as "
            f"{aside} and a new one was started{saved}."
        )
        log.warning("%s", self.warning)
        return conn

    def _salvage(self, aside: Path, conn: sqlite3.Connection) -> int:
        """Copy the rows SQLite can still read from the damaged file (read-only, best effort):
        forwards until the first bad page, then backwards from the end."""
        rows: dict[int, tuple[Any, ...]] = {}
        sides = [Path(f"{aside}{suffix}") for suffix in ("-wal", "-shm")]
        made = [side for side in sides if not side.exists()]  # reading creates them
        old = sqlite3.connect(f"{aside.resolve().as_uri()}?mode=ro", uri=True)
        try:
            for order in ("ASC", "DESC"):
                with contextlib.suppress(sqlite3.Error):
                    # Lets SQLite read a file shorter than its header says (a truncated one).
                    old.execute("PRAGMA writable_schema = ON")
                    query = f"SELECT {_SALVAGED} FROM dictations ORDER BY id {order}"
                    for row in old.execute(query):
                        if (good := _sane(row, self.audio_dir)) is not None:
                            rows.setdefault(good[0], good)
        finally:
            old.close()
            for side in made:
                side.unlink(missing_ok=True)
        marks = ", ".join("?" * len(_SALVAGED.split(",")))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f"INSERT INTO dictations ({_SALVAGED}) VALUES ({marks})", rows.values())
        conn.execute("COMMIT")
        return len(rows)

    def start(self, started_at: float | None = None) -> Recording:
        """A row with status "recording" and an empty audio file, before any audio arrives."""
        started_at = time.time() if started_at is None else started_at
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started_at))
        # Not named by id: ids restart in a fresh database after damage, the old files stay.
        path = self.audio_dir / f"{stamp}-{uuid.uuid4().hex[:8]}.pcm"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | _O_BINARY
        fd = os.open(path, flags, 0o600)
        try:
            with self._lock:
                cur = self._conn.execute(
                    "INSERT INTO dictations (started_at, updated_at, status, audio) "
                    "VALUES (?, ?, 'recording', ?)",
                    (started_at, time.time(), path.name),
                )
                assert cur.lastrowid is not None
                self._mine.add(cur.lastrowid)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return Recording(cur.lastrowid, path, fd)

    def _update(self, id: int, **values: Any) -> None:
        values["updated_at"] = time.time()
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self._lock:
            cur = self._conn.execute(
                f"UPDATE dictations SET {assignments} WHERE id = ?", (*values.values(), id)
            )
        if cur.rowcount == 0:
            raise KeyError(id)

    def finish_recording(self, rec: Recording) -> None:
        """The audio is complete (closes the file if still open): status "recorded"."""
        rec.close()
        self._update(rec.id, status="recorded")

    def set_result(
        self,
        id: int,
        text: str,
        timings: dict[str, float],
        status: str = "transcribed",
        *,
        gaps: Sequence[tuple[float, float]] = (),
    ) -> None:
        """Store the text, the time each stage took and the speech that gave no text (`gaps`);
        status one of RESULT_STATUSES. A result replaces an earlier failure: its error goes."""
        if status not in RESULT_STATUSES:
            raise ValueError(f"status must be one of {RESULT_STATUSES}, not {status!r}")
        clean_timings = {str(k): float(v) for k, v in timings.items()}
        clean_gaps = json.dumps([[round(float(a), 3), round(float(b), 3)] for a, b in gaps])
        self._update(
            id,
            status=status,
            text=text,
            timings=json.dumps(clean_timings),
            gaps=clean_gaps,
            error=None,
        )

    def set_inserted(
        self, id: int, ok: bool, method: str, error: str | None = None, *, app: str | None = None
    ) -> None:
        """Record how the text reached the window ("inserted") or why not ("insert_failed")."""
        status = "inserted" if ok else "insert_failed"
        self._update(id, status=status, insert_method=method, error=error, app=app)

    def set_cancelled(self, id: int) -> None:
        """The user cancelled; the row and audio stay until deleted."""
        self._update(id, status="cancelled")

    def set_error(self, id: int, error: str) -> None:
        self._update(id, status="error", error=error)

    def delete(self, id: int) -> None:
        """Remove the row, then its audio file (an orphan file is harmless, a dangling row not)."""
        with self._lock:
            row = self._conn.execute("SELECT audio FROM dictations WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise KeyError(id)
            self._conn.execute("DELETE FROM dictations WHERE id = ?", (id,))
        if row[0]:
            (self.audio_dir / row[0]).unlink(missing_ok=True)

    def _entry(self, row: tuple[Any, ...]) -> Entry:
        id_, started_at, status, text, audio, timings, error, method, app, gaps = row
        # The duration is the file's: right while recording and after a kill, never stale.
        path, duration = self.audio_dir / audio if audio else None, None
        with contextlib.suppress(OSError):
            duration = path.stat().st_size // 2 / SAMPLE_RATE if path else None
        path = path if duration is not None else None
        timings = json.loads(timings or "{}")
        found = tuple((float(a), float(b)) for a, b in json.loads(gaps or "[]"))
        return Entry(
            id_, started_at, status, text, path, duration, timings, error, method, app, found
        )

    def _select(self, where: str, params: tuple[Any, ...] = ()) -> list[Entry]:
        with self._lock:
            cursor = self._conn.execute(f"SELECT {_COLUMNS} FROM dictations {where}", params)
            rows = cursor.fetchall()
        return [self._entry(r) for r in rows]

    def get(self, id: int) -> Entry:
        if not (found := self._select("WHERE id = ?", (id,))):
            raise KeyError(id)
        return found[0]

    def recent(self, n: int = 10) -> list[Entry]:
        """The last `n` dictations, newest first."""
        return self._select("ORDER BY started_at DESC, id DESC LIMIT ?", (n,))

    def search(self, query: str, limit: int = 50) -> list[Entry]:
        """Dictations whose text holds every word of `query` (Unicode case-insensitive)."""
        words = query.casefold().split()
        if not words:
            return self.recent(limit)
        where = " AND ".join(["instr(casefold(text), ?) > 0"] * len(words))
        order = "ORDER BY started_at DESC, id DESC LIMIT ?"
        return self._select(f"WHERE {where} {order}", (*words, limit))

    def unfinished(self) -> list[Entry]:
        """Dictations an earlier run left untranscribed (a crash or kill), oldest first. Rows
        this History started are not listed: they are this run's, in progress or queued."""
        found = self._select("WHERE status IN ('recording', 'recorded') ORDER BY started_at, id")
        with self._lock:
            return [e for e in found if e.id not in self._mine]

    # ---- the last insertion into each window (dictation/spacing.py) ----------------------

    def last_insertion(self, window: str, wm_class: str) -> tuple[str, float] | None:
        """(last character, time) of the newest insertion into that window, if any."""
        with self._lock:
            row = self._conn.execute(
                "SELECT tail, at FROM insertions WHERE window = ? AND wm_class = ?",
                (window, wm_class),
            ).fetchone()
        return (str(row[0]), float(row[1])) if row else None

    def remember_insertion(self, window: str, wm_class: str, tail: str, at: float) -> None:
        """Keep what an insertion into `window` left; only the newest windows are kept."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO insertions (window, wm_class, tail, at) "
                "VALUES (?, ?, ?, ?)",
                (window, wm_class, tail, at),
            )
            self._conn.execute(
                "DELETE FROM insertions WHERE rowid NOT IN "
                "(SELECT rowid FROM insertions ORDER BY at DESC LIMIT ?)",
                (INSERTIONS_KEPT,),
            )

    def load_audio(self, id: int) -> np.ndarray:
        """The dictation's audio as float32 16 kHz mono: whatever reached the disk."""
        with self._lock:
            row = self._conn.execute("SELECT audio FROM dictations WHERE id = ?", (id,)).fetchone()
        if row is None:
            raise KeyError(id)
        if not row[0]:
            raise AudioError(f"dictation {id} has no audio")
        path = self.audio_dir / row[0]
        try:
            return _from_pcm16(path.read_bytes())
        except OSError as exc:
            raise AudioError(f"{path}: the audio of dictation {id} cannot be read: {exc}") from exc

    # ---- retention and listing -----------------------------------------------------------

    def count(self) -> int:
        """How many dictations the history holds."""
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM dictations").fetchone()[0])

    def drop_audio(self, id: int) -> None:
        """Forget the audio of a finished dictation and delete its file; the text stays.
        Refused (DictateError) while the dictation is unfinished: its audio is all there is."""
        with self._lock:
            row = self._conn.execute(
                "SELECT audio, status FROM dictations WHERE id = ?", (id,)
            ).fetchone()
            if row is None:
                raise KeyError(id)
            if row[1] in UNFINISHED:
                raise DictateError(f"dictation {id} is not transcribed yet; its audio is kept")
            if row[0]:  # the row first: an orphan file is harmless, a dangling name not
                self._update(id, audio=None)
        if row[0]:
            (self.audio_dir / row[0]).unlink(missing_ok=True)

    def prune(self, older_than_days: int, now: float | None = None) -> int:
        """Delete the dictations that started more than `older_than_days` days ago, with their
        audio, and audio files no dictation names that are as old (left by a crash or a
        damaged database). 0 keeps everything. Unfinished dictations are never deleted: the
        next start recovers them. Returns how many dictations were deleted."""
        if older_than_days <= 0:
            return 0
        cutoff = (time.time() if now is None else now) - older_than_days * 86400.0
        unfinished = ", ".join(f"'{s}'" for s in UNFINISHED)
        where = f"WHERE started_at < ? AND status NOT IN ({unfinished})"
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                old = self._conn.execute(f"SELECT audio FROM dictations {where}", (cutoff,))
                files = [r[0] for r in old.fetchall()]
                self._conn.execute(f"DELETE FROM dictations {where}", (cutoff,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            named = {r[0] for r in self._conn.execute("SELECT audio FROM dictations")}
        for name in files:
            if name:
                (self.audio_dir / name).unlink(missing_ok=True)
        for path in self.audio_dir.glob("*.pcm"):  # orphans, only once they are as old
            with contextlib.suppress(OSError):
                if path.name not in named and path.stat().st_mtime < cutoff:
                    path.unlink()
        if files:
            log.info(
                "history: deleted %d dictation(s) older than %d days", len(files), older_than_days
            )
        return len(files)

    def close(self) -> None:
        """Close the database (SQLite checkpoints the WAL into it)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
