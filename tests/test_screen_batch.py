"""The screened output layer for batches (the file path): each live row's token is the one the
full fp32 product gives, with Whisper's timestamp rules or without."""

from __future__ import annotations

import pytest
import torch
from transformers import GenerationConfig

from dictate.engine.screen import ScreenedHead
from dictate.engine.timestamp_rules import TimestampRules

VOCAB, WIDTH = 3000, 96
NO_TIMESTAMPS = 2400  # a small vocabulary laid out as Whisper's: text, specials, timestamps
BEGIN = NO_TIMESTAMPS + 1


def config() -> GenerationConfig:
    return GenerationConfig(
        no_timestamps_token_id=NO_TIMESTAMPS,
        eos_token_id=2000,
        bos_token_id=2000,
        max_initial_timestamp_index=50,
    )


def hidden(gen: torch.Generator, rows: int) -> torch.Tensor:
    """Activations with a few large dimensions, as a Whisper decoder's have."""
    x = torch.randn(rows, WIDTH, generator=gen)
    x[:, :3] *= 20
    return x


def full_tokens(weight, x, banned, rules: TimestampRules | None) -> list[int]:
    logits = x @ weight.t()
    logits[:, banned] = float("-inf")
    if rules is not None:
        logits = rules.apply(logits)
    return torch.argmax(logits, dim=-1).tolist()


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("timestamps", [True, False])
def test_live_rows_get_the_full_products_tokens(seed: int, timestamps: bool) -> None:
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(VOCAB, WIDTH, generator=gen) * torch.rand(VOCAB, 1, generator=gen)
    weight[BEGIN:] *= 1.5  # timestamps now and then likelier than text
    head = ScreenedHead(weight)
    banned = torch.tensor([5, 17, 2002, NO_TIMESTAMPS - 1])
    rows = 1 + seed % 4
    ours = TimestampRules(config(), rows) if timestamps else None
    theirs = TimestampRules(config(), rows) if timestamps else None
    stamps = 0
    for step in range(80):
        x = hidden(gen, rows) * (10 ** (step % 4 - 1))
        expected = full_tokens(weight, x, banned, theirs)
        got = head.tokens(x, banned, ours)
        if got is None:  # the screen declined: the caller takes the full product
            got = expected
        assert got == expected, step
        stamps += sum(t >= BEGIN for t in expected)
        for rules in (ours, theirs):
            if rules is not None:
                rules.push(expected)
    assert head.screened > 60  # the screen decided most steps
    assert stamps > 0 or not timestamps


def test_a_row_the_screen_cannot_vouch_for_declines_the_step() -> None:
    weight = torch.zeros(VOCAB, 8)
    weight[10] = weight[20] = torch.ones(8)  # an exact tie in row 1
    weight[30, 0] = 5.0
    head = ScreenedHead(weight)
    x = torch.stack([torch.eye(8)[0], torch.ones(8)])
    assert head.tokens(x, None) is None
    assert head.tokens(x[:1], None) == [30]
