"""Benchmark the diffusion generator: frames/s through the generator thread, latency, memory.

Random weights, full-size architectures (speed does not depend on weight values):
an sd-turbo-class pipeline at 512x512 (saved and loaded through the user's code path),
driven cue-in / host-RGB-out through `render.worker.RenderWorker`; and a FLUX-class DiT
block stack (full width, reduced depth) timed per denoiser call.

    python scripts/bench_generator.py                      # GPU, everything
    python scripts/bench_generator.py --tiny --device cpu  # smoke test of the script

Writes docs/benchmarks/diffusion.json (or --out). Each variant runs in its own process
so compiled graphs and peak-memory counters do not leak between variants.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.benchjson import machine_name, utc_now  # noqa: E402

UNET_VARIANTS = {
    "fp16-eager": {"precision": "fp16", "compile": False},
    "fp16-compiled": {"precision": "fp16", "compile": True},
    "fp8-compiled": {"precision": "fp8", "compile": True},
}


def unet_variant(args: argparse.Namespace) -> dict:
    """One generator variant in this process: start-up, thread throughput, batch, memory."""
    import numpy as np
    import torch

    from models.fp8 import weight_bytes
    from render.diffusion import DiffusionGenerator
    from render.frames import Cue, Drive, FrameRequest
    from render.worker import RenderWorker

    failures: list[str] = []

    class KeepFailures(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            failures.append(record.getMessage()[:400])

    logging.getLogger("render.diffusion").addHandler(KeepFailures(logging.WARNING))
    options = UNET_VARIANTS[args.variant]
    cuda = args.device == "cuda"
    started = time.perf_counter()
    generator = DiffusionGenerator(
        args.size,
        args.size,
        model=args.model_dir,
        precision=options["precision"],
        device=args.device,
        compile=options["compile"] and cuda,
        resolution=args.size,
    )
    loaded = time.perf_counter() - started
    cue = Cue(start=0.0, prompt="neon jellyfish drifting through a violet nebula", seed=7)

    def request(index: int) -> FrameRequest:
        t = index / 30
        drive = Drive(time=t, energy=0.5, beat=0.5, beat_phase=(t * 2.0) % 1.0, tempo=120.0)
        return FrameRequest(index, t, cue, drive)

    generator.render(request(0))
    if cuda:
        torch.cuda.synchronize()
    first_frame = time.perf_counter() - started
    for index in range(1, args.warmup):  # graphs for both prompts' shapes are recorded here
        generator.render(request(index))
    if cuda:
        torch.cuda.reset_peak_memory_stats()

    worker = RenderWorker(generator, max_pending=args.frames + 1, max_ready=args.frames + 1)
    frames = []
    with worker:
        t0 = time.perf_counter()
        for index in range(args.frames):
            worker.submit(request(args.warmup + index))
        while len(frames) < args.frames and time.perf_counter() - t0 < 120:
            frame = worker.get_frame()
            if frame is None:
                time.sleep(0.0002)
                continue
            frames.append(frame)
        elapsed = time.perf_counter() - t0
    latencies = sorted(f.render_ms for f in frames)
    errors = sum(f.error is not None for f in frames)

    batch_fps = None
    if args.batch > 1:
        requests = [request(1000 + i) for i in range(args.batch)]
        for _ in range(3):
            generator.render_batch(requests)
        t0 = time.perf_counter()
        rounds = max(2, args.frames // (args.batch * 2))
        for _ in range(rounds):
            generator.render_batch(requests)
        batch_fps = rounds * args.batch / (time.perf_counter() - t0)

    result = {
        "variant": args.variant,
        "precision": generator.precision,
        "compiled": options["compile"] and cuda,
        "frames": len(frames),
        "errors": errors,
        "fps_thread_batch1": len(frames) / elapsed,
        "latency_ms_p50": statistics.median(latencies),
        "latency_ms_p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        f"fps_batch{args.batch}": batch_fps,
        "startup_s_load": loaded,
        "startup_s_first_frame": first_frame,
        "unet_weight_gb": weight_bytes(generator.pipeline.unet) / 1e9,
        "peak_gpu_gb": torch.cuda.max_memory_allocated() / 1e9 if cuda else None,
        "frame_shape": list(frames[-1].image.shape) if frames else None,
        "frame_mean": float(np.mean(frames[-1].image)) if frames else None,
    }
    # A failed frame is caught inside the generator (the show goes on) and comes out as
    # the last good frame or black: count those too, or a broken variant looks fast.
    result["generator_failures"] = generator.failures
    result["last_failure"] = failures[-1] if failures else None
    if generator.quant_report is not None:
        report = generator.quant_report
        result["fp8_layers"] = {
            "linears": report.linears,
            "linears_scaled_mm": report.linears_scaled_mm,
            "convs": report.convs,
        }
    generator.close()
    return result


def dit_variant(args: argparse.Namespace) -> dict:
    """A FLUX-class transformer (full width, reduced depth): fp16 eager/compiled vs FP8."""
    import torch
    from diffusers import FluxTransformer2DModel

    from models.fp8 import quantize_model, weight_bytes

    cuda = args.device == "cuda"
    config = dict(
        patch_size=1,
        in_channels=64,
        num_layers=args.dit_double,
        num_single_layers=args.dit_single,
        attention_head_dim=128,
        num_attention_heads=24,
        joint_attention_dim=4096,
        pooled_projection_dim=768,
        guidance_embeds=False,
        axes_dims_rope=[16, 56, 56],
    )
    if args.tiny:
        config.update(num_attention_heads=2, attention_head_dim=16, joint_attention_dim=32)
        config.update(pooled_projection_dim=16, axes_dims_rope=[4, 6, 6], in_channels=16)
    results = {}
    for name in ("fp16-eager", "fp16-compiled", "fp8-compiled"):
        torch.manual_seed(0)
        dtype = torch.float16 if name.startswith("fp16") else torch.bfloat16
        model = FluxTransformer2DModel(**config).to(args.device, dtype).eval()
        if name.startswith("fp8"):
            quantize_model(model, torch.bfloat16)
        weights_gb = weight_bytes(model) / 1e9
        if name.endswith("compiled") and cuda:
            model = torch.compile(model, mode="reduce-overhead")
        tokens = (args.size // 16) ** 2  # 512x512: 64x64 latent, 2x2 patches
        g = torch.Generator(args.device).manual_seed(1)
        inputs = {
            "hidden_states": torch.randn(
                1, tokens, config["in_channels"], device=args.device, generator=g
            ).to(dtype),
            "encoder_hidden_states": torch.randn(
                1, 256, config["joint_attention_dim"], device=args.device, generator=g
            ).to(dtype),
            "pooled_projections": torch.randn(
                1, config["pooled_projection_dim"], device=args.device, generator=g
            ).to(dtype),
            "timestep": torch.full((1,), 1.0, device=args.device, dtype=dtype),
            "img_ids": torch.zeros(tokens, 3, device=args.device),
            "txt_ids": torch.zeros(256, 3, device=args.device),
        }
        t0 = time.perf_counter()
        with torch.inference_mode():
            for _ in range(3):
                model(**inputs)
            if cuda:
                torch.cuda.synchronize()
            warm_s = time.perf_counter() - t0
            times = []
            for _ in range(args.dit_iters):
                t1 = time.perf_counter()
                model(**inputs)
                if cuda:
                    torch.cuda.synchronize()
                times.append((time.perf_counter() - t1) * 1000)
        results[name] = {
            "ms_p50": statistics.median(times),
            "weights_gb": weights_gb,
            "warmup_s": warm_s,
        }
        del model
        if cuda:
            torch.cuda.empty_cache()
    base = results["fp16-compiled"]["ms_p50"]
    for entry in results.values():
        entry["speedup_vs_fp16_compiled"] = base / entry["ms_p50"]
    results["config"] = config
    return results


def fp8_check(args: argparse.Namespace) -> dict:
    """One UNet forward: FP8 (eager and compiled) against bf16 eager on the same input."""
    import copy
    import traceback

    import torch
    from diffusers import UNet2DConditionModel

    from models.fp8 import quantize_model
    from models.testing import FULL_UNET, TINY_UNET

    torch.manual_seed(0)
    config = TINY_UNET if args.tiny else FULL_UNET
    reference = UNet2DConditionModel(**config).to(args.device, torch.bfloat16).eval()
    quantized = copy.deepcopy(reference)
    report = quantize_model(quantized, torch.bfloat16)
    latent = args.size // 8
    g = torch.Generator(args.device).manual_seed(1)
    sample = torch.randn(1, 4, latent, latent, device=args.device, generator=g)
    embeds = torch.randn(1, 77, config["cross_attention_dim"], device=args.device, generator=g)
    inputs = (sample.bfloat16(), torch.full((1,), 999, device=args.device))
    kwargs = {"encoder_hidden_states": embeds.bfloat16()}

    def timed(model, repeats: int = 5) -> tuple:
        with torch.inference_mode():
            for _ in range(2):
                out = model(*inputs, **kwargs)[0].float()
            if args.device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(repeats):
                out = model(*inputs, **kwargs)[0].float()
            if args.device == "cuda":
                torch.cuda.synchronize()
        return out, (time.perf_counter() - t0) * 1000 / repeats

    expected, reference_ms = timed(reference)
    result = {"linears_scaled_mm": report.linears_scaled_mm, "bf16_eager_ms": reference_ms}
    variants = {"fp8_eager": quantized}
    if args.device == "cuda":
        variants["fp8_compiled"] = torch.compile(quantized, mode="reduce-overhead")
    for name, model in variants.items():
        try:
            out, ms = timed(model)
        except Exception as exc:  # the point of this check is to see the failure
            result[name] = {"error": f"{type(exc).__name__}: {str(exc)[:400]}"}
            traceback.print_exc()
            continue
        error = ((out - expected).norm() / expected.norm()).item()
        finite = bool(torch.isfinite(out).all())
        result[name] = {"finite": finite, "relative_error": error, "ms": ms}
    print(json.dumps(result), flush=True)
    return result


def run_child(args: argparse.Namespace, kind: str, variant: str, timeout: int) -> dict:
    """Run one variant in a fresh process; its failure becomes an entry, not a crash."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    command = [sys.executable, __file__, "--child", kind, "--variant", variant, "--json", out]
    command += ["--device", args.device, "--size", str(args.size), "--frames", str(args.frames)]
    command += ["--model-dir", args.model_dir, "--batch", str(args.batch)]
    command += ["--warmup", str(args.warmup), "--dit-iters", str(args.dit_iters)]
    command += ["--dit-double", str(args.dit_double), "--dit-single", str(args.dit_single)]
    command += ["--tiny"] if args.tiny else []
    t0 = time.perf_counter()
    try:
        done = subprocess.run(command, timeout=timeout, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        return {"variant": variant, "error": f"timed out after {timeout} s"}
    if done.returncode != 0:
        return {"variant": variant, "error": done.stderr.strip().splitlines()[-3:]}
    result = json.loads(Path(out).read_text())
    result["process_s"] = time.perf_counter() - t0
    print(json.dumps(result), flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="tiny configs (smoke test)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--dit-iters", type=int, default=30)
    parser.add_argument("--dit-double", type=int, default=4)
    parser.add_argument("--dit-single", type=int, default=8)
    parser.add_argument("--only", choices=("unet", "dit", "none"), default=None)
    parser.add_argument("--check-fp8", action="store_true", help="FP8 vs bf16 UNet forward")
    parser.add_argument("--variants", default=",".join(UNET_VARIANTS))
    parser.add_argument("--warm-restart", action="store_true", help="time a warm-cache start")
    parser.add_argument("--child-timeout", type=int, default=240)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "diffusion.json"))
    parser.add_argument("--model-dir", default="")
    parser.add_argument("--child", choices=("unet", "dit", "check"), default=None)
    parser.add_argument("--variant", default="")
    parser.add_argument("--json", default="")
    args = parser.parse_args()

    if args.child:
        children = {"unet": unet_variant, "dit": dit_variant, "check": fp8_check}
        result = children[args.child](args)
        Path(args.json).write_text(json.dumps(result))
        return 0

    if args.tiny:
        args.size, args.frames = 64, min(args.frames, 12)
    report = {
        "machine": machine_name(args.device),
        "date": utc_now(),
        "command": " ".join(["python", "scripts/bench_generator.py", *sys.argv[1:]]),
        "resolution": args.size,
        "weights": "random (full-size architectures)" if not args.tiny else "random tiny",
        "unet": {},
        "dit": None,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.check_fp8:
        report["fp8_check"] = run_child(args, "check", "fp8", timeout=args.child_timeout)
        out.write_text(json.dumps(report, indent=2))
    if args.only in (None, "unet"):
        from models.testing import save_random_pipeline

        if not args.model_dir:
            args.model_dir = tempfile.mkdtemp(prefix="sdturbo-random-")
            dtype = "float16" if args.device == "cuda" else "float32"
            size = "tiny" if args.tiny else "full"
            save_random_pipeline(args.model_dir, size=size, dtype=dtype)
        os.environ.setdefault("VISUALIZE_CACHE", tempfile.mkdtemp(prefix="visualize-cache-"))
        for variant in args.variants.split(","):
            report["unet"][variant] = run_child(args, "unet", variant, timeout=args.child_timeout)
            out.write_text(json.dumps(report, indent=2))
        if args.warm_restart:
            warm = run_child(args, "unet", "fp8-compiled", timeout=180)
            report["unet"]["fp8-compiled-warm-cache"] = warm
    if args.only in (None, "dit"):
        report["dit"] = run_child(args, "dit", "all", timeout=args.child_timeout)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
