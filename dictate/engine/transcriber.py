"""The engine: Whisper through transformers, loaded once, warm, on the best device available.

Short clips (dictation) come back as text with per-stage timings; long audio (files) is cut at
pauses into windows of at most 30 s and comes back as segments, yielded as they are made.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
import torch
from safetensors import SafetensorError

from dictate import threads
from dictate.audio.gate import SpeechGate
from dictate.engine import align, catalog, coverage, greedy, inference, load, loading, longform
from dictate.engine import device as devices
from dictate.engine.longform import WINDOW_S, Gap, Window, speakable, windows
from dictate.engine.options import TranscribeOptions
from dictate.engine.parts import LeanParts
from dictate.engine.priority import PriorityLock
from dictate.engine.route import ModelFacts, Route, decide
from dictate.engine.vocabulary import apply_spelling, prompt_terms
from dictate.engine.window import FULL_WINDOW_S
from dictate.errors import Cancelled, DeviceError, ModelError
from dictate.transcript import DictationResult, Segment, Timings

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
PREVIOUS_WORDS = 100  # condition_on_previous: this many words of the text before as the prompt

Notice = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class EngineInfo:
    """What is loaded, for status lines and tooltips."""

    model: str
    origin: str
    device: str
    dtype: str
    english_only: bool
    assistant: str | None = None


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


class Engine:
    """Load once, warm up once, then transcribe many times (from one worker thread or several)."""

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "auto",
        dtype: str | None = None,
        assistant: str | None = None,
        gate: SpeechGate | None = None,
        on_notice: Notice | None = None,
        progress: loading.ProgressCallback | None = None,
    ) -> None:
        self.model_spec = model
        self.requested_device = device
        self.requested_dtype = dtype
        self.assistant_spec = assistant
        self.gate = gate or SpeechGate()
        self._notice = on_notice or (lambda message: log.warning("%s", message))
        self._progress = progress
        # Dictations are urgent: they go before the next window of a file being transcribed.
        self._lock = PriorityLock()
        # transformers' WhisperForConditionalGeneration, its WhisperProcessor and the draft
        # WhisperForCausalLM (untyped: their attributes are Tensor | Module unions to mypy).
        self._model: Any = None
        self._assistant: Any = None
        self._processor: Any = None
        self._parts: LeanParts | None = None  # built beside the placed model, dropped with it
        self._choice: devices.DeviceChoice | None = None
        self.source: loading.ModelSource | None = None
        self._english_only = True
        self._force_english = False  # English-only, but with a multilingual vocabulary
        self.last_used = time.monotonic()
        self.last_threads = 0  # torch's intra-op threads for the last inference (0: none yet)

    # ---- loading -------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def info(self) -> EngineInfo:
        if self._model is None or self._choice is None or self.source is None:
            raise ModelError("no model is loaded")
        return EngineInfo(
            model=self.source.label,
            origin=self.source.origin,
            device=self._choice.device,
            dtype=str(self._choice.dtype).removeprefix("torch."),
            english_only=self._english_only,
            assistant=self.assistant_spec,
        )

    def load(self) -> EngineInfo:
        """Find, fetch if needed, and load the model; falls back to CPU if the GPU fails."""
        from transformers import WhisperProcessor
        from transformers.utils import logging as hf_logging

        # transformers' advice to developers (deprecations, load reports, bars) is noise to a
        # person dictating; real failures still arrive as exceptions.
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        with self._lock.hold(urgent=True):
            choice = devices.resolve(self.requested_device, self.requested_dtype)
            if choice.kind == "cpu":
                devices.configure_cpu_threads()
                load.meter()  # sampling from now: the first dictation knows the machine's load
            self.source = loading.resolve(
                self.model_spec, device_kind=choice.kind, progress=self._progress
            )
            if self.source.note:
                self._notice(self.source.note)
            self._report("load", f"loading {self.source.label}")
            try:
                self._processor = WhisperProcessor.from_pretrained(
                    self.source.path, local_files_only=True
                )
            except (OSError, ValueError) as exc:
                raise ModelError(f"{self.source.label}: cannot read its tokenizer ({exc})") from exc
            try:
                self._place(choice)
            except (RuntimeError, AssertionError, torch.cuda.OutOfMemoryError) as exc:
                if choice.kind == "cpu":
                    raise ModelError(f"{self.source.label}: cannot load ({exc})") from exc
                self._fall_back_to_cpu(f"loading on {choice.describe()} failed: {_first_line(exc)}")
            self._english_only, self._force_english = english_only(
                self._model.generation_config, self.source
            )
            return self.info

    def _resolved(self) -> loading.ModelSource:
        """The model's source, once `load` has resolved it."""
        if self.source is None:
            raise ModelError("no model is resolved: call load() first")
        return self.source

    def _place(self, choice: devices.DeviceChoice) -> None:
        """Load (or move) the weights onto `choice`."""
        from transformers import WhisperForCausalLM, WhisperForConditionalGeneration

        if self._model is None:
            source = self._resolved()
            try:
                self._model = WhisperForConditionalGeneration.from_pretrained(
                    source.path,
                    dtype=choice.dtype,
                    attn_implementation="sdpa",
                    use_safetensors=True,
                    local_files_only=True,
                ).eval()
            except (OSError, ValueError, KeyError, SafetensorError) as exc:
                raise ModelError(f"{source.label}: cannot load its weights ({exc})") from exc
            if self.assistant_spec:
                self._assistant = self._load_assistant(choice, WhisperForCausalLM)
        self._model.to(device=choice.device, dtype=choice.dtype)
        if self._assistant is not None:
            self._assistant.to(device=choice.device, dtype=choice.dtype)
        self._choice = choice
        self._parts = LeanParts(self._model)  # int8 copies and the screen are per device

    def _load_assistant(self, choice: devices.DeviceChoice, causal_lm: Any) -> torch.nn.Module:
        """The draft model for speculative decoding, or one clear line saying why not.

        A distilled model drafts tokens for its teacher. Its encoder is the teacher's, so only
        its decoder is loaded and it reads the teacher's encoder output: the two must agree on
        width and vocabulary (distil-large-v3 for large-v3, not for tiny.en)."""
        spec = self.assistant_spec
        progress = self._progress

        def report(step: loading.Progress) -> None:  # its download has a bar of its own
            if progress is not None:
                progress(replace(step, message=step.message or f"assistant {spec}"))

        try:
            src = loading.resolve(spec, device_kind=choice.kind, progress=report)
            model = causal_lm.from_pretrained(
                src.path,
                dtype=choice.dtype,
                attn_implementation="sdpa",
                use_safetensors=True,
                local_files_only=True,
            ).eval()
        except ModelError as exc:
            raise type(exc)(f"assistant model: {_first_line(exc)}") from exc
        except (OSError, ValueError, KeyError, SafetensorError) as exc:
            raise ModelError(f"assistant model {spec}: cannot load ({_first_line(exc)})") from exc
        teacher, draft = self._model.config, model.config
        for field, what in (("d_model", "width"), ("vocab_size", "vocabulary")):
            if getattr(teacher, field) != getattr(draft, field):
                raise ModelError(
                    f"assistant model {spec} does not fit {self._resolved().label}: its {what} is "
                    f"{getattr(draft, field)}, the model's {getattr(teacher, field)} (pair "
                    "distil-large-v3 with large-v3)"
                )
        return model

    def _fall_back_to_cpu(self, reason: str) -> None:
        cpu = devices.DeviceChoice("cpu", torch.float32)
        self._notice(f"{reason}; using the CPU instead")
        devices.configure_cpu_threads()
        self._place(cpu)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def unload(self) -> None:
        """Drop the model and give its memory (RAM and VRAM) back."""
        with self._lock.hold(urgent=True):
            self._model = self._assistant = self._processor = None
            self._parts = None
            self._choice = None
            import gc

            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def warmup(self) -> float:
        """One short pass so the first real dictation does not pay for lazy initialisation."""
        t0 = time.perf_counter()
        self._report("warmup", "warming up")
        noise = np.random.default_rng(0).normal(0, 0.01, SAMPLE_RATE).astype(np.float32)
        self._run(lambda: self._infer(noise, TranscribeOptions(), Timings(), max_new_tokens=3))
        return _ms(t0)

    def _report(self, stage: str, message: str) -> None:
        if self._progress:
            self._progress(loading.Progress(stage, message=message))

    # ---- inference -------------------------------------------------------------------------

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions | None = None
    ) -> DictationResult:
        """A dictation-length clip (float32, 16 kHz mono) → text and timings.

        Clips longer than Whisper's 30 s window go through the long-form path and are joined,
        and so do shorter ones with `options.checked` (every coverage check of the file path).
        """
        options = options or TranscribeOptions()
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        if audio.size > WINDOW_S * SAMPLE_RATE or (options.checked and options.redecode):
            t0 = time.perf_counter()
            gaps: list[Gap] = []
            segments = self.transcribe_long([audio], options, on_gap=gaps.append, urgent=True)
            text = " ".join(s.text for s in segments)
            speech_s = audio.size / SAMPLE_RATE if text or gaps else 0.0
            result = DictationResult(text, Timings(decoding_ms=_ms(t0)), speech_s)
            result.gaps = [(g.start, g.end) for g in gaps]
            return result
        timings = Timings()
        speech_s = audio.size / SAMPLE_RATE
        regions: list[tuple[float, float]] = []
        if options.use_gate:
            t0 = time.perf_counter()
            regions = self.gate.regions(audio)
            speech_s = sum(end - start for start, end in regions)
            timings.gate_ms = _ms(t0)
            if speech_s == 0.0:
                return DictationResult("", timings, 0.0)
        tokens = self._run(lambda: self._infer(audio, options, timings), urgent=True)
        text = self._processor.tokenizer.decode(tokens, skip_special_tokens=True).strip()
        text = apply_spelling(text, prompt_terms(options.prompt))
        if options.redecode and coverage.sparse(text, 0.0, audio.size / SAMPLE_RATE, regions):
            t0 = time.perf_counter()
            text = self._fill_in(Window(audio, 0.0, regions), text, options)
            timings.decoding_ms += _ms(t0)
        return DictationResult(text, timings, speech_s, tokens)

    def _fill_in(self, clip: Window, text: str, options: TranscribeOptions) -> str:
        """A clip whose text has too few words for its speech (`coverage.sparse`): its pieces
        (cut at the gate's pauses) decoded alone, written instead when they hold words the
        text lacks (`coverage.better`). `DictationResult.tokens` stay the first decode's."""
        length = clip.audio.size / SAMPLE_RATE
        spans = coverage.pieces(0.0, length, clip.regions)
        parts = [
            longform.slice_window(clip, *coverage.bounds(span, clip.regions, length))
            for span in spans
        ]
        rows = self._decode_windows(parts, options, None, urgent=True, timestamps=False)
        alone = [row[0].text if row else "" for row in rows]
        plan = coverage.better(alone, text)
        log.debug("%r has few words for its speech; alone %r: %s", text, alone, bool(plan))
        return text if plan is None else " ".join(t for t in plan if t)

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
        """Audio of any length, given as a stream of 16 kHz mono blocks → segments, in order.

        Windows are cut at pauses, decoded a batch at a time, and whatever speech Whisper
        skipped is decoded again (`longform.settle`); speech that still gives no text is
        passed to `on_gap` (in time order, before the segments after it) and logged, never
        dropped silently. Memory stays bounded by a batch of windows plus one block.
        `on_progress` gets the seconds of audio done so far (every segment before that point
        has been yielded); setting `cancel` stops at the next window with `Cancelled`.
        """
        options = options or TranscribeOptions()
        batch = 1 if options.condition_on_previous else self._windows_per_batch(options)
        before: list[str] = []  # the text so far, for condition_on_previous
        # The batch's encoder outputs, by window, for the word alignment after its decode
        # (`_word_starts`): one encoder pass per window, not two. Emptied after each batch.
        encoded: dict[int, tuple[Window, torch.Tensor]] = {}

        def decode(group: list[Window], timestamps: bool) -> list[list[Segment]]:
            opts = options
            if options.condition_on_previous and before:
                context = " ".join(" ".join(before).split()[-PREVIOUS_WORDS:])
                opts = replace(options, prompt=f"{options.prompt or ''} {context}".strip())
            return self._decode_windows(group, opts, cancel, urgent, timestamps, encoded)

        pending: list[Window] = []

        def locate(window: Window, texts: list[str]) -> list[list[float]]:
            kept = encoded.get(id(window))
            done = kept[1] if kept is not None and kept[0] is window else None
            return self._run(lambda: self._word_starts(window, texts, options, done), urgent)

        def settle() -> Iterator[Segment]:
            found = longform.settle(
                pending,
                decode,
                redecode=options.redecode,
                locate=locate if options.redecode else None,
            )
            for item in found:
                if isinstance(item, Gap):
                    log.warning("no text for speech at %.1f–%.1f s", item.start, item.end)
                    if on_gap:
                        on_gap(item)
                else:
                    before.append(item.text)
                    yield item
            encoded.clear()

        # The first window alone: a progress bar then moves (and can estimate the rest) after
        # one window's decode, not after a whole batch (about 2 minutes of audio).
        size = 1
        for window in windows(blocks, self._regions_for(options), cancel):
            if window.regions:
                pending.append(window)
            if len(pending) >= size:
                yield from settle()
                pending, size = [], batch
            if on_progress and not pending:
                on_progress(window.end)
        if pending:
            yield from settle()
            if on_progress:
                on_progress(pending[-1].end)

    def _word_starts(
        self,
        window: Window,
        texts: list[str],
        options: TranscribeOptions,
        encoded: torch.Tensor | None = None,
    ) -> list[list[float]]:
        """Where each word of `texts` (a window's segments) was spoken, by the model's
        alignment heads (`align.word_starts`); empty lists where it has none, or where a
        multilingual model was not told the language. `encoded`: the window's encoder output
        from its decode, where it was kept (else the window is encoded here)."""
        language = options.language or ("en" if self._force_english else None)
        prefix = greedy.init_tokens(self._model.generation_config, language, timestamps=False)
        if prefix is None:
            return [[] for _ in texts]
        if encoded is None:
            one = self._pass()
            # int8 where a plain dictation may use it (CPU, English): half the encoder's time,
            # and the words land within a frame or two of the full-precision encoder's.
            int8 = self._route(options, False, inference.MAX_TOKENS).int8_encoder
            encoder = one.lean.int8_encoder() if int8 else None
            encoded = one.encode(window.audio, FULL_WINDOW_S, Timings(), encoder)
        return align.word_starts(
            self._model,
            self._processor.tokenizer,
            encoded,
            prefix,
            texts,
            window.audio.size / SAMPLE_RATE,
        )

    def _regions_for(
        self, options: TranscribeOptions
    ) -> Callable[[np.ndarray], list[tuple[float, float]]]:
        """Where a window's speech is: the gate's regions, or all of it without the gate."""
        if options.use_gate:
            return self.gate.regions
        return lambda audio: [(0.0, audio.size / SAMPLE_RATE)]

    def _windows_per_batch(self, options: TranscribeOptions) -> int:
        """How many windows to decode together: `options.file_batch` where the lean decoder
        does what is asked (greedy, timestamps), else one at a time through generate()."""
        if options.file_batch <= 1 or self._model is None:
            return 1
        return self._route(options, True, inference.MAX_TOKENS).windows_per_batch

    def _decode_windows(
        self,
        windows: list[Window],
        options: TranscribeOptions,
        cancel: threading.Event | None,
        urgent: bool,
        timestamps: bool = True,
        encoded_out: dict[int, tuple[Window, torch.Tensor]] | None = None,
    ) -> list[list[Segment]]:
        """Windows with speech → each one's segments (seconds from the window's start).

        With timestamps, several windows are decoded together as one batch (one pass over the
        decoder's weights per token for all). Without (a skipped stretch decoded alone, as a
        dictation), each gives at most one segment over its speech."""
        if cancel is not None and cancel.is_set():
            raise Cancelled("transcription cancelled")
        if not timestamps:
            rows = []
            for w in windows:
                tokens = self._run(lambda w=w: self._infer(w.audio, options, Timings()), urgent)
                text = self._processor.tokenizer.decode(tokens, skip_special_tokens=True).strip()
                start, end = w.regions[0][0], w.regions[-1][1]
                keep = text and self._speakable(text, start, end, w.regions, options)
                text = apply_spelling(text, prompt_terms(options.prompt))
                rows.append([Segment(round(start, 3), round(end, 3), text)] if keep else [])
            return rows
        # One window goes through the batch path too where batching is on: it stops at a cancel
        # between decoder steps, not only between windows.
        if self._windows_per_batch(options) == 1:
            token_rows = [
                self._run(
                    lambda w=w: self._infer(w.audio, options, Timings(), timestamps=True),
                    urgent=urgent,
                )
                for w in windows
            ]
        else:
            route = self._route(options, True, inference.MAX_TOKENS)

            def between_steps() -> None:  # a cancel or a dictation need not wait for the batch
                if cancel is not None and cancel.is_set():
                    raise Cancelled("transcription cancelled")
                self._lock.step_aside()

            one = self._pass(between_steps)
            clips = [w.audio for w in windows]
            outputs: list[torch.Tensor] = []
            token_rows = self._run(
                lambda: one.run_batch(clips, route, Timings(), outputs), urgent=urgent
            )
            if encoded_out is not None:  # for the word alignment after the batch
                pairs = zip(windows, outputs, strict=True)
                encoded_out.update((id(w), (w, out)) for w, out in pairs)
        return [
            list(self._segments(tokens, w, options))
            for w, tokens in zip(windows, token_rows, strict=True)
        ]

    def _segments(
        self, tokens: list[int], window: Window, options: TranscribeOptions
    ) -> Iterator[Segment]:
        """One window's tokens (with timestamp tokens) → segments, in seconds from its start."""
        audio, regions = window.audio, window.regions
        tokenizer = self._processor.tokenizer
        duration = audio.size / SAMPLE_RATE
        decoded = tokenizer.decode(tokens, skip_special_tokens=True, output_offsets=True)
        pieces = [
            (o["timestamp"][0], o["timestamp"][1], o["text"].strip())
            for o in decoded["offsets"]
            if o["text"].strip()
        ]
        if not pieces:  # no timestamp tokens came out: one segment over the speech found
            text = tokenizer.decode(tokens, skip_special_tokens=True).strip()
            pieces = [(regions[0][0], regions[-1][1], text)] if text else []
        terms = prompt_terms(options.prompt)
        for start, end, text in pieces:
            start = max(0.0, float(start))
            end = min(max(start, float(end if end is not None else duration)), duration)
            if start >= duration - 0.05 or not self._speakable(text, start, end, regions, options):
                continue  # the decoder ran on by itself: more words than speech to hold them
            text = apply_spelling(text, terms)
            yield Segment(round(start, 3), round(end, 3), text)

    @staticmethod
    def _speakable(
        text: str,
        start: float,
        end: float,
        regions: list[tuple[float, float]],
        options: TranscribeOptions,
    ) -> bool:
        return not options.drop_unspeakable or speakable(text, start, end, regions)

    def _run(self, work: Callable[..., T], urgent: bool = False) -> T:
        """Run inference (`work()`, called without arguments: `...` lets a lambda bind a loop
        variable as a default); if the GPU fails, move to the CPU, say so, and run it again."""
        with self._lock.hold(urgent):
            if self._model is None:
                raise ModelError("no model is loaded: call load() first")
            self.last_used = time.monotonic()  # the idle unload counts from here
            try:
                with threads.fitted(self._others_busy()) as self.last_threads:
                    return work()
            except (RuntimeError, AssertionError, torch.cuda.OutOfMemoryError) as exc:
                if self._choice is None or self._choice.kind == "cpu":
                    raise
                self._fall_back_to_cpu(
                    f"inference on {self._choice.describe()} failed: {_first_line(exc)}"
                )
                return work()

    def _others_busy(self) -> float | None:
        """Cores other programs keep busy, where the CPU runs inference and the thread count
        is the app's to choose (not fixed by DICTATE_THREADS); else None: keep the count."""
        if self._choice is None or self._choice.kind != "cpu" or os.environ.get("DICTATE_THREADS"):
            return None
        return load.meter().others()

    def _infer(
        self,
        audio: np.ndarray,
        options: TranscribeOptions,
        timings: Timings,
        *,
        timestamps: bool = False,
        max_new_tokens: int | None = None,
    ) -> list[int]:
        """features → encoder → decoding for one ≤30 s clip; fills `timings`; returns token ids
        (see `inference.Pass`: the lean greedy path for plain dictation, else generate())."""
        if max_new_tokens is None:
            max_new_tokens = inference.tokens_for(audio.size / SAMPLE_RATE)
        route = self._route(options, timestamps, max_new_tokens)
        return self._pass().run(audio, route, timings)

    def _route(self, options: TranscribeOptions, timestamps: bool, max_new_tokens: int) -> Route:
        """How a pass with these options decodes on the model as loaded (see `route.decide`)."""
        prompt_ids: tuple[int, ...] = ()
        if options.prompt and options.prompt.strip():
            ids = self._processor.tokenizer.get_prompt_ids(options.prompt, return_tensors="pt")
            prompt_ids = tuple(int(i) for i in ids.tolist())
        return decide(
            options,
            self._facts(),
            timestamps=timestamps,
            max_new_tokens=max_new_tokens,
            prompt_ids=prompt_ids,
        )

    def _facts(self) -> ModelFacts:
        """What the route depends on about the model as loaded, and where it runs now."""
        if self._model is None or self._choice is None or self.source is None:
            raise ModelError("no model is loaded: call load() first")
        return ModelFacts(
            label=self.source.label,
            english_only=self._english_only,
            force_english=self._force_english,
            generation_config=self._model.generation_config,
            max_positions=int(self._model.config.max_target_positions),
            lean=greedy.supports(self._model),
            assistant=self._assistant is not None,
            device=self._choice.device,
        )

    def _pass(self, between_steps: Callable[[], object] | None = None) -> inference.Pass:
        """One pass over the model as placed now, with the engine's lean parts."""
        if self._model is None or self._choice is None or self._parts is None:
            raise ModelError("no model is loaded: call load() first")
        choice = self._choice
        return inference.Pass(
            self._model,
            self._processor,
            choice.device,
            choice.dtype,
            parts=self._parts,
            assistant=self._assistant,
            between_steps=between_steps,
        )


def english_only(generation_config, source: loading.ModelSource) -> tuple[bool, bool]:
    """(English-only, English must be forced) for a loaded model.

    The distil-large-v3 family keeps large-v3's multilingual vocabulary and generation config
    (`is_multilingual: true`) but was trained on English only: left to itself, generate()
    would detect a language for it and dictation would leave the lean decoder. The catalog
    knows which models those are; for them the decoder is told "English" as a .en model is.
    """
    multilingual_vocab = bool(getattr(generation_config, "is_multilingual", False))
    entry = catalog.find(source.repo_id or "") or catalog.find(source.label)
    english = not multilingual_vocab or (entry is not None and entry.english_only)
    return english, english and multilingual_vocab


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["DeviceError", "Engine", "EngineInfo", "TranscribeOptions"]
