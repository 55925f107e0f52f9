"""The decoding route: which decoder, which CPU levers and which generate() arguments follow
from the options and the model's facts (`route.decide`), without a model."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from dictate.engine.options import TranscribeOptions
from dictate.engine.route import ModelFacts, Route, decide
from dictate.errors import ModelError

# The token ids of tiny.en's and of large-v3's generation configs.
EN_VOCAB = SimpleNamespace(
    decoder_start_token_id=50257,
    no_timestamps_token_id=50362,
    eos_token_id=50256,
    suppress_tokens=[1, 2],
    begin_suppress_tokens=[220, 50256],
    is_multilingual=False,
)
MULTI_VOCAB = SimpleNamespace(
    decoder_start_token_id=50258,
    no_timestamps_token_id=50364,
    eos_token_id=50257,
    suppress_tokens=[1],
    begin_suppress_tokens=[220, 50257],
    is_multilingual=True,
    lang_to_id={"<|en|>": 50259, "<|de|>": 50261},
    task_to_id={"translate": 50359, "transcribe": 50360},
)
DOT_EN = ModelFacts("tiny.en", english_only=True, force_english=False, generation_config=EN_VOCAB)
DISTIL = ModelFacts(  # English-trained, large-v3's vocabulary
    "distil-large-v3", english_only=True, force_english=True, generation_config=MULTI_VOCAB
)
MULTI = ModelFacts("base", english_only=False, force_english=False, generation_config=MULTI_VOCAB)
PROMPT = (50361, 11, 22, 33)  # <|startofprev|> and three prompt tokens
Opts = TranscribeOptions


def dictation(options: Opts | None = None, facts: ModelFacts = DOT_EN, **more) -> Route:
    more = {"timestamps": False, "max_new_tokens": 40, **more}
    return decide(options or Opts(), facts, **more)


def file_window(options: Opts | None = None, facts: ModelFacts = DOT_EN, **more) -> Route:
    more = {"timestamps": True, "max_new_tokens": 440, **more}
    return decide(options or Opts(), facts, **more)


def lean_levers(route: Route) -> tuple[bool, bool, bool, bool]:
    return route.plan is not None, route.short_window, route.int8_encoder, route.int8_decoder


def test_plain_dictation_on_a_cpu_takes_every_lever() -> None:
    route = dictation()
    assert lean_levers(route) == (True, True, True, True) and route.screen
    assert route.plan is not None and route.plan.prefix == (50257, 50362)
    assert route.plan.eos == (50256,) and route.plan.max_new_tokens == 40
    assert route.plan.suppress == (1, 2) and route.plan.begin_suppress == (220, 50256)
    assert route.task is None and route.language is None and route.spoken_language == "en"
    assert not route.assistant and not route.fallback and route.windows_per_batch == 1


def test_a_gpu_keeps_the_lean_decoder_but_not_the_cpu_levers() -> None:
    route = dictation(facts=replace(DOT_EN, device="cuda:0"))
    assert lean_levers(route) == (True, False, False, False)


@pytest.mark.parametrize(
    ("options", "why"),
    [
        (Opts(beam_size=2), "beams"),
        (Opts().with_fallback(), "temperature fallback"),
        (Opts(lean_decoding=False), "lean decoding off"),
    ],
)
def test_beams_fallback_or_lean_off_go_through_generate(options: Opts, why: str) -> None:
    route = dictation(options)
    assert lean_levers(route) == (False, False, False, False), why


def test_a_model_the_loop_does_not_know_goes_through_generate() -> None:
    assert dictation(facts=replace(DOT_EN, lean=False)).plan is None


def test_the_lever_options_turn_each_lever_off_alone() -> None:
    assert lean_levers(dictation(Opts(short_window=False))) == (True, False, True, True)
    assert lean_levers(dictation(Opts(int8_encoder=False))) == (True, True, False, True)
    assert lean_levers(dictation(Opts(int8_decoder=False))) == (True, True, True, False)
    assert not dictation(Opts(int8_screen=False)).screen


def test_beams_and_fallback_reach_generate() -> None:
    kwargs = dictation(Opts(beam_size=3)).generate_kwargs()
    assert kwargs == {
        "num_beams": 3,
        "return_timestamps": False,
        "do_sample": False,
        "max_new_tokens": 40,
    }
    options = Opts(compression_ratio_threshold=2.0, logprob_threshold=-0.5).with_fallback()
    route = dictation(options)
    assert route.fallback
    kwargs = route.generate_kwargs()
    assert kwargs["temperature"] == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    assert kwargs["compression_ratio_threshold"] == 2.0 and kwargs["logprob_threshold"] == -0.5
    assert "temperature" not in dictation().generate_kwargs()


def test_an_assistant_drafts_for_plain_greedy_only() -> None:
    facts = replace(DOT_EN, assistant=True)
    route = dictation(facts=facts)
    # generate() with the draft model; the short window still serves it on the CPU.
    assert route.assistant and route.plan is None and route.short_window
    assert not route.int8_encoder and not route.int8_decoder
    draft = object()
    assert route.generate_kwargs(draft)["assistant_model"] is draft
    with pytest.raises(ValueError, match="assistant"):
        route.generate_kwargs()
    assert not dictation(Opts(beam_size=2), facts).assistant
    assert not dictation(Opts().with_fallback(), facts).assistant
    assert "assistant_model" not in dictation().generate_kwargs(draft)


def test_a_vocabulary_prompt_keeps_the_lean_decoder_on_fp32_and_the_full_window() -> None:
    route = dictation(Opts(prompt="ComfyUI"), prompt_ids=PROMPT)
    assert lean_levers(route) == (True, False, False, False)
    assert route.plan is not None and route.plan.prefix == (*PROMPT, 50257, 50362)
    kwargs = route.generate_kwargs(device="cpu")
    assert kwargs["prompt_ids"].dtype == torch.long
    assert kwargs["prompt_ids"].tolist() == list(PROMPT)


def test_a_prompt_with_timestamps_goes_through_generate() -> None:
    assert file_window(Opts(prompt="ComfyUI"), prompt_ids=PROMPT).plan is None
    assert file_window(Opts(prompt="ComfyUI"), prompt_ids=PROMPT).windows_per_batch == 1


def test_a_prompt_shortens_the_answer_to_fit_the_decoder() -> None:
    route = file_window(prompt_ids=tuple(range(300)))
    assert route.max_new_tokens == 448 - 300 - 4
    assert route.generate_kwargs()["max_new_tokens"] == 144
    assert file_window(prompt_ids=tuple(range(500))).max_new_tokens == 1
    assert file_window(prompt_ids=PROMPT).max_new_tokens == 440  # room enough: unchanged
    small = replace(DOT_EN, max_positions=100)
    assert file_window(facts=small, prompt_ids=PROMPT).max_new_tokens == 100 - 4 - 4


def test_file_windows_take_the_fp32_lean_decoder_in_batches() -> None:
    route = file_window(Opts(file_batch=3))
    assert lean_levers(route) == (True, False, False, False)
    assert route.plan is not None and route.plan.timestamps and route.plan.prefix == (50257,)
    assert route.windows_per_batch == 3 and route.generate_kwargs()["return_timestamps"]
    assert file_window(Opts(file_batch=1)).windows_per_batch == 1
    assert file_window(Opts(beam_size=2, file_batch=3)).windows_per_batch == 1
    assert dictation(Opts(file_batch=3)).windows_per_batch == 1


@pytest.mark.parametrize("language", ["de", "fr", "german"])
def test_an_english_only_model_refuses_another_language(language: str) -> None:
    with pytest.raises(ModelError, match="tiny.en is English-only"):
        dictation(Opts(language=language))
    with pytest.raises(ModelError, match="English-only"):
        dictation(Opts(language=language), DISTIL)


@pytest.mark.parametrize("language", [None, "en", "english"])
def test_an_english_only_model_takes_english(language: str | None) -> None:
    assert dictation(Opts(language=language)).plan is not None


def test_an_english_model_with_a_multilingual_vocabulary_is_told_english() -> None:
    route = dictation(facts=DISTIL)
    assert route.task == "transcribe" and route.language == "en"
    assert route.spoken_language == "en"
    assert route.plan is not None and route.plan.prefix == (50258, 50259, 50360, 50364)
    assert lean_levers(route) == (True, True, True, True)
    kwargs = route.generate_kwargs()
    assert kwargs["task"] == "transcribe" and kwargs["language"] == "en"


def test_a_multilingual_model_without_a_language_detects_it_in_generate() -> None:
    route = dictation(facts=MULTI)
    assert route.plan is None and route.language is None and route.spoken_language is None
    assert route.task == "transcribe" and "language" not in route.generate_kwargs()
    assert not route.short_window and not route.int8_encoder  # generate() alone: no levers


def test_a_multilingual_model_with_a_language_is_lean_and_int8_only_for_english() -> None:
    german = dictation(Opts(language="de"), MULTI)
    assert german.plan is not None and german.plan.prefix == (50258, 50261, 50360, 50364)
    assert german.spoken_language == "de" and german.generate_kwargs()["language"] == "de"
    # int8 copies cost a German sentence its first half: fp32 for other languages.
    assert lean_levers(german) == (True, True, False, False)
    named = dictation(Opts(language="german"), MULTI)
    assert named.plan == german.plan and named.spoken_language == "de"
    english = dictation(Opts(language="english"), MULTI)
    assert lean_levers(english) == (True, True, True, True)


def test_a_language_the_vocabulary_lacks_goes_through_generate() -> None:
    assert dictation(Opts(language="fr"), MULTI).plan is None  # no <|fr|> in this config


def test_the_route_is_frozen() -> None:
    route = dictation()
    with pytest.raises(AttributeError):
        route.beams = 2  # type: ignore[misc]
