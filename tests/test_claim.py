"""Dictation priority across processes (dictate.control.claim): the tray app and `dictate serve`
on one machine. The app holds a flock while it transcribes a dictation; a server process waits
for it before each step and between decoding steps.

The fast tests use two DictationClaim objects in one process (two open files: flock makes them
conflict as two processes would) and a real second process for the crash case; the slow one
runs `dictate serve` on tiny.en as its own process with a long request, and a dictation here.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dictate.app import transcriber
from dictate.control.claim import CLAIM_WITHIN_S, Claiming, DictationClaim
from dictate.engine import priority
from dictate.engine.priority import PriorityLock
from dictate.transcript import DictationResult, Timings

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")


@pytest.fixture
def lock_file(tmp_path: Path) -> Path:
    return tmp_path / "dictation.lock"


@pytest.fixture
def server_side(lock_file: Path):
    """This process's engine locks give way to dictations elsewhere, as in `dictate serve`."""
    others = DictationClaim(lock_file)
    priority.yield_to(others)
    yield others
    priority.yield_to(None)
    others.close()


def test_default_lock_file_is_beside_the_control_socket(tmp_path, monkeypatch):
    monkeypatch.setenv("DICTATE_SOCKET", str(tmp_path / "run" / "control.sock"))
    assert DictationClaim().path == tmp_path / "run" / "dictation.lock"


def test_a_dictation_in_another_process_is_seen_and_a_crashed_one_frees_the_server(lock_file):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from dictate.control.claim import DictationClaim\n"
            f"with DictationClaim(Path({str(lock_file)!r})).held():\n"
            "    print('held', flush=True)\n"
            "    time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        server = DictationClaim(lock_file)
        assert server.wanted()
        waited = threading.Event()
        t = threading.Thread(target=lambda: (server.wait(), waited.set()), daemon=True)
        t.start()
        assert not waited.wait(0.5)  # the server waits while the app dictates
        holder.kill()  # the app crashes mid-dictation: the kernel drops its flock
        holder.wait(10)
        assert waited.wait(2.0)
        assert not server.wanted()
        server.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)


def test_the_app_never_waits_long_for_the_lock(lock_file):
    other_app = DictationClaim(lock_file)  # e.g. a stale second instance holding it
    me = DictationClaim(lock_file)
    with other_app.held():
        t0 = time.perf_counter()
        with me.held():
            took = time.perf_counter() - t0
    assert took < CLAIM_WITHIN_S + 0.5
    # And once free, it takes it, re-entrantly across threads: released by the last one out.
    probe = DictationClaim(lock_file)
    with me.held():
        assert probe.wanted()
        with me.held():
            assert probe.wanted()
        assert probe.wanted()
    assert not probe.wanted()
    for c in (other_app, me, probe):
        c.close()


def _file_work(lock: PriorityLock, steps: int, step_s: float, starts: list[float]) -> None:
    """Long work on an engine lock: one step after another, stepping aside in between (as the
    engine's batched decoding does), each step's start time noted."""
    with lock.hold(), lock.hold():  # nested, as the engine's calls are
        for _ in range(steps):
            starts.append(time.monotonic())
            time.sleep(step_s)
            lock.step_aside()


def _steps_during_a_dictation(lock_file: Path, step_s: float = 0.02) -> tuple[int, int, float]:
    """(steps started while an app dictation held the claim after the first step's grace,
    steps in all, seconds the dictation held it)."""
    lock = PriorityLock()
    starts: list[float] = []
    worker = threading.Thread(target=_file_work, args=(lock, 60, step_s, starts))
    worker.start()
    while len(starts) < 5:
        time.sleep(0.005)
    app = DictationClaim(lock_file)
    with app.held():
        t0 = time.monotonic()
        time.sleep(0.5)  # the app's dictation
        t1 = time.monotonic()
    worker.join(10)
    app.close()
    during = [s for s in starts if t0 + step_s + 0.01 < s < t1]
    return len(during), len(starts), t1 - t0


def test_server_work_pauses_between_steps_while_the_app_dictates(lock_file, server_side):
    during, total, held = _steps_during_a_dictation(lock_file)
    assert total == 60  # it finished afterwards, nothing lost
    assert during == 0, f"{during} steps started during a {held:.2f} s dictation"


def test_without_the_shared_lock_server_work_runs_through_the_dictation(lock_file):
    """The same work in a process that does not yield (no `yield_to`): it runs on."""
    during, total, _ = _steps_during_a_dictation(lock_file)
    assert total == 60 and during >= 5, during


def test_a_new_request_waits_for_a_dictation_elsewhere(lock_file, server_side):
    lock = PriorityLock()
    app = DictationClaim(lock_file)
    got: list[float] = []
    with app.held():
        t0 = time.monotonic()

        def take() -> None:
            with lock.hold(urgent=True):  # a server's own short request: urgent in-process
                got.append(time.monotonic() - t0)

        t = threading.Thread(target=take)
        t.start()
        time.sleep(0.3)
        assert got == []
    t.join(5)
    assert got and got[0] >= 0.3
    app.close()


class _AppDictations:
    """The app's side for the stress test: claims again and again; `state` is (claim number,
    held), set only while the flock is really held (after taking it, before letting go)."""

    def __init__(self, lock_file: Path, times: int) -> None:
        self.claim = DictationClaim(lock_file)
        self.times = times
        self.state = (0, False)
        self.claimed = 0

    def run(self) -> None:
        for n in range(1, self.times + 1):
            with self.claim.held():
                self.claimed += self.claim._held is not None
                self.state = (n, True)
                time.sleep(0.03)
                self.state = (n, False)
            time.sleep(0.01)


def _stress(lock_file: Path) -> tuple[int, int, int]:
    """Two server workers (as ServerConfig.workers) on one engine lock: a hold per window and
    a step_aside between decoding steps; the app claims 30 times meanwhile. Returns (waits
    broken: a hold or step_aside that passed although one claim was held from before the
    call until after it; steps; claims that took the flock)."""
    lock = PriorityLock()
    app = _AppDictations(lock_file, 30)
    broken, steps = [0], [0]

    def broke(before: tuple[int, bool], after: tuple[int, bool]) -> None:
        if before[1] and before == after:
            broken[0] += 1

    def worker(urgent: bool) -> None:
        while app_thread.is_alive():
            before = app.state
            with lock.hold(urgent):  # a window (a short request's clip: urgent in-process)
                broke(before, app.state)
                for _ in range(3):  # a batch's decoding steps
                    time.sleep(0.002)
                    steps[0] += 1
                    before = app.state
                    lock.step_aside()
                    broke(before, app.state)

    app_thread = threading.Thread(target=app.run)
    app_thread.start()
    workers = [threading.Thread(target=worker, args=(u,)) for u in (False, True)]
    for w in workers:
        w.start()
    app_thread.join(60)
    for w in workers:
        w.join(10)
    assert not any(w.is_alive() for w in workers), "a server worker is stuck"
    app.claim.close()
    return broken[0], steps[0], app.claimed


def test_stress_two_server_workers_never_run_through_a_dictation(lock_file, server_side):
    broken, steps, claimed = _stress(lock_file)
    assert claimed >= 25  # the app got its lock (a probe may make it go without, rarely)
    assert steps > 30 and broken == 0, (broken, steps)


def test_stress_without_the_shared_lock_workers_run_through_dictations(lock_file):
    broken, steps, _ = _stress(lock_file)
    assert broken > 5, (broken, steps)


class _Engine:
    """Records whether a dictation elsewhere was visible while it transcribed."""

    def __init__(self, probe: DictationClaim) -> None:
        self.probe = probe
        self.seen: list[bool] = []
        self.loaded = True
        self.gate = object()

    def transcribe(self, audio, options=None) -> DictationResult:
        self.seen.append(self.probe.wanted())
        return DictationResult("words", Timings(), 1.0)

    def transcribe_long(self, blocks, options=None, **kwargs):
        self.seen.append(self.probe.wanted())
        return iter(())


class _Holder:
    def __init__(self, engine: _Engine) -> None:
        self.engine = engine

    def get(self) -> _Engine:
        return self.engine


def test_the_app_holds_the_claim_only_while_this_computer_transcribes_a_dictation(lock_file):
    from dictate.engine.options import TranscribeOptions

    probe = DictationClaim(lock_file)
    engine = _Engine(probe)
    claim = DictationClaim(lock_file)
    audio = np.zeros(16000, np.float32)
    run = transcriber(_Holder(engine), TranscribeOptions, claim=claim)  # type: ignore[arg-type]
    assert run(audio).text == "words"
    assert engine.seen == [True] and not probe.wanted()

    # A server engine (perhaps `dictate serve` on this machine): no claim, or it would wait
    # for the very dictation it is asked to transcribe.
    class Server:
        def transcribe(self, audio, options):
            engine.seen.append(probe.wanted())
            return DictationResult("far", Timings(), 1.0)

    remote = transcriber(_Holder(engine), TranscribeOptions, lambda: Server(), claim)  # type: ignore[arg-type]
    assert remote(audio).text == "far" and engine.seen[-1] is False

    # Live steps and a server's local fallback go through Claiming: dictations claim, files not.
    wrapped = Claiming(engine, claim)
    wrapped.transcribe(audio)
    list(wrapped.transcribe_long([audio]))
    assert engine.seen[-2:] == [True, False]
    assert wrapped.gate is engine.gate
    for c in (probe, claim):
        c.close()


# ---- slow: `dictate serve` in its own process, a dictation in this one ------------------------


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (Linux /proc)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def dictation_engine(tiny_en_dir):
    from dictate.engine.transcriber import Engine

    e = Engine(str(tiny_en_dir), device="cpu")
    e.load()
    e.warmup()
    return e


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads CPU time from /proc")
@pytest.mark.parametrize("shared", [True, False], ids=["shared-lock", "separate-locks"])
def test_dictate_serve_pauses_a_long_request_while_the_app_dictates(
    shared, tiny_en_dir, dictation_engine, fixtures_dir, references, tmp_path
):
    """The app (this process) dictates while `dictate serve` (another process) transcribes ten
    minutes of speech. Sharing the lock file, the server's CPU use stops within one decoding
    step of the dictation's start and stays stopped until it ends; then the request finishes
    with the right text. With separate lock files (no shared lock) it runs on throughout."""
    import httpx
    import soundfile as sf

    from dictate.audio.decode import load_audio
    from tests.conftest import wer
    from tests.joined_speech import joined
    from tests.servers import dictate_serve

    app_dir, server_dir = tmp_path / "app", tmp_path / ("app" if shared else "server")
    for d in (app_dir, server_dir):
        d.mkdir(mode=0o700, exist_ok=True)
    parts = [joined(fixtures_dir, n) for n in ("sonnet-and-clips", "long-pauses", "reversed")]
    long_audio = np.concatenate([p.audio for p in parts] * 2)
    reference = " ".join([p.reference for p in parts] * 2)
    upload = tmp_path / "long.flac"
    sf.write(upload, long_audio, 16000, format="FLAC", subtype="PCM_16")
    speech = load_audio(fixtures_dir / "jfk.flac")
    t0 = time.perf_counter()
    dictation_engine.transcribe(speech)
    alone_s = time.perf_counter() - t0

    env = {"DICTATE_SOCKET": str(server_dir / "control.sock")}
    server = dictate_serve(tiny_en_dir, tmp_path / "serve.log", env=env)
    answer: list[httpx.Response | httpx.HTTPError] = []
    try:
        server.wait_healthy()
        pid = server.proc.pid

        def send() -> None:
            try:
                with open(upload, "rb") as f:
                    answer.append(
                        httpx.post(
                            server.url + "/v1/audio/transcriptions",
                            files={"file": ("long.flac", f, "audio/flac")},
                            data={"response_format": "verbose_json"},
                            timeout=900,
                        )
                    )
            except httpx.HTTPError as exc:  # the server stopped at the end of the test
                answer.append(exc)

        request = threading.Thread(target=send, daemon=True)
        before = _cpu_s(pid)
        request.start()
        while _cpu_s(pid) - before < 1.5:  # the server is deep in the file's decoding
            assert request.is_alive(), "the request ended before the test could dictate"
            time.sleep(0.05)

        claim = DictationClaim(app_dir / "dictation.lock")
        grace_s, hold_s = 4.0, 10.0  # grace: the server's step in flight (a batch's encoder)
        samples: list[tuple[float, float]] = []  # (time, server CPU), for the report
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.05):
                samples.append((time.monotonic(), _cpu_s(pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        with claim.held():  # as App's transcriber() holds it for this computer's model
            start = time.monotonic()
            sampler.start()
            t0 = time.perf_counter()
            text = dictation_engine.transcribe(speech).text
            busy_s = time.perf_counter() - t0
            time.sleep(max(0.0, grace_s - (time.monotonic() - start)))
            cpu_after_grace = _cpu_s(pid)
            time.sleep(max(0.0, hold_s - (time.monotonic() - start)))
            cpu_at_end = _cpu_s(pid)
            still_running = request.is_alive()
        sampling.set()
        sampler.join(5)
        claim.close()
        ran_s = cpu_at_end - cpu_after_grace
        # When the server last worked (≥ 40 % of a core over 50 ms) after the dictation began.
        working = [t for (t, c), (_, c0) in zip(samples[1:], samples) if c - c0 >= 0.02]
        last_s = (working[-1] - start) if working else 0.0
        print(
            f"\nshared={shared}: dictation {busy_s:.2f} s (alone {alone_s:.2f} s); server CPU "
            f"{ran_s:.2f} s in the dictation's last {hold_s - grace_s:.0f} s; it last worked "
            f"{last_s:.2f} s after the dictation began (held {hold_s:.0f} s)"
        )
        assert wer(references["jfk.flac"], text) <= 0.15
        assert still_running, "the long request finished during the dictation: make it longer"
        if not shared:
            assert ran_s > 0.5  # the server worked on through the dictation
            return
        assert ran_s < 0.15, f"the server used {ran_s:.2f} s of CPU during the dictation"
        request.join(900)
        [done] = answer
        assert isinstance(done, httpx.Response) and done.status_code == 200, done
        assert wer(reference, done.json()["text"]) <= 0.3  # nothing lost by pausing
    finally:
        server.kill()
        server.stop()
