#!/usr/bin/env bash
# The README's two commands, as a new user runs them: clone the committed HEAD into a temp
# folder, make a fresh venv (no system site packages), then
#   1. pip install torch==2.13.0 && pip install ".[offline]" && dictate   (headless: no display;
#      it passes once `dictate status` answers "ready", then the app is stopped with SIGTERM)
#   2. bash tests/setup.sh && python -m pytest -m "" tests
# and report each step's exit status and time. Home, settings, history and the model caches are
# fresh (in the temp folder); only pip's download cache is shared, to save bandwidth.
#
#   bash tests/fresh_machine.sh                 # everything (~15-20 min on 2 cores)
#   FRESH_PYTEST_ARGS='-m "" tests/test_packaging.py -k "not bundle"' bash tests/fresh_machine.sh
#       # step 2 with `python -m pytest $FRESH_PYTEST_ARGS` instead of `-m "" tests` (a quick check;
#       # the report says so)
#   FRESH_KEEP=1 ...                            # keep the temp folder for a look afterwards
#   FRESH_PYTHON=python3.12 ...                 # the interpreter that makes the venv
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${FRESH_PYTHON:-python3}
commit=$(git -C "$repo" rev-parse HEAD)
work=$(mktemp -d "${TMPDIR:-/tmp}/dictate-fresh.XXXXXX")
pip_cache=$("$python" -m pip cache dir 2>/dev/null || true)
cleanup() {
  [ -n "${app_pid:-}" ] && kill "$app_pid" 2>/dev/null
  if [ -n "${FRESH_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

report=()
note() { report+=("$1"); echo "== $1"; }

git clone -q --no-checkout "$repo" "$work/dictate" && git -C "$work/dictate" checkout -q "$commit" \
  || { echo "clone failed"; exit 1; }
cd "$work/dictate" || exit 1
if [ -n "$(git -C "$repo" status --porcelain)" ]; then
  echo "note: $repo has uncommitted changes; this tests the committed $commit only"
fi

# A new user's session: own home and XDG folders, no display, no PYTHONPATH into a checkout.
export HOME="$work/home" XDG_RUNTIME_DIR="$work/run" XDG_CONFIG_HOME="$work/home/.config"
export XDG_DATA_HOME="$work/home/.local/share" XDG_CACHE_HOME="$work/home/.cache"
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
[ -n "$pip_cache" ] && export PIP_CACHE_DIR="$pip_cache"
# The recorded speech the tests read in place (never part of the repository): the one beside
# this checkout, as the tests' conftest finds it, unless DICTATE_FIXTURES says where.
fixtures=${DICTATE_FIXTURES:-$repo/../shared/fixtures/speech}
[ -f "$fixtures/references.tsv" ] && export DICTATE_FIXTURES=$fixtures
unset PYTHONPATH VIRTUAL_ENV DISPLAY WAYLAND_DISPLAY QT_QPA_PLATFORM HF_HOME DICTATE_CACHE_DIR

start=$SECONDS
"$python" -m venv .venv && . .venv/bin/activate || { echo "venv failed"; exit 1; }
note "speech fixtures: ${DICTATE_FIXTURES:-none (the tests that need them skip)}"
note "venv: $(python --version) at $(command -v python), setuptools $(python -c \
  'import setuptools; print(setuptools.__version__)' 2>/dev/null || echo none)"

# 1. Install and run the app (the README's first command, exactly), headless.
t=$SECONDS
bash -c 'pip install torch==2.13.0 && pip install ".[offline]" && dictate' >"$work/app.log" 2>&1 &
app_pid=$!
state=""
while kill -0 "$app_pid" 2>/dev/null && [ $((SECONDS - t)) -lt 1500 ]; do
  if command -v dictate >/dev/null && state=$(dictate status 2>/dev/null) \
    && [[ $state == ready* ]]; then
    break
  fi
  sleep 2
done
if [[ $state == ready* ]]; then
  ready_s=$((SECONDS - t))
  # bash runs the last command of the line in its own place (exec): $app_pid is `dictate`
  # itself then; else `dictate` is its child.
  pkill -TERM -P "$app_pid" 2>/dev/null || kill -TERM "$app_pid"
  wait "$app_pid"
  rc=$?
  note "command 1 (install + dictate): ready after ${ready_s}s (status: $state); exit $rc after SIGTERM"
  [ $rc -eq 0 ] && step1=pass || step1="FAIL (exit $rc on SIGTERM)"
else
  wait "$app_pid" 2>/dev/null
  note "command 1 (install + dictate): never ready (last status: '${state}')"
  step1=FAIL
fi
app_pid=""
tail -n 15 "$work/app.log"

# 2. Run every test, as CI does (the README's second command; narrowed only if asked).
t=$SECONDS
if [ -n "${FRESH_PYTEST_ARGS:-}" ]; then
  bash tests/setup.sh && eval "python -m pytest $FRESH_PYTEST_ARGS" 2>&1 | tee "$work/tests.log"
  rc=${PIPESTATUS[0]}
  what="bash tests/setup.sh && python -m pytest $FRESH_PYTEST_ARGS   (NARROWED, not the full run)"
else
  bash tests/setup.sh && python -m pytest -m "" tests 2>&1 | tee "$work/tests.log"
  rc=${PIPESTATUS[0]}
  what='bash tests/setup.sh && python -m pytest -m "" tests'
fi
summary=$(tail -n 1 "$work/tests.log")
note "command 2: $what -> exit $rc in $((SECONDS - t))s: $summary"
[ "$rc" -eq 0 ] && step2=pass || step2=FAIL

echo
echo "fresh-machine report for $commit ($((SECONDS - start))s)"
printf '  %s\n' "${report[@]}"
echo "  command 1: $step1; command 2: $step2"
[ "$step1" = pass ] && [ "$step2" = pass ]
