"""The diffusion generator's keyframe noise: one fixed latent per (cue seed, keyframe),
the same on every device, and the slerped path between two keyframes.

Torch is imported lazily, inside functions.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from render.interpolation import slerp


class KeyframeNoise:
    """Noise latents of `shape` per (seed, keyframe), the oldest dropped past `size`."""

    def __init__(self, base_seed: int, shape: tuple, device: Any, size: int = 32) -> None:
        self.base_seed, self.shape, self.device, self.size = base_seed, shape, device, size
        self._noises: OrderedDict[tuple[int, int], Any] = OrderedDict()

    def get(self, seed: int, key: int) -> Any:
        """Fixed noise per (seed, keyframe), drawn on the CPU so every device agrees."""
        import torch

        cache_key = (seed, key)
        if cache_key not in self._noises:
            generator = torch.Generator("cpu").manual_seed(_mix(self.base_seed, seed, key))
            noise = torch.randn(self.shape, generator=generator, dtype=torch.float32)
            if self.device.type == "cuda":  # pinned: the copy does not stall the stream
                noise = noise.pin_memory()
            self._noises[cache_key] = noise.to(self.device, non_blocking=True)
            while len(self._noises) > self.size:
                self._noises.popitem(last=False)
        return self._noises[cache_key]

    def between(self, seed: int, key: int, t: float) -> Any:
        """The noise a fraction `t` of the way from keyframe `key` to the next."""
        return slerp(self.get(seed, key), self.get(seed, key + 1), t)

    def clear(self) -> None:
        self._noises.clear()


def _mix(*values: int) -> int:
    """A stable 63-bit seed from several ints (Python's hash() is salted per process)."""
    mixed = 0x9E3779B97F4A7C15
    for value in values:
        mixed = (mixed ^ (value & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 % (1 << 64)
    return mixed >> 1
