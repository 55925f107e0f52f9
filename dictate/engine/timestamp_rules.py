"""Whisper's timestamp rules for the lean decoder: transformers' own rules, kept step by step.

transformers' `WhisperTimeStampLogitsProcessor` re-reads every row's whole token history each
step (a Python loop over `input_ids.tolist()`), clones the logits and masks them with several
full-vocabulary operations: ~1 ms a step for 4 rows on this CPU, about a tenth of a file's
decoding. The rules themselves need only a few facts per row (the last two tokens, the last
timestamp), so `TimestampRules` keeps those as the tokens come and masks slices in place. The
masked logits are the same values as the processor's (a test compares them bit for bit), so
the tokens are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["TimestampRules"]

NEG_INF = float("-inf")


class TimestampRules:
    """Timestamps in pairs and never going back, the first one early, and a timestamp whenever
    the timestamps together are likelier than any text token — for `rows` rows decoded in step.

    Call `apply(logits)` before choosing a step's tokens and `push(tokens)` after; `logits` is
    changed in place (the decoder's own fresh [rows, vocab] float32 tensor)."""

    def __init__(self, config: Any, rows: int) -> None:
        self.no_timestamps = int(config.no_timestamps_token_id)
        self.begin = self.no_timestamps + 1  # the first timestamp token, <|0.00|>
        self.eos = int(config.eos_token_id or config.bos_token_id)
        self.from_logprob = bool(getattr(config, "_detect_timestamp_from_logprob", True))
        initial = getattr(config, "max_initial_timestamp_index", None)
        self.max_initial = None if initial is None else int(initial)
        self.steps = 0
        self.last: list[int | None] = [None] * rows
        self.penultimate: list[int | None] = [None] * rows
        self.last_timestamp: list[int | None] = [None] * rows

    def push(self, tokens: Sequence[int]) -> None:
        """The token each row took this step (before finished rows leave: `keep`)."""
        for k, token in enumerate(tokens):
            self.penultimate[k] = self.last[k]
            self.last[k] = token
            if token >= self.begin:
                self.last_timestamp[k] = token
        self.steps += 1

    def keep(self, rows: Sequence[int]) -> None:
        """Only these rows (by their place now) go on decoding, in this order."""
        self.last = [self.last[k] for k in rows]
        self.penultimate = [self.penultimate[k] for k in rows]
        self.last_timestamp = [self.last_timestamp[k] for k in rows]

    def ranges(self, k: int) -> list[tuple[int, int | None]]:
        """The token ranges [lo, hi) row k may not take this step (hi None: to the end), by
        every rule but the log-probability one (which needs the logits)."""
        begin = self.begin
        out: list[tuple[int, int | None]] = [(self.no_timestamps, self.no_timestamps + 1)]
        last, penultimate = self.last[k], self.penultimate[k]
        last_was = last is not None and last >= begin
        penultimate_was = penultimate is None or penultimate >= begin
        if last_was:
            if penultimate_was:  # a pair just closed: text (or end) comes next
                out.append((begin, None))
            else:  # an opening timestamp: its partner (or end) comes next
                out.append((0, self.eos))
        previous = self.last_timestamp[k]
        if previous is not None:  # timestamps never go back (nor repeat, but in a pair)
            floor = previous if last_was and not penultimate_was else previous + 1
            out.append((begin, floor))
        if self.steps == 0:  # the first token is a timestamp, and an early one
            out.append((0, begin))
            if self.max_initial is not None:
                out.append((begin + self.max_initial + 1, None))
        return out

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        for k in range(logits.shape[0]):
            for lo, hi in self.ranges(k):
                logits[k, lo:hi] = NEG_INF
        if self.from_logprob:
            begin = self.begin
            logprobs = torch.nn.functional.log_softmax(logits, dim=-1)
            timestamps = logprobs[:, begin:].logsumexp(dim=-1)
            best_text = logprobs[:, :begin].max(dim=-1).values
            for k in torch.nonzero(timestamps > best_text).flatten().tolist():
                logits[k, :begin] = NEG_INF
        return logits
