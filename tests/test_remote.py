"""A transcription server as the engine (dictate.remote), against servers on 127.0.0.1 only.

Fast tests: the address policy, the key store, and the client against small misbehaving
servers (slow, malformed, self-signed TLS, wrong key) with this computer's model (the tiny
random-weight Whisper) as the fallback. Slow tests: the client against `dictate serve` and
against faster-whisper-server (PyPI) on tiny.en, with real speech, a prompt, a server killed
mid-request and the dictation kept in a real history.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import stat
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("starlette")

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dictate import config
from dictate.audio.decode import load_audio
from dictate.audio.gate import SpeechGate
from dictate.engine.options import TranscribeOptions
from dictate.engine.transcriber import Engine
from dictate.errors import Cancelled
from dictate.remote.client import RemoteClient, RemoteError, check_url, flac
from dictate.remote.engine import LOCAL_AFTER_FAILURE, RemoteEngine, connect
from dictate.remote.keys import KeyStore
from dictate.server.app import ServerConfig, create_app
from tests.conftest import wer
from tests.servers import app_on_thread, dictate_serve, faster_whisper_server

SR = 16000
KEY = "remote-test-key"


# ---- the address policy, the audio, the key store -------------------------------------------


def test_https_anywhere_plain_http_only_to_this_machine_or_when_allowed():
    assert check_url("https://gpu.example:8443/v1/") == "https://gpu.example:8443"
    assert check_url("https://gpu.example/v1/audio/transcriptions") == "https://gpu.example"
    assert check_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert check_url("http://localhost:8000/v1") == "http://localhost:8000"
    assert check_url("http://[::1]:8000") == "http://[::1]:8000"
    with pytest.raises(RemoteError, match="unencrypted"):
        check_url("http://192.168.1.20:8000")
    assert check_url("http://192.168.1.20:8000", allow_insecure=True) == "http://192.168.1.20:8000"
    with pytest.raises(RemoteError, match="API key field"):
        check_url("https://me:secret@gpu.example")
    for bad in ("ftp://gpu.example", "gpu.example:8000", "https://", "https://h:99999"):
        with pytest.raises(RemoteError):
            check_url(bad)


def test_audio_goes_as_16k_mono_flac_half_the_size_of_wav(fixtures_dir):
    audio = load_audio(fixtures_dir / "jfk.flac")
    data = flac(audio)
    back, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == SR and back.ndim == 1 and back.size == audio.size
    assert np.max(np.abs(back - audio)) < 1e-3  # 16-bit: lossless up to quantisation
    assert len(data) < audio.size * 2 * 0.8  # smaller than the same audio as 16-bit WAV


def test_key_goes_to_a_0600_file_without_a_keyring_and_never_to_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("DICTATE_CONFIG_DIR", str(tmp_path))
    store = KeyStore(use_keyring=False)
    store.set("https://gpu.example:8000/v1", "sk-very-secret")
    assert stat.S_IMODE(os.stat(store.file).st_mode) == 0o600
    assert store.get("https://gpu.example:8000") == "sk-very-secret"  # same origin
    assert store.get("https://other.example:8000") is None  # never sent to another server
    s = config.Settings(engine="server", server_url="https://gpu.example:8000")
    saved = config.save(s).read_text()
    assert "sk-very-secret" not in saved and '"server_url"' in saved
    store.delete("https://gpu.example:8000")
    assert store.get("https://gpu.example:8000") is None


def test_key_goes_to_the_system_keyring_where_there_is_one(tmp_path):
    import keyring
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1
        stored: dict = {}  # noqa: RUF012

        def get_password(self, service, username):
            return self.stored.get((service, username))

        def set_password(self, service, username, password):
            self.stored[(service, username)] = password

        def delete_password(self, service, username):
            self.stored.pop((service, username), None)

    before = keyring.get_keyring()
    keyring.set_keyring(Memory())
    try:
        store = KeyStore(tmp_path / "keys.json")
        assert store.where == "the system keyring"
        store.set("https://gpu.example", "sk-in-keyring")
        assert Memory.stored == {("dictate", "https://gpu.example"): "sk-in-keyring"}
        assert not store.file.exists()
        assert store.get("https://gpu.example") == "sk-in-keyring"
    finally:
        keyring.set_keyring(before)


def test_dictate_server_cli_sets_the_server_with_the_key_from_stdin_never_in_settings(
    tmp_path, monkeypatch, capsys
):
    """`dictate server use URL --api-key-stdin`: a headless machine's way to the tray's
    Engine → Server…: the same settings, the key in the key store (here the 0600 file)."""
    from dictate.cli import main
    from dictate.remote import keys

    monkeypatch.setenv("DICTATE_CONFIG_DIR", str(tmp_path))
    monkeypatch.setattr(keys, "_keyring", lambda: None)  # a machine without a keyring
    monkeypatch.setattr("sys.stdin", io.StringIO("sk-from-stdin\n"))
    assert main(["server", "use", "https://gpu.example:8000/v1", "--model", "m1",
                 "--api-key-stdin"]) == 0  # fmt: skip
    settings, warnings = config.load()
    assert not warnings and settings.engine == "server"
    assert (settings.server_url, settings.server_model) == ("https://gpu.example:8000", "m1")
    assert "sk-from-stdin" not in config.settings_path().read_text()
    assert KeyStore(use_keyring=False).get("https://gpu.example:8000") == "sk-from-stdin"
    assert stat.S_IMODE(os.stat(tmp_path / "server-keys.json").st_mode) == 0o600
    out = capsys.readouterr()
    assert "sk-from-stdin" not in out.out + out.err
    assert "API key: kept in " in out.out

    # Plain http to another machine is refused unless --insecure; nothing is changed.
    assert main(["server", "use", "http://10.0.0.9:8000"]) == 2
    assert "--insecure" in capsys.readouterr().err
    assert config.load()[0].server_url == "https://gpu.example:8000"
    assert main(["server", "use", "http://10.0.0.9:8000", "--insecure"]) == 0
    assert config.load()[0].server_insecure

    # off: this computer again (the server settings stay for next time); --no-api-key forgets.
    assert main(["server", "off"]) == 0
    assert config.load()[0].engine == "local"
    assert main(["server", "use", "https://gpu.example:8000", "--no-api-key"]) == 0
    assert KeyStore(use_keyring=False).get("https://gpu.example:8000") is None
    capsys.readouterr()
    assert main(["server"]) == 0
    assert "API key: none" in capsys.readouterr().out


# ---- against small servers on a thread --------------------------------------------------------


@pytest.fixture(scope="module")
def local(random_model_dir) -> Engine:
    """This computer's model: the fallback (random weights: the text means nothing)."""
    e = Engine(str(random_model_dir), device="cpu")
    e.load()
    return e


@pytest.fixture(scope="module")
def gate() -> SpeechGate:
    return SpeechGate()


@pytest.fixture(scope="module")
def speech(fixtures_dir) -> np.ndarray:
    return load_audio(fixtures_dir / "LDC93S1.wav")


@dataclass
class Recorded:
    requests: list[dict]


def fake_server(answer, requests: list[dict]) -> Starlette:
    """A server that records what it was sent and answers with `answer(form, seconds)`."""

    async def transcribe(request: Request) -> Response:
        form = await request.form()
        data = await form["file"].read()
        audio, rate = sf.read(io.BytesIO(data), dtype="float32")
        fields = {k: v for k, v in form.items() if k != "file"}
        seconds = audio.shape[0] / rate
        requests.append(
            {
                **fields,
                "rate": rate,
                "seconds": seconds,
                "auth": request.headers.get("authorization"),
            }
        )
        result = answer(fields, seconds)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    return Starlette(routes=[Route("/v1/audio/transcriptions", transcribe, methods=["POST"])])


def remote(url: str, local: Engine, gate: SpeechGate, notices: list, **kw) -> RemoteEngine:
    return RemoteEngine(RemoteClient(url, **kw), gate, lambda: local, notices.append)


def test_dictation_sends_flac_model_language_prompt_and_key(local, gate, speech, caplog):
    import logging

    caplog.set_level(logging.DEBUG)  # httpx and httpcore say everything they do
    sent: list[dict] = []
    app = fake_server(lambda f, s: JSONResponse({"text": " she had your dark suit "}), sent)
    with app_on_thread(app) as url:
        notices: list[str] = []
        engine = remote(url, local, gate, notices, model="large-v3", api_key=KEY)
        options = TranscribeOptions(language="en", prompt="Greasy, ComfyUI")
        result = engine.transcribe(speech, options)
    assert result.text == "she had your dark suit"
    assert result.timings.engine.startswith("server 127.0.0.1") and result.timings.remote_ms > 0
    assert result.speech_s > 1.0 and not notices
    [request] = sent
    assert request["model"] == "large-v3" and request["language"] == "en"
    assert request["prompt"] == "Greasy, ComfyUI" and request["response_format"] == "json"
    assert request["rate"] == SR
    assert result.speech_s < request["seconds"] <= speech.size / SR  # speech, not the edges
    assert request["auth"] == f"Bearer {KEY}"
    assert "POST" in caplog.text and KEY not in caplog.text  # the key is never logged


def test_silence_around_the_speech_is_not_sent(local, gate, speech):
    sent: list[dict] = []
    padded = np.concatenate([np.zeros(3 * SR, np.float32), speech, np.zeros(4 * SR, np.float32)])
    with app_on_thread(fake_server(lambda f, s: JSONResponse({"text": "x"}), sent)) as url:
        remote(url, local, gate, []).transcribe(padded)
    assert sent[0]["seconds"] <= speech.size / SR + 0.6


def test_silence_is_never_sent(local, gate):
    sent: list[dict] = []
    with app_on_thread(fake_server(lambda f, s: JSONResponse({"text": "x"}), sent)) as url:
        engine = remote(url, local, gate, [])
        result = engine.transcribe(np.zeros(3 * SR, np.float32))
        segments = list(engine.transcribe_long([np.zeros(40 * SR, np.float32)]))
    assert result.text == "" and result.no_speech and segments == [] and sent == []


def test_slow_server_times_out_and_this_computer_transcribes(local, gate, speech):
    async def slow(fields, seconds):
        await asyncio.sleep(30)
        return JSONResponse({"text": "too late"})

    with app_on_thread(fake_server(slow, [])) as url:
        notices: list[str] = []
        engine = remote(url, local, gate, notices, timeout_base_s=1.0)
        t0 = time.monotonic()
        result = engine.transcribe(speech)
        took = time.monotonic() - t0
    wait = 1.0 + speech.size / SR  # the timeout grows with the audio
    assert wait - 0.5 < took < wait + 20  # waited the timeout, then the local model ran
    assert result.timings.engine == LOCAL_AFTER_FAILURE
    assert result.timings.remote_ms == pytest.approx(wait * 1000, rel=0.3)
    assert len(notices) == 1 and "did not answer within 4 s" in notices[0]
    assert "this computer's model" in notices[0]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"<html>Bad gateway</html>", "text/html", 200, "not JSON"),
        (b'{"words": "hello"}', "application/json", 200, "no transcription text"),
        (b'{"text": "a", "segments": "no"}', "application/json", 200, "malformed segments"),
        (b'{"text": "a", "segments": [{"start": 0}]}', "application/json", 200, "malformed"),
        (b'{"text":"a","segments":[{"start":2,"end":1,"text":"a"}]}', "application/json", 200,
         "impossible segment times"),
        (b"Internal Server Error", "text/plain", 500, "failed (HTTP 500: Internal Server Error)"),
        (b'{"detail":{"error":{"message":"Unsupported response_format"}}}', "application/json",
         400, "HTTP 400: Unsupported response_format"),
    ],
)  # fmt: skip
def test_malformed_or_failed_answers_fall_back_with_a_clear_notice(
    local, gate, speech, body, content_type, status, says
):
    answer = lambda f, s: Response(body, status_code=status, media_type=content_type)  # noqa: E731
    with app_on_thread(fake_server(answer, [])) as url:
        notices: list[str] = []
        engine = remote(url, local, gate, notices)
        with pytest.raises(RemoteError, match=says.replace("(", r"\(").replace(")", r"\)")):
            engine.client.transcribe(speech, segments=True)
        result = engine.transcribe(speech)
    assert result.timings.engine == LOCAL_AFTER_FAILURE
    assert len(notices) == 1 and says in notices[0] and "\n" not in notices[0]


def test_wrong_key_gives_a_clear_message_and_this_computer_transcribes(local, gate, speech):
    with app_on_thread(create_app(lambda: local, ServerConfig(api_key=KEY))) as url:
        notices: list[str] = []
        engine = remote(url, local, gate, notices, api_key="not-the-key")
        result = engine.transcribe(speech)
        good = remote(url, local, gate, [], api_key=KEY).transcribe(speech)
    assert result.timings.engine == LOCAL_AFTER_FAILURE
    assert notices == [
        "server: 127.0.0.1 refused the API key (HTTP 401: invalid API key); check the key in "
        "Engine → Server…; this dictation uses this computer's model"
    ]
    assert good.timings.engine.startswith("server")


def test_self_signed_tls_is_refused_unless_its_ca_is_trusted(local, gate, speech, tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(tmp_path / "server.pem")
    ca.cert_pem.write_to_path(tmp_path / "ca.pem")
    pem = str(tmp_path / "server.pem")
    with app_on_thread(create_app(lambda: local), certfile=pem, keyfile=pem) as url:
        assert url.startswith("https://")
        with pytest.raises(RemoteError, match="certificate is not trusted"):
            RemoteClient(url).transcribe(speech)
        notices: list[str] = []
        engine = remote(url, local, gate, notices)
        assert engine.transcribe(speech).timings.engine == LOCAL_AFTER_FAILURE
        assert "certificate is not trusted" in notices[0]
        trusted = RemoteClient(url, ca_file=str(tmp_path / "ca.pem")).transcribe(speech)
        assert isinstance(trusted.text, str) and trusted.seconds > 0


def test_files_go_in_pieces_cut_at_pauses_with_progress_and_cancel(local, gate, fixtures_dir):
    sent: list[dict] = []

    def segments(fields, seconds):  # one segment per piece, as long as the piece
        assert fields["response_format"] == "verbose_json"
        n = len(sent)
        return JSONResponse(
            {
                "text": f"piece {n}",
                "segments": [{"start": 0.0, "end": seconds, "text": f"piece {n}"}],
            }
        )

    audio = load_audio(fixtures_dir / "more" / "sonnet001.mp3")  # 53 s
    blocks = [audio[i : i + 10 * SR] for i in range(0, audio.size, 10 * SR)]
    with app_on_thread(fake_server(segments, sent)) as url:
        engine = remote(url, local, gate, [])
        progress: list[float] = []
        found = list(engine.transcribe_long(iter(blocks), on_progress=progress.append))
        assert len(sent) >= 2 and all(r["seconds"] <= 30.0 for r in sent)
        assert [s.text for s in found] == [f"piece {n}" for n in range(1, len(sent) + 1)]
        assert found[0].start == 0.0
        for a, b in itertools.pairwise(found):
            assert b.start == pytest.approx(a.end, abs=0.01)  # offsets: each piece follows on
        assert found[-1].end == pytest.approx(audio.size / SR, abs=0.01)
        assert progress == sorted(progress) and progress[-1] == pytest.approx(audio.size / SR)
        # Cancel after the first piece: nothing more is sent.
        sent.clear()
        cancel = threading.Event()
        pieces = engine.transcribe_long(iter(blocks), cancel=cancel)
        next(pieces)
        cancel.set()
        with pytest.raises(Cancelled):
            list(pieces)
        assert len(sent) == 1


def test_connect_reads_the_settings_and_the_kept_key(tmp_path, local, gate, speech):
    sent: list[dict] = []
    with app_on_thread(fake_server(lambda f, s: JSONResponse({"text": "ok"}), sent)) as url:
        keys = KeyStore(tmp_path / "keys.json", use_keyring=False)
        keys.set(url, KEY)
        s = replace(config.Settings(), engine="server", server_url=url, server_model="m1")
        engine = connect(s, gate, lambda: local, [].append, keys=keys)
        assert engine.transcribe(speech).text == "ok"
    assert sent[0]["auth"] == f"Bearer {KEY}" and sent[0]["model"] == "m1"
    with pytest.raises(RemoteError, match="unencrypted"):
        connect(replace(s, server_url="http://10.0.0.9:8000"), gate, lambda: local, print)


# ---- slow: real servers on tiny.en ------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tiny_en_dir) -> Engine:
    e = Engine(str(tiny_en_dir), device="cpu")
    e.load()
    return e


@pytest.fixture(scope="module", params=["dictate serve", "faster-whisper-server"])
def server(request, tmp_path_factory, tiny_en_dir, embedded_src):
    log = tmp_path_factory.mktemp("server") / "server.log"
    if request.param == "dictate serve":
        proc = dictate_serve(tiny_en_dir, log, key=KEY)
    else:
        pytest.importorskip("faster_whisper_server")
        proc = faster_whisper_server(embedded_src, log)
    try:
        proc.wait_healthy()
        yield proc
    finally:
        proc.stop()


@pytest.mark.slow
def test_real_server_dictation_file_segments_and_prompt(
    server, tiny, gate, fixtures_dir, references
):
    notices: list[str] = []
    # A generous timeout: this checks what comes back, not speed (CI's 2 cores are shared).
    client = RemoteClient(server.url, api_key=KEY, timeout_base_s=300)
    engine = RemoteEngine(client, gate, lambda: tiny, notices.append)
    jfk = load_audio(fixtures_dir / "jfk.flac")
    said = engine.transcribe(jfk)
    assert said.timings.engine.startswith("server") and not notices
    assert wer(references["jfk.flac"], said.text) <= 0.15, said.text
    # A prompt reaches the server: the raw answer hears the word only with it.
    hot = load_audio(fixtures_dir / "hotwords.mp3")
    plain = engine.client.transcribe(hot).text
    prompted = engine.client.transcribe(hot, prompt="ComfyUI").text
    assert "comfyui" not in plain.lower() and "comfyui" in prompted.lower(), (plain, prompted)
    # A file in pieces, with segments at the right places.
    more = fixtures_dir / "more"
    refs = dict(
        line.split("\t")[::2] for line in (more / "references.tsv").read_text().splitlines()[1:]
    )
    sonnet = load_audio(more / "sonnet001.mp3")
    blocks = [sonnet[i : i + 10 * SR] for i in range(0, sonnet.size, 10 * SR)]
    segments = list(engine.transcribe_long(iter(blocks)))
    assert not notices
    assert len(segments) >= 2
    assert all(a.end <= b.start + 0.5 for a, b in itertools.pairwise(segments))
    assert segments[-1].end <= sonnet.size / SR + 0.05
    assert wer(refs["sonnet001.mp3"], " ".join(s.text for s in segments)) <= 0.35


@pytest.mark.slow
def test_dictate_serve_wrong_key_falls_back_to_this_computer_with_the_right_text(
    tiny, gate, fixtures_dir, references, tmp_path
):
    proc = dictate_serve(tiny.model_spec, tmp_path / "serve.log", key=KEY)
    try:
        proc.wait_healthy()
        notices: list[str] = []
        client = RemoteClient(proc.url, api_key="wrong")
        result = RemoteEngine(client, gate, lambda: tiny, notices.append).transcribe(
            load_audio(fixtures_dir / "jfk.flac")
        )
    finally:
        proc.stop()
    assert result.timings.engine == LOCAL_AFTER_FAILURE
    assert "refused the API key (HTTP 401" in notices[0]
    assert wer(references["jfk.flac"], result.text) <= 0.15


@pytest.mark.slow
def test_server_killed_mid_request_falls_back_and_the_audio_is_kept(
    tiny, gate, fixtures_dir, references, tmp_path, embedded_src
):
    """faster-whisper-server is killed while it transcribes; the dictation still reaches the
    history, with this computer's text and its audio."""
    from dictate.dictation.history import History
    from dictate.dictation.session import Session, State

    proc = faster_whisper_server(embedded_src, tmp_path / "fws.log")
    proc.wait_healthy()
    sonnet = load_audio(fixtures_dir / "more" / "sonnet001.mp3")[: 25 * SR]
    seen = threading.Event()

    class Killing(RemoteClient):  # kills the server once the request is on its way
        def transcribe(self, audio, **kw):
            threading.Timer(1.0, lambda: (proc.kill(), seen.set())).start()
            return super().transcribe(audio, **kw)

    notices: list[str] = []
    engine = RemoteEngine(Killing(proc.url), gate, lambda: tiny, notices.append)

    @dataclass
    class Capture:
        audio: np.ndarray
        tail_s: float = 0.0
        truncated: bool = False
        device_lost: str | None = None

    ref: list = []

    class Mic:
        def start(self):
            ref[0].on_audio(sonnet)

        def stop(self, tail_max_s=0.4):
            return Capture(sonnet)

        def cancel(self):
            pass

    class Inserter:
        def insert(self, text):
            return type("Outcome", (), {"ok": True, "method": "test", "error": None, "ms": 1.0})()

    history = History(tmp_path / "data")
    events = []
    session = Session(
        recorder=Mic(),
        transcribe=lambda audio: engine.transcribe(audio, TranscribeOptions()),
        inserter=Inserter(),
        history=history,
        on_event=events.append,
    )
    ref.append(session)
    try:
        session.start()
        session.stop()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not any(
            e.state is State.IDLE and e.text for e in events
        ):
            time.sleep(0.2)
        assert seen.is_set()
        [entry] = history.recent(1)
        assert entry.text and wer(" ".join(_sonnet_words(fixtures_dir)[:60]), entry.text) <= 0.6
        kept = history.load_audio(entry.id)
        assert kept.size == sonnet.size and np.allclose(kept, sonnet, atol=1e-3)
        assert entry.timings["remote_ms"] > 0  # the failed attempt's time is in the breakdown
        assert len(notices) == 1 and "127.0.0.1" in notices[0]
    finally:
        session.shutdown()
        history.close()
        proc.stop()


def _sonnet_words(fixtures_dir: Path) -> list[str]:
    for line in (fixtures_dir / "more" / "references.tsv").read_text().splitlines():
        if line.startswith("sonnet001.mp3"):
            return line.split("\t")[2].split()
    return []


def test_remote_time_is_in_the_latency_breakdown():
    from dictate.dictation.session import Latency

    lat = Latency(encoder_ms=1.234, remote_ms=420.04, engine="server gpu.example")
    assert lat.as_dict()["remote_ms"] == 420.0 and lat.engine == "server gpu.example"
    assert all(isinstance(v, float) for v in lat.as_dict().values())  # what the history keeps


def test_the_app_routes_dictations_and_files_to_the_chosen_server(
    local, gate, speech, tmp_path, monkeypatch
):
    from types import SimpleNamespace

    from dictate.app import App
    from dictate.dictation.session import Event, Latency, State

    monkeypatch.setenv("DICTATE_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("DICTATE_DATA_DIR", str(tmp_path / "data"))
    sent: list[dict] = []
    said: list[str] = []
    with app_on_thread(
        fake_server(lambda f, s: JSONResponse({"text": "from the server"}), sent)
    ) as url:
        KeyStore(use_keyring=False).set(url, KEY)
        app = App(config.Settings(engine="server", server_url=url), say=said.append)
        app.gate, app.options = gate, TranscribeOptions()
        real_holder, app.holder = app.holder, SimpleNamespace(get=lambda: local)
        app.remote = app._connect_server(app.settings)
        try:
            result = app.session.transcribe(speech)  # the session's path for a dictation
            assert result.text == "from the server" and sent[0]["auth"] == f"Bearer {KEY}"
            assert app._file_engine() is app.remote
        finally:
            app.holder = real_holder
            app.shutdown()
    lat = Latency(tail_ms=100, remote_ms=420, engine=result.timings.engine)
    app._on_event(Event(State.IDLE, text="from the server", latency=lat))
    assert f"{result.timings.engine} 420" in said[-1]
    lat = Latency(remote_ms=4012, engine=LOCAL_AFTER_FAILURE)
    app._on_event(Event(State.IDLE, text="local words", latency=lat))
    assert "this computer (server failed) after 4012 trying the server" in said[-1]
    # This computer: no server engine; an unusable address: said, and this computer is used.
    here = App(config.Settings(), say=said.append)
    real_holder, here.holder = here.holder, SimpleNamespace(get=lambda: local)
    here.gate = gate
    insecure = config.Settings(engine="server", server_url="http://10.1.2.3:8000")
    try:
        assert here._connect_server(here.settings) is None
        assert here._connect_server(insecure) is None
        assert "unencrypted" in said[-1] and "using this computer's model" in said[-1]
    finally:
        here.holder = real_holder
        here.shutdown()


def test_segment_times_past_the_end_are_clipped_and_later_ones_dropped(local, gate, speech):
    def answer(fields, seconds):
        return JSONResponse(
            {
                "text": "a b",
                "segments": [
                    {"start": 0.0, "end": seconds + 5, "text": " a "},
                    {"start": seconds + 1, "end": seconds + 3, "text": "b"},
                ],
            }
        )

    with app_on_thread(fake_server(answer, [])) as url:
        reply = RemoteClient(url).transcribe(speech, segments=True)
    assert [(s.start, s.end, s.text) for s in reply.segments] == [
        (0.0, round(speech.size / SR, 3), "a")
    ]


def test_the_file_queue_runs_a_file_through_the_server_with_progress(local, gate, fixtures_dir):
    """The app's own file queue, unchanged, with the server engine: pieces, progress, the
    model and device said for the export."""
    from dictate.files.queue import DONE, FileQueue

    sent: list[dict] = []

    def segments(fields, seconds):
        n = len(sent)
        return JSONResponse(
            {"text": f"p{n}", "segments": [{"start": 0.5, "end": seconds - 0.5, "text": f"p{n}"}]}
        )

    with app_on_thread(fake_server(segments, sent)) as url:
        engine = remote(url, local, gate, [], model="big-model")
        queue = FileQueue(lambda: engine, lambda: TranscribeOptions())
        seen: list[float] = []
        queue.listeners.append(lambda job: seen.append(job.done_s))
        try:
            job = queue.add(fixtures_dir / "more" / "sonnet001.mp3")
            deadline = time.monotonic() + 120
            while not job.finished and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            queue.shutdown()
    assert job.status == DONE, job.error
    assert [s.text for s in job.segments] == [f"p{n}" for n in range(1, len(sent) + 1)]
    assert len(sent) >= 2 and job.done_s == pytest.approx(job.duration_s, abs=0.05)
    assert len(set(seen)) >= len(sent)  # progress moved piece by piece
    assert job.model == "big-model on 127.0.0.1" and job.device == "server"
