"""A prompt that is preceding speech (live dictation) keeps the CPU's speed levers; a
vocabulary prompt does not (they weaken its spellings)."""

from __future__ import annotations

from types import SimpleNamespace

from dictate.engine.options import TranscribeOptions
from dictate.engine.route import ModelFacts, decide

TINY_EN = SimpleNamespace(
    decoder_start_token_id=50257, no_timestamps_token_id=50362, eos_token_id=50256
)


def test_short_window_and_int8_stay_on_for_a_context_prompt_only() -> None:
    facts = ModelFacts("tiny.en", english_only=True, force_english=False, generation_config=TINY_EN)
    vocabulary = TranscribeOptions(prompt="ComfyUI")
    context = TranscribeOptions(prompt="and so my fellow", prompt_is_context=True)
    ids = (50361, 1, 2, 3)
    plain = decide(vocabulary, facts, timestamps=False, max_new_tokens=40, prompt_ids=ids)
    live = decide(context, facts, timestamps=False, max_new_tokens=40, prompt_ids=ids)
    assert plain.plan is not None and live.plan is not None  # both on the lean decoder
    assert not plain.short_window and not plain.int8_encoder and not plain.int8_decoder
    assert live.short_window and live.int8_encoder and live.int8_decoder
