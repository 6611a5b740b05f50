"""The generator contract: what a frame is asked for with, and what answers it.

Render knows nothing of audio analysis or the scheduler. The visualizer layer turns
audio features into a `Drive` and scheduler decisions into a `Cue`; every engine
(embedded or diffusion) implements `Generator` and turns a `FrameRequest` into RGB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

RGB = tuple[int, int, int]

DEFAULT_PALETTE: tuple[RGB, ...] = ((12, 10, 40), (70, 40, 160), (230, 60, 140), (255, 190, 90))


@dataclass(frozen=True)
class Cue:
    """What to show from `start` on, as decided by the scheduler.

    Engines read the fields they understand: diffusion uses the prompts and seed,
    the embedded engine uses palette, scene, family, finish and intensity. `change` and
    `transition` say how big the cut is and how long to blend into it (0: a hard cut).
    """

    start: float  # seconds on the audio clock
    prompt: str = "abstract flowing light"
    negative_prompt: str = ""
    seed: int = 0
    palette: tuple[RGB, ...] = DEFAULT_PALETTE
    scene: int = 0  # look family; a repeated section returns to the same scene
    intensity: float = 0.5  # 0 calm .. 1 wild
    change: float = 0.5  # 0 drift .. 1 hard cut
    transition: float = 0.5  # seconds to blend from the previous cue
    words: tuple[str, ...] = ()  # spoken words currently in the prompt
    style: str = "default"
    family: str = ""  # embedded scene family (render.scenes.FAMILIES); "" = chosen by scene
    finish: str = ""  # embedded post-processing look: "", noir, watercolour, neon, cosmic
    motion: float = 1.0  # embedded: speed of the music clock (style pack `motion`)
    trails: float = 0.5  # embedded: 0 no feedback trails .. 1 long trails
    reason: str = ""  # why the scheduler chose this cue (for --explain and the HUD)


@dataclass(frozen=True)
class Drive:
    """The per-frame audio drive, all levels normalised to 0..1."""

    time: float = 0.0
    energy: float = 0.0
    bass: float = 0.0
    mid: float = 0.0
    treble: float = 0.0
    brightness: float = 0.0
    onset: float = 0.0  # onset strength, decays after each hit
    beat: float = 0.0  # beat pulse: 1 on the beat, decays until the next
    beat_phase: float = 0.0  # 0..1 position inside the current beat
    downbeat: bool = False
    tempo: float = 120.0
    chroma: tuple[float, ...] = field(default_factory=lambda: (0.0,) * 12)


@dataclass(frozen=True)
class FrameRequest:
    """One frame to draw: its index and time on the audio clock, the cue and the drive."""

    index: int
    time: float
    cue: Cue
    drive: Drive
    previous_cue: Cue | None = None  # set while a transition is blending
    blend: float = 1.0  # 0 = previous cue, 1 = current cue


class Generator(Protocol):
    """An engine that draws frames. Stateful (feedback, latents): call in time order."""

    name: str
    width: int
    height: int

    def render(self, request: FrameRequest) -> np.ndarray:
        """Return an HxWx3 uint8 RGB frame (C-contiguous)."""
        ...

    def close(self) -> None: ...


def render_for_encoder(generator: Generator, request: FrameRequest) -> np.ndarray:
    """What an MP4 writer takes: the engine's own `render_for_encoder` where it has one
    (yuv420p planes, (1.5 H, W), converted on a GPU; or RGB smaller than the output,
    which the writer scales up), else `render`'s full-size RGB."""
    render = getattr(generator, "render_for_encoder", generator.render)
    return render(request)
