"""The embedded engine: audio-reactive scenes with no model weights.

Scenes are fragment shaders (render.scenes, nine families) drawn at the output size
through a headless OpenGL 3.3 context (EGL; Mesa llvmpipe on a CPU-only box). Where no
context can be made, or GL fails mid-show, the engine says so once and carries on with
the NumPy fallback (render.scenes.cpu), which draws a single kaleidoscope family.
Spoken words in the cue are drawn over the frame as glowing text in both paths.

The GL context is created on the first `render` call, in the thread that renders (the
live app renders on a worker thread), and made current around every frame.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from render.frames import Cue, FrameRequest
from render.scenes import family_of, scene_params
from render.scenes.context import GLUnavailable
from render.scenes.cpu import CpuScenes, palette_lut
from render.scenes.music import MusicClock

__all__ = ["EmbeddedGenerator", "palette_lut"]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


class EmbeddedGenerator:
    """Weightless audio-reactive engine. Deterministic for a seed and a request sequence."""

    name = "embedded"

    def __init__(
        self,
        width: int,
        height: int,
        seed: int = 0,
        notice: Callable[[str], None] = _stderr,
        gl: bool = True,
    ) -> None:
        self.width, self.height = width, height
        self.seed = seed
        self.notice = notice
        self.backend = "pending" if gl else "cpu"  # "gl", "cpu" once the first frame is drawn
        self._gl = None
        self._cpu: CpuScenes | None = None
        self._clock = MusicClock()
        self._font = _load_font(max(18, height // 14))
        self._last: np.ndarray | None = None
        self._holding = False

    def render(self, request: FrameRequest) -> np.ndarray:
        return self._draw(request, "rgb")

    def render_for_encoder(self, request: FrameRequest) -> np.ndarray:
        """The frame as a video encoder takes it best: yuv420p planes converted on a GPU
        (`render_i420`); on a software rasteriser, RGB at the drawing budget (`inner`),
        which the encoder's scaler takes to the output size for less than a full-size
        finish pass costs; else (CPU path, spoken words drawn at full size) `render`."""
        planes = self.render_i420(request)
        if planes is not None:
            return planes
        gl = self._gl
        if self.backend == "gl" and gl is not None and gl.scaled and not request.cue.words:
            return self._draw(request, "small")
        return self.render(request)

    def render_i420(self, request: FrameRequest) -> np.ndarray | None:
        """The frame as yuv420p planes converted on the GPU, for the video encoder; None
        (nothing drawn) where `render` does better: the CPU path, a software rasteriser
        (llvmpipe runs the conversion slower than FFmpeg's swscale: 0.62x vs 0.88x real
        time at 720p30 on 2 cores), or spoken words, which are drawn over the RGB frame.
        A GL failure here still returns RGB."""
        if self.backend == "pending":
            self._start_gl()
        if self.backend != "gl" or request.cue.words or self._gl is None or self._gl.software:
            return None
        return self._draw(request, "i420")

    def _draw(self, request: FrameRequest, layout: str) -> np.ndarray:
        uniforms = self._clock.advance(request)
        frame = None
        if self.backend == "pending":
            self._start_gl()
        if self.backend == "gl":
            try:
                frame = self._render_gl(request, uniforms, layout)
            except Exception as exc:  # a context lost mid-show: keep playing on the CPU
                self._fall_back(f"OpenGL failed mid-show ({_first(exc)})")
        if frame is None:
            try:
                frame = self._cpu_scenes().render(request)
            except Exception as exc:  # nothing left to draw with: hold the last good frame
                if self._last is None:
                    raise
                if not self._holding:  # one notice, not one per frame
                    self.notice(f"embedded engine: holding the last frame ({_first(exc)})")
                self._holding = True
                return self._last
        if frame.shape[:2] == (self.height, self.width) and frame.ndim == 3:  # full-size RGB
            if request.cue.words:  # (I420 and small frames never carry words)
                frame = self._draw_words(frame, request.cue, request.time)
            self._last = frame
        return frame

    def close(self) -> None:
        if self._gl is not None:
            self._gl.close()
            self._gl = None
        if self._cpu is not None:
            self._cpu.close()

    # -- GL ------------------------------------------------------------------------------
    def _start_gl(self) -> None:
        from render.scenes.gl import GLScenes

        try:
            self._gl = GLScenes(self.width, self.height)
            self.backend = "gl"
        except GLUnavailable as exc:
            self._fall_back(str(exc))

    def _fall_back(self, why: str) -> None:
        self.notice(f"embedded engine: CPU fallback, one scene family only ({why})")
        if self._gl is not None:
            self._gl.close()
            self._gl = None
        self.backend = "cpu"

    def _render_gl(self, request: FrameRequest, uniforms: dict, layout: str) -> np.ndarray:
        assert self._gl is not None
        cue = request.cue
        old = None
        if request.previous_cue is not None and request.blend < 1.0:
            prev = request.previous_cue
            old = (
                family_of(prev.family, prev.scene),
                self._cue_uniforms(prev, uniforms),
                prev.palette,
            )
        broken = set(self._gl.broken)
        frame = self._gl.draw(
            family_of(cue.family, cue.scene),
            self._cue_uniforms(cue, uniforms),
            cue.palette,
            cue.finish,
            old,
            _ease(request.blend),
            layout=layout,
        )
        for family in set(self._gl.broken) - broken:
            self.notice(f"embedded engine: scene {family} does not build here, drawing another")
        return frame

    def _cue_uniforms(self, cue: Cue, music: dict) -> dict:
        return {
            **music,
            "u_section": cue.intensity,
            "u_trails": min(1.0, max(0.0, cue.trails)),
            "u_params": scene_params(self.seed + cue.seed, cue.scene),
        }

    def _cpu_scenes(self) -> CpuScenes:
        if self._cpu is None:
            self._cpu = CpuScenes(self.width, self.height, self.seed)
        return self._cpu

    # -- words ---------------------------------------------------------------------------
    def _draw_words(self, frame: np.ndarray, cue: Cue, time: float) -> np.ndarray:
        """The newest spoken words, fading in and out, in a band near the bottom."""
        age = max(0.0, time - cue.start)
        alpha = min(1.0, age / 0.4) * max(0.0, 1.0 - max(0.0, age - 4.0) / 2.0)
        if alpha <= 0.0:
            return frame
        text = " ".join(cue.words[-3:]).upper()
        top = int(self.height * 0.74)
        band = Image.fromarray(frame[top:])  # only the band is blurred: cheap at any size
        layer = Image.new("L", band.size, 0)
        draw = ImageDraw.Draw(layer)
        box = draw.textbbox((0, 0), text, font=self._font)
        x = (band.width - (box[2] - box[0])) // 2
        draw.text((x, int(self.height * 0.04)), text, fill=int(255 * alpha), font=self._font)
        glow = layer.filter(ImageFilter.GaussianBlur(max(2, self.height // 120)))
        mask = Image.blend(glow, layer, 0.6)
        white = Image.new("RGB", band.size, (255, 250, 240))
        out = np.array(frame)
        out[top:] = np.asarray(Image.composite(white, band, mask))
        return out


def _ease(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0][:160] if text else "") or type(exc).__name__


def _load_font(size: int) -> ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "Arial Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)
