#!/usr/bin/env bash
# The README's two commands, as a new user runs them, with and without a venv: for each mode,
# clone the committed HEAD into a temp folder, give it a fresh Python environment, then run
#   1. pip install torch==2.13.0 && pip install ".[offline]" && dictate   (headless: no display;
#      it passes once the app says "ready (MODEL on DEVICE)" and `dictate status` answers, then
#      the app is stopped with SIGTERM)
#   2. bash tests/setup.sh && python -m pytest -m "" tests
# and report each step's exit status and time. The modes:
#   venv    `python3 -m venv .venv && . .venv/bin/activate` (no system site packages)
#   novenv  no venv at all: a fresh install of the same Python (a copy of its base installation,
#           without its site-packages, with the pip and setuptools that Python ships, from
#           `ensurepip`) first on PATH, and `pip install` straight into its site-packages, as
#           on a machine where Python came from pyenv, python.org or a container image. The
#           copy needs a self-contained installation (pyenv, python.org, conda); a distribution's
#           /usr Python cannot be copied, and Debian's and Ubuntu's refuse `pip install` outside
#           a venv anyway (PEP 668), as the README says.
# Home, settings, history and the model caches are fresh (in the temp folder) in each mode;
# only pip's download cache is shared, to save bandwidth.
#
#   bash tests/fresh_machine.sh                 # both modes (~1 h each on 2 cores)
#   FRESH_MODES=venv bash tests/fresh_machine.sh    # one mode (venv or novenv)
#   FRESH_PYTEST_ARGS='-m "" tests/test_packaging.py -k "not bundle"' bash tests/fresh_machine.sh
#       # step 2 with `python -m pytest $FRESH_PYTEST_ARGS` instead of `-m "" tests` (a quick check;
#       # the report says so)
#   FRESH_SKIP_APP=1 ...                        # skip command 1's install and app run (a quick
#                                               # check of the set-up only; the report says so)
#   FRESH_KEEP=1 ...                            # keep the temp folder for a look afterwards
#   FRESH_PYTHON=python3.12 ...                 # the interpreter (venv: makes it; novenv: copied)
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${FRESH_PYTHON:-python3}
modes=${FRESH_MODES:-venv novenv}
commit=$(git -C "$repo" rev-parse HEAD)
work=$(mktemp -d "${TMPDIR:-/tmp}/dictate-fresh.XXXXXX")
pip_cache=$("$python" -m pip cache dir 2>/dev/null || true)
fixtures=${DICTATE_FIXTURES:-$repo/../shared/fixtures/speech}
cleanup() {
  if [ -n "${FRESH_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
for mode in $modes; do
  case $mode in venv | novenv) ;; *) echo "unknown mode '$mode' (venv, novenv)"; exit 2 ;; esac
done
if [ -n "$(git -C "$repo" status --porcelain)" ]; then
  echo "note: $repo has uncommitted changes; this tests the committed $commit only"
fi

# A fresh installation of $python with nothing installed into it: its base prefix copied without
# site-packages (nor the console scripts its packages put in bin/), then the pip and setuptools
# this Python ships (ensurepip), as a new pyenv / python.org install has them.
fresh_python() {
  local dest=$1 base version
  base=$("$python" -c 'import sys; print(sys.base_prefix)')
  version=$("$python" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')
  if [ "$base" = /usr ] || [ ! -f "$base/lib/$version/os.py" ]; then
    echo "novenv: $python ($base) is not a self-contained installation to copy; use FRESH_PYTHON"
    return 1
  fi
  mkdir -p "$dest/bin" || return 1
  tar -C "$base" --exclude="./lib/$version/site-packages" --exclude="./lib/$version/test" \
    --exclude='__pycache__' --exclude=./bin -cf - . | tar -C "$dest" -xf - || return 1
  mkdir -p "$dest/lib/$version/site-packages"
  # Only the interpreter's own programs; `python` too where the installation has it (pyenv).
  for f in "$base"/bin/python* "$base"/bin/pydoc* "$base"/bin/idle* "$base"/bin/2to3*; do
    [ -e "$f" ] && cp -a "$f" "$dest/bin/"
  done
  "$dest/bin/$version" -m ensurepip --default-pip >/dev/null 2>&1 \
    || { echo "novenv: ensurepip failed"; return 1; }
}

# One mode, in a subshell of its own (its HOME, PATH and environment); its report lines go to
# $work/$mode.report, the last one "command 1: ...; command 2: ...".
run_mode() (
  mode=$1
  dir="$work/$mode"
  mkdir -p "$dir"
  say() { echo "$1" >>"$dir.report"; echo "== [$mode] $1"; }
  app_pid=""
  trap '[ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null' EXIT
  git clone -q --no-checkout "$repo" "$dir/dictate" && git -C "$dir/dictate" checkout -q "$commit" \
    || { say "clone failed"; say "command 1: FAIL; command 2: FAIL"; exit 1; }
  cd "$dir/dictate" || exit 1

  # A new user's session: own home and XDG folders, no display, no PYTHONPATH into a checkout.
  export HOME="$dir/home" XDG_RUNTIME_DIR="$dir/run" XDG_CONFIG_HOME="$dir/home/.config"
  export XDG_DATA_HOME="$dir/home/.local/share" XDG_CACHE_HOME="$dir/home/.cache"
  mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
  [ -n "$pip_cache" ] && export PIP_CACHE_DIR="$pip_cache"
  # The recorded speech the tests read in place (never part of the repository): the one beside
  # this checkout, as the tests' conftest finds it, unless DICTATE_FIXTURES says where.
  [ -f "$fixtures/references.tsv" ] && export DICTATE_FIXTURES=$fixtures
  unset PYTHONPATH VIRTUAL_ENV DISPLAY WAYLAND_DISPLAY QT_QPA_PLATFORM HF_HOME DICTATE_CACHE_DIR
  unset PYTHONUSERBASE PIP_USER PIP_BREAK_SYSTEM_PACKAGES

  if [ "$mode" = venv ]; then
    "$python" -m venv .venv && . .venv/bin/activate || { say "venv failed"; exit 1; }
  else
    fresh_python "$dir/python" || { say "no fresh Python"; say "command 1: FAIL; command 2: FAIL"; exit 1; }
    export PATH="$dir/python/bin:$PATH"
    hash -r
  fi
  say "speech fixtures: ${DICTATE_FIXTURES:-none (the tests that need them skip)}"
  say "python: $(python --version 2>&1) at $(command -v python), prefix $(python -c \
    'import sys; print(sys.prefix, "(venv)" if sys.prefix != sys.base_prefix else "(no venv)")'), \
pip at $(command -v pip), setuptools $(python -c \
    'import setuptools; print(setuptools.__version__)' 2>/dev/null || echo none)"

  # 1. Install and run the app (the README's first command, exactly), headless.
  t=$SECONDS
  if [ -n "${FRESH_SKIP_APP:-}" ]; then
    say "command 1: SKIPPED (FRESH_SKIP_APP)"
    step1=skipped
  else
    bash -c 'pip install torch==2.13.0 && pip install ".[offline]" && dictate' >"$dir/app.log" 2>&1 &
    app_pid=$!
    state="" ready=""
    while kill -0 "$app_pid" 2>/dev/null && [ $((SECONDS - t)) -lt 1500 ]; do
      # Ready: the model is in (the app's "ready (...)" line) and `dictate status` answers. Its
      # state word is then "ready", or what needs the person first ("no microphone" on a
      # machine without a sound card, as CI's).
      if grep -q "^dictate: ready (" "$dir/app.log" && command -v dictate >/dev/null \
        && state=$(dictate status 2>/dev/null); then
        ready=1
        break
      fi
      sleep 2
    done
    if [ -n "${ready:-}" ]; then
      ready_s=$((SECONDS - t))
      # bash runs the last command of the line in its own place (exec): $app_pid is `dictate`
      # itself then; else `dictate` is its child.
      pkill -TERM -P "$app_pid" 2>/dev/null || kill -TERM "$app_pid"
      wait "$app_pid"
      rc=$?
      say "command 1 (install + dictate): ready after ${ready_s}s (status: $state); exit $rc after SIGTERM"
      [ $rc -eq 0 ] && step1=pass || step1="FAIL (exit $rc on SIGTERM)"
    else
      wait "$app_pid" 2>/dev/null
      say "command 1 (install + dictate): never ready (last status: '${state}')"
      step1=FAIL
    fi
    app_pid=""
    tail -n 15 "$dir/app.log"
  fi

  # 2. Run every test, as CI does (the README's second command; narrowed only if asked).
  t=$SECONDS
  if [ -n "${FRESH_PYTEST_ARGS:-}" ]; then
    bash tests/setup.sh && eval "python -m pytest $FRESH_PYTEST_ARGS" 2>&1 | tee "$dir/tests.log"
    rc=${PIPESTATUS[0]}
    what="bash tests/setup.sh && python -m pytest $FRESH_PYTEST_ARGS   (NARROWED, not the full run)"
  else
    bash tests/setup.sh && python -m pytest -m "" tests 2>&1 | tee "$dir/tests.log"
    rc=${PIPESTATUS[0]}
    what='bash tests/setup.sh && python -m pytest -m "" tests'
  fi
  summary=$(tail -n 1 "$dir/tests.log" 2>/dev/null)
  say "command 2: $what -> exit $rc in $((SECONDS - t))s: $summary"
  [ "$rc" -eq 0 ] && step2=pass || step2=FAIL
  say "command 1: $step1; command 2: $step2"
  [[ $step1 == pass || $step1 == skipped ]] && [ "$step2" = pass ]
)

start=$SECONDS
ok=0
for mode in $modes; do
  run_mode "$mode" || ok=1
done
echo
echo "fresh-machine report for $commit ($((SECONDS - start))s; modes: $modes)"
for mode in $modes; do
  echo "  [$mode]"
  sed 's/^/    /' "$work/$mode.report" 2>/dev/null || echo "    (no report)"
done
exit $ok
