"""Which denoiser runs a model family: `make_denoiser`.

The interface is `render.denoiser_base.Denoiser`; the families are
`render.unet_denoiser.UNetDenoiser` (sd, sdxl) and `render.dit_denoisers` (`SD3Denoiser`,
`FluxDenoiser`).
"""

from __future__ import annotations

from typing import Any

from render.denoiser_base import Denoiser
from render.dit_denoisers import FluxDenoiser, SD3Denoiser
from render.unet_denoiser import UNetDenoiser


def make_denoiser(
    components: Any, device: Any, dtype: Any, steps: int, guidance: float, size: tuple[int, int]
) -> Denoiser:
    """The denoiser for the loaded model's family; `size` is the model's (width, height)."""
    family = components.spec.family
    classes = {"sd3": SD3Denoiser, "flux": FluxDenoiser}
    return classes.get(family, UNetDenoiser)(components, device, dtype, steps, guidance, size)
