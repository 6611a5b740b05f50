"""Benchmark the diffusion generator: frames/s through the generator thread, latency, memory.

Random weights, full-size architectures (speed does not depend on weight values), saved
and loaded through the user's code path, driven cue-in / host-RGB-out through
`render.worker.RenderWorker`:

- `--family sd` (default): an sd-turbo-class pipeline at 512x512, one step.
- `--family sdxl --size 1024`: an SDXL-class UNet (small text encoders at the real
  widths, which run once per cue) at 1024x1024, one step.
- `--family flux`: a FLUX.1-schnell-class pipeline, four steps.

    python scripts/bench_generator.py --variants 16bit-graph,16bit-compiled --warm-restart
    python scripts/bench_generator.py --family sdxl --size 1024 --variants 16bit-graph,fp8-graph
    python scripts/bench_generator.py --tiny --device cpu  # smoke test of the script

Variants (`VARIANTS`): 16-bit eager; 16-bit compiled with Inductor's CUDA graphs around
the UNet and decoder (`16bit-compiled`, the path before whole-frame graphs); whole-frame
CUDA graphs (`*-graph`, render/frame_graph.py); FP8 with per-row activation scales or
calibrated static ones (`fp8-static-*`), convolutions in FP8 storage or left 16-bit
(`*-linears`). Each graph variant reports the thread at one frame in flight ("serial")
and with the worker's second frame in flight ("pipelined"), a per-stage breakdown
(scripts/frame_breakdown.py), batched frames, and its keyframe against the diffusers
pipeline on the same weights. `--warm-restart` starts the first variant again on the
same compile cache. Each variant runs in its own process; all share one compile cache.
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

VARIANTS = {
    "16bit-eager": {"precision": "half", "compile": False, "graphs": False},
    "16bit-compiled": {"precision": "half", "compile": True, "graphs": False},
    "16bit-graph": {"precision": "half", "compile": True, "graphs": True},
    "16bit-graph-autotune": {
        "precision": "half",
        "compile": True,
        "graphs": True,
        "compile_mode": "max-autotune-no-cudagraphs",
    },
    "fp8-compiled": {"precision": "fp8", "compile": True, "graphs": False},
    "fp8-graph": {"precision": "fp8", "compile": True, "graphs": True},
    "fp8-graph-linears": {
        "precision": "fp8",
        "compile": True,
        "graphs": True,
        "fp8_options": {"convs": False},
    },
    "fp8-static-graph-linears": {
        "precision": "fp8",
        "compile": True,
        "graphs": True,
        "fp8_scaling": "static",
        "fp8_options": {"convs": False},
    },
    "fp8-static-graph": {
        "precision": "fp8",
        "compile": True,
        "graphs": True,
        "fp8_scaling": "static",
    },
}
HALF = {"sd": "fp16", "sdxl": "fp16", "flux": "bf16"}


class SerialView:
    """The generator without submit()/collect(): the worker then renders one frame at a
    time, each collected before the next starts."""

    def __init__(self, generator):
        self.generator = generator
        self.name, self.width, self.height = generator.name, generator.width, generator.height

    def render(self, request):
        return self.generator.render(request)

    def close(self):
        pass


def thread_run(worker_generator, requests) -> dict:
    """Frames/s and latency through RenderWorker, every request queued up front."""

    from render.worker import RenderWorker

    worker = RenderWorker(
        worker_generator, max_pending=len(requests) + 1, max_ready=len(requests) + 1
    )
    frames = []
    with worker:
        t0 = time.perf_counter()
        for request in requests:
            worker.submit(request)
        while len(frames) < len(requests) and time.perf_counter() - t0 < 120:
            frame = worker.get_frame()
            if frame is None:
                time.sleep(0.0002)
                continue
            frames.append(frame)
        elapsed = time.perf_counter() - t0
    latencies = sorted(f.render_ms for f in frames)
    return {
        "frames": len(frames),
        "errors": sum(f.error is not None for f in frames),
        "fps": len(frames) / elapsed,
        "latency_ms_p50": statistics.median(latencies) if latencies else None,
        "latency_ms_p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        if latencies
        else None,
        "last_frame": frames[-1].image if frames else None,
    }


def generator_variant(args: argparse.Namespace) -> dict:
    """One generator variant in this process: start-up, thread throughput, batch, memory."""
    import numpy as np
    import torch

    from models.fp8 import weight_bytes
    from render.diffusion import DiffusionGenerator
    from render.frames import Cue, Drive, FrameRequest

    failures: list[str] = []

    class KeepFailures(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            failures.append(record.getMessage()[:400])

    logging.getLogger("render.diffusion").addHandler(KeepFailures(logging.WARNING))
    options = VARIANTS[args.variant]
    precision = HALF[args.family] if options["precision"] == "half" else options["precision"]
    cuda = args.device == "cuda"
    started = time.perf_counter()
    generator = DiffusionGenerator(
        args.size,
        args.size,
        model=args.model_dir,
        precision=precision,
        device=args.device,
        compile=options["compile"] and cuda,
        graphs=options["graphs"] and cuda,
        resolution=args.size,
        fp8_scaling=options.get("fp8_scaling", "row"),
        fp8_options=options.get("fp8_options"),
        compile_mode=options.get("compile_mode"),
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
    for index in range(1, args.warmup):
        generator.render(request(index))
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()

    base = args.warmup
    serial = thread_run(SerialView(generator), [request(base + i) for i in range(args.frames)])
    pipelined = None
    if generator.graphs is not None:
        base += args.frames
        pipelined = thread_run(generator, [request(base + i) for i in range(args.frames)])
    last = (pipelined or serial).pop("last_frame")
    serial.pop("last_frame", None)

    batch_fps = None
    if args.batch > 1:
        requests = [request(10000 + i) for i in range(args.batch)]
        for _ in range(3):
            generator.render_batch(requests)
        t0 = time.perf_counter()
        rounds = max(2, args.frames // (args.batch * 2))
        for _ in range(rounds):
            generator.render_batch(requests)
        batch_fps = rounds * args.batch / (time.perf_counter() - t0)

    result = {
        "variant": args.variant,
        "options": options,
        "precision": generator.precision,
        "compiled": options["compile"] and cuda,
        "frame_graphs": generator.graphs is not None,
        "frame_graph_error": generator.graph_error,
        "thread_serial": serial,
        "thread_pipelined": pipelined,
        "fps_thread_batch1": (pipelined or serial)["fps"],
        f"fps_batch{args.batch}": batch_fps,
        "startup_s_load": loaded,
        "startup_s_first_frame": first_frame,
        "denoiser_weight_gb": weight_bytes(generator.denoiser.model) / 1e9,
        "peak_gpu_gb": torch.cuda.max_memory_allocated() / 1e9 if cuda else None,
        "frame_shape": list(last.shape) if last is not None else None,
        "frame_mean": float(np.mean(last)) if last is not None else None,
        "fp8_static_layers": getattr(generator, "fp8_static_layers", None),
    }
    if cuda and generator.graphs is not None and args.breakdown:
        from scripts.frame_breakdown import breakdown, check_against_diffusers

        try:
            result["breakdown"] = breakdown(generator, request(20000))
        except Exception as exc:  # a diagnostic: never lose the variant's numbers for it
            result["breakdown"] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        try:
            result["vs_diffusers"] = check_against_diffusers(generator, cue.prompt, cue.seed)
        except Exception as exc:
            result["vs_diffusers"] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
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
            "convs_scaled_mm": report.convs_scaled_mm,
        }
    generator.close()
    return result


def run_child(args: argparse.Namespace, variant: str, timeout: int) -> dict:
    """Run one variant in a fresh process; its failure becomes an entry, not a crash."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    command = [sys.executable, __file__, "--child", "--variant", variant, "--json", out]
    command += ["--device", args.device, "--size", str(args.size), "--frames", str(args.frames)]
    command += ["--model-dir", args.model_dir, "--batch", str(args.batch)]
    command += ["--warmup", str(args.warmup), "--family", args.family]
    command += ["--breakdown"] if args.breakdown else []
    command += ["--tiny"] if args.tiny else []
    t0 = time.perf_counter()
    try:
        done = subprocess.run(command, timeout=timeout, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        return {"variant": variant, "error": f"timed out after {timeout} s"}
    if done.returncode != 0:
        return {"variant": variant, "error": done.stderr.strip().splitlines()[-8:]}
    result = json.loads(Path(out).read_text())
    result["process_s"] = time.perf_counter() - t0
    print(json.dumps(result), flush=True)
    return result


def save_model(args: argparse.Namespace) -> str:
    """A random-weight pipeline of the benchmark's family, saved as a user's model is."""
    folder = tempfile.mkdtemp(prefix=f"{args.family}-random-")
    dtype = (
        {"sd": "float16", "sdxl": "float16", "flux": "bfloat16"}[args.family]
        if args.device == "cuda"
        else "float32"
    )
    size = "tiny" if args.tiny else "full"
    # In a child process: the parent must hold no GPU memory while the variants run (a
    # full-size Flux built on the GPU would keep ~45 GB there and starve the FP8 child).
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from models.testing import save_random_pipeline as save;"
        "save(sys.argv[2], size=sys.argv[3], dtype=sys.argv[4], family=sys.argv[5], device=sys.argv[6])"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(ROOT), folder, size, dtype, args.family, args.device],
        check=True,
    )
    return folder


def _load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--family", choices=tuple(HALF), default="sd")
    parser.add_argument("--tiny", action="store_true", help="tiny configs (smoke test)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--warm-restart", action="store_true", help="time a warm-cache start")
    parser.add_argument("--breakdown", action="store_true", help="per-stage times, vs diffusers")
    parser.add_argument("--child-timeout", type=int, default=240)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "diffusion.json"))
    parser.add_argument("--model-dir", default="", help="a saved random pipeline to reuse")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="")
    parser.add_argument("--json", default="")
    args = parser.parse_args()

    if args.child:
        Path(args.json).write_text(json.dumps(generator_variant(args)))
        return 0

    if args.tiny:
        args.size, args.frames = 64, min(args.frames, 12)
    report = {
        "machine": machine_name(args.device),
        "date": utc_now(),
        "command": " ".join(["python", "scripts/bench_generator.py", *sys.argv[1:]]),
        "family": args.family,
        "resolution": args.size,
        "weights": "random (full-size architectures)" if not args.tiny else "random tiny",
        "load": _load_average(),
        "variants": {},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    args.model_dir = args.model_dir or save_model(args)
    # One compile cache for every variant and the warm restart, as a user's machine has.
    os.environ.setdefault("VISUALIZE_CACHE", tempfile.mkdtemp(prefix="visualize-cache-"))
    for variant in args.variants.split(","):
        report["variants"][variant] = run_child(args, variant, timeout=args.child_timeout)
        out.write_text(json.dumps(report, indent=2))
    if args.warm_restart:
        first = args.variants.split(",")[0]
        warm = run_child(args, first, timeout=args.child_timeout)
        report["variants"][f"{first}-warm-cache"] = warm
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
