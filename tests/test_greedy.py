"""The lean greedy decoder gives exactly generate()'s greedy tokens (random and real Whisper)."""

from __future__ import annotations

import pytest
import torch
from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutput

from dictate.engine import greedy
from dictate.engine.screen import ScreenedHead

SR = 16000


def generate_tokens(model, encoded: torch.Tensor, max_new_tokens: int, **kwargs) -> list[int]:
    kwargs.setdefault("return_timestamps", False)
    with torch.inference_mode():
        out = model.generate(
            encoder_outputs=BaseModelOutput(last_hidden_state=encoded),
            do_sample=False,
            num_beams=1,
            max_new_tokens=max_new_tokens,
            **kwargs,
        )
    return out[0].tolist()


def lean_tokens(model, encoded, max_new_tokens, *, screen=True, prompt=(), language=None):
    init = greedy.init_tokens(model.generation_config, language)
    plan = greedy.plan_for(model.generation_config, tuple(prompt) + init, max_new_tokens)
    return greedy.GreedyDecoder(model).decode(encoded, plan, screen=screen)


def random_whisper(seed: int, *, vocab: int, d_model: int = 64, layers: int = 2, gen=None):
    config = WhisperConfig(
        vocab_size=vocab,
        d_model=d_model,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=2 * d_model,
        decoder_ffn_dim=2 * d_model,
        max_source_positions=1500,
        max_target_positions=448,
        decoder_start_token_id=gen.decoder_start_token_id,
        bos_token_id=gen.bos_token_id,
        eos_token_id=gen.eos_token_id,
        pad_token_id=gen.pad_token_id,
        attn_implementation="sdpa",
    )
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = gen
    return model


@pytest.fixture(scope="module")
def english_config(tiny_en_dir) -> GenerationConfig:
    """tiny.en's generation config: its suppress and begin-suppress lists, forced tokens."""
    return GenerationConfig.from_pretrained(tiny_en_dir)


def multilingual_config() -> GenerationConfig:
    """A multilingual Whisper's token layout (as in openai/whisper-base), no tokenizer needed."""
    return GenerationConfig(
        decoder_start_token_id=50258,
        bos_token_id=50257,
        eos_token_id=50257,
        pad_token_id=50257,
        is_multilingual=True,
        lang_to_id={"<|en|>": 50259, "<|de|>": 50261, "<|fr|>": 50265},
        task_to_id={"transcribe": 50359, "translate": 50358},
        no_timestamps_token_id=50363,
        prev_sot_token_id=50361,
        suppress_tokens=[1, 2, 7, 8, 9, 10, 14, 25, 50358, 50359, 50360, 50361, 50362],
        begin_suppress_tokens=[220, 50257],
        max_length=448,
    )


@pytest.mark.parametrize("seed", range(6))
def test_random_english_models_decode_like_generate(english_config, seed):
    # Random weights put many logits close together: the screen's fallbacks get exercised, and
    # nothing stops before the token limit, so the KV cache grows over 60 steps.
    model = random_whisper(seed, vocab=51864, gen=english_config)
    encoded = torch.randn(1, 1500, 64, generator=torch.Generator().manual_seed(seed))
    expected = generate_tokens(model, encoded, 60)
    assert lean_tokens(model, encoded, 60) == expected
    assert lean_tokens(model, encoded, 60, screen=False) == expected


@pytest.mark.parametrize("seed", range(3))
def test_a_batch_decodes_each_row_like_generate_and_stops_rows_on_their_own(english_config, seed):
    """Rows advance together but end at their own end-of-text or token limit."""
    model = random_whisper(200 + seed, vocab=51864, gen=english_config)
    gen = torch.Generator().manual_seed(seed)
    encoded = torch.randn(3, 750, 64, generator=gen)
    limits = [40, 7, 25]
    expected = [generate_tokens(model, encoded[i : i + 1], n) for i, n in enumerate(limits)]
    init = greedy.init_tokens(model.generation_config, None)
    plan = greedy.plan_for(model.generation_config, init, max(limits))
    decoder = greedy.GreedyDecoder(model)
    widths: list[int] = []
    forward = decoder._forward
    decoder._forward = lambda layers, ids, *rest: (
        widths.append(len(ids)) or forward(layers, ids, *rest)
    )
    rows = decoder.decode_batch(encoded, plan, limits, screen=True)
    assert rows == expected
    assert [len(r) for r in rows] == limits  # random weights never say end-of-text
    # A row leaves the batch when it is done: 3 rows for 7 steps, 2 up to 25, then 1.
    assert widths == [3] * 7 + [2] * 18 + [1] * 15


def test_a_batch_row_that_ends_early_is_not_padded(english_config):
    """End-of-text in one row leaves it as generate() returns it while the others go on."""
    model = random_whisper(7, vocab=51864, gen=english_config)
    encoded = torch.randn(2, 750, 64, generator=torch.Generator().manual_seed(1))
    # Make end-of-text win where the first row's 6th token did: that row now ends there.
    sixth = generate_tokens(model, encoded[:1], 30)[5]
    with torch.no_grad():
        model.proj_out.weight[english_config.eos_token_id] = 2.0 * model.proj_out.weight[sixth]
    single = [generate_tokens(model, encoded[i : i + 1], 30) for i in range(2)]
    assert len(single[0]) < 30
    init = greedy.init_tokens(model.generation_config, None)
    plan = greedy.plan_for(model.generation_config, init, 30)
    assert greedy.GreedyDecoder(model).decode_batch(encoded, plan, [30, 30]) == single


@pytest.mark.parametrize("seed", range(3))
def test_prompt_tokens_are_a_prefix_like_generate_prompt_ids(english_config, seed):
    model = random_whisper(100 + seed, vocab=51864, gen=english_config)
    encoded = torch.randn(1, 750, 64, generator=torch.Generator().manual_seed(seed))
    prompt = [
        english_config.prev_sot_token_id,
        220,
        3082,
        88,
        10080,
        40,
    ]  # "<|startofprev|> Comfy…"
    expected = generate_tokens(model, encoded, 40, prompt_ids=torch.tensor(prompt))
    assert lean_tokens(model, encoded, 40, prompt=prompt) == expected


@pytest.mark.parametrize("language", ["de", "german", "fr"])
def test_multilingual_language_and_task_tokens_match_generate(language):
    gen = multilingual_config()
    model = random_whisper(7, vocab=51865, gen=gen)
    encoded = torch.randn(1, 1500, 64, generator=torch.Generator().manual_seed(7))
    expected = generate_tokens(model, encoded, 30, language=language, task="transcribe")
    assert lean_tokens(model, encoded, 30, language=language) == expected


def test_multilingual_without_a_language_is_left_to_generate():
    assert greedy.init_tokens(multilingual_config(), None) is None  # generate() detects it


def test_screened_head_bound_holds_and_argmax_is_exact():
    g = torch.Generator().manual_seed(3)
    weight = torch.randn(5000, 96, generator=g) * torch.rand(5000, 1, generator=g)
    head = ScreenedHead(weight)
    banned = torch.tensor([0, 17, 4999])
    for i in range(200):
        x = torch.randn(96, generator=g) * (10 ** (i % 5 - 2))  # tiny to large activations
        exact = weight @ x
        approx, bound = head.bounds(x)
        assert bool(((exact - approx).abs() <= bound).all())
        exact[banned] = float("-inf")
        assert head.argmax(x, banned) == int(torch.argmax(exact))
    assert head.screened > 150  # the screen decided, not the full product


def test_screened_head_falls_back_on_a_tie():
    weight = torch.zeros(1000, 8)
    weight[10] = weight[20] = torch.ones(8)  # two identical rows: an exact tie
    head = ScreenedHead(weight)
    assert head.argmax(torch.ones(8), None) == 10  # torch.argmax's first maximum
    assert head.fallbacks == 1


@pytest.mark.slow
def test_real_tiny_en_on_every_speech_fixture(tiny_en_dir, fixtures_dir, references):
    from transformers import WhisperProcessor

    from tests.conftest import load_clip

    model = WhisperForConditionalGeneration.from_pretrained(
        tiny_en_dir, attn_implementation="sdpa"
    ).eval()
    processor = WhisperProcessor.from_pretrained(tiny_en_dir)
    decoder = greedy.GreedyDecoder(model)
    for name in references:
        audio = load_clip(fixtures_dir / name)
        with torch.inference_mode():
            feats = processor.feature_extractor(audio, sampling_rate=SR, return_tensors="pt")
            encoded = model.get_encoder()(feats.input_features).last_hidden_state
        for prompt in ("", "ComfyUI, Kubernetes"):
            ids = (
                processor.tokenizer.get_prompt_ids(prompt, return_tensors="pt") if prompt else None
            )
            extra = {"prompt_ids": ids} if prompt else {}
            expected = generate_tokens(model, encoded, 120, **extra)
            plan = greedy.plan_for(
                model.generation_config,
                (tuple(ids.tolist()) if prompt else ())
                + greedy.init_tokens(model.generation_config, None),
                120,
            )
            for screen in (True, False):
                assert decoder.decode(encoded, plan, screen=screen) == expected, (name, prompt)
            # The int8 loop runs on one thread (see GreedyDecoder.decode): so does generate()
            # here, as the fp32 parts around the int8 products sum in another order otherwise.
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                copy = quantised_decoder_copy(model)
                quantised = generate_tokens(copy, encoded, 120, **extra)
            finally:
                torch.set_num_threads(threads)
            assert decoder.decode(encoded, plan, int8=True) == quantised, (name, prompt)
    assert decoder.head is not None and decoder.head.screened > 20


@pytest.mark.slow
def test_real_tiny_en_timestamps_alone_and_batched_like_generate(tiny_en_dir, fixtures_dir):
    """The file path: timestamp tokens by transformers' own rules, each row of a batch the
    tokens of generate(return_timestamps=True) on that clip alone."""
    from transformers import WhisperProcessor

    from tests.conftest import load_clip

    model = WhisperForConditionalGeneration.from_pretrained(
        tiny_en_dir, attn_implementation="sdpa"
    ).eval()
    processor = WhisperProcessor.from_pretrained(tiny_en_dir)
    names = ["jfk.flac", "LDC93S1.wav", "hotwords.mp3"]
    with torch.inference_mode():
        feats = processor.feature_extractor(
            [load_clip(fixtures_dir / n) for n in names], sampling_rate=SR, return_tensors="pt"
        ).input_features
        encoded = model.get_encoder()(feats).last_hidden_state
    expected = [
        generate_tokens(model, encoded[i : i + 1], 120, return_timestamps=True)
        for i in range(len(names))
    ]
    begin = model.generation_config.no_timestamps_token_id + 1
    assert all(sum(t >= begin for t in row) >= 2 for row in expected)  # timestamped
    init = greedy.init_tokens(model.generation_config, None, timestamps=True)
    plan = greedy.plan_for(model.generation_config, init, 120, timestamps=True)
    decoder = greedy.GreedyDecoder(model)
    assert [decoder.decode(encoded[i : i + 1], plan) for i in range(3)] == expected
    steps: list[int] = []
    assert decoder.head is not None
    screened = decoder.head.screened
    rows = decoder.decode_batch(encoded, plan, [120] * 3, between_steps=lambda: steps.append(1))
    assert rows == expected
    assert decoder.head.screened - screened > len(steps) // 2  # the screen served the batch
    assert len(steps) > max(len(r) for r in rows)  # after every step, the last one included


def test_a_dynamically_quantised_model_decodes_like_generate_without_the_screen(english_config):
    import warnings

    model = random_whisper(11, vocab=51864, gen=english_config)
    with warnings.catch_warnings():  # torch.ao's deprecation notice
        warnings.simplefilter("ignore")
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    encoded = torch.randn(1, 1500, 64, generator=torch.Generator().manual_seed(11))
    decoder = greedy.GreedyDecoder(model)
    assert decoder.head is None  # an int8 output layer has no fp32 weight to screen
    init = greedy.init_tokens(model.generation_config, None)
    plan = greedy.plan_for(model.generation_config, init, 30)
    assert decoder.decode(encoded, plan) == generate_tokens(model, encoded, 30)


def quantised_decoder_copy(model):
    """`model` with its decoder's Linear layers dynamically quantised (what int8=True runs)."""
    import copy
    import warnings

    twin = copy.deepcopy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twin.model.decoder = torch.ao.quantization.quantize_dynamic(
            twin.model.decoder, {torch.nn.Linear}, dtype=torch.qint8
        )
    return twin


@pytest.mark.parametrize("seed", range(3))
def test_int8_decoder_decodes_like_generate_on_the_quantised_decoder(english_config, seed):
    model = random_whisper(200 + seed, vocab=51864, gen=english_config)
    encoded = torch.randn(1, 750, 64, generator=torch.Generator().manual_seed(seed))
    expected = generate_tokens(quantised_decoder_copy(model), encoded, 40)
    init = greedy.init_tokens(model.generation_config, None)
    plan = greedy.plan_for(model.generation_config, init, 40)
    decoder = greedy.GreedyDecoder(model)
    assert decoder.decode(encoded, plan, int8=True) == expected
    assert decoder.int8_layers() is not None
    assert decoder.decoder.layers[0].fc1.weight.dtype == torch.float32  # the model is untouched
