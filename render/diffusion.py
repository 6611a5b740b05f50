"""DiffusionGenerator: AI frames that follow the music, one `FrameRequest` at a time.

Per frame: the cue's prompt embeddings (cached per prompt), a noise latent that moves
between fixed-seed keyframes on the beat (`render.interpolation`), 1-4 denoising steps
in our own Euler loop, and a decode (tiny VAE by default). What differs between model
families (sd/sdxl UNets, sd3/flux flow-matching DiTs: prompt encoding, latent shape, the
loop, the VAE's latent scaling) lives in the denoisers (`render.denoisers` picks one);
this module is the shared part, with its start-up choices in `render.diffusion_setup`,
its prompt cache in `render.prompt_cache` and its keyframe noise in
`render.keyframe_noise`. Modes:

- "interpolate" (default): every frame is denoised from slerped keyframe noise, so the
  picture morphs smoothly and lands on the keyframe image at each beat. (For flow
  matching the keyframe noise is the latent at sigma = 1.)
- "latent": only keyframes are denoised; frames between decode the slerp of the two
  clean keyframe latents (cheaper, softer).
- "feedback": img2img from the previous frame, strength from the music (onsets cut
  deeper); the optional `structure` generator's frame is the init instead when given.
  The strength is the noise level the loop starts from.

Offline renders and the live window call the same `render()`; the only clock is the
request's time, so what a user sees live is what they render. `render_batch()` denoises
several queued requests in one batch when the caller has them (stream-batch style).
Torch and diffusers are imported lazily.
"""

from __future__ import annotations

import logging
import sys
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from models import ModelUnavailable
from render.denoisers import make_denoiser
from render.diffusion_setup import (
    calibrate_fp8,
    choose_precision,
    enable_compile_cache,
    model_size,
)
from render.frames import Cue, FrameRequest, Generator
from render.interpolation import KeyClock, beat_ease, lerp, slerp
from render.keyframe_noise import KeyframeNoise
from render.prompt_cache import PromptCache
from render.unet_denoiser import wants_channels_last

log = logging.getLogger(__name__)

MODES = ("interpolate", "latent", "feedback")


class DiffusionGenerator:
    """The diffusion engine behind `--engine diffusion` (Generator protocol)."""

    name = "diffusion"

    def __init__(
        self,
        width: int,
        height: int,
        seed: int = 0,
        model: str = "sd-turbo",
        precision: str = "auto",
        steps: int | None = None,
        interpolate: bool = True,
        structure: Generator | None = None,
        device: str | None = None,
        *,
        mode: str | None = None,
        quality: str = "fast",
        compile: bool | None = None,
        beats_per_key: int = 1,
        resolution: int | None = None,
        graphs: bool | None = None,
        fp8_options: dict | None = None,
        fp8_scaling: str = "row",
        compile_mode: str | None = None,
    ) -> None:
        import torch

        from models import loading, registry

        fp8_options = fp8_options or {}
        self.width, self.height, self.seed = width, height, seed
        self.structure = structure
        self.mode = mode or ("interpolate" if interpolate else "feedback")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        try:
            spec = registry.resolve(model)
        except ValueError as exc:
            raise ModelUnavailable(str(exc)) from exc
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        folder = loading.locate(spec.source)  # a Hub id's family is known once on disk
        family = spec.family or (registry.family_of_folder(folder) if folder else "")
        self.precision, notice = choose_precision(precision, self.device, family)
        if notice:
            print(f"visualize: {notice}", file=sys.stderr)
        dtypes = {"fp8": torch.bfloat16, "bf16": torch.bfloat16, "fp16": torch.float16}
        self.dtype = dtypes.get(self.precision, torch.float32)

        self.components = loading.load(spec, str(self.device), self.dtype, quality)
        self.spec = self.components.spec
        self.pipeline = self.components.pipeline
        self.vae = self.components.vae
        self.steps = steps or self.spec.steps
        self.guidance = self.spec.guidance
        native = resolution or registry.native_resolution(self.spec, folder)
        self.model_width, self.model_height = model_size(width, height, native)
        size = (self.model_width, self.model_height)
        self.denoiser = make_denoiser(
            self.components, self.device, self.dtype, self.steps, self.guidance, size
        )
        compiled = compile if compile is not None else self.device.type == "cuda"
        # Whole-frame CUDA graphs (render.frame_graph): UNets in interpolate mode on a GPU.
        use_graphs = graphs if graphs is not None else compiled
        use_graphs = use_graphs and self._graphs_fit()
        if use_graphs:
            self.denoiser.fuse_projections()
        self.quant_report = None
        if self.precision == "fp8":  # the UNet or the transformer; the VAE stays as it is
            from models.fp8 import quantize_model

            self.quant_report = quantize_model(self.denoiser.model, torch.bfloat16, **fp8_options)
            if fp8_scaling == "static":
                self.fp8_static_layers = calibrate_fp8(self.denoiser, self.seed, self.device)
        if wants_channels_last(self.device.type, self.precision, self.spec.family):
            self.denoiser.use_channels_last()
        if compiled:
            enable_compile_cache(loading.cache_dir())
            self.denoiser.compile(graphs=use_graphs, mode=compile_mode)
        self.graphs = None
        self.graph_error: str | None = None
        self._graph_frames = 0
        if use_graphs:
            from render.frame_graph import FrameGraphs

            self.graphs = FrameGraphs(self.denoiser, (height, width), self.device, depth=2)

        clip_windows = self.spec.family in ("sd", "sdxl")
        self._prompts = PromptCache(self.denoiser.encode_prompt, clip_windows)
        self._noises = KeyframeNoise(self.seed, self.denoiser.noise_shape, self.device)
        self._keyframes: OrderedDict[tuple, Any] = OrderedDict()
        self.clock = KeyClock(beats_per_key)
        self._previous_latent = None
        self._last_frame: np.ndarray | None = None
        self.failures = 0

    # -- the Generator protocol ----------------------------------------------------

    def render(self, request: FrameRequest) -> np.ndarray:
        return self.render_batch([request])[0]

    def render_batch(self, requests: Sequence[FrameRequest]) -> list[np.ndarray]:
        """Frames for several requests (in time order) with one batched denoise."""
        return self.collect(self.submit(requests))

    def submit(self, requests: Sequence[FrameRequest]) -> Any:
        """Start the frames for `requests` (one batch); `collect()` returns them. With
        frame graphs the GPU works on them while the caller submits the next batch."""
        import torch

        plans = [self._plan(request) for request in requests]
        try:
            with torch.inference_mode():
                if self.graphs is not None and self.mode == "interpolate":
                    inputs = [self._frame_inputs(plan) for plan in plans]
                    try:
                        return ("graph", self.graphs.submit(inputs), len(plans))
                    except Exception as exc:
                        if self._graph_frames:  # graphs worked before: a frame failure
                            raise
                        # The first capture failed: carry on without frame graphs.
                        self.graph_error = f"{type(exc).__name__}: {str(exc)[:300]}"
                        log.warning("frame graphs unavailable (%s): running without", exc)
                        print(f"visualize: frame graphs unavailable: {exc}", file=sys.stderr)
                        self.graphs = None
                latents = self._latents(plans)
                frames = self._to_rgb(latents)
        except Exception as exc:  # one bad frame (OOM included) never stops the stream
            return ("failed", self._failed(exc), len(plans))
        self._previous_latent = latents[-1:]
        return ("done", frames, len(plans))

    def collect(self, handle: Any) -> list[np.ndarray]:
        """The frames of a `submit()`, as HxWx3 uint8 arrays."""
        kind, value, count = handle
        if kind == "failed":
            return [self._fallback_frame() for _ in range(count)]
        if kind == "graph":
            try:
                value = self._collect_graph(value)
            except Exception as exc:
                self._failed(exc)
                return [self._fallback_frame() for _ in range(count)]
        if isinstance(value, list) and value:
            self._last_frame = value[-1]
        return value

    def _collect_graph(self, ticket: Any) -> list[np.ndarray]:
        from render.frame_graph import FrameGraphs

        frames = FrameGraphs.collect(ticket.slot.owner, ticket)
        self._graph_frames += 1
        return frames

    def _failed(self, exc: Exception) -> None:
        import torch

        self.failures += 1
        if isinstance(exc, torch.cuda.OutOfMemoryError):
            torch.cuda.empty_cache()
        log.warning("diffusion frame failed: %s: %s", type(exc).__name__, exc)
        self._previous_latent = None

    def _fallback_frame(self) -> np.ndarray:
        if self._last_frame is not None:
            return self._last_frame.copy()
        return np.zeros((self.height, self.width, 3), np.uint8)

    def _graphs_fit(self) -> bool:
        """Whole-frame graphs need a fixed schedule and shape: interpolate mode, a UNet,
        no classifier-free guidance, on a GPU."""
        return (
            self.device.type == "cuda"
            and self.mode == "interpolate"
            and self.spec.family in ("sd", "sdxl")
            and self.guidance <= 1.0
        )

    def _frame_inputs(self, plan: dict) -> Any:
        """The device inputs of one frame for `render.frame_graph`."""
        from render.frame_graph import FrameInputs

        cue, key = plan["cue"], plan["key"]
        cond = self._embedding(cue.prompt, cue.negative_prompt)
        frame = FrameInputs(
            self._noise(cue.seed, key), self._noise(cue.seed, key + 1), plan["t"], cond
        )
        previous = plan["previous"]
        if previous is not None:
            old = self._embedding(previous.prompt, previous.negative_prompt)
            old, frame.cond = self._prompts.same_length(old, cond)
            frame.prev_cond, frame.blend = old, plan["blend"]
            frame.prev_a = self._noise(previous.seed, key)
            frame.prev_b = self._noise(previous.seed, key + 1)
        return frame

    def close(self) -> None:
        import torch

        self._prompts.close()
        self.graphs = None
        self._noises.clear()
        self._keyframes.clear()
        self.pipeline = self.denoiser = self.vae = self.components = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # -- planning: pure bookkeeping on the host ------------------------------------

    def _plan(self, request: FrameRequest) -> dict:
        """Where this frame sits between keyframes, and with which conditioning."""
        key, phase = self.clock.advance(request.time, request.drive)
        cue = request.cue
        punch = min(1.0, 0.3 + 0.7 * cue.intensity)
        plan = {"cue": cue, "key": key, "t": beat_ease(phase, punch), "request": request}
        previous = request.previous_cue
        plan["previous"] = previous if previous is not None and request.blend < 1.0 else None
        plan["blend"] = request.blend
        return plan

    # -- device work ----------------------------------------------------------------

    def _latents(self, plans: list[dict]) -> Any:
        import torch

        conds = [self._conditioning(plan) for plan in plans]
        if self.mode == "latent":
            return torch.cat([self._between_keyframes(plan) for plan in plans])
        noise = torch.cat([self._noise_for(plan) for plan in plans])
        if self.mode == "feedback":
            strengths = [self._feedback_strength(plan) for plan in plans]
            init = self._feedback_init(plans)
            if init is not None:
                # One strength for the batch keeps it one graph; the mean follows the music.
                return self._denoise(noise, conds, init=init, strength=float(np.mean(strengths)))
        return self._denoise(noise, conds)

    def _noise_for(self, plan: dict) -> Any:
        cue, key, t = plan["cue"], plan["key"], plan["t"]
        noise = self._noises.between(cue.seed, key, t)
        if plan["previous"] is not None:  # cross-fade the keyframe path of the old cue
            old = self._noises.between(plan["previous"].seed, key, t)
            noise = slerp(old, noise, plan["blend"])
        return noise

    def _between_keyframes(self, plan: dict) -> Any:
        cue, key = plan["cue"], plan["key"]
        first = self._keyframe(cue, key)
        second = self._keyframe(cue, key + 1)
        return slerp(first, second, plan["t"])

    def _keyframe(self, cue: Cue, key: int) -> Any:
        cache_key = (cue.prompt, cue.negative_prompt, cue.seed, key)
        if cache_key not in self._keyframes:
            cond = self._embedding(cue.prompt, cue.negative_prompt)
            self._keyframes[cache_key] = self._denoise(self._noise(cue.seed, key), [cond])
            while len(self._keyframes) > 8:
                self._keyframes.popitem(last=False)
        return self._keyframes[cache_key]

    def _feedback_strength(self, plan: dict) -> float:
        drive, cue = plan["request"].drive, plan["cue"]
        kick = max(drive.onset, drive.beat * cue.intensity)
        return min(0.9, 0.3 + 0.6 * kick)

    def _feedback_init(self, plans: list[dict]) -> Any:
        import torch

        if self.structure is not None:
            images = [self.structure.render(plan["request"]) for plan in plans]
            return self._encode_images(images)
        if self._previous_latent is None:
            return None
        return torch.cat([self._previous_latent] * len(plans))

    def _conditioning(self, plan: dict) -> Any:
        cue = plan["cue"]
        cond = self._embedding(cue.prompt, cue.negative_prompt)
        if plan["previous"] is not None:
            old = self._embedding(plan["previous"].prompt, plan["previous"].negative_prompt)
            old, cond = self._prompts.same_length(old, cond)
            cond = lerp(old, cond, plan["blend"])
        return cond

    def _embedding(self, prompt: str, negative: str) -> tuple:
        """Prompt embeddings, cached per (prompt, negative): cues repeat a lot."""
        return self._prompts.get(prompt, negative)

    def _noise(self, seed: int, key: int) -> Any:
        """Fixed noise per (seed, keyframe), the same on every device."""
        return self._noises.get(seed, key)

    def _denoise(self, noise: Any, conds: list, init: Any = None, strength: float = 1.0) -> Any:
        """Clean latents from noise (or from `init`, img2img): the family's own loop."""
        return self.denoiser.denoise(noise, conds, init=init, strength=strength)

    def _encode_images(self, images: list[np.ndarray]) -> Any:
        import torch
        import torch.nn.functional as F

        batch = torch.from_numpy(np.stack(images)).to(self.device).permute(0, 3, 1, 2)
        batch = batch.to(self.dtype) / 127.5 - 1.0
        batch = F.interpolate(batch, (self.model_height, self.model_width), mode="bilinear")
        return self.denoiser.encode(batch)

    def _to_rgb(self, latents: Any) -> list[np.ndarray]:
        from render.frame_graph import to_pixels

        images = to_pixels(self.denoiser.decode(latents), (self.height, self.width))
        return [np.ascontiguousarray(image) for image in images.cpu().numpy()]
