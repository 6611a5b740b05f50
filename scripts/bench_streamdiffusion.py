"""Benchmark StreamDiffusion's own pipeline on a saved random sd-turbo model, for comparison.

The same model folder that `scripts/bench_generator.py` times (saved by
`models.testing.save_random_pipeline`), driven through StreamDiffusion (PyPI
`streamdiffusion` 0.1.1) the way its README and sd-turbo example use it: one step
(`t_index_list=[0]`, `cfg_type="none"`), no LCM-LoRA, the tiny VAE (TAESD, `vae_tiny/`),
batch 1, 512x512, `acceleration="none"` (plain PyTorch with SDPA attention; no xformers,
no TensorRT). Modes: txt2img (`txt2img_sd_turbo`, its sd-turbo path) and img2img
(`stream(image)`). Every frame ends as a host uint8 RGB array, as ours does. Variants:
eager as shipped, and its UNet (and optionally TAESD decoder) under
`torch.compile(mode="reduce-overhead")`, as our generator compiles them.

StreamDiffusion pins diffusers 0.24, which needs an older huggingface_hub and
transformers than the project uses, so this script imports nothing from the project
beyond `benchjson` and runs with those packages first on the path:

    pip install --no-deps --target /tmp/sd-site .whl-sd/*.whl
    PYTHONPATH=/tmp/sd-site python scripts/bench_streamdiffusion.py --model-dir /tmp/sdturbo
    PYTHONPATH=/tmp/sd-site python scripts/bench_streamdiffusion.py --model-dir DIR \\
        --device cpu --size 64 --frames 8 --variants eager    # smoke test, tiny model

Each variant runs in its own process (compiled graphs and peak-memory counters do not
leak between variants); each one's log is kept beside --out.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchjson import machine_name, utc_now  # scripts/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "eager": (),
    "compile-unet": ("unet",),
    "compile-unet-vae": ("unet", "vae_decoder"),  # what our generator compiles
}
MODES = ("txt2img", "img2img")
PROMPT = "neon jellyfish drifting through a violet nebula"


# Optional packages the GPU image has that diffusers 0.24 / transformers 4.48 would import
# if present (flax eagerly, with StableDiffusionPipeline), none of them needed here: no
# LoRA for sd-turbo, no Flax or ONNX pipelines, and acceleration "none" means no xformers.
HIDDEN = ("peft", "jax", "flax", "onnxruntime", "xformers")


def hide_optional_packages() -> None:
    """Make the newer versions on the machine look absent to the older libraries."""
    for name in HIDDEN:
        sys.modules.setdefault(name, None)  # importlib.util.find_spec() then returns None


def check_versions() -> dict:
    import importlib.metadata

    import diffusers
    import huggingface_hub
    import torch
    import transformers

    versions = {
        "streamdiffusion": importlib.metadata.version("streamdiffusion"),
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "huggingface_hub": huggingface_hub.__version__,
        "torch": torch.__version__,
    }
    if not versions["diffusers"].startswith("0.24."):
        raise SystemExit(
            f"diffusers {versions['diffusers']} is first on the path; StreamDiffusion 0.1.1 "
            "needs 0.24: run with PYTHONPATH=/tmp/sd-site (wheels from .whl-sd)"
        )
    return versions


def cpu_cuda_stand_ins() -> None:
    """StreamDiffusion's __call__ times itself with CUDA events: let it run on a CPU build."""
    import torch

    class Event:
        def __init__(self, **_: object) -> None:
            self.t = 0.0

        def record(self) -> None:
            self.t = time.perf_counter()

        def elapsed_time(self, end: Event) -> float:
            return (end.t - self.t) * 1000

    torch.cuda.Event = Event
    torch.cuda.synchronize = lambda *_: None


def load_tokenizer(folder: Path):
    """A slow CLIP tokenizer where vocab files exist (what diffusers 0.24 expects), else fast.

    transformers 5 saves only tokenizer.json; `save_random_pipeline` keeps the byte-level
    vocab it wrote in `_tokenizer_src/`. Prompts are tokenized once, in prepare(): untimed.
    """
    from transformers import CLIPTokenizer, CLIPTokenizerFast

    for sub in ("tokenizer", "_tokenizer_src"):
        vocab, merges = folder / sub / "vocab.json", folder / sub / "merges.txt"
        if vocab.exists() and merges.exists():
            return CLIPTokenizer(str(vocab), str(merges), model_max_length=77), sub
    return CLIPTokenizerFast.from_pretrained(folder / "tokenizer"), "tokenizer (fast)"


def fix_text_encoder(pipe, folder: Path) -> str:
    """transformers 5 saves CLIPTextModel without the `text_model.` prefix that 4.x loads:
    put the saved weights back so the model is the saved one, not a fresh random one."""
    from safetensors.torch import load_file

    files = sorted((folder / "text_encoder").glob("*.safetensors"))
    if not files:
        return "no safetensors found: as loaded"
    state = {}
    for file in files:
        state.update(load_file(str(file)))
    expected = pipe.text_encoder.state_dict()
    if all(key in expected for key in state):
        return "loaded as saved"
    state = {f"text_model.{key}": value for key, value in state.items()}
    unknown = [key for key in state if key not in expected]
    if unknown:
        return f"saved keys not understood ({unknown[:3]}): random text encoder"
    missing, _ = pipe.text_encoder.load_state_dict(state, strict=False)
    return f"keys re-prefixed with 'text_model.' (missing after: {missing})"


def build_stream(args: argparse.Namespace, torch):
    from diffusers import AutoencoderTiny, StableDiffusionPipeline
    from streamdiffusion import StreamDiffusion

    folder = Path(args.model_dir)
    device = torch.device(args.device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    tokenizer, tokenizer_source = load_tokenizer(folder)
    # It would list every text-encoder weight as unused: fix_text_encoder() loads them.
    logging.getLogger("transformers.modeling_utils").setLevel(logging.ERROR)
    pipe = StableDiffusionPipeline.from_pretrained(
        str(folder),
        tokenizer=tokenizer,
        torch_dtype=dtype,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    text_encoder_note = fix_text_encoder(pipe, folder)
    pipe = pipe.to(device=device, dtype=dtype)
    stream = StreamDiffusion(
        pipe,
        t_index_list=[0],
        torch_dtype=dtype,
        width=args.size,
        height=args.size,
        cfg_type="none",
    )
    # As its wrapper does for use_tiny_vae=True, with the saved TAESD instead of the hub's.
    stream.vae = AutoencoderTiny.from_pretrained(str(folder / "vae_tiny")).to(device, dtype)
    stream.prepare(PROMPT, num_inference_steps=50, generator=torch.Generator(), seed=2)
    info = {
        "dtype": str(dtype).replace("torch.", ""),
        "tokenizer": tokenizer_source,
        "text_encoder": text_encoder_note,
        "timestep": int(stream.sub_timesteps_tensor[0]),
        "attention": type(next(iter(pipe.unet.attn_processors.values()))).__name__,
        "unet_params": sum(p.numel() for p in pipe.unet.parameters()),
        "text_encoder_params": sum(p.numel() for p in pipe.text_encoder.parameters()),
        "taesd_params": sum(p.numel() for p in stream.vae.parameters()),
    }
    return stream, info


def to_host_rgb(torch, images):
    """(1, 3, H, W) in [-1, 1] on the device -> (H, W, 3) uint8 on the host, as ours does."""
    pixels = ((images[0].float() / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
    return pixels.permute(1, 2, 0).contiguous().cpu().numpy()


def time_mode(stream, mode: str, args: argparse.Namespace, torch) -> dict:
    import numpy as np

    cuda = args.device == "cuda"
    if mode == "img2img":  # a fixed picture already on the device, in [0, 1]; its
        # __call__ normalizes it, encodes (TAESD), denoises one step and decodes
        picture = np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3))
        pixels = torch.from_numpy(picture.astype(np.float32) / 255)
        image = pixels.permute(2, 0, 1)[None].to(stream.device, stream.dtype)

        def generate():
            return stream(image)
    else:

        def generate():
            return stream.txt2img_sd_turbo(1)

    started = time.perf_counter()
    with torch.no_grad():  # its sd-turbo example calls txt2img_sd_turbo with autograd on
        last = generate()
        frame = to_host_rgb(torch, last)
        first_s = time.perf_counter() - started
        for _ in range(args.warmup - 1):
            frame = to_host_rgb(torch, generate())
        warm_s = time.perf_counter() - started
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        latencies = []
        t0 = time.perf_counter()
        for _ in range(args.frames):
            t1 = time.perf_counter()
            last = generate()
            frame = to_host_rgb(torch, last)
            latencies.append((time.perf_counter() - t1) * 1000)
        elapsed = time.perf_counter() - t0
        finite = bool(torch.isfinite(last).all())
    second_half = latencies[len(latencies) // 2 :]  # drift check: still compiling/warming?
    latencies.sort()
    return {
        "frames": len(latencies),
        "fps_batch1": len(latencies) / elapsed,
        "latency_ms_p50": statistics.median(latencies),
        "latency_ms_p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "latency_ms_mean": statistics.fmean(latencies),
        "latency_ms_p50_second_half": statistics.median(second_half),
        "first_frame_s": first_s,
        "warmup_s": warm_s,
        "peak_gpu_gb": torch.cuda.max_memory_allocated() / 1e9 if cuda else None,
        "frame_shape": list(frame.shape),
        "frame_dtype": str(frame.dtype),
        "frame_mean": float(frame.mean()),
        "output_finite": finite,
    }


def run_variant(args: argparse.Namespace) -> dict:
    hide_optional_packages()
    versions = check_versions()
    import torch

    if args.device != "cuda":
        cpu_cuda_stand_ins()
    started = time.perf_counter()
    stream, info = build_stream(args, torch)
    load_s = time.perf_counter() - started
    compiled = VARIANTS[args.variant]
    if "unet" in compiled:
        stream.unet = torch.compile(stream.unet, mode="reduce-overhead")
    if "vae_decoder" in compiled:
        stream.vae.decoder = torch.compile(stream.vae.decoder, mode="reduce-overhead")
    result = {
        "variant": args.variant,
        "compiled": list(compiled),
        "machine": machine_name(args.device),
        "versions": versions,
        "hidden_packages": list(HIDDEN),
        "load_s": load_s,
        "after_load_gpu_gb": torch.cuda.memory_allocated() / 1e9 if args.device == "cuda" else None,
        **info,
    }
    for mode in args.modes.split(","):
        result[mode] = time_mode(stream, mode, args, torch)
        print(json.dumps({args.variant: {mode: result[mode]}}), flush=True)
    return result


def run_child(args: argparse.Namespace, variant: str, log: Path) -> dict:
    """One variant in a fresh process; a failure becomes an entry, not a crash."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    command = [sys.executable, __file__, "--child", "--variant", variant, "--json", out]
    command += ["--model-dir", args.model_dir, "--device", args.device, "--size", str(args.size)]
    command += ["--frames", str(args.frames), "--warmup", str(args.warmup)]
    command += ["--modes", args.modes]
    t0 = time.perf_counter()
    with log.open("w") as sink:
        try:
            done = subprocess.run(
                command, timeout=args.child_timeout, stdout=sink, stderr=subprocess.STDOUT
            )
        except subprocess.TimeoutExpired:
            error = f"timed out after {args.child_timeout} s"
            return {"variant": variant, "error": error, "log": str(log)}
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-6:]
        return {"variant": variant, "error": tail, "log": str(log)}
    result = json.loads(Path(out).read_text())
    result["process_s"] = time.perf_counter() - t0
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True, help="a folder save_random_pipeline wrote")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--child-timeout", type=int, default=240)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "streamdiffusion.json"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="eager", help=argparse.SUPPRESS)
    parser.add_argument("--json", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    for mode in args.modes.split(","):
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}: choose from {', '.join(MODES)}")
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            parser.error(f"unknown variant {variant!r}: choose from {', '.join(VARIANTS)}")
    args.warmup = max(1, args.warmup)

    if args.child:
        Path(args.json).write_text(json.dumps(run_variant(args)))
        return 0

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": None,  # filled in from the first variant that ran
        "date": utc_now(),
        "command": " ".join(["python", "scripts/bench_streamdiffusion.py", *sys.argv[1:]]),
        "pipeline": "StreamDiffusion (PyPI streamdiffusion), sd-turbo one step: "
        "t_index_list=[0] of 50 LCM steps, cfg_type='none', denoising batch, "
        "frame_buffer_size=1, TAESD, acceleration 'none'; no_grad; host uint8 RGB out",
        "model_dir": args.model_dir,
        "resolution": args.size,
        "batch": 1,
        "variants": {},
    }
    for variant in args.variants.split(","):
        log = out.with_name(f"{out.stem}.{variant}.log")
        result = run_child(args, variant, log)
        report["machine"] = report["machine"] or result.get("machine")
        report["variants"][variant] = result
        print(json.dumps({variant: result}), flush=True)
        out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0 if all("error" not in r for r in report["variants"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
