"""int8 copies of Whisper's encoder and decoder layers for CPU dictation (dynamic quantisation).

On a CPU both halves of Whisper are bound by memory bandwidth and matrix throughput; torch.ao's
dynamic quantisation keeps int8 weights (a quarter of the bytes) and quantises activations on the
fly. Measured on tiny.en (benchmarks/README.md): the encoder ~1.6× and the decoder ~1.4× faster
with the same word error rate over 43 clips within a word or two. The copies are made layer by
layer (so a large model never has two full fp32 copies at once) beside the fp32 model, which
stays as it is for everything else (beam search, temperature fallback, timestamps, GPUs).
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import logging
import sys
import warnings
from typing import Any

import torch

log = logging.getLogger(__name__)


def _quantise(module: torch.nn.Module) -> torch.nn.Module:
    # Made outside inference mode (inference runs in it): tensors made there could not be used
    # anywhere else.
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's notice that it moves to torchao
        return torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(module), {torch.nn.Linear}, torch.qint8
        )


def usable(module: torch.nn.Module) -> bool:
    """Whether int8 copies apply: fp32 weights on the CPU, and quantised kernels available."""
    weight = next((p for p in module.parameters()), None)
    if weight is None or weight.device.type != "cpu" or weight.dtype != torch.float32:
        return False
    return torch.backends.quantized.engine not in (None, "none")


def layers_copy(layers: torch.nn.ModuleList) -> torch.nn.ModuleList | None:
    """An int8 copy of `layers` (one layer at a time), or None where it does not apply."""
    if not len(layers) or not usable(layers):
        return None
    try:
        return torch.nn.ModuleList(_quantise(layer) for layer in layers)
    except (RuntimeError, AttributeError, NotImplementedError) as exc:
        log.info("no int8 layers here (%s): fp32 it is", exc)
        return None
    finally:
        give_back_freed_memory()


def give_back_freed_memory() -> None:
    """Return the heap that building copies freed to the OS (glibc keeps it otherwise: ~40 MB
    of resident memory for tiny.en). A no-op where there is no glibc."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


class Int8Encoder(torch.nn.Module):
    """A Whisper encoder whose transformer layers are int8 copies; the convolutions, the position
    table and the final norm are the fp32 model's own (shared, not copied)."""

    def __init__(self, encoder: Any, layers: torch.nn.ModuleList) -> None:
        super().__init__()
        self.conv1, self.conv2 = encoder.conv1, encoder.conv2
        self.embed_positions = encoder.embed_positions
        self.layers = layers
        self.layer_norm = encoder.layer_norm


def encoder_copy(encoder: Any) -> Int8Encoder | None:
    """A Whisper encoder with int8 copies of its layers; None where int8 does not apply. The
    caller keeps it (`parts.LeanParts`): each call makes a new copy."""
    layers = layers_copy(encoder.layers)
    return Int8Encoder(encoder, layers) if layers is not None else None
