"""Which languages a model can do, known before it loads (dictate.engine.languages), and the
app refusing a language its model cannot do when the settings are applied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dictate.engine.languages import english_only, language_problem


def test_catalog_and_embedded_models() -> None:
    assert english_only("tiny.en") is True
    assert english_only("openai/whisper-tiny.en") is True
    assert english_only("distil-large-v3") is True  # multilingual vocabulary, English only
    assert english_only("large-v3-turbo") is False
    assert english_only("embedded") is True  # the built-in tiny.en
    assert english_only(None, default="tiny.en") is True  # "automatic" is the default's answer
    assert english_only("my-org/whisper-custom") is None  # cannot be told before loading
    assert english_only("my-org/whisper-custom.en") is True


def test_folders_tell_by_their_files(tmp_path: Path) -> None:
    transformers = tmp_path / "hf"
    transformers.mkdir()
    (transformers / "generation_config.json").write_text(json.dumps({"is_multilingual": True}))
    assert english_only(str(transformers)) is False
    sized = tmp_path / "sized"
    sized.mkdir()
    (sized / "config.json").write_text(json.dumps({"vocab_size": 51864}))
    assert english_only(str(sized)) is True
    ct2 = tmp_path / "ct2"
    ct2.mkdir()
    (ct2 / "config.json").write_text("{}")
    (ct2 / "vocabulary.txt").write_text("\n".join(f"t{i}" for i in range(51865)) + "\n")
    assert english_only(str(ct2)) is False
    assert english_only(str(tmp_path / "empty-but-missing")) is None


def test_language_problem_says_what_to_do() -> None:
    problem = language_problem("tiny.en", "de")
    assert problem is not None
    assert "tiny.en understands English only" in problem and "'de'" in problem
    assert "multilingual model" in problem
    assert "built-in tiny.en" in (language_problem("embedded", "fr") or "")
    assert "automatic model (base.en)" in (language_problem(None, "fr", "base.en") or "")
    for fine in (("tiny.en", "en"), ("tiny.en", None), ("large-v3", "de"), ("org/x", "de")):
        assert language_problem(*fine) is None


@pytest.fixture
def app(tmp_path, monkeypatch):
    from dictate.app import App
    from dictate.config import Settings

    for name in ("DATA", "CONFIG", "CACHE"):
        monkeypatch.setenv(f"DICTATE_{name}_DIR", str(tmp_path / name.lower()))
    monkeypatch.setenv("DICTATE_SOCKET", str(tmp_path / "control.sock"))
    app = App(Settings(device="cpu", model="tiny.en"), say=lambda m: None)
    yield app
    app.shutdown()


def test_apply_refuses_a_language_the_model_cannot_do(app) -> None:
    """German for tiny.en is a clear message at Apply, and English is kept: the next dictation
    does not fail in the engine."""
    from dataclasses import replace

    problems = app.apply_settings(replace(app.settings, language="de"))
    assert any("English only" in p and "'de'" in p for p in problems)
    assert app.settings.language is None and app.options.language is None
    assert app.set_language("en") == [] and app.settings.language == "en"


def test_switching_to_an_english_only_model_puts_the_language_right(app) -> None:
    """German set for a multilingual model, then tray ▸ Model ▸ tiny.en: the language goes back
    to English when the new model is in, with a message, not a failed dictation later."""
    from dataclasses import replace

    said: list[str] = []
    app.say = said.append
    app._settings = replace(app.settings, model="large-v3", language="de")
    app._model_loaded("tiny.en", "cpu", None)
    assert app.settings.language is None and app.options.language is None
    assert any("English only" in m for m in said)


def test_a_language_set_by_hand_for_an_english_only_model_is_english_from_the_start(
    tmp_path, monkeypatch
) -> None:
    """A settings.json edited by hand (German for tiny.en): said at start, not a failed
    dictation later."""
    from dictate.app import App
    from dictate.config import Settings

    for name in ("DATA", "CONFIG", "CACHE"):
        monkeypatch.setenv(f"DICTATE_{name}_DIR", str(tmp_path / name.lower()))
    monkeypatch.setenv("DICTATE_SOCKET", str(tmp_path / "control.sock"))
    app = App(Settings(device="cpu", model="tiny.en", language="de"), say=lambda m: None)
    try:
        assert app.settings.language is None and app.options.language is None
        assert any("language" in w and "English" in w for w in app.warnings), app.warnings
    finally:
        app.shutdown()
