"""One CUDA graph per frame: slerped noise -> Euler steps -> decode -> uint8 pixels.

On a GPU the interpolate mode's whole frame is device work with a fixed shape, so it is
captured once (per batch size and conditioning length) and replayed: one launch per
frame instead of a few hundred, no host synchronisation inside. Inputs live in static
buffers that each frame overwrites on the slot's own stream: the two keyframe noises
(and the previous cue's, for cross-fades), the interpolation and blend weights (a
pinned host array, copied without blocking) and the prompt embeddings (copied only when
they change). The uint8 frame goes to pinned host memory on a side stream, so the next
frame's UNet runs while this one's copy finishes.

Two slots, each with its own graph, buffers and stream, keep two frames in flight:
`submit()` queues a frame and returns at once, `collect()` waits for its pixels. On a
CPU (tests) a slot calls the same function eagerly, so the bookkeeping is the same code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from render.interpolation import mix, slerp

log = logging.getLogger(__name__)

NOISES = ("a", "b", "prev_a", "prev_b")


@dataclass
class FrameInputs:
    """What one frame needs on the device; tensors have batch 1."""

    a: Any  # keyframe noise at the last key
    b: Any  # keyframe noise at the next key
    t: float  # eased phase between them
    cond: tuple  # the cue's conditioning (cached)
    prev_a: Any = None  # the previous cue's keyframe noises, during a cross-fade
    prev_b: Any = None
    prev_cond: tuple | None = None
    blend: float = 1.0  # 0 = previous cue, 1 = this cue


@dataclass
class Ticket:
    """A submitted batch of frames; `collect()` turns it into RGB arrays."""

    slot: Any
    count: int
    frames: list | None = None


def frame_pixels(denoiser: Any, static: dict, size: tuple[int, int]) -> Any:
    """The whole frame from static inputs, as uint8 (batch, H, W, 3) on the device."""
    noise = slerp(static["a"], static["b"], static["t"])
    old = slerp(static["prev_a"], static["prev_b"], static["t"])
    noise = slerp(old, noise, static["blend"])
    cond = tuple(
        mix(p, c, static["blend"]) for p, c in zip(static["prev"], static["cond"], strict=True)
    )
    latents = denoiser.run(noise, cond)
    return to_pixels(denoiser.decode(latents), size)


def to_pixels(images: Any, size: tuple[int, int]) -> Any:
    """Images in [-1, 1] (NCHW) -> uint8 (N, H, W, 3) at `size` = (height, width)."""
    import torch
    import torch.nn.functional as F

    images = ((images.float() + 1.0) * 127.5).clamp(0, 255)
    if images.shape[-2:] != tuple(size):
        images = F.interpolate(images, size, mode="bilinear")
    return images.round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


@dataclass
class _Slot:
    static: dict
    owner: Any = None  # the FrameGraphs that holds this slot
    out: Any = None
    graph: Any = None
    stream: Any = None
    host: Any = None  # pinned (batch, H, W, 3) uint8
    ready: Any = None  # event: the frame is computed
    copied: Any = None  # event: the frame is on the host
    loaded: dict = field(default_factory=dict)  # buffer name -> the tensor copied in
    ticket: Ticket | None = None


class FrameGraphs:
    """Captured whole-frame graphs for one denoiser at one output size."""

    def __init__(self, denoiser: Any, size: tuple[int, int], device: Any, depth: int = 2):
        import torch

        self.denoiser, self.size, self.device = denoiser, tuple(size), device
        self.cuda = device.type == "cuda"
        self.depth = max(1, depth)
        self._slots: dict[tuple, list[_Slot]] = {}
        self._turn = 0
        self.copy_stream = torch.cuda.Stream(device) if self.cuda else None

    # -- the two calls ---------------------------------------------------------------

    def submit(self, frames: list[FrameInputs]) -> Ticket:
        """Queue `frames` (one batch) and return without waiting for them."""
        import torch

        key = self._key(frames)
        if key not in self._slots:
            self._slots[key] = [self._new_slot(frames) for _ in range(self.depth)]
        slots = self._slots[key]
        slot = slots[self._turn % len(slots)]
        self._turn += 1
        if slot.ticket is not None and slot.ticket.frames is None:
            self._finish(slot.ticket)  # the caller kept more in flight than we hold
        ticket = Ticket(slot, len(frames))
        slot.ticket = ticket
        if not self.cuda:
            self._load(slot, frames)
            slot.out = frame_pixels(self.denoiser, slot.static, self.size)
            return ticket
        stream = slot.stream
        stream.wait_stream(torch.cuda.current_stream(self.device))  # cached inputs made there
        stream.wait_event(slot.copied)  # the last copy out of this slot is done
        with torch.cuda.stream(stream):
            self._load(slot, frames)
            slot.graph.replay()
            slot.ready.record(stream)
        self.copy_stream.wait_event(slot.ready)
        with torch.cuda.stream(self.copy_stream):
            slot.host.copy_(slot.out, non_blocking=True)
            slot.copied.record(self.copy_stream)
        return ticket

    def collect(self, ticket: Ticket) -> list[np.ndarray]:
        """The submitted frames as HxWx3 uint8 host arrays (waits for them)."""
        if ticket.frames is None:
            self._finish(ticket)
        return ticket.frames

    # -- slots ---------------------------------------------------------------------------

    def _finish(self, ticket: Ticket) -> None:
        slot = ticket.slot
        if self.cuda:
            slot.copied.synchronize()
            pixels = slot.host.numpy()
        else:
            pixels = slot.out.numpy()
        ticket.frames = [np.array(pixels[i]) for i in range(ticket.count)]

    @staticmethod
    def _key(frames: list[FrameInputs]) -> tuple:
        shapes = tuple(tuple(t.shape) for t in frames[0].cond)
        return len(frames), shapes

    def _new_slot(self, frames: list[FrameInputs]) -> _Slot:
        """Static buffers shaped for this batch; on a GPU, warm up and capture."""
        import torch

        first = frames[0]
        batch = len(frames)

        def buffer(like: Any) -> Any:
            return torch.zeros((batch, *like.shape[1:]), dtype=like.dtype, device=self.device)

        static = {name: buffer(first.a) for name in NOISES}
        static["t"] = torch.zeros(batch, device=self.device)
        static["blend"] = torch.ones(batch, device=self.device)
        static["cond"] = tuple(buffer(t) for t in first.cond)
        static["prev"] = tuple(buffer(t) for t in first.cond)
        slot = _Slot(static, owner=self)
        if not self.cuda:
            return slot
        slot.stream = torch.cuda.Stream(self.device)
        slot.ready, slot.copied = torch.cuda.Event(), torch.cuda.Event()
        slot.stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(slot.stream):
            self._load(slot, frames)
            for _ in range(2):  # compiles, and lets cuDNN pick its algorithms, outside capture
                frame_pixels(self.denoiser, static, self.size)
        slot.stream.synchronize()
        slot.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(slot.graph, stream=slot.stream):
            slot.out = frame_pixels(self.denoiser, static, self.size)
        slot.host = torch.empty(slot.out.shape, dtype=torch.uint8, pin_memory=True)
        slot.copied.record(self.copy_stream)
        return slot

    def _load(self, slot: _Slot, frames: list[FrameInputs]) -> None:
        """Copy the frames' inputs into the slot's static buffers (on the current stream)."""
        import torch

        static = slot.static
        for index, frame in enumerate(frames):
            previous = frame.prev_cond if frame.prev_cond is not None else frame.cond
            sources = {
                "a": frame.a,
                "b": frame.b,
                "prev_a": frame.prev_a if frame.prev_a is not None else frame.a,
                "prev_b": frame.prev_b if frame.prev_b is not None else frame.b,
            }
            for offset, (c, p) in enumerate(zip(frame.cond, previous, strict=True)):
                sources[f"cond{offset}"], sources[f"prev{offset}"] = c, p
            for name, source in sources.items():
                if slot.loaded.get((index, name)) is source:
                    continue  # the same cached tensor is in place already
                target = self._target(static, name)
                target[index : index + 1].copy_(source, non_blocking=True)
                if self.cuda:
                    source.record_stream(torch.cuda.current_stream(self.device))
                slot.loaded[(index, name)] = source
        weights = [frame.t for frame in frames] + [frame.blend for frame in frames]
        host = torch.tensor(weights, dtype=torch.float32, pin_memory=self.cuda)
        static["t"].copy_(host[: len(frames)], non_blocking=True)
        static["blend"].copy_(host[len(frames) :], non_blocking=True)

    @staticmethod
    def _target(static: dict, name: str) -> Any:
        if name.startswith("cond"):
            return static["cond"][int(name[4:])]
        if name.startswith("prev") and name[4:].isdigit():
            return static["prev"][int(name[4:])]
        return static[name]
