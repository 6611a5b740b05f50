#!/usr/bin/env bash
# Create .venv and install visualize into it. Usage: scripts/setup.sh [EXTRAS]
#   scripts/setup.sh                      the CPU app only (embedded engine)
#   scripts/setup.sh speech,diffusion,dev everything the tests need
# On a CPU-only machine torch is pinned to the CPU build (2.13.0) before anything can pull
# a multi-GB CUDA build. On a GPU box install a CUDA torch first (see README), then the extras.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"

if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install -U pip setuptools wheel >/dev/null

if [[ "$extras" == *diffusion* || "$extras" == *whisper* ]]; then
    if ! .venv/bin/python -c "import torch" 2>/dev/null; then
        if command -v nvidia-smi >/dev/null 2>&1; then
            "${pip[@]}" install torch            # CUDA build for the GPU here
        else
            "${pip[@]}" install "torch==2.13.0"  # CPU build
        fi
    fi
fi

if [[ -n "$extras" ]]; then
    "${pip[@]}" install -e ".[$extras]"
else
    "${pip[@]}" install -e .
fi
