"""`dictate serve`: the OpenAI transcription API on this machine's engine, on 127.0.0.1 only.

The fast tests run the app on a thread with the tiny random-weight Whisper (real decoding, text
that means nothing); the slow ones start `dictate serve` itself on tiny.en and talk to it with
OpenAI's own client.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("starlette")
openai = pytest.importorskip("openai")

from dictate.commands.serve import api_key_for, is_loopback  # noqa: E402
from dictate.engine.transcriber import Engine  # noqa: E402
from dictate.server.app import ServerConfig, create_app  # noqa: E402
from tests.conftest import wer  # noqa: E402
from tests.servers import app_on_thread, dictate_serve  # noqa: E402

SR = 16000
KEY = "test-key-5f1c"


@pytest.fixture(scope="module")
def engine(random_model_dir) -> Engine:
    e = Engine(str(random_model_dir), device="cpu")
    e.load()
    return e


def wav_bytes(seconds: float) -> bytes:
    t = np.arange(int(seconds * SR)) / SR
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR, format="WAV")
    return buffer.getvalue()


def client(url: str, key: str | None = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key or "none", max_retries=0, timeout=120)


def test_health_is_503_while_the_model_loads_then_200(engine):
    ready: list[Engine] = []
    with app_on_thread(create_app(lambda: ready[0] if ready else None)) as url:
        assert httpx.get(url + "/health").status_code == 503
        answer = httpx.post(url + "/v1/audio/transcriptions", files={"file": wav_bytes(1)})
        assert answer.status_code == 503 and "loading" in answer.json()["error"]["message"]
        ready.append(engine)
        health = httpx.get(url + "/health")
        assert health.status_code == 200 and health.json()["model"] == engine.info.model


def test_openai_client_reads_json_text_and_verbose_json(engine, fixtures_dir):
    with app_on_thread(create_app(lambda: engine, ServerConfig(api_key=KEY))) as url:
        c = client(url)
        with open(fixtures_dir / "LDC93S1.wav", "rb") as f:
            audio = f.read()
        as_json = c.audio.transcriptions.create(model="whisper-1", file=("a.wav", audio))
        assert isinstance(as_json.text, str)
        as_text = c.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", audio), response_format="text"
        )
        assert isinstance(as_text, str)
        verbose = c.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", audio), response_format="verbose_json"
        )
        assert verbose.duration == pytest.approx(2.92, abs=0.05)
        assert all(0 <= s.start <= s.end <= verbose.duration + 0.01 for s in verbose.segments)
        models = c.models.list()
        assert [m.id for m in models.data] == [engine.info.model]


def test_missing_or_wrong_token_is_401_and_the_right_one_passes(engine):
    with app_on_thread(create_app(lambda: engine, ServerConfig(api_key=KEY))) as url:
        for key in (None, "wrong"):
            with pytest.raises(openai.AuthenticationError) as caught:
                client(url, key).audio.transcriptions.create(
                    model="whisper-1", file=("a.wav", wav_bytes(1))
                )
            assert caught.value.status_code == 401
        no_header = httpx.post(url + "/v1/audio/transcriptions", files={"file": wav_bytes(1)})
        assert no_header.status_code == 401 and "API key" in no_header.json()["error"]["message"]
        assert httpx.get(url + "/v1/models").status_code == 401
        ok = client(url).audio.transcriptions.create(
            model="whisper-1", file=("a.wav", wav_bytes(1))
        )
        assert isinstance(ok.text, str)


def test_oversize_upload_is_413_declared_or_streamed(engine):
    config = ServerConfig(max_bytes=64 * 1024)
    with app_on_thread(create_app(lambda: engine, config)) as url:
        with pytest.raises(openai.APIStatusError) as caught:
            client(url).audio.transcriptions.create(
                model="whisper-1",
                file=("big.wav", wav_bytes(4)),  # 128 KB
            )
        assert caught.value.status_code == 413
        # No Content-Length (chunked): stopped while the body streams in.
        boundary = "b0undary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()

        def body():
            yield head
            for _ in range(40):
                yield b"\0" * 8192

        streamed = httpx.post(
            url + "/v1/audio/transcriptions",
            content=body(),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert streamed.status_code == 413


def test_audio_longer_than_the_limit_is_413(engine):
    with app_on_thread(create_app(lambda: engine, ServerConfig(max_audio_s=2.0))) as url:
        answer = httpx.post(
            url + "/v1/audio/transcriptions", files={"file": ("a.wav", wav_bytes(3))}
        )
        assert answer.status_code == 413
        assert "3 s long" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("name", "data"),
    [("notes.wav", b"this is not audio at all" * 40), ("empty.mp3", b"")],
)
def test_garbage_audio_is_400_with_a_one_line_reason(engine, name, data):
    with app_on_thread(create_app(lambda: engine)) as url:
        with pytest.raises(openai.BadRequestError) as caught:
            client(url).audio.transcriptions.create(model="whisper-1", file=(name, data))
        message = caught.value.body["message"]
        assert message.startswith(name + ":") and "\n" not in message, message
        assert "/tmp" not in message  # the client's name, not the server's temp path


class Held:
    """The real engine behind a gate the test opens: keeps requests in flight."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.gate, self.entered = engine, threading.Event(), threading.Semaphore(0)
        self.loaded, self.info = True, engine.info

    def transcribe(self, audio, options):
        self.entered.release()
        self.gate.wait(30)
        return self.engine.transcribe(audio, options)


def test_full_queue_answers_503_with_retry_after_and_health_still_answers(engine):
    held = Held(engine)
    config = ServerConfig(workers=1, queue=1, retry_after_s=7)
    with app_on_thread(create_app(lambda: held, config)) as url, ThreadPoolExecutor(2) as pool:

        def post():
            return httpx.post(
                url + "/v1/audio/transcriptions",
                files={"file": ("a.wav", wav_bytes(1))},
                timeout=60,
            )

        running = pool.submit(post)
        assert held.entered.acquire(timeout=30)  # one on the engine
        waiting = pool.submit(post)  # one in the queue
        deadline = time.monotonic() + 10
        while httpx.get(url + "/health").json()["busy"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        refused = post()
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "7"
        assert httpx.get(url + "/health").status_code == 200
        held.gate.set()
        assert running.result(60).status_code == 200
        assert waiting.result(60).status_code == 200


def test_one_log_line_per_request_without_the_key(engine, caplog):
    caplog.set_level(logging.INFO, logger="dictate.server")
    with app_on_thread(create_app(lambda: engine, ServerConfig(api_key=KEY))) as url:
        headers = {"authorization": f"Bearer {KEY}"}
        httpx.get(url + "/health")
        httpx.post(url + "/v1/audio/transcriptions", files={"file": ("a.wav", wav_bytes(1))})
        httpx.post(
            url + "/v1/audio/transcriptions",
            files={"file": ("x.wav", b"junk" * 100)},
            headers=headers,
        )
        httpx.post(
            url + "/v1/audio/transcriptions",
            files={"file": ("a.wav", wav_bytes(1))},
            data={"response_format": "srt"},
            headers=headers,
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "dictate.server"]
    assert len(lines) == 4, lines
    assert " GET /health 200 " in lines[0]
    assert " 401 " in lines[1] and "no API key" in lines[1]
    assert " 400 " in lines[2] and "x.wav: " in lines[2]
    assert " 200 " in lines[3] and "audio 1.0 s srt" in lines[3]
    assert not any(KEY in line for line in lines)


def test_a_wider_address_gets_a_generated_key_loopback_may_go_without():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert api_key_for("127.0.0.1", None, None) == (None, False)
    assert api_key_for("127.0.0.1", None, "from-env") == ("from-env", False)
    assert api_key_for("0.0.0.0", "given", "env") == ("given", False)
    key, generated = api_key_for("0.0.0.0", None, None)
    assert generated and len(key) >= 32 and key != api_key_for("0.0.0.0", None, None)[0]


def test_serve_on_a_wider_address_prints_a_generated_key_once_and_a_set_one_never(
    monkeypatch, capsys
):
    from dictate.cli import main
    from dictate.commands import serve
    from dictate.engine import priority

    def not_here(host: str, port: int):
        raise OSError("the test does not open a port")

    monkeypatch.setattr(serve, "_listen", not_here)
    monkeypatch.setattr(priority, "_others", None)  # run() sets it for the server's process
    monkeypatch.delenv("DICTATE_API_KEY", raising=False)
    assert main(["serve", "--model", "x", "--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "clients need this API key" in line]
    assert len(said) == 1 and "not stored" in said[0]
    assert len(said[0].rsplit(" ", 1)[1]) >= 32
    assert "cannot listen on 0.0.0.0" in err
    monkeypatch.setenv("DICTATE_API_KEY", "chosen-key-4d2")
    assert main(["serve", "--model", "x", "--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err
    assert "API key" not in err and "chosen-key-4d2" not in err


# ---- slow: `dictate serve` on tiny.en, OpenAI's client -----------------------------------------


@pytest.fixture(scope="module")
def served(tiny_en_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    server = dictate_serve(tiny_en_dir, log, "--queue", "40", key=KEY)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_dictate_serve_every_format_parses_with_openai_client(served, fixtures_dir, references):
    import srt
    import webvtt

    c = client(served.url)
    audio = (fixtures_dir / "jfk.flac").read_bytes()
    reference = references["jfk.flac"]

    def ask(fmt: str):
        return c.audio.transcriptions.create(
            model="whisper-1", file=("jfk.flac", audio), response_format=fmt
        )

    assert wer(reference, ask("json").text) <= 0.15
    assert wer(reference, ask("text")) <= 0.15
    cues = list(srt.parse(ask("srt")))
    assert cues and wer(reference, " ".join(c.content for c in cues)) <= 0.15
    vtt = webvtt.from_buffer(io.StringIO(ask("vtt")))
    assert len(vtt.captions) == len(cues)
    verbose = ask("verbose_json")
    assert verbose.language == "en" and verbose.duration == pytest.approx(11.0, abs=0.1)
    starts = [s.start for s in verbose.segments]
    assert starts == sorted(starts) and verbose.segments[-1].end <= 11.05
    assert wer(reference, " ".join(s.text for s in verbose.segments)) <= 0.15
    with pytest.raises(openai.AuthenticationError):
        client(served.url, "wrong").audio.transcriptions.create(
            model="whisper-1", file=("jfk.flac", audio)
        )


@pytest.mark.slow
def test_load_20_clients_by_5_requests_no_failure_and_health_answers(served, fixtures_dir):
    """Bounded: 100 requests of real speech on loopback; /health polled all the while."""
    from benchmarks.server_load import run_load

    clips = [fixtures_dir / "LDC93S1.wav", fixtures_dir / "more" / "austen_0880.wav"]
    result = run_load(served.url, KEY, clips, clients=20, per_client=5, deadline_s=900)
    assert result.failures == [], result.failures[:3]
    assert len(result.latencies) == 100
    assert result.health_checks >= 3 and result.health_failures == 0
    assert result.health_worst_s < 5.0  # a hang guard: it answers while the engine works


def test_serve_says_when_the_extra_is_missing(monkeypatch, capsys):
    import builtins
    import sys as _sys

    from dictate.cli import main

    real = builtins.__import__

    def no_uvicorn(name, *args, **kwargs):
        if name == "uvicorn":
            raise ImportError("No module named 'uvicorn'", name="uvicorn")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    monkeypatch.delitem(_sys.modules, "uvicorn", raising=False)
    assert main(["serve", "--model", "x"]) == 1
    assert "pip install 'dictate[server]'" in capsys.readouterr().err


def test_serve_exits_with_the_reason_when_the_model_cannot_load(tmp_path):
    import subprocess
    import sys

    missing = tmp_path / "no-such-model"
    done = subprocess.run(
        [sys.executable, "-m", "dictate", "serve", "--model", str(missing), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "listening on http://127.0.0.1:" in done.stderr
    assert f"cannot load the model: model folder {missing} does not exist" in done.stderr


def test_a_language_the_model_cannot_do_is_400_with_the_reason(engine, fixtures_dir):
    with app_on_thread(create_app(lambda: engine)) as url:
        files = {"file": ("a.wav", (fixtures_dir / "LDC93S1.wav").read_bytes())}
        other = httpx.post(url + "/v1/audio/transcriptions", files=files, data={"language": "de"})
        junk = httpx.post(url + "/v1/audio/transcriptions", files=files, data={"language": "?!"})
    assert other.status_code == 400 and "English-only" in other.json()["error"]["message"]
    assert junk.status_code == 400 and "not a language code" in junk.json()["error"]["message"]
