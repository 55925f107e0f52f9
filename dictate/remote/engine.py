"""A server as the engine, with this computer's model behind it.

It answers the two calls the app makes of an engine (`transcribe` for a dictation,
`transcribe_long` for a file), so the session and the file queue use it unchanged. The speech
gate runs here first: silence is never sent. When the server fails (unreachable, refused, slow,
malformed answer) the same audio goes to the local model at once and a notice says why, so a
dictation is never lost to the network. Files go in pieces of ≤ 30 s cut at pauses (the same
windows as local long-form), so progress moves and cancel stops between pieces; after one
failure the rest of that file stays local rather than waiting on a broken server per piece.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from dictate.engine.longform import Gap, uncovered, windows
from dictate.engine.options import TranscribeOptions
from dictate.engine.transcriber import EngineInfo
from dictate.engine.vocabulary import apply_spelling, prompt_terms
from dictate.errors import Cancelled
from dictate.remote.client import RemoteClient, RemoteError
from dictate.transcript import DictationResult, Segment, Timings

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
LOCAL_AFTER_FAILURE = "this computer (server failed)"
EDGE_S = 0.3  # kept before the first and after the last speech the gate heard


class RemoteEngine:
    """`client`'s server first; `local()` (the app's EngineHolder.get) when it fails."""

    def __init__(
        self,
        client: RemoteClient,
        gate: Any,  # dictate.audio.gate.SpeechGate
        local: Callable[[], Any],  # -> dictate.engine.Engine
        on_notice: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.client = client
        self.gate = gate
        self._local = local
        self._notice = on_notice
        self.last_error: str | None = None

    @property
    def loaded(self) -> bool:
        return True  # nothing to load here; the file queue asks after a model switch

    @property
    def info(self) -> EngineInfo:
        return EngineInfo(
            model=f"{self.client.model} on {self.client.host}",
            origin=self.client.url,
            device="server",
            dtype="",
            english_only=False,
        )

    def close(self) -> None:
        self.client.close()

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions | None = None
    ) -> DictationResult:
        options = options or TranscribeOptions()
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        timings = Timings(engine=f"server {self.client.host}")
        speech_s = audio.size / SAMPLE_RATE
        sent = audio
        if options.use_gate:
            t0 = time.perf_counter()
            regions = self.gate.regions(audio)
            timings.gate_ms = (time.perf_counter() - t0) * 1000
            speech_s = sum(end - start for start, end in regions)
            if speech_s == 0.0:
                return DictationResult("", timings, 0.0)  # silence is never sent
            # Nor the silence around the speech: less to send, and nothing for the server's
            # model to invent words in.
            first = max(0, round((regions[0][0] - EDGE_S) * SAMPLE_RATE))
            last = round((regions[-1][1] + EDGE_S) * SAMPLE_RATE)
            sent = audio[first:last]
        t0 = time.perf_counter()
        try:
            reply = self.client.transcribe(sent, language=options.language, prompt=options.prompt)
        except RemoteError as exc:
            tried_ms = (time.perf_counter() - t0) * 1000
            self._failed(exc, "this dictation")
            result = self._local().transcribe(audio, options)
            result.timings.remote_ms = tried_ms  # the time the failed attempt cost
            result.timings.engine = LOCAL_AFTER_FAILURE
            return result
        self.last_error = None
        timings.remote_ms = reply.seconds * 1000
        text = apply_spelling(reply.text, prompt_terms(options.prompt))
        return DictationResult(text, timings, speech_s)

    def transcribe_long(
        self,
        blocks: Iterable[np.ndarray],
        options: TranscribeOptions | None = None,
        *,
        cancel: threading.Event | None = None,
        on_progress: Callable[[float], None] | None = None,
        on_gap: Callable[[Gap], None] | None = None,
        urgent: bool = False,
    ) -> Iterator[Segment]:
        """A file, piece by piece (≤ 30 s, cut at pauses); pieces without speech are skipped.

        A piece whose answer leaves speech without text (a server without dictate's
        re-decoding skipped a sentence) is transcribed again here, where nothing is skipped
        silently; what still gives no text goes to `on_gap`."""
        options = options or TranscribeOptions()
        terms = prompt_terms(options.prompt)
        if options.use_gate:
            regions_of = self.gate.regions
        else:

            def regions_of(audio: np.ndarray) -> list[tuple[float, float]]:
                return [(0.0, audio.size / SAMPLE_RATE)]

        local = False
        for window in windows(blocks, regions_of, cancel):
            if window.regions:
                found: list[Segment] | None = None
                if not local:
                    found = self._piece(window.audio, window.regions, options)
                    local = found is None
                    if found is not None and uncovered(found, window.regions) is not None:
                        log.info("the server skipped speech at %.1f s; redone here", window.offset)
                        found = None
                if found is None:
                    engine = self._local()

                    def gap(g: Gap, at: float = window.offset) -> None:
                        if on_gap is not None:
                            on_gap(Gap(round(g.start + at, 3), round(g.end + at, 3)))

                    found = list(
                        engine.transcribe_long([window.audio], options, cancel=cancel, on_gap=gap)
                    )
                for s in found:
                    text = apply_spelling(s.text, terms)
                    yield Segment(
                        round(window.offset + s.start, 3), round(window.offset + s.end, 3), text
                    )
            if cancel is not None and cancel.is_set():
                raise Cancelled("transcription cancelled")
            if on_progress:
                on_progress(window.end)

    def _piece(
        self, audio: np.ndarray, regions: list[tuple[float, float]], options: TranscribeOptions
    ) -> list[Segment] | None:
        """One piece's segments from the server (times from the piece's start), or None."""
        try:
            reply = self.client.transcribe(
                audio, language=options.language, prompt=options.prompt, segments=True
            )
        except RemoteError as exc:
            self._failed(exc, "the rest of this file")
            return None
        self.last_error = None
        if reply.segments:
            return reply.segments
        # A server that gives text without segments: one segment over the speech heard.
        return [Segment(regions[0][0], regions[-1][1], reply.text)] if reply.text else []

    def _failed(self, exc: RemoteError, what: str) -> None:
        self.last_error = str(exc)
        self._notice(f"server: {exc}; {what} uses this computer's model")


def connect(
    settings: Any,  # dictate.config.Settings
    gate: Any,
    local: Callable[[], Any],
    on_notice: Callable[[str], None],
    *,
    keys: Any = None,  # dictate.remote.keys.KeyStore
) -> RemoteEngine:
    """The server engine the settings describe; RemoteError if the address is not usable."""
    from dictate.remote.keys import KeyStore

    keys = keys or KeyStore()
    client = RemoteClient(
        settings.server_url,
        model=settings.server_model,
        api_key=keys.get(settings.server_url),
        allow_insecure=settings.server_insecure,
        ca_file=settings.server_ca_file or None,
    )
    return RemoteEngine(client, gate, local, on_notice)
