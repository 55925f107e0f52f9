"""The ASGI app behind `dictate serve`: OpenAI's transcription API on this machine's engine.

Requests are decoded by dictate.audio.decode and transcribed by the engine's public methods on a
small thread pool; the engine's own lock runs one inference at a time. Admission is bounded: at
most `workers + queue` requests are in the building, the next gets 503 with Retry-After at once,
before its body is read. Sizes are bounded twice: the upload's bytes (413 as soon as the body
passes the limit, whatever Content-Length claimed) and the audio's seconds (413 from the header,
and again while decoding, for a header that lies).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dictate.errors import AudioError, DictateError, ModelError
from dictate.server.formats import MEDIA_TYPES, RESPONSE_FORMATS, joined, render
from dictate.transcript import Segment

log = logging.getLogger("dictate.server")

SAMPLE_RATE = 16000
LANGUAGE = re.compile(r"[A-Za-z][A-Za-z_-]{1,19}")  # "en", "pt-BR", "english"
SHORT_S = 30.0  # up to one Whisper window: the engine's fast dictation path serves json/text


@dataclass(frozen=True)
class ServerConfig:
    api_key: str | None = None  # None: no token asked (only allowed on loopback)
    max_bytes: int = 25 * 1024 * 1024  # OpenAI's own upload limit
    max_audio_s: float = 2 * 3600.0
    workers: int = 2  # decoding of the next request overlaps the current inference
    queue: int = 8  # requests waiting beyond the workers; more get 503
    retry_after_s: int = 5


class Rejected(Exception):
    """A request refused with an HTTP status and a one-line reason."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


class TooLarge(Rejected):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit // (1024 * 1024)} MiB")


def error(status: int, message: str, kind: str = "invalid_request_error", **headers: str) -> Any:
    """OpenAI's error shape, so its clients show the message."""
    body = {"error": {"message": message, "type": kind, "code": status}}
    return JSONResponse(body, status_code=status, headers=headers or None)


class Guard:
    """Pure ASGI wrapper: the request-size limit, and one log line per request."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        note: dict[str, Any] = scope.setdefault("state", {}).setdefault("dictate", {})
        status = [0]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            declared = int(dict(scope["headers"]).get(b"content-length", b"0"))
        except ValueError:
            declared = 0
        if declared > self.max_bytes:
            note["reason"] = str(TooLarge(self.max_bytes))
            await error(413, note["reason"])(scope, receive, sending)
        else:
            seen = 0

            async def counted() -> Message:
                nonlocal seen
                message = await receive()
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge(self.max_bytes)
                return message

            await self.app(scope, counted, sending)
        took = time.perf_counter() - t0
        client = scope.get("client") or ("-", 0)
        extra = ""
        if "audio_s" in note:
            extra += f" audio {note['audio_s']:.1f} s"
        if "format" in note:
            extra += f" {note['format']}"
        if "reason" in note:
            extra += f" ({note['reason']})"
        log.info(
            "%s %s %s %d %.3f s%s",
            client[0],
            scope["method"],
            scope["path"],
            status[0],
            took,
            extra,
        )


class Transcriber:
    """The blocking part of a request: temp file → probe → decode → engine → body."""

    def __init__(self, engine: Any, config: ServerConfig) -> None:
        self.engine, self.config = engine, config

    def run(self, upload: Path, fmt: str, language: str | None, prompt: str | None) -> str:
        from dictate.audio.decode import probe, stream_audio
        from dictate.engine.options import TranscribeOptions

        duration = probe(upload).duration_s  # None: a stream that does not say its length
        if duration is not None:
            self._check_length(duration)
        options = TranscribeOptions(language=language or None, prompt=prompt or None)
        segments: list[Segment] = []
        if duration is not None and duration <= SHORT_S and fmt in ("json", "text"):
            audio = np.concatenate([np.zeros(0, np.float32), *self._blocks(stream_audio(upload))])
            text = self.engine.transcribe(audio, options).text
        else:
            segments = list(
                self.engine.transcribe_long(self._blocks(stream_audio(upload)), options)
            )
            text = joined(segments)
        english = self.engine.info.english_only
        shown = language or ("en" if english else "")
        if duration is None:
            duration = segments[-1].end if segments else 0.0
        return render(fmt, text, segments, duration_s=duration, language=shown)

    def _check_length(self, seconds: float) -> None:
        if seconds > self.config.max_audio_s:
            raise Rejected(
                413,
                f"audio is {seconds:.0f} s long; this server takes at most "
                f"{self.config.max_audio_s:.0f} s per request",
            )

    def _blocks(self, blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """The decoder's blocks, stopped with 413 past the length limit (a header may lie)."""
        samples = 0
        for block in blocks:
            samples += block.size
            self._check_length(samples / SAMPLE_RATE)
            yield block


def _safe_name(filename: str | None) -> str:
    """The uploaded file's base name, safe as a temp file name; error messages show it."""
    base = os.path.basename((filename or "").replace("\\", "/"))
    base = re.sub(r"[^\w.\-]", "_", base)[:80].lstrip(".")
    return base or "audio"


def create_app(
    engine: Callable[[], Any | None],
    config: ServerConfig | None = None,
    *,
    model_id: Callable[[], str] | None = None,
) -> ASGIApp:
    """The app. `engine()` gives the loaded Engine, or None while it loads (/health says 503)."""
    config = config or ServerConfig()
    pool = ThreadPoolExecutor(config.workers, thread_name_prefix="dictate-serve")
    busy = [0]  # requests admitted and not finished; touched only on the event loop

    def authorised(request: Request) -> bool:
        if config.api_key is None:
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(
            token.strip().encode(), config.api_key.encode()
        )

    def unauthorised(request: Request) -> Response:
        note = request.scope["state"]["dictate"]
        given = "authorization" in request.headers
        note["reason"] = "invalid API key" if given else "no API key"
        message = (
            "invalid API key" if given else "this server needs an API key (Authorization: Bearer …)"
        )
        return error(401, message, "authentication_error")

    def current_model() -> str:
        if model_id is not None:
            return model_id()
        e = engine()
        return e.info.model if e is not None else "loading"

    async def health(request: Request) -> Response:
        e = engine()
        if e is None or not e.loaded:
            return JSONResponse({"status": "loading"}, status_code=503)
        return JSONResponse({"status": "ok", "model": current_model(), "busy": busy[0]})

    async def models(request: Request) -> Response:
        if not authorised(request):
            return unauthorised(request)
        m = {"id": current_model(), "object": "model", "created": 0, "owned_by": "dictate"}
        return JSONResponse({"object": "list", "data": [m]})

    async def transcriptions(request: Request) -> Response:
        note = request.scope["state"]["dictate"]
        if not authorised(request):
            return unauthorised(request)
        e = engine()
        if e is None or not e.loaded:
            note["reason"] = "model loading"
            return error(503, "the model is still loading", "server_error", **_retry(config))
        if busy[0] >= config.workers + config.queue:
            note["reason"] = "queue full"
            return error(
                503, "the server is busy; try again shortly", "server_error", **_retry(config)
            )
        busy[0] += 1
        folder = tempfile.mkdtemp(prefix="dictate-serve-")
        try:
            return await _transcribe(request, e, note, Path(folder))
        except Rejected as exc:
            note["reason"] = exc.message
            return error(exc.status, exc.message, exc.kind)
        finally:
            busy[0] -= 1
            shutil.rmtree(folder, ignore_errors=True)

    async def _transcribe(request: Request, e: Any, note: dict, folder: Path) -> Response:
        try:
            form = await request.form(max_files=1, max_fields=20)
        except MultiPartException as exc:
            raise Rejected(400, f"not a multipart form: {exc}") from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Rejected(400, "no audio: send it as the multipart file field 'file'")
        fmt = str(form.get("response_format") or "json")
        note["format"] = fmt
        if fmt not in RESPONSE_FORMATS:
            raise Rejected(400, f"response_format must be one of {', '.join(RESPONSE_FORMATS)}")
        language = _field(form, "language", 20)
        if language is not None and not LANGUAGE.fullmatch(language):
            raise Rejected(400, f"language {language!r} is not a language code (e.g. en, de)")
        prompt = _field(form, "prompt", 4000)
        path = folder / _safe_name(upload.filename)
        with open(path, "wb") as out:
            while chunk := await upload.read(1 << 20):
                out.write(chunk)
        await upload.close()
        if path.stat().st_size == 0:
            raise Rejected(400, f"{path.name}: empty file (0 bytes)")
        try:
            from dictate.audio.decode import probe

            note["audio_s"] = probe(path).duration_s
        except AudioError:
            pass  # said below, from the decoder, with the same one-line reason
        job = Transcriber(e, config)
        loop = asyncio.get_running_loop()
        try:
            body = await loop.run_in_executor(pool, job.run, path, fmt, language, prompt)
        except Rejected:
            raise
        except (AudioError, ModelError) as exc:  # the client's name for it, not the temp path
            raise Rejected(400, _oneline(exc).replace(str(path), path.name)) from None
        except ValueError as exc:  # transformers' word for a language it does not know
            raise Rejected(400, _oneline(exc)[:300]) from None
        except DictateError as exc:
            raise Rejected(500, _oneline(exc), "server_error") from None
        except Exception as exc:  # a bug: logged with its traceback, one line to the client
            log.exception("transcription failed")
            raise Rejected(500, f"internal error: {type(exc).__name__}", "server_error") from None
        return Response(body, media_type=MEDIA_TYPES[fmt])

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
    ]

    async def too_large(request: Request, exc: Exception) -> Response:
        request.scope["state"]["dictate"]["reason"] = str(exc)
        return error(413, str(exc))

    app = Starlette(routes=routes, exception_handlers={TooLarge: too_large})
    return Guard(app, config.max_bytes)


def _retry(config: ServerConfig) -> dict[str, str]:
    return {"retry-after": str(config.retry_after_s)}


def _field(form: Any, name: str, limit: int) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    value = str(value).strip()
    if len(value) > limit:
        raise Rejected(400, f"{name} is longer than {limit} characters")
    return value or None


def _oneline(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
