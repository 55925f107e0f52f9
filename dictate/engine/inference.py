"""One pass of a loaded Whisper over a ≤30 s clip: features → encoder → decoding, timed.

Which way a pass goes is decided beforehand, into a `route.Route`; a `Pass` follows it.
Plain greedy dictation (the default) takes the lean path: the greedy loop without generate()
(`greedy`) and, on the CPU, an encoder window of clip + margin (`window`) and int8 copies of the
encoder and decoder layers (`int8`); a short-window result that looks broken is redone on the
full window. File windows (timestamps) take the lean loop on the fp32 model, several at a time
(`Pass.run_batch`). Beam search, temperature fallback, an assistant model, language detection
and timestamps after a vocabulary prompt go through `generate()`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dictate import transcript
from dictate.engine import greedy
from dictate.engine import window as win
from dictate.engine.parts import LeanParts
from dictate.engine.route import Route
from dictate.transcript import Timings

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
TOKENS_PER_S, MIN_TOKENS, MAX_TOKENS = 15, 24, 440


@dataclass
class Pass:
    """What one pass needs: the model, its processor, where it runs, and what the engine built
    beside it (`parts`) and loaded with it (the assistant model)."""

    model: Any  # WhisperForConditionalGeneration
    processor: Any  # WhisperProcessor
    device: str
    dtype: torch.dtype
    parts: LeanParts | None = None  # the engine's; None: made for this pass
    assistant: Any = None  # the draft model, for a route that takes one
    # Called between steps of batched (file) work: the engine lets a waiting dictation in.
    between_steps: Callable[[], object] | None = None

    def __post_init__(self) -> None:
        if self.parts is None and self.model is not None:
            self.parts = LeanParts(self.model)

    @property
    def lean(self) -> LeanParts:
        if self.parts is None:
            raise ValueError("a pass without a model has no lean parts")
        return self.parts

    def sync(self) -> None:
        """Wait for the device, so a stage's time is its own and not the next stage's: CUDA
        and MPS run kernels asynchronously."""
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)
        elif self.device == "mps":
            torch.mps.synchronize()

    def run(self, audio: np.ndarray, route: Route, timings: Timings) -> list[int]:
        """Token ids for `audio`, decoded along `route`."""
        # A retry (after a GPU failure) starts again: the stage times are this attempt's.
        timings.features_ms = timings.encoder_ms = timings.decoding_ms = 0.0
        plan = route.plan
        if plan is None and route.fallback:
            return self.generate_with_fallback(audio, route, timings)
        with torch.inference_mode():

            def decode(encoded: torch.Tensor) -> list[int]:
                if plan is not None:
                    return self.decode_greedy(encoded, plan, route, timings)
                return self.decode_generate(encoded, route, timings)

            # int8 copies (see int8.py): where the route allows them and they can be made.
            encoder = self.lean.int8_encoder() if route.int8_encoder else None
            seconds = audio.size / SAMPLE_RATE
            span = win.window_seconds(seconds) if route.short_window else None
            tokens = decode(self.encode(audio, span or win.FULL_WINDOW_S, timings, encoder))
            tried = None
            if span is not None and span < win.FULL_WINDOW_S:
                text = self.processor.tokenizer.decode(tokens, skip_special_tokens=True)
                why = win.looks_broken(tokens, text, seconds, route.max_new_tokens)
                if why:
                    log.info("%.0f s window: %s; redoing it on the full window", span, why)
                    tried, span = span, win.FULL_WINDOW_S
                    tokens = decode(self.encode(audio, win.FULL_WINDOW_S, timings, encoder))
            int8_decoder = route.int8_decoder and self.lean.decoder.int8_layers() is not None
            timings.route = self.report(
                "lean" if plan is not None else "generate",
                span or win.FULL_WINDOW_S,
                route,
                int8=encoder is not None or int8_decoder,
                redone_from_s=tried,
            )
            return tokens

    def report(
        self,
        decoder: str,
        window_s: float,
        route: Route,
        *,
        int8: bool = False,
        redone_from_s: float | None = None,
        batch: int = 1,
    ) -> transcript.Route:
        """What this pass did, for the result's timings."""
        return transcript.Route(
            decoder=decoder,
            window_s=window_s,
            redone_from_s=redone_from_s,
            int8=int8,
            assistant=route.assistant,
            language=route.spoken_language,
            mel_bins=int(self.processor.feature_extractor.feature_size),
            batch=batch,
        )

    def run_batch(
        self,
        clips: list[np.ndarray],
        route: Route,
        timings: Timings,
        outputs: list[torch.Tensor] | None = None,
    ) -> list[list[int]]:
        """Token ids for each ≤30 s clip (a file's windows), decoded together by the lean loop
        on the model as loaded (no int8 copies: dynamic quantisation scales activations over the
        whole batch, so a row's words would depend on its neighbours) over Whisper's 30 s
        window: each row gets the tokens generate() gives it alone. For a route with a lean
        plan (`Route.windows_per_batch` > 1) only. `outputs` gets each clip's encoder output
        ([1, positions, d_model]), where given."""
        plan = route.plan
        if plan is None:
            raise ValueError("batched decoding is plain greedy decoding only")
        timings.features_ms = timings.encoder_ms = timings.decoding_ms = 0.0
        limits = [min(route.max_new_tokens, tokens_for(c.size / SAMPLE_RATE)) for c in clips]
        with torch.inference_mode():
            t0 = time.perf_counter()
            extractor = self.processor.feature_extractor
            feats = torch.cat([win.features(extractor, c, win.FULL_WINDOW_S) for c in clips])
            feats = feats.to(self.device, self.dtype)
            timings.features_ms += _ms(t0)
            t0 = time.perf_counter()
            # Row by row on a CPU: as fast as a batch there, and a waiting dictation gets in
            # between rows.
            parts = []
            for part in feats.split(1) if self.device == "cpu" else [feats]:
                parts.append(win.encode(self.model.get_encoder(), part))
                if self.between_steps is not None:
                    self.between_steps()
            encoded = torch.cat(parts)
            if outputs is not None:
                outputs.extend(encoded.split(1))
            self.sync()
            timings.encoder_ms += _ms(t0)
            t0 = time.perf_counter()
            rows = self.lean.decoder.decode_batch(
                encoded,
                plan,
                limits,
                screen=route.screen,
                between_steps=self.between_steps,
            )
            self.sync()
            timings.decoding_ms += _ms(t0)
        timings.route = self.report("lean", win.FULL_WINDOW_S, route, batch=len(clips))
        return rows

    def encode(
        self, audio: np.ndarray, span: float, timings: Timings, encoder: Any = None
    ) -> torch.Tensor:
        """Features and `encoder` (default: the model's) over a `span`-second window; adds to
        `timings`."""
        t0 = time.perf_counter()
        feats = win.features(self.processor.feature_extractor, audio, span)
        feats = feats.to(self.device, self.dtype)
        self.sync()
        timings.features_ms += _ms(t0)
        t0 = time.perf_counter()
        encoded = win.encode(encoder or self.model.get_encoder(), feats)
        self.sync()
        timings.encoder_ms += _ms(t0)
        return encoded

    def generate_kwargs(self, route: Route) -> dict[str, Any]:
        """generate()'s arguments for `route`, here (the assistant model, the device)."""
        return route.generate_kwargs(self.assistant, self.device)

    def generate_with_fallback(
        self, audio: np.ndarray, route: Route, timings: Timings
    ) -> list[int]:
        """generate() on the features themselves: its temperature fallback re-reads the input
        features of the rows it retries, and fails (None subscripted) on encoder outputs
        alone. The encoder's time is counted in decoding here."""
        with torch.inference_mode():
            t0 = time.perf_counter()
            extractor = self.processor.feature_extractor
            feats = win.features(extractor, audio, win.FULL_WINDOW_S).to(self.device, self.dtype)
            timings.features_ms += _ms(t0)
            t0 = time.perf_counter()
            out = self.model.generate(input_features=feats, **self.generate_kwargs(route))
            self.sync()
            timings.decoding_ms += _ms(t0)
        sequence = out.sequences if hasattr(out, "sequences") else out
        return list(sequence[0].tolist())

    def decode_generate(self, encoded: torch.Tensor, route: Route, timings: Timings) -> list[int]:
        from transformers.modeling_outputs import BaseModelOutput

        t0 = time.perf_counter()
        out = self.model.generate(
            encoder_outputs=BaseModelOutput(last_hidden_state=encoded),
            **self.generate_kwargs(route),
        )
        self.sync()
        timings.decoding_ms += _ms(t0)
        sequence = out.sequences if hasattr(out, "sequences") else out
        return list(sequence[0].tolist())

    def decode_greedy(
        self,
        encoded: torch.Tensor,
        plan: greedy.DecodePlan,
        route: Route,
        timings: Timings,
    ) -> list[int]:
        t0 = time.perf_counter()
        tokens = self.lean.decoder.decode(
            encoded, plan, screen=route.screen, int8=route.int8_decoder
        )
        self.sync()
        timings.decoding_ms += _ms(t0)
        return tokens


def tokens_for(seconds: float) -> int:
    """A clip's token budget: room for fast speech, and a bound on a decoder that loops."""
    return min(MAX_TOKENS, MIN_TOKENS + int(TOKENS_PER_S * seconds))


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0
