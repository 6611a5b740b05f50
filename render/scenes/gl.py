"""The GL scene renderer: a family pass, a finish pass, one read-back per frame.

    scene[read] --(family shader, feedback)--> scene[write] --(finish)--> final -> RGB
                                                     \\--> 1/4, 1/16 copies (bloom, bleed)

Feedback ping-pongs between two scene textures, so a family reads the last composite
frame whatever family drew it. While a cue blends, the new and the outgoing family draw
into two spare textures and a mix pass writes the composite. Everything is drawn at the
output size; nothing leaves the GPU but the final 8-bit RGB frame.

llvmpipe (Mesa's CPU rasteriser) runs both sides of a runtime branch and pays for every
extra render target and full-size fetch, so each finish is its own program
(`#define FINISH n`), passes have one target, and palettes and chroma are small
textures rather than uniform arrays.
"""

from __future__ import annotations

import math
import os
from functools import cache
from pathlib import Path

import numpy as np

from render.scenes import FAMILIES, FINISHES
from render.scenes.context import GLUnavailable, create_context

SHADERS = Path(__file__).parent / "shaders"
BLUR_FINISHES = {"watercolour", "neon", "cosmic"}  # these sample the blurred copies
OWN_PASS_FINISHES = {"watercolour"}  # samples its own frame around each pixel
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast")
# llvmpipe draws at most 960x540. For the video encoder the whole frame stays that size
# and swscale's bicubic scaler (2 ms) takes it to the output size: at 1280x720 on two
# cores that is 33 ms of CPU a frame against 52 for a full-size finish (2026-12-03).
SOFTWARE_PIXEL_BUDGET = 960 * 540


@cache
def shader_source(name: str) -> str:
    return (SHADERS / f"{name}.glsl").read_text(encoding="utf-8")


def family_source(family: str, finish: str = "") -> str:
    """A family with the finish fused in as a second output (the composite is the first)."""
    fused = "" if finish in OWN_PASS_FINISHES else finish
    return "\n".join(
        (
            "#version 330",
            f"#define FINISH {FINISHES.index(fused)}",
            shader_source("common"),
            shader_source("finish_lib"),
            "#define main scene_main",
            shader_source(family),
            "#undef main",
            "void main() { scene_main(); f_final = vec4(finish(f_color.rgb), 1.0); }",
        )
    )


def finish_source(finish: str, scaled: bool = False) -> str:
    lib = shader_source("finish_lib")
    body = shader_source("finish").replace("#include_finish", lib)
    head = f"#version 330\n#define FINISH {FINISHES.index(finish)}\n"
    return head + ("#define SCALED\n" if scaled else "") + body


def auto_scale(renderer: str, width: int, height: int) -> float:
    """1.0 on a real GPU; on a software rasteriser, what keeps the scene pass in budget."""
    override = os.environ.get("VISUALIZE_GL_SCALE", "").strip()
    if override:
        try:
            return min(1.0, max(0.25, float(override)))
        except ValueError:
            pass
    if not any(name in renderer.lower() for name in SOFTWARE_RENDERERS):
        return 1.0
    return min(1.0, math.sqrt(SOFTWARE_PIXEL_BUDGET / (width * height)))


def palette_uniform(palette: tuple) -> tuple[list[tuple[float, float, float]], float]:
    """Up to six palette colours in 0..1 (a single colour gets a dark partner)."""
    colours = [tuple(c / 255.0 for c in rgb) for rgb in palette[:6]] or [(1.0, 1.0, 1.0)]
    if len(colours) == 1:
        colours.insert(0, tuple(c * 0.2 for c in colours[0]))
    count = len(colours)
    return colours + [(0.0, 0.0, 0.0)] * (6 - count), float(count)


class GLScenes:
    """Draws scene families at width x height. Raises GLUnavailable when it cannot start."""

    def __init__(self, width: int, height: int, scale: float | None = None) -> None:
        self.width, self.height = width, height
        self.ctx = create_context()
        if scale is None:
            scale = auto_scale(self.renderer, width, height)
        self.scale = scale
        self.inner = (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))
        self.scaled = self.inner != (width, height)
        self.broken: dict[str, str] = {}  # family -> why its shader did not build
        try:
            with self.ctx:
                self._build()
        except GLUnavailable:
            self.ctx.release()
            raise
        except Exception as exc:  # moderngl.Error and driver surprises
            self.ctx.release()
            raise GLUnavailable(f"OpenGL setup failed: {_first(exc)}") from None

    @property
    def renderer(self) -> str:
        return str(self.ctx.info.get("GL_RENDERER", "unknown"))

    @property
    def software(self) -> bool:
        """A CPU rasteriser (Mesa llvmpipe/softpipe, SwiftShader), not a GPU."""
        name = self.renderer.lower()
        return any(word in name for word in ("llvmpipe", "softpipe", "swiftshader", "software"))

    def _build(self) -> None:
        ctx, size = self.ctx, (self.width, self.height)
        self._quad = ctx.buffer(np.array([-1, -1, 3, -1, -1, 3], "f4").tobytes())
        self._vertex = (SHADERS / "quad.vert").read_text(encoding="utf-8")
        self._programs: dict[tuple[str, str], tuple] = {}
        self._finishes: dict[str, tuple] = {}
        try:
            for finish in FINISHES:
                self._finishes[finish] = self._program(finish_source(finish, self.scaled))
            self._down = self._program("#version 330\n" + shader_source("downsample"))
            self._mix = self._program("#version 330\n" + shader_source("mix"))
        except Exception as exc:
            raise GLUnavailable(f"finish shader does not build: {_first(exc)}") from None
        inner = self.inner
        self._scene = [self._texture(inner) for _ in range(2)]  # ping-pong composites
        self._spare = [self._texture(inner) for _ in range(2)]  # new / old for own passes
        self._final = self._texture(size)
        quarter = (max(1, inner[0] // 4), max(1, inner[1] // 4))
        sixteenth = (max(1, quarter[0] // 4), max(1, quarter[1] // 4))
        self._blur = [self._texture(quarter), self._texture(sixteenth)]
        self._fbo = {id(t): ctx.framebuffer(color_attachments=[t])
                     for t in (*self._spare, *self._blur)}  # fmt: skip
        for texture in self._scene:  # composite + final in one pass (same size only)
            final = [self._final] if not self.scaled else []
            self._fbo[id(texture)] = ctx.framebuffer(color_attachments=[texture, *final])
        self._read_fbo = ctx.framebuffer(color_attachments=[self._final])
        self._small: tuple | None = None  # built on the first layout="small" frame
        self._i420_out: list[np.ndarray] = []  # read-back buffers, used in turn
        self._read = 0
        for texture in (*self._scene, *self._blur):
            self._fbo[id(texture)].use()
            ctx.clear(0.0, 0.0, 0.0, 1.0)

    def _texture(self, size, components: int = 4, dtype: str = "f1", repeat: bool = False):
        import moderngl

        texture = self.ctx.texture(size, components, dtype=dtype)
        texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        texture.repeat_x, texture.repeat_y = repeat, False
        return texture

    def _program(self, fragment: str) -> tuple:
        program = self.ctx.program(vertex_shader=self._vertex, fragment_shader=fragment)
        vao = self.ctx.vertex_array(program, [(self._quad, "2f", "in_pos")])
        return program, vao

    def family_program(self, family: str, finish: str = "") -> tuple | None:
        """The compiled family (with `finish` fused), or None when it does not build."""
        if family in self.broken:
            return None
        fused = "" if finish in OWN_PASS_FINISHES else finish
        key = (family, fused)
        if key not in self._programs:
            try:
                with self.ctx:
                    self._programs[key] = self._program(family_source(family, fused))
            except Exception as exc:
                self.broken[family] = _first(exc)
                return None
        return self._programs[key]

    def working_family(self, family: str, finish: str = "") -> str:
        """`family` if it builds, else the first family that does (GLUnavailable if none)."""
        for name in (family, *FAMILIES):
            if self.family_program(name, finish) is not None:
                return name
        raise GLUnavailable("no scene shader builds on this driver")

    def draw(
        self,
        family: str,
        uniforms: dict,
        palette: tuple,
        finish: str,
        old: tuple[str, dict, tuple] | None = None,
        blend: float = 1.0,
        read: bool = True,
        layout: str = "rgb",
    ) -> np.ndarray | None:
        """Draw one frame. `uniforms` come from render.scenes.music; `old` is the
        outgoing cue's (family, uniforms, palette) while a transition blends. With
        read=False the frame stays on the GPU (waited for, not copied): what a window
        drawing straight from the GL texture would pay. layout="i420" reads back the
        encoder's yuv420p planes, (1.5 H, W) bytes, instead of (H, W, 3) RGB;
        layout="small" reads back RGB at the scene size (`inner`), for a consumer that
        scales anyway (the video encoder), skipping the full-size finish pass."""
        finish = finish if finish in FINISHES else ""
        blending = old is not None and blend < 1.0
        small = layout == "small" and self.scaled
        scaled = self.scaled and not small
        own_pass = blending or finish in OWN_PASS_FINISHES or scaled
        fused = "" if own_pass else finish
        family = self.working_family(family, fused)
        old_family = self.working_family(old[0]) if blending and old else family
        with self.ctx:
            prev, composite = self._scene[self._read], self._scene[1 - self._read]
            shared = {"u_blur": self._blur[0], "u_blur2": self._blur[1]}
            finishes, out = self._finishes, composite
            if small:  # composite and finished frame both at the scene size
                finishes, fused_fbos, read_fbo = self._small_targets()
                out = fused_fbos[id(composite)]
            if not own_pass:  # one pass: the composite and the finished frame together
                self._pass((family, fused), uniforms, palette, prev, out, shared)
            elif scaled:  # scene (and mix) at the scene size, finish at the output size
                if blending and old:
                    new, outgoing = self._spare
                    self._pass((family, ""), uniforms, palette, prev, new, shared)
                    self._pass((old_family, ""), old[1], old[2], prev, outgoing, shared)
                    textures = {"u_scene": new, "u_old": outgoing}
                    self._run(self._mix, composite, textures, {"u_mix": float(blend)})
                else:
                    self._pass((family, ""), uniforms, palette, prev, composite, shared)
                textures = {"u_scene": composite, "u_old": composite, **shared}
                values = {
                    **uniforms,
                    "u_mix": 1.0,
                    "u_res": (float(self.width), float(self.height)),
                }
                self._run(self._finishes[finish], self._read_fbo, textures, values)
            else:
                new, outgoing = self._spare
                self._pass((family, ""), uniforms, palette, prev, new, shared)
                if blending and old:
                    self._pass((old_family, ""), old[1], old[2], prev, outgoing, shared)
                textures = {"u_scene": new, "u_old": outgoing if blending else new, **shared}
                values = {**uniforms, "u_mix": float(blend) if blending else 1.0}
                values["u_res"] = (float(out.width), float(out.height))
                self._run(finishes[finish], out, textures, values)
            if finish in BLUR_FINISHES:  # for the next frame's bloom
                quarter, sixteenth = self._blur
                self._run(self._down, quarter, {"u_src": composite},
                          {"u_texel": (1.0 / composite.width, 1.0 / composite.height)})  # fmt: skip
                self._run(self._down, sixteenth, {"u_src": quarter},
                          {"u_texel": (1.0 / quarter.width, 1.0 / quarter.height)})  # fmt: skip
            self._read = 1 - self._read
            if not read:
                self.ctx.finish()
                return None
            if layout == "i420":
                return self._read_i420()
            fbo = read_fbo if small else self._read_fbo
            width, height = fbo.size
            pixels = bytearray(width * height * 3)
            fbo.read_into(pixels, components=3, alignment=1)
        return np.frombuffer(pixels, np.uint8).reshape(height, width, 3)

    def _small_targets(self) -> tuple[dict, dict, object]:
        """Finish programs, (composite + final) framebuffers and the read-back framebuffer
        for frames finished at the scene size (layout="small")."""
        if self._small is None:
            final = self._texture(self.inner)
            finishes = {name: self._program(finish_source(name)) for name in FINISHES}
            fbos = {id(texture): self.ctx.framebuffer(color_attachments=[texture, final])
                    for texture in self._scene}  # fmt: skip
            self._small = (finishes, fbos, self.ctx.framebuffer(color_attachments=[final]))
        return self._small

    def _read_i420(self) -> np.ndarray:
        """Convert the finished frame to yuv420p planes on the GPU and read those back."""
        rows = self.height * 3 // 2
        if not hasattr(self, "_i420"):  # built on first use: most callers want RGB
            planes = self.ctx.texture((self.width, rows), 1)
            self._i420 = (self._program("#version 330\n" + shader_source("i420")),
                          self.ctx.framebuffer(color_attachments=[planes]))  # fmt: skip
        program, fbo = self._i420
        self._run(program, fbo, {"u_src": self._final}, {"u_size": (self.width, self.height)})
        # Two buffers taken in turn, not a fresh 3 MB each frame: a writer copies a frame
        # (or encodes it) before it asks for the one after next.
        if not self._i420_out:
            self._i420_out = [np.empty((rows, self.width), np.uint8) for _ in range(2)]
        out = self._i420_out.pop(0)
        self._i420_out.append(out)
        fbo.read_into(out, components=1, alignment=1)
        return out

    def _pass(self, key: tuple, uniforms: dict, palette: tuple, prev, target, shared) -> None:
        colours, count = palette_uniform(palette)
        values = {**uniforms, "u_pal": colours, "u_pal_n": count}
        values["u_res"] = (float(target.width), float(target.height))
        self._run(self._programs[key], target, {"u_prev": prev, **shared}, values)

    def _run(self, compiled: tuple, target, textures: dict, values: dict) -> None:
        import moderngl

        program, vao = compiled
        fbo = target if hasattr(target, "color_attachments") else self._fbo[id(target)]
        fbo.use()
        for unit, (name, texture) in enumerate(textures.items()):
            texture.use(unit)
            values[name] = unit
        values.setdefault("u_res", (float(self.width), float(self.height)))
        _set(program, values)
        vao.render(moderngl.TRIANGLES)

    def close(self) -> None:
        try:
            self.ctx.release()
        except Exception:
            pass


def _set(program, values: dict) -> None:
    for name, value in values.items():
        if name in program:  # the compiler drops uniforms a shader does not use
            program[name].value = value


def _first(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if "error" in line.lower()] or lines
    return useful[0][:200] if useful else type(exc).__name__
