#!/usr/bin/env bash
# The diffusion GPU benchmarks as run on the device machine (docs/benchmarks/diffusion.md).
#   scripts/bench_diffusion_gpu.sh sd OUTDIR     # sd-turbo class 512: ours vs StreamDiffusion
#   scripts/bench_diffusion_gpu.sh sdxl OUTDIR   # SDXL class 1024: 16-bit vs FP8 variants
#   scripts/bench_diffusion_gpu.sh streamdiffusion OUTDIR   # only StreamDiffusion's pipeline
# Wheels: .whl/base/*.whl (diffusers for the project) and .whl/sd/*.whl (StreamDiffusion 0.1.1
# with the diffusers 0.24 / transformers 4.48 it pins), downloaded with pip download.
set -u
stage=${1:-sd}
out=${2:-/tmp/bench-out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
if [ -d .whl ] && [ ! -d /tmp/site ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/base/*.whl
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/sd-site .whl/sd/*.whl
fi
export PYTHONPATH=/tmp/site
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,power.draw --format=csv \
  >"$out/nvidia-smi-$stage.txt" 2>&1
save() {  # family folder
  [ -d "$2" ] || python3 -c "import sys; sys.path.insert(0, '.'); \
from models.testing import save_random_pipeline as s; \
s('$2', size='full', dtype='float16', family='$1', device='cuda')"
}
if [ "$stage" = sd ] || [ "$stage" = streamdiffusion ]; then
  save sd /tmp/sdturbo
  [ "$stage" = sd ] && python3 scripts/bench_generator.py --model-dir /tmp/sdturbo --frames 300 --batch 4 \
    --variants "${SD_VARIANTS:-16bit-graph,16bit-compiled}" --warm-restart --breakdown \
    --child-timeout 240 --out "$out/diffusion-sd.json"
  PYTHONPATH=/tmp/sd-site python3 scripts/bench_streamdiffusion.py --model-dir /tmp/sdturbo \
    --frames 300 --variants compile-unet-vae --modes txt2img --child-timeout 200 \
    --out "$out/streamdiffusion.json"
elif [ "$stage" = sdxl ]; then
  save sdxl /tmp/sdxl
  python3 scripts/bench_generator.py --family sdxl --size 1024 --model-dir /tmp/sdxl \
    --frames 100 --warmup 3 --batch 1 --breakdown --child-timeout "${SDXL_CHILD_TIMEOUT:-300}" \
    --variants "${SDXL_VARIANTS:-16bit-graph,fp8-static-graph-linears}" \
    --out "$out/diffusion-sdxl.json"
fi
