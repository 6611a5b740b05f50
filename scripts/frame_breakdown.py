"""Where a diffusion frame's time goes, stage by stage (used by bench_generator.py).

Host stages (beat plan, cached embedding lookup) are timed with the host clock; device
stages (noise slerp, UNet + Euler, decode, uint8 conversion) are each captured as their
own CUDA graph and timed over replays with CUDA events, so launch gaps are not counted
twice; then the whole-frame graph, the copy to pinned and to pageable host memory. Also
checks the generator's keyframe against the diffusers pipeline on the same weights.
"""

from __future__ import annotations

import copy
import statistics
import time
from typing import Any


def host_us(fn, repeats: int = 200) -> float:
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats * 1e6


def graph_ms(torch, fn, repeats: int = 50) -> tuple[dict, Any]:
    """Capture fn() as a CUDA graph; (median and back-to-back mean ms per replay, output)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):
            fn()
    stream.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=stream):
        out = fn()
    return replay_ms(torch, graph.replay, repeats), out


def replay_ms(torch, replay, repeats: int = 50) -> dict:
    singles = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        replay()
        end.record()
        end.synchronize()
        singles.append(start.elapsed_time(end))
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        replay()
    end.record()
    end.synchronize()
    return {
        "ms_p50": statistics.median(singles),
        "ms_mean_back_to_back": start.elapsed_time(end) / repeats,
    }


def breakdown(generator: Any, request: Any) -> dict:
    """Per-stage times of one batch-1 frame of `generator` (frame graphs on a GPU)."""
    import torch

    from render.frame_graph import to_pixels
    from render.interpolation import slerp

    result: dict = {}
    clock = copy.deepcopy(generator.clock)
    result["host_plan_us"] = host_us(lambda: generator._plan(request))
    generator.clock = clock
    cue = request.cue
    result["host_embedding_lookup_us"] = host_us(
        lambda: generator._embedding(cue.prompt, cue.negative_prompt)
    )
    with torch.inference_mode():
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        generator.denoiser.encode_prompt(cue.prompt + " new", cue.negative_prompt)
        torch.cuda.synchronize()
        result["encode_new_prompt_ms"] = (time.perf_counter() - t0) * 1000
        plan = generator._plan(request)
        inputs = generator._frame_inputs(plan)
        t = torch.full((1,), float(plan["t"]), device=generator.device)

        def noise_stage():
            return slerp(inputs.a, inputs.b, t)

        result["noise_slerp"], noise = graph_ms(torch, noise_stage)
        result["unet_and_euler"], latents = graph_ms(
            torch, lambda: generator.denoiser.run(noise, inputs.cond)
        )
        result["decode"], images = graph_ms(torch, lambda: generator.denoiser.decode(latents))
        size = (generator.height, generator.width)
        result["to_uint8"], pixels = graph_ms(torch, lambda: to_pixels(images, size))
        ticket = generator.graphs.submit([inputs])
        generator.graphs.collect(ticket)
        slot = ticket.slot
        result["whole_frame_graph"] = replay_ms(torch, slot.graph.replay)
        host = torch.empty(pixels.shape, dtype=torch.uint8, pin_memory=True)
        result["copy_to_pinned"] = replay_ms(torch, lambda: host.copy_(pixels, non_blocking=True))
        result["copy_to_pageable_us"] = host_us(lambda: pixels.cpu(), repeats=50)
    parts = ("noise_slerp", "unet_and_euler", "decode", "to_uint8", "copy_to_pinned")
    result["sum_of_device_stages_ms"] = sum(result[p]["ms_p50"] for p in parts)
    return result


def check_against_diffusers(generator: Any, prompt: str, seed: int) -> dict:
    """Our keyframe (the whole-frame graph at t = 0) against the diffusers pipeline's
    latents and decoded pixels for the same prompt and noise, on the loaded weights."""
    import numpy as np
    import torch

    from render.frame_graph import FrameInputs, to_pixels

    size = (generator.model_height, generator.model_width)
    with torch.inference_mode():
        noise = generator._noise(seed, 0)
        cond = generator._embedding(prompt, "")
        ours = generator._denoise(noise, [cond])
        pipeline_latents = generator.pipeline(
            prompt,
            num_inference_steps=generator.steps,
            guidance_scale=0.0,
            height=size[0],
            width=size[1],
            latents=noise.to(generator.dtype),
            output_type="latent",
        ).images.float()
        theirs = to_pixels(generator.denoiser.decode(pipeline_latents), size).cpu().numpy()[0]
        frame = None
        if generator.graphs is not None:
            ticket = generator.graphs.submit([FrameInputs(noise, noise, 0.0, cond)])
            frame = generator.graphs.collect(ticket)[0]
    error = ((ours - pipeline_latents).norm() / pipeline_latents.norm()).item()
    result = {"latent_relative_error_vs_pipeline": error}
    if frame is not None and frame.shape == theirs.shape:
        diff = np.abs(frame.astype(np.int16) - theirs.astype(np.int16))
        result["graph_keyframe_pixel_mean_abs_diff"] = float(diff.mean())
        result["graph_keyframe_pixel_max_abs_diff"] = int(diff.max())
    return result
