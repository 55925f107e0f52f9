"""benchmarks/gpu.py without a GPU: its arguments, its refusal, and a dry run of its code paths
(tiny shapes on the CPU). The real figures need an NVIDIA GPU (benchmarks/gpu.sh)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import gpu


def test_arguments():
    args = gpu.parse_args(["--dry-run", "--models", "large-v3", "--device", "cpu"])
    assert (args.runs, args.tokens, args.models) == (1, 3, ["large-v3"])
    assert gpu.parse_args([]).device == "cuda" and gpu.parse_args([]).tokens == 24
    with pytest.raises(SystemExit):
        gpu.parse_args(["--models", "huge-v9"])
    # The stand-in shapes are the published ones; the dry run shrinks only widths.
    assert gpu.SHAPES["large-v3"]["decoder_layers"] == 32
    assert gpu.SHAPES["distil-large-v3"]["num_mel_bins"] == 128
    assert gpu.SHAPES_FOR[True]["large-v3"]["decoder_layers"] == 32


def test_without_cuda_it_says_so(capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert gpu.main(["--models", "large-v3"]) == 2
    assert "no CUDA device here" in capsys.readouterr().err


def test_gpu_sh_without_a_gpu_points_to_the_dry_run():
    if subprocess.run(["sh", "-c", "command -v nvidia-smi"], capture_output=True).returncode == 0:
        pytest.skip("an NVIDIA GPU is present")
    done = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "gpu.sh")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "--dry-run" in done.stderr


@pytest.mark.slow
def test_dry_run_takes_every_path(tmp_path, capsys):
    out = tmp_path / "table.md"
    variants = ["lean fp16", "generate fp16", "speculative"]
    argv = ["--dry-run", "--device", "cpu", "--models", "large-v3", "--variants", *variants]
    assert gpu.main([*argv, "--out", str(out)]) == 0
    table = out.read_text()
    for variant in variants:
        assert f"| large-v3 | {variant} |" in table
    assert "teacher passes per token" in table  # the speculative row counts the checks
