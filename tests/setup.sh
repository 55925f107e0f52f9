#!/usr/bin/env bash
# Everything the test suite needs on a fresh Debian/Ubuntu machine: system packages with
# apt-get, Python packages with pip. Safe to run again; it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(ffmpeg)  # containers such as m4a/mp4/webm are decoded by ffmpeg
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python=${PYTHON:-python3}
# torch first and pinned: on the project's machines this is the local CPU wheel, while an open
# range would pull the multi-GB CUDA build. The package itself asks for a range.
"$python" -m pip install -q "torch==2.13.0"
"$python" -m pip install -q -e ".[offline,test]"
