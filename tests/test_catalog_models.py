"""Every catalog model, as an exact-config random-weight stand-in in an offline HF cache, loads
through the real loading code and decodes through the route asserted for it.

The stand-ins (tests/catalog_fixtures.py) keep what the code branches on (mel bins, vocabulary
and special tokens, is_multilingual, language and task ids, suppress lists, decoder layers) and
shrink only widths and the encoder's depth, so these tests check paths, never words.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from huggingface_hub import constants

from dictate.engine import catalog, inference
from dictate.engine.options import TranscribeOptions
from dictate.engine.transcriber import Engine
from dictate.errors import ModelError
from tests import catalog_fixtures as cf

SR = 16000
NAMES = [m.name for m in catalog.CATALOG]


def tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def hub(catalog_hub):
    """Offline mode with the stand-ins' cache, as HF_HOME and HF_HUB_OFFLINE=1 would set it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(constants, "HF_HUB_CACHE", str(catalog_hub / "hub"))
        mp.setattr(constants, "HF_HUB_OFFLINE", True)
        mp.setenv("HF_HOME", str(catalog_hub))
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield catalog_hub


@pytest.fixture(scope="module")
def engines(hub):
    """One loaded engine per catalog name (CPU), loaded on first use."""
    loaded: dict[str, Engine] = {}

    def get(name: str) -> Engine:
        if name not in loaded:
            engine = Engine(name, device="cpu")
            engine.load()
            loaded[name] = engine
        return loaded[name]

    return get


def detections(engine: Engine, monkeypatch) -> list[int]:
    """Counts generate()'s language detection runs on `engine`'s model."""
    calls: list[int] = []
    original = engine._model.detect_language

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(engine._model, "detect_language", spy)
    return calls


def short_budget(monkeypatch) -> None:
    """Random weights rarely stop by themselves: a few tokens show the route as well."""
    monkeypatch.setattr(inference, "tokens_for", lambda seconds: 6)


def test_every_catalog_model_has_a_stand_in():
    assert [p.name for p in cf.PUBLISHED] == NAMES
    for p in cf.PUBLISHED:
        assert catalog.find(p.name).repo_id == p.repo_id
        # The catalog says English where the model was trained on English only.
        assert catalog.find(p.name).english_only == p.english_trained


def test_v3_suppress_list_is_the_v2_list_renumbered(base_data):
    """large-v3's published list is base's (v2 vocabulary) with ids from <|yue|> on moved up."""
    import json

    v2 = json.loads((base_data / "config.json").read_text())["suppress_ids"]
    assert [i + 1 if i >= cf.YUE_ID else i for i in v2] == cf.LARGE_V3_SUPPRESS


@pytest.mark.parametrize("name", NAMES)
def test_stand_in_loads_offline_with_the_published_facts(name, engines):
    spec = cf.BY_NAME[name]
    engine = engines(name)
    info = engine.info
    assert info.origin == "hub-cache" and info.model == name
    assert engine.source.path.parent.parent.name == f"models--{spec.repo_id.replace('/', '--')}"
    model, gen = engine._model, engine._model.generation_config
    tokenizer = engine._processor.tokenizer
    assert model.config.vocab_size == (51864 if spec.vocabulary == "en" else 51866)
    assert model.config.num_mel_bins == spec.mel_bins
    assert engine._processor.feature_extractor.feature_size == spec.mel_bins
    assert model.config.decoder_layers == spec.decoder_layers
    assert gen.is_multilingual == (spec.vocabulary == "v3")
    assert [list(h) for h in gen.alignment_heads] == [list(h) for h in spec.alignment_heads]
    # The tokenizer numbers special tokens exactly as the generation config does.
    ids = tokenizer.convert_tokens_to_ids
    assert ids("<|notimestamps|>") == gen.no_timestamps_token_id
    assert ids("<|startoftranscript|>") == gen.decoder_start_token_id
    assert ids("<|startofprev|>") == gen.prev_sot_token_id
    if spec.vocabulary == "v3":
        assert len(gen.lang_to_id) == 100 and gen.lang_to_id["<|yue|>"] == 50358
        assert gen.lang_to_id["<|de|>"] == ids("<|de|>") == 50261
        assert gen.task_to_id == {"transcribe": 50360, "translate": 50359}
        assert gen.no_timestamps_token_id == 50364
        # The first timestamp follows the last special token, as large-v3 numbers it.
        assert tokenizer.convert_tokens_to_ids("<|notimestamps|>") + 1 == 50365
    else:
        assert gen.no_timestamps_token_id == 50362 and gen.eos_token_id == 50256
    assert info.english_only == spec.english_trained


@pytest.mark.parametrize("name", NAMES)
def test_dictation_route_per_model_with_language_auto(name, engines, monkeypatch):
    """English-trained models decode English on the lean path (no detection), whatever their
    generation config says; multilingual ones detect the language through generate()."""
    spec = cf.BY_NAME[name]
    engine = engines(name)
    detected = detections(engine, monkeypatch)
    mels: list[int] = []
    hook = engine._model.get_encoder().conv1.register_forward_pre_hook(
        lambda m, a: mels.append(a[0].shape[1])
    )
    short_budget(monkeypatch)
    try:
        result = engine.transcribe(tone(2.0), TranscribeOptions(use_gate=False))
    finally:
        hook.remove()
    route = result.timings.route
    assert route is not None and route.mel_bins == spec.mel_bins
    assert mels and set(mels) == {spec.mel_bins}
    if spec.english_trained:
        assert not detected, "an English-only model went through language detection"
        assert route.decoder == "lean" and route.language == "en"
        # CPU dictation levers: the short encoder window and the int8 layers.
        # (Random weights run on to the token limit, so the 15 s result is redone on 30 s.)
        assert (route.redone_from_s or route.window_s) == 15.0 and route.int8
        if spec.vocabulary == "v3":  # English said in tokens, as .en models imply it
            assert engine._route(TranscribeOptions(), False, 6).language == "en"
    else:
        assert detected, "a multilingual model with language auto did not detect"
        assert route.decoder == "generate" and route.language is None
        assert route.window_s == 30.0 and not route.int8
    assert not route.assistant


@pytest.mark.parametrize("name", [m.name for m in catalog.CATALOG if not m.english_only])
def test_multilingual_model_with_a_set_language_skips_detection(name, engines, monkeypatch):
    engine = engines(name)
    detected = detections(engine, monkeypatch)
    short_budget(monkeypatch)
    result = engine.transcribe(tone(2.0), TranscribeOptions(language="de", use_gate=False))
    route = result.timings.route
    assert not detected
    # Lean, but on the fp32 layers: the int8 copies are for English (route.decide).
    assert route.decoder == "lean" and route.language == "de" and not route.int8
    # The lean decoder was told German: its prefix carries <|de|> <|transcribe|>.
    plan = engine._route(TranscribeOptions(language="de"), False, 6).plan
    assert plan is not None and plan.prefix == (50258, 50261, 50360, 50364)


@pytest.mark.parametrize("name", [m.name for m in catalog.CATALOG if m.english_only])
def test_english_only_models_refuse_another_language(name, engines):
    with pytest.raises(ModelError, match="English-only"):
        engines(name).transcribe(tone(1.0), TranscribeOptions(language="de", use_gate=False))


@pytest.mark.slow
@pytest.mark.parametrize("name", [p.name for p in cf.PUBLISHED if p.mel_bins == 128])
def test_128_mel_models_get_128_mel_features_on_the_file_path(name, engines, monkeypatch):
    engine = engines(name)
    mels: list[int] = []
    hook = engine._model.get_encoder().conv1.register_forward_pre_hook(
        lambda m, a: mels.append(a[0].shape[1])
    )
    short_budget(monkeypatch)
    try:
        options = TranscribeOptions(use_gate=False, language=None)
        # 70 s: two 30 s windows decoded together (batch), then one alone.
        list(engine.transcribe_long([tone(70.0)], options))
    finally:
        hook.remove()
    assert mels and set(mels) == {128}


def test_the_default_cuda_model_dictates_on_the_lean_path(engines, monkeypatch):
    """distil-large-v3, the CUDA default, with the language setting on auto (the issue)."""
    assert catalog.default_model("cuda").name == "distil-large-v3"
    engine = engines("distil-large-v3")
    detected = detections(engine, monkeypatch)
    short_budget(monkeypatch)
    route = engine.transcribe(tone(2.0), TranscribeOptions(use_gate=False)).timings.route
    assert route.decoder == "lean" and route.language == "en" and not detected
    assert "lean" in route.describe() and "128 mel" in route.describe()


# ---- speculative decoding: large-v3 with a distil-large-v3 family assistant -----------------


def test_catalog_pairs_large_v3_with_the_distil_large_v3_family():
    pairs = catalog.assistants_for("openai/whisper-large-v3")
    assert [m.name for m in pairs] == ["distil-large-v3", "distil-large-v3.5"]
    assert catalog.assistants_for("large-v3") == pairs
    assert catalog.assistants_for("distil-large-v3") == ()
    assert catalog.assistants_for(None) == ()
    for teacher, drafts in catalog.ASSISTANTS.items():
        t = cf.BY_NAME[teacher]
        for d in map(cf.BY_NAME.get, drafts):  # same encoder width and vocabulary
            assert (d.d_model, d.vocabulary, d.mel_bins) == (t.d_model, t.vocabulary, t.mel_bins)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("assistant", "language"),
    [("distil-large-v3", None), ("distil-large-v3", "de"), ("distil-large-v3.5", "en")],
)
def test_speculative_decoding_gives_the_teachers_tokens(
    assistant, language, hub, engines, monkeypatch
):
    teacher = engines("large-v3")
    assisted = Engine("large-v3", device="cpu", assistant=assistant)
    assisted.load()
    assert assisted.info.assistant == assistant
    drafted: list[int] = []
    assisted._assistant.register_forward_hook(lambda *a: drafted.append(1))
    monkeypatch.setattr(inference, "tokens_for", lambda seconds: 8)
    options = TranscribeOptions(use_gate=False, language=language)
    # The teacher's fp32 greedy tokens: with a language set it dictates on the lean path, and
    # its int8 layers (a CPU speed lever) are not the fp32 model that checks the drafts.
    exact = replace(options, int8_encoder=False, int8_decoder=False)
    for freq in (330.0,):
        expected = teacher.transcribe(tone(2.0, freq), exact)
        got = assisted.transcribe(tone(2.0, freq), options)
        assert got.tokens == expected.tokens
        assert got.timings.route.assistant and got.timings.route.decoder == "generate"
    assert drafted, "the assistant never drafted a token"


def test_an_assistant_that_does_not_fit_is_one_clear_line(hub):
    with pytest.raises(ModelError) as err:
        Engine("large-v3", device="cpu", assistant="tiny.en").load()
    message = str(err.value)
    assert "assistant model tiny.en does not fit large-v3" in message and "vocabulary" in message
    assert "\n" not in message


def test_a_missing_assistant_is_one_clear_line(hub):
    from dictate.errors import ModelNotAvailableError

    with pytest.raises(ModelNotAvailableError) as err:
        Engine("large-v3", device="cpu", assistant="acme/no-such-model").load()
    message = str(err.value)
    assert message.startswith("assistant model: model acme/no-such-model is not available")
    assert "\n" not in message


def test_cli_transcribes_with_an_assistant(hub, tmp_path, monkeypatch, capsys):
    import soundfile

    from dictate import cli

    wav = tmp_path / "tone.wav"
    soundfile.write(wav, tone(3.0), SR)
    routes = []
    original = inference.Pass.run

    def spy(self, audio, route, timings):
        tokens = original(self, audio, route, timings)
        routes.append(timings.route)
        return tokens

    monkeypatch.setattr(inference.Pass, "run", spy)
    short_budget(monkeypatch)
    argv = ["transcribe", str(wav), "--model", "large-v3", "--assistant", "distil-large-v3"]
    code = cli.main([*argv, "--device", "cpu", "--no-gate", "--language", "en"])
    assert code == 0, capsys.readouterr().err
    assert routes and all(r.assistant for r in routes)
