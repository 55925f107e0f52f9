"""Live dictation: transcribe while the person speaks, so release only waits for the last words.

A background loop looks at the audio captured so far that is not committed yet (the *buffer*):

- At a pause the speech gate finds (≥ `pause_s` of silence, after ≥ `min_chunk_s` of audio), it
  decodes the buffer up to the pause on its own and commits all of that text: the buffer then
  starts after the pause, and that audio is never decoded again. Cuts are made in silence, so no
  word is split between two decodes.
- Otherwise, after each `interval_s` of new audio, it decodes the whole buffer for the preview;
  words two consecutive decodes agree on are committed (`commit.CommitPolicy`).
- A buffer that reaches `max_buffer_s` without such a pause is cut at its longest gap, so each
  step costs at most one window and memory stays bounded however long the dictation.

At release `finish()` decodes only the buffer (the tail since the last pause) and joins it to the
committed text. Steps run on the engine with dictation priority (`Engine.transcribe` is urgent);
the recorder only hands chunks to `feed()`, which appends and returns. When a step takes longer
than the audio it covers (a big model on a small CPU), steps are spaced out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

import numpy as np

from dictate.dictation.cleanup import STOCK_MAX_SPEECH_S, is_stock
from dictate.dictation.commit import CommitPolicy, Join
from dictate.errors import EngineGone
from dictate.transcript import DictationResult, Timings

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
SHORTEST_CHUNK_S = 1.5  # no chunk is shorter: Whisper needs some context
MODEL_SWAPS = 2  # model switches one live dictation follows before it leaves the rest to release
# Speech this long that gives no text is a gap (said, and its audio kept), as on files.
MIN_GAP_S = 0.5
_NOT_IN_CONTEXT = str.maketrans({",": " ", ";": " ", "\n": " "})


@dataclass(frozen=True)
class LiveSettings:
    # No live step before the recording holds this much audio: a dictation shorter than that
    # is decoded whole at release exactly as with live transcription off (its options, its
    # wait), so a sentence never waits on a live step in progress.
    start_s: float = 6.0
    interval_s: float = 2.0  # decode the buffer at least this often (seconds of new audio)
    check_s: float = 0.4  # look for a pause after this much new audio
    # A chunk (decoded alone, then final) ends at a pause, and is long enough for Whisper to
    # hear its words in context: cut at every 0.35 s pause after 1.5 s, the start of JFK's
    # sentence came alone and out as "And so am I fellow Americans. Ask not!" (live 6.2 % vs
    # whole 5.2 % WER on a 55 s join); a chunk of ≥ 4 s up to a ≥ 0.6 s pause decoded it as
    # the whole recording's decoding does (5.2 %).
    pause_s: float = 0.6  # a silence this long ends a chunk
    min_chunk_s: float = 4.0  # shorter chunks wait for more audio (Whisper needs context)
    # A long pause ends even a short chunk (≥ 1.5 s): across one, Whisper may skip the
    # sentence before it (a 3 s sentence, 1.5 s of silence, the next: it wrote the next only).
    long_pause_s: float = 1.0
    max_buffer_s: float = 20.0  # cut at the longest gap beyond this (one window per step)
    slowdown: float = 1.5  # interval ≥ this × a step's decoding time
    # Conditioning each decode on the committed text (the last `context_words` words as its
    # prompt) made live text worse, not better: on a short chunk tiny.en went on to repeat
    # the prompt's phrase ("And so my fellow Americans. And so my fellow Americans.") and
    # dropped sentence-ending full stops. Measured on 8 joined recordings (4 joins of
    # tests/joined_speech.py, sonnet-and-clips, the 40/90/180 s benchmark dictations): WER
    # with the prompt 8.9 %, without 8.3 %, whole-recording decoding 8.8 %; 10 words of
    # prompt was worst (13.6 % on the four joins). Off; vocabulary prompts are still given.
    context_words: int = 40
    context_prompt: bool = False
    # tiny.en's int8 layers cost 4 points of WER on short live chunks ("ill-disposed" became
    # "old-sposed"): live decodes use the fp32 layers (still the short encoder window).
    int8: bool = False
    # Each chunk decoded alone reads as whole sentences ("a room. different from"): a decode
    # of the audio around each join (this much on each side of the cut) says how the words
    # there are punctuated and cased (`commit.mend_join`). 0 turns it off.
    bridge_s: float = 4.0


@dataclass(frozen=True)
class Preview:
    """What the overlay shows: committed words, then the tentative rest (may still change)."""

    committed: str
    tentative: str
    committed_s: float  # seconds of audio committed


@dataclass
class LiveResult:
    text: str  # the whole dictation, committed text and tail
    committed_s: float  # seconds of audio committed before release
    tail_s: float  # seconds decoded after release (0: the last step had heard them all)
    tail_ms: float  # how long that took
    speech_s: float
    steps: int  # decodes made while recording
    step_ms: float  # their total time
    timings: Any  # the tail decode's Timings
    tail_text: str = ""  # the words committed at release (the rest was committed before)
    wait_ms: float = 0.0  # waiting, at release, for the live step in progress
    # Nothing decoded after release: the tail is silence, or the last live step heard it all.
    reused: bool = False
    # Speech (seconds from the start) that gave no text, in the chunks and in the tail.
    gaps: list[tuple[float, float]] = field(default_factory=list)
    joins: int = 0  # chunk joins in the text
    mend_ms: float = 0.0  # decoding across the joins left at release


Engine = Any  # dictate.engine.transcriber.Engine (not imported: the core need not load torch)


class LiveTranscriber:
    """One dictation's live transcription. `feed` from the recorder's thread; `finish` or
    `cancel` once, from any thread. Callbacks run on the live thread."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        options: Any,  # TranscribeOptions
        *,
        settings: LiveSettings | None = None,
        on_preview: Callable[[Preview], None] | None = None,
        on_commit: Callable[[str], None] | None = None,
    ) -> None:
        self._engine_fn = engine
        self.options = options
        self.settings = settings or LiveSettings()
        self._on_preview = on_preview
        self._on_commit = on_commit
        self.policy = CommitPolicy(in_place=on_commit is None)
        self._lock = threading.Lock()  # guards _chunks, _first, _n
        self._chunks: list[np.ndarray] = []  # from sample _first on; older ones are committed
        self._first = 0
        self._n = 0  # samples fed
        self._base = 0  # samples committed (the buffer starts here)
        self._checked = 0  # _n when the buffer was last looked at
        self._decoded = 0  # _n at the last decode of the buffer
        # The last decode of the whole buffer: (samples, text, gaps in seconds from the buffer)
        self._hyp: tuple[int, str, list[tuple[float, float]]] | None = None
        self._gaps: list[tuple[float, float]] = []  # in committed chunks, from the start
        self._step_s = 0.0  # recent steps: seconds of audio that arrived during one
        self._speech_s = 0.0  # speech in committed chunks
        self.steps = 0
        self.step_ms = 0.0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dictate-live", daemon=True)

    def start(self) -> LiveTranscriber:
        self._thread.start()
        return self

    # ---- the recorder's side (must never block) ------------------------------------------

    def feed(self, chunk: np.ndarray) -> None:
        with self._lock:
            self._chunks.append(chunk)
            self._n += chunk.size

    # ---- the end ---------------------------------------------------------------------------

    def finish(self, audio: np.ndarray | None = None) -> LiveResult:
        """Stop the loop, decode the tail and return the whole text. `audio`: the recording as
        the recorder kept it (the same samples as were fed); None uses what was fed."""
        self._stop.set()
        t0 = time.perf_counter()
        if self._thread.is_alive():
            self._thread.join()  # at most the step in progress
        wait_ms = (time.perf_counter() - t0) * 1000
        if audio is None:
            with self._lock:
                tail = self._buffer(self._n)
        else:
            tail = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)[self._base :]
        t0 = time.perf_counter()
        engine = self._engine_fn()
        if self._base == 0 and not self.policy.committed and self._hyp is None:
            # Nothing done while speaking (a short dictation): the whole recording, decoded
            # exactly as with live transcription off (its options, its gate).
            result, decoded = engine.transcribe(tail, self.options), True
            whole_gaps = list(result.gaps)
        else:
            whole_gaps = []
            regions = engine.gate.regions(tail)
            gate_ms = (time.perf_counter() - t0) * 1000
            speech_s = sum(e - s for s, e in regions)
            # Silence, or one phrase that the last step heard whole: no decode at release. Speech
            # with a pause inside is decoded with the file path's checks (`_decode`).
            heard: tuple[str, list[tuple[float, float]]] | None = None
            if not regions:
                heard = ("", [])
            elif len(regions) < 2:
                heard = self._reuse(regions, tail.size / SAMPLE_RATE)
            if heard is not None:
                result = DictationResult(heard[0], Timings(gate_ms=gate_ms), speech_s)
                result.gaps = heard[1]
                decoded = False
            else:
                options = replace(self._options(), checked=True)
                result, decoded = engine.transcribe(tail, options), True
                result.speech_s = speech_s
                result.timings.gate_ms += gate_ms
            result.text, gaps = self._checked_text(result.text, list(result.gaps), regions)
            self._keep_gaps(gaps)
        tail_words = self.policy.finish(result.text)
        t1 = time.perf_counter()
        if audio is None:
            with self._lock:
                audio = self._audio(self._first, self._n)
                first = self._first
        else:
            audio, first = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1), 0
        for join in self._due(audio.size + first, final=True):
            self._mend(engine, join, audio, first, final=True)
        mend_ms = (time.perf_counter() - t1) * 1000
        tail_ms = (time.perf_counter() - t0) * 1000
        return LiveResult(
            text=self.policy.text,
            committed_s=self._base / SAMPLE_RATE,
            tail_s=tail.size / SAMPLE_RATE if decoded else 0.0,
            tail_ms=tail_ms,
            speech_s=self._speech_s + result.speech_s,
            steps=self.steps,
            step_ms=self.step_ms,
            timings=result.timings,
            tail_text=" ".join(tail_words),
            wait_ms=wait_ms,
            reused=not decoded,
            gaps=[*self._gaps, *whole_gaps],
            joins=len(self.policy.joins),
            mend_ms=mend_ms,
        )

    def cancel(self) -> None:
        """Stop without waiting; nothing more is committed (typed text stays typed)."""
        self._stop.set()
        self.policy.cancel()

    # ---- the live thread ---------------------------------------------------------------------

    def _loop(self) -> None:
        swaps = 0
        try:
            engine = self._engine_fn()  # waits while the model loads; the audio keeps coming
            while not self._stop.wait(0.05):
                try:
                    self.poll(engine)
                except EngineGone:  # the model was switched: its successor takes over
                    swaps += 1
                    if swaps > MODEL_SWAPS:
                        raise
                    log.info("live transcription: the model changed; going on with the new one")
                    engine = self._engine_fn()
        except Exception as exc:  # live text is a bonus: finish() decodes whatever is left
            log.exception("live transcription stopped")
            self.error = str(exc)

    def poll(self, engine: Engine) -> None:
        """Make the step now due, if one is. The live thread calls it every 50 ms; tests and
        benchmarks that do not `start()` call it after each chunk they feed (a machine that
        always keeps up, the same steps on every run)."""
        with self._lock:
            n = self._n
        if n < self.settings.start_s * SAMPLE_RATE:
            return
        if n - self._checked >= self.settings.check_s * SAMPLE_RATE:
            self._checked = n
            self._step(engine, n)
        for join in self._due(n)[:1]:  # one per poll: a step stays one decode or two
            with self._lock:
                audio, first = self._audio(self._first, n), self._first
            self._mend(engine, join, audio, first)
            self._advance(0)  # its audio may go now

    def _buffer(self, n: int) -> np.ndarray:
        """The uncommitted audio up to sample `n` (call with the lock held)."""
        return self._audio(self._base, n)

    def _audio(self, start: int, end: int) -> np.ndarray:
        """Samples `start` to `end` of the recording, of those still kept (lock held)."""
        if not self._chunks:
            return np.zeros(0, np.float32)
        audio = np.concatenate(self._chunks)
        return audio[max(0, start - self._first) : end - self._first]

    def _advance(self, samples: int) -> None:
        """Commit `samples` more of audio: drop the chunks no longer needed (wholly before
        the new base, and before the audio of a join still to be mended)."""
        keep = self._base + samples
        cuts = self.policy.open_cuts() if self._mending else []
        if cuts:
            keep = min(keep, min(cuts) - self._bridge_half())
        with self._lock:
            if samples:
                self._base += samples
            while self._chunks and self._first + self._chunks[0].size <= keep:
                self._first += self._chunks.pop(0).size
        if samples:
            self._decoded = self._base
            self._hyp = None

    def _bridge_half(self) -> int:
        """Samples on each side of a cut that a bridge decodes: no more than one step's."""
        s = self.settings
        return round(min(s.bridge_s, s.max_buffer_s / 2) * SAMPLE_RATE)

    @property
    def _mending(self) -> bool:
        # Text typed while speaking cannot be changed afterwards: its joins stay as decoded.
        return self.settings.bridge_s > 0 and self._on_commit is None

    def _due(self, n: int, *, final: bool = False) -> list[Join]:
        """Joins to mend now: the words after them committed, and the audio after the cut
        heard (all joins at release)."""
        if not self._mending or self.policy.cancelled:
            return []
        after = self._bridge_half()
        return [j for j in self.policy.joins if not j.mended and (final or j.at + after <= n)]

    def _mend(
        self, engine: Engine, join: Join, audio: np.ndarray, first: int, *, final: bool = False
    ) -> None:
        """Decode the audio around `join` and punctuate and case its words as heard there.
        At release (`final`) nothing may fail: the text is complete, a join can stay as is."""
        half = self._bridge_half()
        start = max(0, join.at - half - first)
        bridge = audio[start : join.at + half - first]
        try:
            text = self._decode(engine, bridge).text if bridge.size else ""
        except EngineGone:
            if not final:
                raise  # the loop takes the new engine, and this join is mended with it
            text = ""
        except Exception:  # the join keeps the chunks' own punctuation
            log.exception("decoding across a live join failed")
            text = ""
        self.policy.mend(join, text)

    def _reuse(
        self, regions: list[tuple[float, float]], end: float
    ) -> tuple[str, list[tuple[float, float]]] | None:
        """The last decode's text and gaps if it heard the same speech as the buffer up to
        `end` (no speech between the two ends), so the same audio is not decoded twice."""
        if self._hyp is None:
            return None
        heard = self._hyp[0] / SAMPLE_RATE
        low, high = min(end, heard), max(end, heard)
        if any(start < high and stop > low for start, stop in regions):
            return None
        return self._hyp[1], self._hyp[2]

    def _checked_text(
        self, text: str, gaps: list[tuple[float, float]], regions: list[tuple[float, float]]
    ) -> tuple[str, list[tuple[float, float]]]:
        """A final chunk's text as the whole-recording path would keep it: stock phrases
        ("Thank you.") on little speech are no text, and speech that gave no text is a gap.
        `regions` and the gaps are in seconds from the buffer's start."""
        speech_s = sum(e - s for s, e in regions)
        if speech_s < STOCK_MAX_SPEECH_S and is_stock(text):
            text = ""
        if not text.strip() and speech_s >= MIN_GAP_S:
            gaps = [(s, e) for s, e in regions if e - s >= MIN_GAP_S / 2] or regions
        return text, gaps

    def _keep_gaps(self, gaps: list[tuple[float, float]]) -> None:
        at = self._base / SAMPLE_RATE
        self._gaps += [(round(at + s, 2), round(at + e, 2)) for s, e in gaps]

    def _step(self, engine: Engine, n: int) -> None:
        s = self.settings
        with self._lock:
            audio = self._buffer(n)
        duration = audio.size / SAMPLE_RATE
        regions = engine.gate.regions(audio)
        if not regions:
            if duration > 2 * s.pause_s:  # silence so far: nothing to decode, keep a margin
                self._advance(audio.size - round(s.pause_s * SAMPLE_RATE))
            return
        cut = self._cut(regions, duration)
        if cut is not None:
            chunk = audio[: round(cut * SAMPLE_RATE)]
            inside = [(st, min(e, cut)) for st, e in regions if st < cut]
            heard = self._reuse(regions, cut) if len(inside) < 2 else None
            if heard is None:
                result = self._decode(engine, chunk, checked=True)
                heard = result.text, list(result.gaps)
            if self._stop.is_set() and self.policy.cancelled:
                return
            text, gaps = self._checked_text(*heard, inside)
            self._keep_gaps(gaps)
            new = self.policy.chunk(text, at=self._base + chunk.size)
            self._speech_s += sum(min(e, cut) - st for st, e in regions if st < cut)
            self._advance(chunk.size)
            self._publish(new, [])
            return
        interval = max(s.interval_s, s.slowdown * self._step_s)
        if n - self._decoded >= interval * SAMPLE_RATE:
            self._decoded = n
            result = self._decode(engine, audio)
            text = result.text
            self._hyp = (audio.size, text, list(result.gaps))
            ended = duration - regions[-1][1] >= 0.2
            update = self.policy.hypothesis(text, speech_ended=ended)
            self._publish(update.committed, update.tentative)

    def _cut(self, regions: list[tuple[float, float]], duration: float) -> float | None:
        """Where to end a chunk: the latest pause, or the longest gap of an overlong buffer."""
        s = self.settings
        gaps = [(e0, s1) for (_, e0), (s1, _) in pairwise(regions)]
        last_end = regions[-1][1]
        found = [((a + b) / 2, b - a) for a, b in gaps]
        found.append((last_end + min(0.2, (duration - last_end) / 2), duration - last_end))
        pauses = [
            p
            for p, length in found
            if (length >= s.pause_s and p >= s.min_chunk_s)
            or (length >= s.long_pause_s and p >= SHORTEST_CHUNK_S)
        ]
        if pauses:  # the latest within one step's bound (a buffer may have grown meanwhile)
            within = [p for p in pauses if p <= s.max_buffer_s]
            return max(within) if within else min(pauses)
        if duration >= s.max_buffer_s and gaps:
            a, b = max(gaps, key=lambda g: g[1] - g[0])
            return (a + b) / 2
        return None

    def _options(self) -> Any:
        """The dictation's options, prompted with the end of the committed text."""
        options = self.options
        if not self.settings.int8:
            options = replace(options, int8_encoder=False, int8_decoder=False)
        # Only words spoken before the buffer: given words it holds, Whisper would go on
        # after them and skip their audio.
        before = self.policy.committed[: len(self.policy.committed) - len(self.policy.pending)]
        if not self.settings.context_prompt or not before:
            return options
        context = " ".join(before[-self.settings.context_words :])
        # Without commas, the context is one long phrase, never taken for vocabulary terms.
        context = context.translate(_NOT_IN_CONTEXT)
        if options.prompt:  # vocabulary too: the engine's careful path for it
            return replace(options, prompt=f"{options.prompt}, {context}")
        return replace(options, prompt=context, prompt_is_context=True)

    def _decode(self, engine: Engine, audio: np.ndarray, *, checked: bool = False) -> Any:
        """The engine's result (a `DictationResult`) for `audio`, timed as a live step.
        `checked`: text to commit, decoded as the whole-recording path decodes it (the gate's
        regions and every coverage check: a hypothesis may skip, a committed chunk may not)."""
        t0, n0 = time.perf_counter(), self._n
        # A hypothesis: the gate has just run on this audio, the engine need not run it again.
        options = replace(self._options(), use_gate=checked, checked=checked)
        result = engine.transcribe(audio, options)
        self.steps += 1
        self.step_ms += (time.perf_counter() - t0) * 1000
        # Measured on the audio's clock: the audio that arrived while this step ran.
        took = (self._n - n0) / SAMPLE_RATE
        self._step_s = took if self.steps == 1 else 0.5 * self._step_s + 0.5 * took
        return result

    def _publish(self, committed: list[str], tentative: list[str]) -> None:
        if committed and self._on_commit is not None and not self.policy.cancelled:
            try:
                self._on_commit(" ".join(committed))
            except Exception:
                log.exception("live commit listener failed")
        if self._on_preview is not None:
            preview = Preview(self.policy.text, " ".join(tentative), self._base / SAMPLE_RATE)
            try:
                self._on_preview(preview)
            except Exception:
                log.exception("live preview listener failed")
