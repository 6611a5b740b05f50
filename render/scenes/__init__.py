"""Scene families of the embedded engine: fragment shaders driven by the music.

Each family is one shader in `shaders/` (plus `common.glsl`, the music uniforms). The
engine picks a family from the cue (`Cue.family`, else the cue's scene number), and
four shape parameters from the scene number, so a repeated section draws the same thing.
"""

from __future__ import annotations

import numpy as np

FAMILIES = (
    "kaleido",  # kaleidoscope feedback
    "tunnel",  # polygon tunnel rushing toward the viewer
    "scope",  # oscilloscope / waveform ribbons with phosphor trails
    "landscape",  # spectrum mountains and a perspective grid under a striped sun
    "flow",  # particles carried by a curl-noise flow field
    "fractal",  # endless zoom into an inversion-fold fractal
    "warp",  # MilkDrop-style per-pixel warp feedback with a waveform ring
    "nebula",  # starfield flying through nebula clouds
    "lasers",  # a pulsing grid swept by laser beams
)
FINISHES = ("", "noir", "watercolour", "neon", "cosmic")


def family_of(name: str, scene: int) -> str:
    """The family a cue asks for; an empty or unknown name falls back to the scene number."""
    return name if name in FAMILIES else FAMILIES[scene % len(FAMILIES)]


def scene_params(seed: int, scene: int) -> tuple[float, float, float, float]:
    """Four shape parameters in 0..1 (symmetry, spin, frequencies...) for a scene."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, scene & 0xFFFFFFFF])
    return tuple(float(v) for v in rng.random(4))  # type: ignore[return-value]
