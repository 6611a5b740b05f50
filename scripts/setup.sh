#!/usr/bin/env bash
# Create a virtual environment and install visualize into it. Usage: scripts/setup.sh [EXTRAS]
#   scripts/setup.sh                      the CPU app only (embedded engine), in .venv
#   VENV=.venv-test scripts/setup.sh speech,diffusion,dev   what scripts/test.sh does
# VENV names the environment (default .venv): the tests get their own, so installing the
# test extras never changes the app that scripts/demo.sh set up.
# On a CPU-only machine torch is pinned to the CPU build (2.13.0) before anything can pull
# a multi-GB CUDA build. On a GPU box install a CUDA torch first (see README), then the extras.
# Each step prints one line first; pip shows its own progress (a bar on a terminal, one
# line per package in a log). CI=true keeps pip quiet. Never reads stdin.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
venv="${VENV:-.venv}"

pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)
if [[ "${CI:-}" == "true" ]]; then
    pip+=(-q)
fi

step_started=0
step() {  # step "what is being installed (how big)"
    finish_step
    echo "setup: $1..."
    step_started=$SECONDS
}
finish_step() {
    if ((step_started)); then
        echo "setup:   done in $((SECONDS - step_started)) s"
    fi
}

if [[ ! -x "$venv/bin/python" ]]; then
    step "creating $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv"
fi
step "updating pip, setuptools and wheel"
"${pip[@]}" install -U pip setuptools wheel </dev/null

if [[ "$extras" == *diffusion* || "$extras" == *whisper* ]]; then
    if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
        if command -v nvidia-smi >/dev/null 2>&1; then
            step "installing torch (CUDA build for the GPU here, ~2.5 GB)"
            "${pip[@]}" install torch </dev/null
        else
            step "installing torch (CPU build 2.13.0, ~200 MB)"
            "${pip[@]}" install "torch==2.13.0" </dev/null
        fi
    fi
fi

if [[ -n "$extras" ]]; then
    step "installing visualize[$extras] (editable) and its dependencies (the first time: minutes)"
    "${pip[@]}" install -e ".[$extras]" </dev/null
else
    step "installing visualize (editable) and its dependencies (some 100s of MB the first time)"
    "${pip[@]}" install -e . </dev/null
fi
finish_step
echo "setup: ready: $venv/bin/visualize"
