"""Latent interpolation: keyframes on beats, smooth motion in between.

A keyframe is a noise latent drawn from a fixed seed. Frames between two keyframes use
spherical interpolation (slerp) of the two noises - a straight line would pass through
low-norm noise the model never saw and wash out the picture - and linear interpolation
of the prompt embeddings. Where we stand between the keyframes comes from the beat: the
`KeyClock` counts beats from the drive, and `beat_ease` shapes the phase so the picture
moves most right after the hit and settles before the next one.

The tensor functions take torch tensors; torch is imported by the caller, not here.
"""

from __future__ import annotations

import math
from typing import Any

from render.frames import Drive


def slerp(a: Any, b: Any, t: Any, eps: float = 1e-7) -> Any:
    """Spherical interpolation between tensors `a` and `b` (same shape).

    `t` is a float, or a tensor of shape (batch,) when `a`/`b` have a batch dimension,
    giving one interpolated sample per entry. t=0 returns `a` exactly, t=1 returns `b`.
    Nearly parallel inputs fall back to linear interpolation (slerp's limit).
    """
    import torch

    batched = torch.is_tensor(t) and t.dim() == 1
    if not torch.is_tensor(t):  # a float: endpoints on the host, no device tensor made
        if t == 0:
            return a
        if t == 1:
            return b
    if batched:
        a = a.expand(t.shape[0], *a.shape[1:]) if a.shape[0] == 1 else a
        b = b.expand(t.shape[0], *b.shape[1:]) if b.shape[0] == 1 else b
        flat_a, flat_b = a.reshape(a.shape[0], -1).float(), b.reshape(b.shape[0], -1).float()
        t = t.float().to(a.device).reshape(-1, 1)
    else:
        flat_a, flat_b = a.reshape(1, -1).float(), b.reshape(1, -1).float()
        t = float(t)  # stays a host number: no per-frame copy to the device
    dot = (flat_a * flat_b).sum(1, keepdim=True)
    cos = dot / (flat_a.norm(dim=1, keepdim=True) * flat_b.norm(dim=1, keepdim=True) + eps)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    sin_omega = torch.sin(omega)
    parallel = sin_omega.abs() < 1e-4
    safe_sin = torch.where(parallel, torch.ones_like(sin_omega), sin_omega)
    weight_a = torch.where(parallel, 1.0 - t, torch.sin((1.0 - t) * omega) / safe_sin)
    weight_b = torch.where(parallel, t, torch.sin(t * omega) / safe_sin)
    mixed = weight_a * flat_a + weight_b * flat_b
    if torch.is_tensor(t):  # exact endpoints: keyframes come out bit-identical
        mixed = torch.where(t == 0, flat_a, torch.where(t == 1, flat_b, mixed))
    return mixed.reshape(a.shape).to(a.dtype)


def mix(a: Any, b: Any, t: Any) -> Any:
    """Linear interpolation with per-sample weights `t` (batch,) on the device, exact at
    t = 1 (the conditioning of a frame outside any cue blend); graph-capturable."""
    import torch

    if a is None:
        return b
    weight = t.reshape(-1, *([1] * (b.dim() - 1))).to(b.dtype)
    return torch.where(weight >= 1, b, a + (b - a) * weight)


def lerp(a: Any, b: Any, t: float) -> Any:
    """Linear interpolation; tuples of tensors (embeddings + pooled) are mixed element-wise."""
    if isinstance(a, tuple):
        return tuple(lerp(x, y, t) for x, y in zip(a, b, strict=True))
    if a is None or t <= 0.0:
        return a
    if t >= 1.0:
        return b
    return a + (b - a) * t


def smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


def beat_ease(phase: float, punch: float) -> float:
    """Map the 0..1 phase between two keyframes to 0..1 of the way travelled.

    punch=0 is a smoothstep (gentle drift for calm music); punch=1 is a strong ease-out:
    the picture leaps on the beat and coasts into the next keyframe.
    """
    phase = min(1.0, max(0.0, phase))
    punch = min(1.0, max(0.0, punch))
    ease_out = 1.0 - (1.0 - phase) ** 3
    return (1.0 - punch) * smoothstep(phase) + punch * ease_out


class KeyClock:
    """Counts keyframes from the drive: one key every `beats_per_key` beats.

    The position advances by the drive's beat phase (wrap-aware), so keys land exactly on
    beats; music without a beat (or a drive with none) advances by time instead, one key
    every `seconds_per_key`. The position never runs backwards.
    """

    def __init__(self, beats_per_key: int = 1, seconds_per_key: float = 2.0) -> None:
        self.beats_per_key = max(1, beats_per_key)
        self.seconds_per_key = seconds_per_key
        self.position = 0.0  # in beats
        self._last: tuple[float, float] | None = None  # (time, beat_phase)

    def advance(self, time: float, drive: Drive) -> tuple[int, float]:
        """Move to `time`; returns (key index, phase 0..1 towards the next key)."""
        phase = float(drive.beat_phase) % 1.0
        if self._last is None:
            self.position = phase
        else:
            last_time, last_phase = self._last
            step = (phase - last_phase) % 1.0
            if step == 0.0 and time > last_time:  # no beat information: run on time
                step = (time - last_time) / self.seconds_per_key * self.beats_per_key
            self.position += step
        self._last = (time, phase)
        keys = self.position / self.beats_per_key
        key = math.floor(keys)
        return key, keys - key
