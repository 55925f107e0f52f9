"""One request to an OpenAI-compatible transcription server (`POST {url}/v1/audio/transcriptions`).

The audio goes as 16 kHz mono 16-bit FLAC (about half the size of WAV, lossless). HTTPS is
verified against the system's certificates (or a CA file the person trusts); plain HTTP is
refused unless the server is on this machine or the person allowed it. Timeouts grow with the
audio's length, since a server needs time in proportion to it. Every failure becomes one
`RemoteError` whose message a person can act on; the API key never appears in one, nor in a log.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dictate.errors import DictateError
from dictate.transcript import Segment

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
PATH = "/v1/audio/transcriptions"


class RemoteError(DictateError):
    """The server could not be used for this request; `status` is its HTTP status, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_insecure: bool = False) -> str:
    """The endpoint's base URL, normalised (no trailing slash, no /v1/... path); raises
    RemoteError when it is not usable or would send audio in the clear to another machine."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError as exc:
        raise RemoteError(f"server address {text!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise RemoteError(f"server address {text!r} must start with https:// (or http://)")
    if parts.username or parts.password:
        raise RemoteError("put the API key in the API key field, not in the server address")
    if parts.scheme == "http" and not (allow_insecure or is_loopback(host)):
        raise RemoteError(
            f"plain http:// to {host} would send your audio unencrypted; use https://, "
            "or tick “allow insecure” if this network is yours"
        )
    path = parts.path.rstrip("/")
    for tail in (PATH, "/v1"):  # people paste the full endpoint or the API root
        path = path.removesuffix(tail)
    return f"{parts.scheme}://{parts.netloc}{path}"


def flac(audio: np.ndarray) -> bytes:
    """16 kHz mono float32 → 16-bit FLAC bytes."""
    import numpy as np
    import soundfile as sf

    buffer = io.BytesIO()
    clipped = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
    sf.write(buffer, clipped, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def timeout_for(seconds: float, base_s: float = 15.0) -> float:
    """How long to wait for an answer to `seconds` of audio: a CPU server with a small model
    needs a fraction of real time; a busy or slow one more. Past this the local model is faster."""
    return base_s + 1.0 * seconds


@dataclass(frozen=True)
class Transcription:
    text: str
    segments: list[Segment]
    seconds: float  # the round trip


class RemoteClient:
    """Talks to one server; safe to share between threads (one httpx connection pool)."""

    def __init__(
        self,
        url: str,
        *,
        model: str = "whisper-1",
        api_key: str | None = None,
        allow_insecure: bool = False,
        ca_file: str | None = None,  # a CA (or self-signed) certificate the person trusts
        timeout_base_s: float = 15.0,
    ) -> None:
        import ssl

        import httpx

        self.url = check_url(url, allow_insecure=allow_insecure)
        self.model = model or "whisper-1"
        self.timeout_base_s = timeout_base_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # The system's trust store (as a browser would), plus the person's own CA if given.
        verify = ssl.create_default_context()
        if not verify.cert_store_stats()["x509_ca"]:  # no system store (python.org on macOS)
            import certifi  # httpx's own dependency: Mozilla's list

            verify.load_verify_locations(cafile=certifi.where())
        if ca_file:
            try:
                verify.load_verify_locations(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise RemoteError(f"cannot use {ca_file} as a CA certificate ({exc})") from None
        # No redirects: a redirect would carry the audio and the key to another address.
        self._http = httpx.Client(verify=verify, headers=headers, follow_redirects=False)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or self.url

    def close(self) -> None:
        self._http.close()

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        prompt: str | None = None,
        segments: bool = False,
    ) -> Transcription:
        """Send one clip (≤ a few minutes); `segments` asks for verbose_json with timestamps."""
        import time

        import httpx

        seconds = audio.size / SAMPLE_RATE
        data = {"model": self.model, "response_format": "verbose_json" if segments else "json"}
        if language:
            data["language"] = language
        if prompt and prompt.strip():
            data["prompt"] = prompt.strip()
        files = {"file": ("audio.flac", flac(audio), "audio/flac")}
        wait = timeout_for(seconds, self.timeout_base_s)
        timeout = httpx.Timeout(wait, connect=min(10.0, wait))
        t0 = time.perf_counter()
        try:
            response = self._http.post(self.url + PATH, data=data, files=files, timeout=timeout)
        except httpx.TimeoutException:
            raise RemoteError(f"{self.host} did not answer within {wait:.0f} s") from None
        except httpx.ConnectError as exc:
            raise RemoteError(self._connect_problem(exc)) from None
        except httpx.HTTPError as exc:  # the connection broke mid-request, a protocol error...
            raise RemoteError(f"{self.host}: the request failed ({_oneline(exc)})") from None
        took = time.perf_counter() - t0
        if response.status_code != 200:
            raise RemoteError(self._refusal(response), response.status_code)
        text, found = _parse(response, seconds, self.host)
        return Transcription(text, found, took)

    def _connect_problem(self, exc: Exception) -> str:
        text = _oneline(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower():
            return (
                f"{self.host}'s certificate is not trusted ({text}); give dictate its CA "
                "certificate, or use a certificate from a public authority"
            )
        return f"cannot reach {self.host} ({text})"

    def _refusal(self, response: Any) -> str:
        status = response.status_code
        reason = _server_message(response)
        if status in (401, 403):
            return (
                f"{self.host} refused the API key (HTTP {status}: {reason}); "
                "check the key in Engine → Server…"
            )
        if status == 413:
            return f"{self.host} refused the audio as too large (HTTP 413: {reason})"
        if status in (429, 503):
            return f"{self.host} is busy (HTTP {status}: {reason})"
        if status == 404:
            return f"{self.host} has no {PATH} (HTTP 404: {reason}); check the server address"
        return f"{self.host} failed (HTTP {status}: {reason})"


def _server_message(response: Any) -> str:
    """The error's message from an OpenAI-style body ({"error": {"message": ...}}, or FastAPI's
    {"detail": ...}), else the first line of the text."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    for _ in range(3):  # {"detail": {"error": {"message": ...}}} and the like
        if not isinstance(body, dict):
            break
        body = body.get("message") or body.get("error") or body.get("detail")
    if isinstance(body, str) and body.strip():
        return _oneline(body)[:200]
    return _oneline(response.text)[:200] or response.reason_phrase or "no reason given"


def _parse(response: Any, seconds: float, host: str) -> tuple[str, list[Segment]]:
    """A transcription body → (text, segments); RemoteError when it is not one."""
    try:
        body = response.json()
    except ValueError:
        raise RemoteError(f"{host} answered with something that is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise RemoteError(f"{host}'s answer has no transcription text") from None
    text = " ".join(body["text"].split())
    found: list[Segment] = []
    raw = body.get("segments")
    if raw is not None:
        if not isinstance(raw, list):
            raise RemoteError(f"{host}'s answer has malformed segments")
        for item in raw:
            try:
                start, end = float(item["start"]), float(item["end"])
                words = " ".join(str(item["text"]).split())
            except (KeyError, TypeError, ValueError):
                raise RemoteError(f"{host}'s answer has malformed segments") from None
            if not (0 <= start <= end) or not all(map(math.isfinite, (start, end))):
                raise RemoteError(f"{host}'s answer has impossible segment times")
            # Whisper pads to 30 s, and its last timestamp may run past a shorter clip's end:
            # clipped to the audio; a segment that starts after it was never said.
            if words and start < seconds:
                found.append(Segment(round(start, 3), round(min(end, seconds), 3), words))
    return text, found


def _oneline(value: object) -> str:
    return " ".join(str(value).split())
