"""Which device and dtype the engine runs on: auto picks CUDA (fp16) > MPS (fp16) > CPU (fp32)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from dictate import choices, threads
from dictate.engine import catalog
from dictate.engine.catalog import CatalogModel
from dictate.errors import DeviceError

DEVICES = choices.values(choices.DEVICES)
_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # "cuda", "cuda:1", "mps" or "cpu"
    dtype: torch.dtype

    @property
    def kind(self) -> str:
        return self.device.split(":")[0]

    def describe(self) -> str:
        return f"{self.device} ({str(self.dtype).removeprefix('torch.')})"


def unavailable_reason(kind: str) -> str | None:
    """None when `kind` can be used here, else a sentence saying why not (shown in menus)."""
    if kind == "cpu":
        return None
    if kind == "cuda":
        if torch.cuda.is_available():
            return None
        if torch.version.cuda is None:
            return "this PyTorch build has no CUDA support (install a CUDA build of torch)"
        return "no CUDA GPU was found (check the NVIDIA driver)"
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return None
        return "Apple MPS needs an Apple Silicon Mac with macOS 12.3+"
    return f"unknown device {kind!r} (choose one of {', '.join(DEVICES)})"


def auto_kind() -> str:
    """The device kind "auto" stands for here: CUDA, else MPS, else the CPU. The engine, the
    tray and the settings all ask this, so they agree on the default model."""
    return next(k for k in ("cuda", "mps", "cpu") if unavailable_reason(k) is None)


def default_model(setting: str) -> CatalogModel:
    """The model "automatic" means for a device setting ("auto" is the device auto picks):
    the one answer for the tray, the settings dialog and the app."""
    kind = (setting or "auto").split(":")[0]
    return catalog.default_model(auto_kind() if kind == "auto" else kind)


def resolve(requested: str = "auto", dtype: str | None = None) -> DeviceChoice:
    """Turn a user's choice into a concrete device; an explicit choice is honoured or refused."""
    requested = (requested or "auto").strip().lower()
    if dtype is not None and dtype not in _DTYPES:
        raise DeviceError(f"unknown dtype {dtype!r} (choose one of {', '.join(_DTYPES)})")
    if requested == "auto":
        kind = auto_kind()
        device = kind
    else:
        kind = requested.split(":")[0]
        reason = unavailable_reason(kind)
        if reason is not None:
            raise DeviceError(f"device {requested!r} cannot be used: {reason}")
        if kind == "cuda" and ":" in requested:
            index = requested.split(":", 1)[1]
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise DeviceError(
                    f"device {requested!r} does not exist "
                    f"({torch.cuda.device_count()} CUDA device(s) found)"
                )
        device = requested
    if dtype is not None:
        return DeviceChoice(device, _DTYPES[dtype])
    # Half precision on accelerators; fp32 on CPU, where fp16/bf16 matmuls are emulated and
    # were ~5x slower on a CPU without bf16 instructions.
    return DeviceChoice(device, torch.float32 if kind == "cpu" else torch.float16)


def configure_cpu_threads() -> int:
    """Use every core this process may run on for intra-op work; one thread for inter-op.

    torch defaults to the number of *physical* cores, which on small VMs with SMT halves the
    usable compute. DICTATE_THREADS overrides.
    """
    wanted = os.environ.get("DICTATE_THREADS")
    fixed = int(wanted) if wanted and wanted.isdigit() else 0
    n = fixed if fixed > 0 else threads.usable_cores()
    threads.set_threads(n)
    return n
