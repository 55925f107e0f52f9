"""The lean decoder's timestamp rules mask exactly what transformers' processor masks."""

from __future__ import annotations

import pytest
import torch
from transformers import GenerationConfig
from transformers.generation.logits_process import WhisperTimeStampLogitsProcessor

from dictate.engine.timestamp_rules import TimestampRules

VOCAB = 51864  # tiny.en's
NO_TIMESTAMPS = 50362
BEGIN = NO_TIMESTAMPS + 1


def config(**extra) -> GenerationConfig:
    return GenerationConfig(
        no_timestamps_token_id=NO_TIMESTAMPS, eos_token_id=50256, bos_token_id=50256, **extra
    )


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("initial", [50, None])
def test_same_masked_logits_as_transformers_step_after_step(seed: int, initial) -> None:
    """Random rows and logits (timestamps now unlikely, now likely), tokens taken as the masked
    arg-max, and now and then any token at all (a finished row keeps stepping): every step's
    logits equal the processor's bit for bit, -inf for -inf."""
    gen = torch.Generator().manual_seed(seed)
    cfg = config(max_initial_timestamp_index=initial)
    rows = int(torch.randint(1, 9, (1,), generator=gen))
    prefix_len = int(torch.randint(1, 6, (1,), generator=gen))  # a prompt makes it longer
    history = torch.randint(0, BEGIN, (rows, prefix_len), generator=gen)
    theirs = WhisperTimeStampLogitsProcessor(cfg, begin_index=prefix_len)
    ours = TimestampRules(cfg, rows)
    timestamps_taken = 0
    for step in range(60):
        logits = torch.randn(rows, VOCAB, generator=gen) * 3
        logits[:, BEGIN:] += float(torch.randn(1, generator=gen)) * 4
        expected = theirs(history, logits.clone())
        got = ours.apply(logits)
        assert torch.equal(expected, got), f"step {step}"
        tokens = torch.argmax(expected, dim=-1)
        if step % 5 == 4:
            tokens = torch.randint(0, VOCAB, (rows,), generator=gen)
        timestamps_taken += int((tokens >= BEGIN).sum())
        ours.push(tokens.tolist())
        history = torch.cat([history, tokens[:, None]], dim=1)
    assert timestamps_taken > 0  # the rules had pairs and order to keep


def test_without_the_logprob_rule() -> None:
    cfg = config(max_initial_timestamp_index=50)
    cfg._detect_timestamp_from_logprob = False
    gen = torch.Generator().manual_seed(1)
    history = torch.zeros((3, 4), dtype=torch.long)
    theirs, ours = WhisperTimeStampLogitsProcessor(cfg, begin_index=4), TimestampRules(cfg, 3)
    for _ in range(20):
        logits = torch.randn(3, VOCAB, generator=gen)
        expected = theirs(history, logits.clone())
        assert torch.equal(expected, ours.apply(logits))
        tokens = torch.argmax(expected, dim=-1)
        ours.push(tokens.tolist())
        history = torch.cat([history, tokens[:, None]], dim=1)


def test_rows_that_leave_the_batch_leave_the_others_rules_as_they_were() -> None:
    """A finished row leaves the batch (`keep`): the rows left are masked as the processor
    masks them when it is given only their histories."""
    cfg = config(max_initial_timestamp_index=50)
    gen = torch.Generator().manual_seed(5)
    history = torch.zeros((4, 3), dtype=torch.long)
    theirs, ours = WhisperTimeStampLogitsProcessor(cfg, begin_index=3), TimestampRules(cfg, 4)
    rows = [0, 1, 2, 3]
    for step in range(40):
        if step in (10, 25):
            keep = [0, 2] if step == 10 else [1]
            ours.keep(keep)
            rows = [rows[j] for j in keep]
            history = history[keep]
        logits = torch.randn(len(rows), VOCAB, generator=gen) * 3
        logits[:, BEGIN:] += 2.0
        expected = theirs(history, logits.clone())
        assert torch.equal(expected, ours.apply(logits)), step
        tokens = torch.argmax(expected, dim=-1)
        ours.push(tokens.tolist())
        history = torch.cat([history, tokens[:, None]], dim=1)
    assert rows == [2]
