"""One pass of a loaded Whisper over a ≤30 s clip: features → encoder → decoding, timed.

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

from dictate.engine import greedy, int8
from dictate.engine import window as win
from dictate.engine.options import TranscribeOptions
from dictate.transcript import Route, Timings

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
TOKENS_PER_S, MIN_TOKENS, MAX_TOKENS = 15, 24, 440


@dataclass
class Pass:
    """What one pass needs: the model, its processor and where it runs."""

    model: Any  # WhisperForConditionalGeneration
    processor: Any  # WhisperProcessor
    device: str
    dtype: torch.dtype
    # Called between steps of batched (file) work: the engine lets a waiting dictation in.
    between_steps: Callable[[], object] | None = None

    def sync(self) -> None:
        """Wait for the device, so a stage's time is its own and not the next stage's: CUDA
        and MPS run kernels asynchronously."""
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)
        elif self.device == "mps":
            torch.mps.synchronize()

    def run(
        self, audio: np.ndarray, options: TranscribeOptions, kwargs: dict, timings: Timings
    ) -> list[int]:
        """Token ids for `audio`, decoded as `kwargs` (generate()'s arguments) ask."""
        # A retry (after a GPU failure) starts again: the stage times are this attempt's.
        timings.features_ms = timings.encoder_ms = timings.decoding_ms = 0.0
        plan = greedy_plan(self.model, options, kwargs)
        if plan is None and "temperature" in kwargs:
            return self.generate_with_fallback(audio, kwargs, timings)
        with torch.inference_mode():

            def decode(encoded: torch.Tensor) -> list[int]:
                if plan is not None:
                    return self.decode_greedy(encoded, plan, options, timings, quantise)
                return self.decode_generate(encoded, kwargs, timings)

            # int8 copies (see int8.py): where _may_quantise allows them.
            quantise = plan is not None and _may_quantise(plan, kwargs, options)
            encoder = int8.encoder_for(self.model) if quantise and options.int8_encoder else None
            seconds = audio.size / SAMPLE_RATE
            span = win.window_seconds(seconds) if self.short_window(options, kwargs, plan) else None
            tokens = decode(self.encode(audio, span or win.FULL_WINDOW_S, timings, encoder))
            tried = None
            if span is not None and span < win.FULL_WINDOW_S:
                text = self.processor.tokenizer.decode(tokens, skip_special_tokens=True)
                why = win.looks_broken(tokens, text, seconds, kwargs["max_new_tokens"])
                if why:
                    log.info("%.0f s window: %s; redoing it on the full window", span, why)
                    tried, span = span, win.FULL_WINDOW_S
                    tokens = decode(self.encode(audio, win.FULL_WINDOW_S, timings, encoder))
            int8_decoder = (
                quantise
                and options.int8_decoder
                and greedy.decoder_for(self.model).int8_layers() is not None
            )
            timings.route = self.route(
                "lean" if plan is not None else "generate",
                span or win.FULL_WINDOW_S,
                kwargs,
                int8=encoder is not None or bool(int8_decoder),
                redone_from_s=tried,
            )
            return tokens

    def route(self, decoder: str, window_s: float, kwargs: dict, **more: Any) -> Route:
        """What this pass did, for the result's timings."""
        config = self.model.generation_config
        if not getattr(config, "is_multilingual", False):
            language: str | None = "en"  # an English-only vocabulary has no language token
        elif kwargs.get("language"):
            language = greedy.language_token(kwargs["language"])[2:-2]
        else:
            language = None  # generate() detects it
        return Route(
            decoder=decoder,
            window_s=window_s,
            assistant="assistant_model" in kwargs,
            language=language,
            mel_bins=int(self.processor.feature_extractor.feature_size),
            **more,
        )

    def run_batch(
        self, clips: list[np.ndarray], options: TranscribeOptions, kwargs: dict, timings: Timings
    ) -> list[list[int]]:
        """Token ids for each ≤30 s clip (a file's windows), decoded together by the lean loop
        on the model as loaded (no int8 copies: dynamic quantisation scales activations over the
        whole batch, so a row's words would depend on its neighbours) over Whisper's 30 s
        window: each row gets the tokens generate() gives it alone. The caller checks
        `greedy_plan` first."""
        plan = greedy_plan(self.model, options, kwargs)
        if plan is None:
            raise ValueError("batched decoding is plain greedy decoding only")
        timings.features_ms = timings.encoder_ms = timings.decoding_ms = 0.0
        limits = [min(kwargs["max_new_tokens"], tokens_for(c.size / SAMPLE_RATE)) for c in clips]
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
            self.sync()
            timings.encoder_ms += _ms(t0)
            t0 = time.perf_counter()
            rows = greedy.decoder_for(self.model).decode_batch(
                encoded,
                plan,
                limits,
                screen=options.int8_screen,
                between_steps=self.between_steps,
            )
            self.sync()
            timings.decoding_ms += _ms(t0)
        timings.route = self.route("lean", win.FULL_WINDOW_S, kwargs, batch=len(clips))
        return rows

    def short_window(
        self, options: TranscribeOptions, kwargs: dict, plan: greedy.DecodePlan | None
    ) -> bool:
        """Whether this pass may use an encoder window shorter than 30 s.

        Only plain greedy decoding (the lean loop, or generate() with an assistant model),
        without a vocabulary prompt (short windows weaken it: "comfy UI" at 10–20 s, "ComfyUI"
        at 30 s on tiny.en), and only on the CPU, where the encoder is most of the wait and
        where it was validated (tiny.en); GPUs keep the window the models were trained on.
        """
        if kwargs.get("return_timestamps"):
            return False  # timestamps count positions in Whisper's 30 s window
        plain = plan is not None or (
            "assistant_model" in kwargs
            and kwargs.get("num_beams", 1) == 1
            and "temperature" not in kwargs
        )
        return (
            plain
            and options.short_window
            and (kwargs.get("prompt_ids") is None or options.prompt_is_context)
            and self.device == "cpu"
        )

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

    def generate_with_fallback(
        self, audio: np.ndarray, kwargs: dict, timings: Timings
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
            out = self.model.generate(input_features=feats, **kwargs)
            self.sync()
            timings.decoding_ms += _ms(t0)
        sequence = out.sequences if hasattr(out, "sequences") else out
        return sequence[0].tolist()

    def decode_generate(self, encoded: torch.Tensor, kwargs: dict, timings: Timings) -> list[int]:
        from transformers.modeling_outputs import BaseModelOutput

        t0 = time.perf_counter()
        out = self.model.generate(
            encoder_outputs=BaseModelOutput(last_hidden_state=encoded), **kwargs
        )
        self.sync()
        timings.decoding_ms += _ms(t0)
        sequence = out.sequences if hasattr(out, "sequences") else out
        return sequence[0].tolist()

    def decode_greedy(
        self,
        encoded: torch.Tensor,
        plan: greedy.DecodePlan,
        options: TranscribeOptions,
        timings: Timings,
        quantise: bool = True,
    ) -> list[int]:
        t0 = time.perf_counter()
        tokens = greedy.decoder_for(self.model).decode(
            encoded, plan, screen=options.int8_screen, int8=quantise and options.int8_decoder
        )
        self.sync()
        timings.decoding_ms += _ms(t0)
        return tokens


def greedy_plan(model: Any, options: TranscribeOptions, kwargs: dict) -> greedy.DecodePlan | None:
    """The lean decoder's plan for these generate() arguments; None where only generate() does
    what is asked (beams, sampling fallback, an assistant, language detection, timestamps
    after a vocabulary prompt)."""
    timestamps = bool(kwargs.get("return_timestamps"))
    prompt = kwargs.get("prompt_ids")
    if (
        not options.lean_decoding
        or kwargs.get("num_beams", 1) > 1
        or "temperature" in kwargs
        or "assistant_model" in kwargs
        or (timestamps and prompt is not None)
        or not greedy.supports(model)
    ):
        return None
    init = greedy.init_tokens(model.generation_config, kwargs.get("language"), timestamps)
    if init is None:
        return None
    prefix = (tuple(prompt.tolist()) if prompt is not None else ()) + init
    return greedy.plan_for(model.generation_config, prefix, kwargs["max_new_tokens"], timestamps)


def _may_quantise(plan: greedy.DecodePlan, kwargs: dict, options: TranscribeOptions) -> bool:
    """Whether the int8 layers may serve this pass: plain greedy dictation on the CPU only, not
    with a vocabulary prompt (they weaken it as short windows do: "comfy UI" for "ComfyUI" on
    tiny.en) and not for files (timestamps): those get the fp32 model, so their tokens are
    generate()'s own (the int8 encoder cost words on the file benchmark). English only: the
    word error rate was measured on English, and on multilingual base a German sentence lost
    its first half with the int8 layers ("und wie geht denn den Park?" for "Guten Morgen, heute
    ist das Wetter schön, …"), which the fp32 layers kept. A context prompt (live dictation's
    text so far) is not vocabulary and keeps them."""
    language = kwargs.get("language")
    english = language is None or greedy.language_token(language) == "<|en|>"
    no_vocabulary = kwargs.get("prompt_ids") is None or options.prompt_is_context
    return no_vocabulary and not plan.timestamps and english


def tokens_for(seconds: float) -> int:
    """A clip's token budget: room for fast speech, and a bound on a decoder that loops."""
    return min(MAX_TOKENS, MIN_TOKENS + int(TOKENS_PER_S * seconds))


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0
