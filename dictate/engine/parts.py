"""What the engine builds beside a loaded model for its lean path, once, on first use.

The greedy decoder (with its int8-screened output layer and its int8 decoder layers) and the
int8 encoder are made from the model's weights the first time a pass needs them and kept for the
next pass. They belong to the engine, not to the Hugging Face model: the engine drops them with
the model, and makes new ones when the model moves to another device.
"""

from __future__ import annotations

from typing import Any

import torch

from dictate.engine import int8
from dictate.engine.greedy import GreedyDecoder


class LeanParts:
    """The greedy decoder and the int8 encoder for one placed model, each built once."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model: Any = model  # a WhisperForConditionalGeneration
        self._decoder: GreedyDecoder | None = None
        self._int8_encoder: torch.nn.Module | None = None
        self._int8_encoder_tried = False

    @property
    def decoder(self) -> GreedyDecoder:
        """The lean greedy decoder over the model's decoder (its head and int8 layers are
        built once, inside it, when first used)."""
        if self._decoder is None:
            self._decoder = GreedyDecoder(self.model)
        return self._decoder

    def int8_encoder(self) -> torch.nn.Module | None:
        """The encoder with int8 layers (`int8.encoder_copy`); None where int8 does not apply."""
        if not self._int8_encoder_tried:
            self._int8_encoder = int8.encoder_copy(self.model.get_encoder())
            self._int8_encoder_tried = True
        return self._int8_encoder
