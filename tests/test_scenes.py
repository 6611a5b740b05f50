"""The GL scene families (headless, Mesa llvmpipe in CI) and the CPU fallback."""

from __future__ import annotations

import numpy as np
import pytest

from audio.features import FeatureFrame
from render.embedded import EmbeddedGenerator
from render.frames import Cue, Drive, FrameRequest
from render.scenes import FAMILIES
from render.scenes.context import GLUnavailable, create_context
from visualizer.scheduler import Scheduler
from visualizer.styles import load_style

FPS = 24
W, H = 96, 64

try:
    create_context().release()
    GL_REASON = ""
except GLUnavailable as exc:
    GL_REASON = str(exc)
needs_gl = pytest.mark.skipif(bool(GL_REASON), reason=f"no GL here: {GL_REASON}")


def drive(i: int, beat: bool = False) -> Drive:
    """A steady mid-loud groove; `beat` makes this frame a hit."""
    t = i / FPS
    return Drive(
        time=t,
        energy=0.6,
        bass=0.9 if beat else 0.3,
        mid=0.4,
        treble=0.3,
        brightness=0.5,
        onset=1.0 if beat else 0.0,
        beat=1.0 if beat else 0.0,
        beat_phase=(i % 12) / 12,
        chroma=tuple(0.5 + 0.5 * np.sin(np.arange(12) + i * 0.1)),
    )


def render(generator, cue: Cue, n: int, last_beat: bool = False, seed_frames=()):
    frames = []
    for i in range(n):
        beat = (i == n - 1 and last_beat) or i in seed_frames
        frames.append(generator.render(FrameRequest(i, i / FPS, cue, drive(i, beat))))
    return frames


def quiet(**kwargs) -> EmbeddedGenerator:
    notices: list[str] = []
    generator = EmbeddedGenerator(W, H, seed=3, notice=notices.append, **kwargs)
    generator.notices = notices  # type: ignore[attr-defined]
    return generator


@needs_gl
@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_is_deterministic_and_reacts_to_a_beat(family):
    cue = Cue(0.0, family=family, scene=7)
    a = render(quiet(), cue, 10)
    b = render(quiet(), cue, 10)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert a[-1].shape == (H, W, 3) and a[-1].dtype == np.uint8 and a[-1].mean() > 3
    hit = render(quiet(), cue, 10, last_beat=True)[-1]
    change = np.abs(hit.astype(int) - a[-1]).mean()
    assert change > 4.0, f"{family}: a beat changed the frame by only {change:.1f}"


@needs_gl
def test_families_look_different_from_each_other():
    last = {f: render(quiet(), Cue(0.0, family=f, scene=7), 8)[-1] for f in FAMILIES}
    for i, f in enumerate(FAMILIES):
        for g in FAMILIES[i + 1 :]:
            assert np.abs(last[f].astype(int) - last[g]).mean() > 8, (f, g)


def edges(frame: np.ndarray) -> np.ndarray:
    """Where the luminance changes sharply: structure, whatever the colours."""
    grey = frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    gx = np.abs(np.diff(grey, axis=1))[:-1]
    gy = np.abs(np.diff(grey, axis=0))[:, :-1]
    magnitude = gx + gy
    return magnitude > max(8.0, np.percentile(magnitude, 85))


def first_cue(style: str) -> Cue:
    frame = FeatureFrame(time=0.0, energy=0.6, arousal=0.6, valence=0.6, tempo=120.0,
                         is_beat=True, is_downbeat=True, silent=False)  # fmt: skip
    return Scheduler(load_style(style), seed=1).update(frame)


@needs_gl
@pytest.mark.parametrize("other", ["noir", "watercolour", "neon", "cosmic"])
def test_styles_differ_in_structure_not_only_colour(other):
    a = render(quiet(), first_cue("default"), 10)[-1]
    b = render(quiet(), first_cue(other), 10)[-1]
    ea, eb = edges(a), edges(b)
    overlap = (ea & eb).sum() / max(1, (ea | eb).sum())
    assert overlap < 0.5, f"default vs {other}: edge maps overlap {overlap:.2f}"


@needs_gl
def test_noir_is_grey_and_watercolour_is_paper():
    noir = render(quiet(), Cue(0.0, family="tunnel", finish="noir"), 6)[-1].astype(int)
    assert np.abs(noir - noir.mean(axis=2, keepdims=True)).max() <= 1
    paper = render(quiet(), Cue(0.0, family="scope", finish="watercolour"), 6)[-1]
    assert paper.mean() > 150  # light paper, not a black screen


@needs_gl
def test_a_blend_mixes_the_outgoing_family_and_a_cut_does_not():
    old, new = Cue(0.0, family="tunnel"), Cue(0.0, family="lasers", transition=1.0)
    pure_new = render(quiet(), new, 6)[-1]
    generator = quiet()
    render(generator, old, 5)
    halfway = generator.render(FrameRequest(5, 5 / FPS, new, drive(5), old, 0.5))
    assert np.abs(halfway.astype(int) - pure_new).mean() > 3


def test_without_gl_the_cpu_fallback_draws_with_one_notice(monkeypatch):
    monkeypatch.setenv("VISUALIZE_GL", "0")
    generator = quiet()
    frames = render(generator, Cue(0.0, family="tunnel", words=("moon",)), 4)
    assert generator.backend == "cpu" and frames[-1].shape == (H, W, 3)
    assert len(generator.notices) == 1 and "CPU fallback" in generator.notices[0]
    assert frames[-1].mean() > 1


@needs_gl
def test_gl_failing_mid_show_falls_back_and_keeps_playing(monkeypatch):
    from render.scenes.gl import GLScenes

    generator = quiet()
    render(generator, Cue(0.0), 2)
    assert generator.backend == "gl"

    def lost(*args, **kwargs):
        raise RuntimeError("context lost")

    monkeypatch.setattr(GLScenes, "draw", lost)
    frames = render(generator, Cue(0.0), 3)
    assert generator.backend == "cpu" and frames[-1].shape == (H, W, 3)
    assert len(generator.notices) == 1 and "context lost" in generator.notices[0]


@needs_gl
def test_a_shader_that_does_not_build_draws_another_family(monkeypatch):
    from render.scenes import gl

    real = gl.family_source
    monkeypatch.setattr(
        gl, "family_source", lambda f, finish="": "broken" if f == "tunnel" else real(f, finish)
    )
    generator = quiet()
    frames = render(generator, Cue(0.0, family="tunnel"), 3)
    assert generator.backend == "gl" and frames[-1].mean() > 1
    assert len(generator.notices) == 1 and "tunnel" in generator.notices[0]


def test_when_every_path_fails_the_last_good_frame_is_held(monkeypatch):
    from render.scenes.cpu import CpuScenes

    monkeypatch.setenv("VISUALIZE_GL", "0")
    generator = quiet()
    good = render(generator, Cue(0.0), 2)[-1]
    monkeypatch.setattr(CpuScenes, "render", lambda self, request: 1 / 0)
    held = render(generator, Cue(0.0), 3)
    assert all(np.array_equal(frame, good) for frame in held)
    assert len(generator.notices) == 2 and "holding the last frame" in generator.notices[1]


@needs_gl
def test_scenes_drawn_below_the_output_size_are_upscaled_in_the_finish(monkeypatch):
    monkeypatch.setenv("VISUALIZE_GL_SCALE", "0.5")  # what llvmpipe does above 1280x720
    generator = quiet()
    old, new = Cue(0.0, family="scope"), Cue(0.0, family="lasers", finish="neon")
    render(generator, old, 4)
    blended = generator.render(FrameRequest(4, 4 / FPS, new, drive(4), old, 0.5))
    frame = render(generator, new, 3)[-1]
    assert generator._gl.inner == (W // 2, H // 2)
    assert blended.shape == frame.shape == (H, W, 3) and frame.mean() > 2
    assert generator.notices == []


@needs_gl
def test_gpu_yuv_planes_match_ffmpegs_conversion_of_the_rgb_frame(monkeypatch):
    """render_i420 (for the encoder) is the RGB frame as swscale would convert it."""
    import av

    from render.scenes.gl import GLScenes

    monkeypatch.setattr(GLScenes, "software", False)  # the policy aside: the conversion itself

    cue = Cue(0.0, family="kaleido", palette=((250, 40, 30), (20, 200, 90), (40, 60, 240)))
    rgb_engine, yuv_engine = quiet(), quiet()
    for i in range(6):
        request = FrameRequest(i, i / FPS, cue, drive(i, beat=i == 5))
        rgb, planes = rgb_engine.render(request), yuv_engine.render_i420(request)
    assert planes is not None and planes.shape == (H * 3 // 2, W)
    expected = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    expected = expected.to_ndarray().astype(int)
    error = np.abs(planes.astype(int) - expected)
    assert error[:H].mean() < 1.0 and error[H:].mean() < 2.0, (error[:H].mean(), error[H:].mean())
    assert planes[:H].std() > 5  # a real picture, not a flat plane


@needs_gl
@pytest.mark.parametrize("software", [True, False])
def test_the_yuv_path_steps_aside_for_words_and_software_rasterisers(monkeypatch, software):
    from render.scenes.gl import GLScenes

    monkeypatch.setattr(GLScenes, "software", software)
    generator = quiet()
    plain, spoken = Cue(0.0, family="tunnel"), Cue(0.0, family="tunnel", words=("river",))
    assert generator.render_i420(FrameRequest(0, 0.0, spoken, drive(0))) is None
    assert generator.render(FrameRequest(0, 0.0, spoken, drive(0))).shape == (H, W, 3)
    planes = generator.render_i420(FrameRequest(1, 1 / FPS, plain, drive(1)))
    assert (planes is None) == software


@needs_gl
def test_on_a_drawing_budget_the_encoder_gets_the_frame_at_the_budget(monkeypatch):
    """Below the output size, the encoder's frame skips the full-size finish pass: it is
    the same picture at the scene size (the writer scales it up), words aside."""
    from PIL import Image

    monkeypatch.setenv("VISUALIZE_GL_SCALE", "0.5")
    cue = Cue(0.0, family="kaleido", finish="neon")
    full, budget = quiet(), quiet()
    for i in range(6):
        request = FrameRequest(i, i / FPS, cue, drive(i, beat=i == 5))
        big, small = full.render(request), budget.render_for_encoder(request)
    assert small.shape == (H // 2, W // 2, 3) and big.shape == (H, W, 3)
    shrunk = np.asarray(Image.fromarray(big).resize((W // 2, H // 2), Image.BILINEAR))
    assert np.abs(shrunk.astype(int) - small).mean() < 12 and small.std() > 5
    spoken = Cue(0.0, family="kaleido", words=("river",))
    assert budget.render_for_encoder(FrameRequest(6, 6 / FPS, spoken, drive(6))).shape == (H, W, 3)
    monkeypatch.setenv("VISUALIZE_GL_SCALE", "1")
    unscaled = quiet()
    assert unscaled.render_for_encoder(FrameRequest(0, 0.0, cue, drive(0))).shape == (H, W, 3)
