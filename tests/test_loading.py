"""Model resolution: HF cache (offline), local folders, CTranslate2 import, embedded model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from huggingface_hub import constants

from dictate.engine import catalog, loading
from dictate.errors import ModelError, ModelNotAvailableError


@pytest.fixture
def hf_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache, in offline mode, as HF_HOME/HF_HUB_OFFLINE would set it."""
    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def put_in_cache(cache: Path, repo_id: str, folder: Path) -> Path:
    """Lay `folder` out exactly as huggingface_hub stores a downloaded snapshot."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    shutil.copytree(folder, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def test_hub_id_loads_from_the_hf_cache_offline(hf_cache, random_model_dir):
    snapshot = put_in_cache(hf_cache, "acme/whisper-test", random_model_dir)
    source = loading.resolve("acme/whisper-test")
    assert source.path == snapshot and source.origin == "hub-cache"
    assert source.repo_id == "acme/whisper-test"
    assert loading.is_cached("acme/whisper-test")


def test_catalog_short_name_maps_to_its_hub_id(hf_cache, random_model_dir):
    put_in_cache(hf_cache, "distil-whisper/distil-small.en", random_model_dir)
    source = loading.resolve("distil-small.en")
    assert source.label == "distil-small.en" and source.repo_id == "distil-whisper/distil-small.en"


def test_missing_model_offline_names_model_cache_and_remedy(hf_cache):
    with pytest.raises(ModelNotAvailableError) as err:
        loading.resolve("distil-whisper/distil-large-v3")
    message = str(err.value)
    assert "distil-whisper/distil-large-v3" in message
    assert str(hf_cache) in message
    assert "dictate models --download" in message and "offline" in message


def test_folder_without_safetensors_is_refused(tmp_path, random_model_dir):
    folder = tmp_path / "pickled"
    shutil.copytree(random_model_dir, folder)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(ModelError, match="no safetensors weights.*pytorch_model.bin"):
        loading.resolve(str(folder))


def test_folder_errors_are_clear(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        loading.resolve(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        loading.resolve(str(tmp_path / "empty"))
    with pytest.raises(ModelError, match="unknown model 'whisper-huge'"):
        loading.resolve("whisper-huge")


def test_not_whisper_is_refused(tmp_path):
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelError, match="'bert' is not Whisper"):
        loading.resolve(str(tmp_path / "bert"))


def test_ctranslate2_folder_is_converted_once_and_reused(
    tmp_path, monkeypatch, embedded_src, session_cache
):
    folder = tmp_path / "faster-whisper-tiny.en"
    shutil.copytree(embedded_src, folder)
    events: list[loading.Progress] = []
    first = loading.resolve(str(folder), progress=events.append)
    assert first.origin == "ctranslate2" and (first.path / "model.safetensors").is_file()
    assert first.path.is_relative_to(session_cache)
    assert [e.stage for e in events] == ["convert"]

    import dictate.engine.ct2_import as ct2

    monkeypatch.setattr(ct2, "convert_ct2_whisper", lambda *a: pytest.fail("converted twice"))
    assert loading.resolve(str(folder)).path == first.path


def test_default_falls_back_to_the_embedded_model_offline(hf_cache, embedded_src, session_cache):
    source = loading.resolve(None, device_kind="cpu")
    assert source.origin == "embedded" and source.label == "tiny.en (embedded)"
    assert "is not available, using tiny.en (embedded)" in source.note
    assert (source.path / "model.safetensors").is_file()


def test_tiny_en_hub_id_uses_the_embedded_copy_when_not_cached(
    hf_cache, embedded_src, session_cache
):
    source = loading.resolve("tiny.en")
    assert source.origin == "embedded" and source.repo_id == "openai/whisper-tiny.en"


def test_default_without_embedded_model_says_how_to_get_one(hf_cache, monkeypatch):
    monkeypatch.setattr(loading, "embedded_folder", lambda: None)
    with pytest.raises(ModelNotAvailableError, match=r"dictate\[offline\]"):
        loading.resolve(None, device_kind="cpu")


def test_download_failure_is_reported_with_the_reason(hf_cache, monkeypatch):
    """Online mode with an unreachable hub (a closed local port): a clear, fast error."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(ModelNotAvailableError, match="download failed"):
        loading.resolve("acme/not-here")


def test_catalog_has_the_required_models_and_sane_defaults():
    names = {m.repo_id for m in catalog.CATALOG}
    for repo in (
        "distil-whisper/distil-small.en",
        "distil-whisper/distil-medium.en",
        "distil-whisper/distil-large-v3",
        "distil-whisper/distil-large-v3.5",
        "openai/whisper-large-v3-turbo",
        "openai/whisper-large-v3",
        "openai/whisper-tiny.en",
        "openai/whisper-base.en",
    ):
        assert repo in names
    for m in catalog.CATALOG:
        assert m.params_m > 0 and m.download_mb > 0 and m.languages and m.suits
    assert catalog.default_model("cuda").name == "distil-large-v3"
    assert catalog.default_model("cpu", cpu_count=16).name == "distil-small.en"
    assert catalog.default_model("cpu", cpu_count=4).name == "base.en"
    assert catalog.default_model("cpu", cpu_count=2).name == "tiny.en"
    assert catalog.find("large-v3-turbo").english_only is False


def test_availability_says_where_each_model_comes_from(hf_cache, random_model_dir, monkeypatch):
    """One answer for `dictate models` and the settings dialog: the HF cache first, then the
    shipped tiny.en copy, else a download."""
    monkeypatch.setattr(loading, "embedded_folder", lambda: Path("/shipped/tiny.en"))
    assert loading.availability(loading.EMBEDDED_REPO) == "embedded"
    assert loading.availability("distil-whisper/distil-small.en") is None
    put_in_cache(hf_cache, loading.EMBEDDED_REPO, random_model_dir)
    put_in_cache(hf_cache, "distil-whisper/distil-small.en", random_model_dir)
    assert loading.availability(loading.EMBEDDED_REPO) == "cached"
    assert loading.availability("distil-whisper/distil-small.en") == "cached"
    monkeypatch.setattr(loading, "embedded_folder", lambda: None)
    assert loading.availability("openai/whisper-base.en") is None
