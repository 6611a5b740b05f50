"""Where FP8 pays: denoiser forward passes under torch.compile, 16-bit against FP8 variants.

Random weights, full-size architectures, CUDA-event medians (speed does not depend on
weight values):

- `unet`: the sd-turbo-class UNet at 512x512 plus the TAESD decoder, one process per
  variant (fp16, channels-last, FP8 with convolutions dequantized or on the FP8 GEMM).
  Variants compile in parallel; only the timing is taken one process at a time.
- `dit`: a FLUX.1-class transformer at full width *and* full depth (19 double + 38
  single blocks), bf16 against FP8, blocks compiled one by one (regional compilation),
  at 512x512 and 1024x1024.

    python scripts/bench_fp8.py                 # GPU: both, writes docs/benchmarks/fp8.json
    python scripts/bench_fp8.py --tiny --device cpu --only unet   # smoke test

The generator-level numbers (cue in, RGB frame out) are scripts/bench_generator.py's.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.benchjson import machine_name, utc_now  # noqa: E402

INF = float("inf")
# name: (16-bit dtype, FP8 (conv, linear) GEMM ratios or None for no FP8, channels_last).
# A layer takes the FP8 GEMM while its rows (pixels, tokens) <= output channels x ratio.
UNET_VARIANTS = {
    "fp16": ("float16", None, False),
    "fp16-channels-last": ("float16", None, True),
    "fp8-convs-dequantized": ("bfloat16", (0.0, INF), False),
    "fp8-convs-gemm-low-res": ("bfloat16", (1.0, INF), False),
    "fp8-convs-gemm-low-res-channels-last": ("bfloat16", (1.0, INF), True),
    "fp8-convs-gemm-all": ("bfloat16", (INF, INF), False),
    "fp8-gemm-low-res-only": ("bfloat16", (1.0, 1.0), False),
}


@contextlib.contextmanager
def timing_turn(lock_path: str):
    """One process times at a time; the others may go on compiling meanwhile."""
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cuda_ms(fn, repeats: int, device: str) -> dict:
    """Median and p99 milliseconds of fn() (CUDA events on a GPU, wall clock on a CPU)."""
    import torch

    times = []
    for _ in range(repeats):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)]  # nearest rank
    return {"ms_p50": statistics.median(times), "ms_p99": p99}


def relative_error(out, reference) -> float:
    return ((out.float() - reference.float()).norm() / reference.float().norm()).item()


def unet_child(args: argparse.Namespace) -> dict:
    import torch
    from diffusers import AutoencoderTiny, UNet2DConditionModel

    from models.fp8 import quantize_model, weight_bytes
    from models.testing import FULL_UNET, TINY_UNET

    dtype_name, ratios, channels_last = UNET_VARIANTS[args.variant]
    dtype = getattr(torch, dtype_name)
    device, cuda = args.device, args.device == "cuda"
    config = TINY_UNET if args.tiny else FULL_UNET
    torch.manual_seed(0)
    with torch.device(device):
        unet = UNet2DConditionModel(**config).to(torch.bfloat16).eval()
        decoder = AutoencoderTiny().to(dtype).eval()
    latent = args.size // 8
    g = torch.Generator(device).manual_seed(1)
    sample = torch.randn(1, 4, latent, latent, device=device, generator=g)
    embeds = torch.randn(1, 77, config["cross_attention_dim"], device=device, generator=g)
    timestep = torch.full((1,), 999, device=device)
    with torch.inference_mode():
        reference = unet(sample.bfloat16(), timestep, encoder_hidden_states=embeds.bfloat16())[0]
    weights_16bit = weight_bytes(unet)
    report = None
    if ratios is None:
        unet.to(dtype)
    else:
        report = quantize_model(
            unet, torch.bfloat16, conv_gemm_ratio=ratios[0], linear_gemm_ratio=ratios[1]
        )
    if channels_last:
        unet.to(memory_format=torch.channels_last)
        decoder.to(memory_format=torch.channels_last)
    t0 = time.perf_counter()
    if cuda:
        unet = torch.compile(unet, mode="reduce-overhead")
        decoder.decoder = torch.compile(decoder.decoder, mode="reduce-overhead")
    sample, embeds = sample.to(dtype), embeds.to(dtype)
    if channels_last:
        sample = sample.contiguous(memory_format=torch.channels_last)

    def step_begin():  # each call is a new step for the CUDA graphs (outputs get reused)
        if cuda:
            torch.compiler.cudagraph_mark_step_begin()

    def denoise():
        step_begin()
        return unet(sample, timestep, encoder_hidden_states=embeds)[0]

    def decode():
        step_begin()
        return decoder.decode(sample)[0]

    def frame():
        step_begin()
        return decoder.decode(unet(sample, timestep, encoder_hidden_states=embeds)[0])[0]

    with torch.inference_mode():
        for _ in range(3):
            out = denoise().clone()
            decode()
            frame()
        if cuda:
            torch.cuda.synchronize()
        compile_s = time.perf_counter() - t0
        error = relative_error(out, reference)
        with timing_turn(args.lock):
            result = {
                "unet": cuda_ms(denoise, args.repeats, device),
                "taesd_decode": cuda_ms(decode, args.repeats, device),
                "unet_plus_decode": cuda_ms(frame, args.repeats, device),
            }
    result.update(
        variant=args.variant,
        dtype=dtype_name,
        fp8_gemm_ratios_conv_linear=ratios,
        channels_last=channels_last,
        compiled=cuda,
        compile_and_warmup_s=compile_s,
        relative_error_vs_bf16_eager=error,
        finite=bool(torch.isfinite(out).all()),
        unet_weight_gb=weight_bytes(unet) / 1e9,
        unet_weight_ratio=weight_bytes(unet) / weights_16bit,
    )
    if report is not None:
        result["fp8_layers"] = {
            "linears_scaled_mm": report.linears_scaled_mm,
            "convs": report.convs,
            "convs_gemm_capable": report.convs_scaled_mm,
        }
    return result


def dit_child(args: argparse.Namespace) -> dict:
    """bf16 then FP8 on a freshly built FLUX-class model, per resolution."""
    import torch
    from diffusers import FluxTransformer2DModel

    from models.fp8 import quantize_model, weight_bytes
    from models.testing import FULL_FLUX_TRANSFORMER, TINY_FLUX_TRANSFORMER

    device, cuda = args.device, args.device == "cuda"
    config = TINY_FLUX_TRANSFORMER if args.tiny else FULL_FLUX_TRANSFORMER
    results: dict = {"config": config, "text_tokens": 256}
    for precision in ("bf16", "fp8"):
        torch.manual_seed(0)
        torch.set_default_dtype(torch.bfloat16)  # build 12B parameters straight in bf16
        with torch.device(device):
            model = FluxTransformer2DModel(**config).eval()
        torch.set_default_dtype(torch.float32)
        if precision == "fp8":
            quantize_model(model, torch.bfloat16)
        entry = {"weights_gb": weight_bytes(model) / 1e9}
        t0 = time.perf_counter()
        if cuda:  # regional: one compiled graph serves every block of a kind
            for block in [*model.transformer_blocks, *model.single_transformer_blocks]:
                block.compile(mode="reduce-overhead", dynamic=False)
        for size in args.dit_sizes:
            entry[str(size)] = dit_time(model, config, size, args)
        entry["compile_and_warmup_s"] = time.perf_counter() - t0
        results[precision] = entry
        del model
        if cuda:
            torch.cuda.empty_cache()
    for size in args.dit_sizes:
        base = results["bf16"][str(size)]["ms_p50"]
        results["fp8"][str(size)]["speedup_vs_bf16"] = base / results["fp8"][str(size)]["ms_p50"]
    results["fp8"]["weight_ratio"] = results["fp8"]["weights_gb"] / results["bf16"]["weights_gb"]
    return results


def dit_time(model, config: dict, size: int, args: argparse.Namespace) -> dict:
    import torch

    device = args.device
    tokens = (size // 16) ** 2  # VAE /8, then 2x2 patches
    g = torch.Generator(device).manual_seed(1)

    def randn(*shape):
        return torch.randn(*shape, device=device, generator=g).bfloat16()

    inputs = {
        "hidden_states": randn(1, tokens, config["in_channels"]),
        "encoder_hidden_states": randn(1, 256, config["joint_attention_dim"]),
        "pooled_projections": randn(1, config["pooled_projection_dim"]),
        "timestep": torch.full((1,), 1.0, device=device, dtype=torch.bfloat16),
        "img_ids": torch.zeros(tokens, 3, device=device),
        "txt_ids": torch.zeros(256, 3, device=device),
    }

    def forward():
        if device == "cuda":
            torch.compiler.cudagraph_mark_step_begin()
        return model(**inputs)[0]

    with torch.inference_mode():
        for _ in range(3):
            out = forward().clone()
        with timing_turn(args.lock):
            timing = cuda_ms(forward, args.dit_repeats, device)
    timing["finite"] = bool(torch.isfinite(out).all())
    timing["tokens"] = tokens + 256
    return timing


def run_child(args: argparse.Namespace, kind: str, variant: str) -> subprocess.Popen:
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    command = [sys.executable, __file__, "--child", kind, "--variant", variant, "--json", out]
    command += ["--device", args.device, "--size", str(args.size), "--lock", args.lock]
    command += ["--repeats", str(args.repeats), "--dit-repeats", str(args.dit_repeats)]
    command += ["--dit-sizes", ",".join(map(str, args.dit_sizes))]
    command += ["--tiny"] if args.tiny else []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.json_path = out  # type: ignore[attr-defined]
    return process


def collect(process: subprocess.Popen, name: str, timeout: float) -> dict:
    try:
        _, stderr = process.communicate(timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired:
        process.kill()
        return {"variant": name, "error": "timed out"}
    if process.returncode != 0:
        return {"variant": name, "error": stderr.strip().splitlines()[-3:]}
    result = json.loads(Path(process.json_path).read_text())  # type: ignore[attr-defined]
    print(name, json.dumps(result), flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="tiny configs (smoke test)")
    parser.add_argument("--only", choices=("unet", "dit"), default=None)
    parser.add_argument("--variants", default=",".join(UNET_VARIANTS))
    parser.add_argument("--parallel", type=int, default=4, help="UNet variants compiling at once")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--dit-repeats", type=int, default=10)
    parser.add_argument("--dit-sizes", default="512,1024")
    parser.add_argument("--timeout", type=float, default=420, help="seconds for all children")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "fp8.json"))
    parser.add_argument("--child", choices=("unet", "dit"), default=None)
    parser.add_argument("--variant", default="")
    parser.add_argument("--json", default="")
    parser.add_argument("--lock", default="")
    args = parser.parse_args()
    args.dit_sizes = [int(s) for s in str(args.dit_sizes).split(",")]
    if args.child:
        result = {"unet": unet_child, "dit": dit_child}[args.child](args)
        Path(args.json).write_text(json.dumps(result))
        return 0

    if args.tiny:
        args.size, args.repeats, args.dit_repeats, args.dit_sizes = 64, 3, 2, [64]
    args.lock = args.lock or tempfile.NamedTemporaryFile(suffix=".lock", delete=False).name
    deadline = time.monotonic() + args.timeout
    report = {
        "machine": machine_name(args.device),
        "date": utc_now(),
        "command": " ".join(["python", "scripts/bench_fp8.py", *sys.argv[1:]]),
        "weights": "random, full-size architectures" if not args.tiny else "random, tiny",
        "unet_resolution": args.size,
        "unet": {},
        "dit": None,
    }
    if args.only in (None, "unet"):
        names = args.variants.split(",")
        for first in range(0, len(names), args.parallel):
            wave = names[first : first + args.parallel]
            running = {name: run_child(args, "unet", name) for name in wave}
            for name, process in running.items():
                report["unet"][name] = collect(process, name, deadline - time.monotonic())
    if args.only in (None, "dit"):  # alone: its timing must not share the CPU with compiles
        report["dit"] = collect(run_child(args, "dit", "flux"), "dit", deadline - time.monotonic())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
