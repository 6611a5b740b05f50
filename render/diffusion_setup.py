"""How the diffusion engine runs on this machine, decided once at start-up: the
precision, the model's resolution, Inductor's on-disk cache and static FP8 calibration.

Torch is imported lazily, inside functions.
"""

from __future__ import annotations

import math
from typing import Any

# Prompts that set static FP8 activation scales (fp8_scaling="static").
CALIBRATION_PROMPTS = ("abstract flowing light", "")
PRECISIONS = ("auto", "fp8", "fp16", "bf16", "fp32")


def choose_precision(requested: str, device: Any, family: str = "") -> tuple[str, str | None]:
    """(precision to use, one-line notice or None) for this device and model family."""
    from models.fp8 import fp8_matmul_supported
    from models.registry import DIT_FAMILIES

    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
    if device.type != "cuda":
        note = None if requested in ("auto", "fp32") else f"{requested} needs a GPU: using fp32"
        return "fp32", note
    # The DiTs' T5 encoders and Flux's activations overflow fp16: they are bf16 models.
    dit = family in DIT_FAMILIES
    half = "bf16" if dit else "fp16"
    fp8_ok = requested in ("auto", "fp8") and fp8_matmul_supported(device)
    if requested == "auto":
        # Measured on an H100 (docs/benchmarks/fp8.md, diffusion.md): a full-depth
        # FLUX-class DiT in FP8 is 1.18-1.29x faster per forward than bf16 and holds half
        # the weights (11.9 vs 23.8 GB); through the generator thread it kept bf16's pace
        # (4.82 vs 4.90 frames/s) at half the peak memory (12.3 vs 24.1 GB). So DiTs take
        # FP8 where the GPU has it. UNets stay fp16: the sd-turbo UNet in FP8 is about 25%
        # slower per forward (8.44 vs 6.73 ms, H100), and even at SDXL 1024, where the UNet
        # is compute-bound, FP8 with static scales on the Linears is 0.88x fp16 per step
        # (20.89 vs 18.39 ms, H200, 2026-12-02).
        if dit and fp8_ok:
            return "fp8", "auto: fp8 transformer, half its weights (--precision bf16: 16-bit)"
        return half, None
    if requested == "fp8" and not fp8_ok:
        return half, f"FP8 needs compute capability 8.9+ (Ada/Hopper): using {half}"
    if requested == "fp8" and dit:
        return "fp8", "fp8: half the transformer's weight memory"
    if requested == "fp8":
        return "fp8", "fp8: half the weight memory, about 25% slower than fp16 on the sd-turbo UNet"
    return requested, None


def calibrate_fp8(denoiser: Any, seed: int, device: Any) -> int:
    """Static FP8 activation scales from a few eager denoises (two prompts, fresh
    noise); see `models.fp8.calibrate_static`. Returns how many layers got one."""
    import torch

    from models.fp8 import calibrate_static

    def run() -> None:
        generator = torch.Generator("cpu").manual_seed(seed)
        for prompt in CALIBRATION_PROMPTS:
            cond = denoiser.encode_prompt(prompt, "")
            noise = torch.randn(denoiser.noise_shape, generator=generator)
            denoiser.run(noise.to(device), cond)

    with torch.inference_mode():
        return calibrate_static(denoiser.model, run)


def model_size(width: int, height: int, native: int) -> tuple[int, int]:
    """Model resolution with the output's aspect, about native^2 pixels, multiples of 64."""
    scale = math.sqrt(native * native / max(1, width * height))
    return max(64, round(width * scale / 64) * 64), max(64, round(height * scale / 64) * 64)


def enable_compile_cache(folder: Any) -> None:
    """Keep Inductor's compiled kernels between runs: a warm start skips most compiling."""
    import os

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(folder / "inductor"))
    os.environ.setdefault("TORCHINDUCTOR_FX_GRAPH_CACHE", "1")
    os.environ.setdefault("TORCHINDUCTOR_AUTOGRAD_CACHE", "1")
