"""A prompt that is preceding speech (live dictation) keeps the CPU's speed levers; a
vocabulary prompt does not (they weaken its spellings)."""

from __future__ import annotations

import torch

from dictate.engine import inference
from dictate.engine.options import TranscribeOptions


def test_short_window_and_int8_stay_on_for_a_context_prompt_only() -> None:
    one = inference.Pass(None, None, "cpu", torch.float32)
    kwargs = {"prompt_ids": torch.tensor([1, 2, 3])}
    plan = object()  # the lean decoder's plan: only its presence and .timestamps matter here
    vocabulary = TranscribeOptions(prompt="ComfyUI")
    context = TranscribeOptions(prompt="and so my fellow", prompt_is_context=True)
    assert not one.short_window(vocabulary, kwargs, plan)
    assert one.short_window(context, kwargs, plan)
    lean = type("Plan", (), {"timestamps": False})()
    assert not inference._may_quantise(lean, kwargs, vocabulary)
    assert inference._may_quantise(lean, kwargs, context)
