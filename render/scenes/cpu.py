"""The CPU fallback: the original NumPy engine, for machines without OpenGL 3.3.

It draws one family only (a kaleidoscopic plasma over zoom/rotate feedback, a pulsing
ring and onset sparks) at a bounded internal pixel count, upscaled; sparks are drawn at
the output size so they stay sharp. Of the style finishes it honours only `noir`
(greyscale). It does NOT match the GL families: it is a safety net, not a twin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from render.frames import Cue, Drive, FrameRequest

INTERNAL_PIXELS = 512 * 512  # drawing budget; larger outputs are upscaled
MAX_SPARKS = 600


@dataclass(frozen=True)
class SceneLook:
    """The shape of a scene: which symmetry and waves the field uses. Chosen by seed + scene."""

    symmetry: int
    wave_a: float
    wave_b: float
    spiral: float
    spin: float
    warp_zoom: float
    warp_twist: float


def scene_look(seed: int, scene: int) -> SceneLook:
    rng = np.random.default_rng([seed & 0xFFFFFFFF, scene & 0xFFFFFFFF])
    return SceneLook(
        symmetry=int(rng.choice([3, 4, 5, 6, 8])),
        wave_a=float(rng.uniform(2.0, 5.0)),
        wave_b=float(rng.uniform(1.5, 4.0)),
        spiral=float(rng.uniform(-3.0, 3.0)),
        spin=float(rng.choice([-1.0, 1.0]) * rng.uniform(0.05, 0.25)),
        warp_zoom=float(rng.uniform(0.008, 0.025)),
        warp_twist=float(rng.uniform(-0.02, 0.02)),
    )


def palette_lut(palette: tuple[tuple[int, int, int], ...], size: int = 256) -> np.ndarray:
    """A cyclic colour ramp through the palette, as float32 (size, 3) in 0..1."""
    colours = np.asarray(palette, dtype=np.float32) / 255.0
    if len(colours) == 1:
        colours = np.vstack([colours * 0.2, colours])
    ramp = np.vstack([colours, colours[:1]])  # cyclic: wraps back to the first colour
    positions = np.linspace(0.0, 1.0, len(ramp))
    x = np.linspace(0.0, 1.0, size, endpoint=False)
    return np.stack([np.interp(x, positions, ramp[:, c]) for c in range(3)], axis=1).astype(
        np.float32
    )


class CpuScenes:
    """The NumPy fallback: one kaleidoscope family at a bounded pixel count."""

    def __init__(self, width: int, height: int, seed: int = 0) -> None:
        self.width, self.height = width, height
        self.seed = seed
        scale = min(1.0, math.sqrt(INTERNAL_PIXELS / (width * height)))
        self.inner_w = max(16, int(round(width * scale / 2)) * 2)
        self.inner_h = max(16, int(round(height * scale / 2)) * 2)
        self._grid = _PolarGrid(self.inner_w, self.inner_h)
        self._feedback = np.zeros((self.inner_h * self.inner_w, 3), np.float32)
        self._sparks = _Sparks(np.random.default_rng(seed), MAX_SPARKS)
        self._lut_cache: dict[tuple, np.ndarray] = {}
        self._phase = 0.0  # field animation clock, advanced faster when the music is busy
        self._last_time: float | None = None

    def render(self, request: FrameRequest) -> np.ndarray:
        drive, cue = request.drive, request.cue
        dt = self._advance_clock(request.time, drive)
        look = scene_look(self.seed + cue.seed, cue.scene)
        field = self._field_colour(cue, look, drive)
        if request.previous_cue is not None and request.blend < 1.0:
            prev = request.previous_cue
            old = self._field_colour(prev, scene_look(self.seed + prev.seed, prev.scene), drive)
            field = old + (field - old) * _ease(request.blend)
        trails = self._warp_feedback(look, drive, cue.intensity)
        ring = self._ring(drive, look, cue)
        # max, not sum: trails never outshine what is drawn now, so light cannot pile up.
        frame = np.maximum(trails, field + ring)
        self._sparks.update(dt, drive, cue.intensity, self._grid.aspect)
        self._feedback = np.minimum(frame, 1.5, out=frame)
        image = _tone_map(frame, drive).reshape(self.inner_h, self.inner_w, 3)
        return self._finish(image, cue)

    def close(self) -> None:
        self._lut_cache.clear()

    # -- layers --------------------------------------------------------------------------
    def _advance_clock(self, time: float, drive: Drive) -> float:
        dt = 1 / 30 if self._last_time is None else max(0.0, min(0.25, time - self._last_time))
        self._last_time = time
        self._phase += dt * (0.35 + 1.6 * drive.energy + 0.8 * drive.beat)
        return dt

    def _field_colour(self, cue: Cue, look: SceneLook, drive: Drive) -> np.ndarray:
        g, t = self._grid, self._phase
        folded = g.folded_angle(look.symmetry, t * look.spin)
        r = g.radius
        value = (
            np.sin(r * look.wave_a * 3.0 - t * 2.0 + folded * look.spiral)
            + np.sin(folded * look.wave_b * 2.0 + r * 2.0 + t * 1.3)
            + 0.6 * np.sin(g.x * look.wave_b + t * 0.7) * np.cos(g.y * look.wave_a - t * 0.5)
        )
        # value is in about -2.6..2.6; the ramp position drifts with time and key.
        offset = 0.1 * t + 0.08 * drive.brightness
        index = ((value * (0.5 / 2.6) + 0.5 + offset) % 1.0 * 255.0).astype(np.uint8)
        colour = palette_lut_for(self, cue)[index]
        # Bright ribbons with dark gaps between them, so the feedback trails show through.
        ribbons = np.cos(value * 2.4 - t * 1.1)
        ribbons = 0.12 + 0.88 * np.square(np.square(0.5 + 0.5 * ribbons))
        # Quiet music keeps the field dim; energy and intensity open it up.
        level = 0.25 + 0.6 * drive.energy + 0.3 * cue.intensity * drive.energy
        return colour * (ribbons * (level * g.vignette))[:, None]

    def _warp_feedback(self, look: SceneLook, drive: Drive, intensity: float) -> np.ndarray:
        zoom = 1.0 + look.warp_zoom + 0.05 * drive.bass + 0.06 * drive.beat
        twist = look.warp_twist * (1 + 2 * drive.mid) + 0.02 * drive.onset * look.spin
        warped = self._grid.warp(self._feedback, zoom, twist)
        decay = 0.82 + 0.08 * (1.0 - drive.energy) * (1 - 0.3 * intensity)
        return warped * decay

    def _ring(self, drive: Drive, look: SceneLook, cue: Cue) -> np.ndarray:
        g = self._grid
        chroma = np.asarray(drive.chroma, np.float32)
        shape = g.chroma_shape(chroma) if chroma.size == 12 else 0.0
        radius = 0.35 + 0.25 * drive.bass + 0.22 * drive.beat + 0.12 * shape
        width = 0.015 + 0.05 * drive.onset + 0.02 * drive.beat
        strength = (0.15 + 0.9 * drive.beat + 0.4 * drive.onset) * (0.25 + 0.75 * drive.energy)
        ring = np.exp(-np.square((g.radius - radius) / width)) * strength
        lut = palette_lut_for(self, cue)
        tint = lut[(int(self._phase * 40) + 128) % 256] * 0.8 + 0.2
        return ring[:, None] * tint[None, :]

    # -- output --------------------------------------------------------------------------
    def _finish(self, image: np.ndarray, cue: Cue) -> np.ndarray:
        picture = Image.fromarray(image)
        if picture.size != (self.width, self.height):
            picture = picture.resize((self.width, self.height), Image.BILINEAR)
        frame = np.asarray(picture)
        frame = self._sparks.draw_output(frame, self.width, self.height, palette_lut_for(self, cue))
        if cue.finish == "noir":  # the one finish the fallback honours: grey
            grey = (frame @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
            frame = np.repeat(grey[:, :, None], 3, axis=2)
        return np.ascontiguousarray(frame)


def palette_lut_for(engine: CpuScenes, cue: Cue) -> np.ndarray:
    lut = engine._lut_cache.get(cue.palette)
    if lut is None:
        if len(engine._lut_cache) > 64:
            engine._lut_cache.clear()
        lut = engine._lut_cache[cue.palette] = palette_lut(cue.palette)
    return lut


class _PolarGrid:
    """Pixel coordinates prepared once: cartesian, polar, and the feedback warp."""

    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.aspect = width / height
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        self.x = ((xs + 0.5) / height * 2.0 - self.aspect).ravel()
        self.y = ((ys + 0.5) / height * 2.0 - 1.0).ravel()
        self.radius = np.hypot(self.x, self.y)
        self.angle = np.arctan2(self.y, self.x)
        self.vignette = np.clip(1.25 - 0.45 * self.radius, 0.0, 1.0).astype(np.float32)
        position = (self.angle / (2 * np.pi) + 0.5) * 12
        self._bin = position.astype(np.int32) % 12
        self._bin_frac = (position - np.floor(position)).astype(np.float32)

    def chroma_shape(self, chroma: np.ndarray) -> np.ndarray:
        """The 12 chroma values spread smoothly around the circle (no steps to streak)."""
        here, after = chroma[self._bin], chroma[(self._bin + 1) % 12]
        return here + (after - here) * self._bin_frac

    def folded_angle(self, symmetry: int, rotation: float) -> np.ndarray:
        """Angle folded into one mirror wedge: the kaleidoscope."""
        wedge = 2 * np.pi / symmetry
        a = (self.angle + rotation) % wedge
        return np.abs(a - wedge / 2)

    def warp(self, image: np.ndarray, zoom: float, twist: float) -> np.ndarray:
        """Sample `image` (flat, n x 3) zoomed in by `zoom` and rotated by `twist` radians."""
        c, s = math.cos(twist) / zoom, math.sin(twist) / zoom
        sx = self.x * c - self.y * s
        sy = self.x * s + self.y * c
        col = ((sx + self.aspect) * (self.h / 2.0)).astype(np.int32)
        row = ((sy + 1.0) * (self.h / 2.0)).astype(np.int32)
        np.clip(col, 0, self.w - 1, out=col)
        np.clip(row, 0, self.h - 1, out=row)
        return image[row * self.w + col]


class _Sparks:
    """Particles thrown out from the centre on onsets; they slow down and fade."""

    def __init__(self, rng: np.random.Generator, capacity: int) -> None:
        self.rng = rng
        self.pos = np.zeros((capacity, 2), np.float32)
        self.vel = np.zeros((capacity, 2), np.float32)
        self.life = np.zeros(capacity, np.float32)
        self.hue = np.zeros(capacity, np.int32)

    def update(self, dt: float, drive: Drive, intensity: float, aspect: float) -> None:
        self.life -= dt * 0.9
        self.pos += self.vel * dt
        self.vel *= 1.0 - 1.5 * dt
        burst = drive.onset * (0.4 + intensity) + (drive.beat > 0.95) * 0.8
        count = int(burst * 60 * (0.3 + 0.7 * drive.energy))
        if count <= 0:
            return
        free = np.flatnonzero(self.life <= 0)[:count]
        angle = self.rng.uniform(0, 2 * np.pi, len(free))
        speed = self.rng.uniform(0.4, 1.6, len(free)) * (0.6 + drive.energy)
        start = self.rng.uniform(0.05, 0.25, len(free))
        self.pos[free, 0] = np.cos(angle) * start
        self.pos[free, 1] = np.sin(angle) * start
        self.vel[free, 0] = np.cos(angle) * speed
        self.vel[free, 1] = np.sin(angle) * speed
        self.life[free] = self.rng.uniform(0.5, 1.0, len(free))
        self.hue[free] = self.rng.integers(0, 256, len(free))

    def draw_output(self, frame: np.ndarray, width: int, height: int, lut: np.ndarray):
        """Splat the sparks at the output size (sharp dots, not upscaled blocks)."""
        alive = np.flatnonzero(self.life > 0)
        if alive.size == 0:
            return frame
        aspect = width / height
        col = ((self.pos[alive, 0] + aspect) * (height / 2.0)).astype(np.int32)
        row = ((self.pos[alive, 1] + 1.0) * (height / 2.0)).astype(np.int32)
        colour = (lut[self.hue[alive]] * 0.7 + 0.3) * self.life[alive, None] * 255.0
        ok = (row >= 0) & (row < height - 1) & (col >= 0) & (col < width - 1)
        row, col, colour = row[ok], col[ok], colour[ok]
        out = frame.astype(np.int16)
        size = max(1, height // 360)  # about two pixels at 720p, one at 360p
        for dr in range(size):
            for dc in range(size):
                r, c = np.minimum(row + dr, height - 1), np.minimum(col + dc, width - 1)
                out[r, c] = np.minimum(255, out[r, c] + colour.astype(np.int16))
        return out.astype(np.uint8)


def _tone_map(frame: np.ndarray, drive: Drive) -> np.ndarray:
    """Soft highlights (1 - e^-x) on the brightest channel, so colours keep their hue.

    Exposure follows loudness, with a brief flash on the beat.
    """
    exposure = 0.7 + 1.3 * drive.energy + 0.8 * drive.beat
    peak = frame.max(axis=1, keepdims=True) + 1e-6
    out = frame * ((1.0 - np.exp(-peak * exposure)) / peak)
    return (out * 255.0 + 0.5).astype(np.uint8)


def _ease(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)
