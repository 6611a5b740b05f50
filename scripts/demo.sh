#!/usr/bin/env bash
# The main job on a fresh clone: set up, make a demo song, render it with the embedded engine.
# No model weights, no downloads beyond Python packages. Output: out/demo.mp4
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p out
.venv/bin/python scripts/make_demo_song.py out/demo.wav --bpm 124 --duration 30
.venv/bin/visualize out/demo.wav --out out/demo.mp4 --size 1280x720 --fps 30 "$@"
