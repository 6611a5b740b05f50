"""The UNet path (sd-turbo, sdxl-turbo classes) against diffusers' own pipelines, on CPU:
tiny random pipelines saved and loaded back through the user's code path. Also the
whole-frame graph function and its slot bookkeeping (run eagerly here), long prompts and
the native resolution of a custom folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from render.frames import Cue, Drive, FrameRequest  # noqa: E402

FAMILIES = ("sd", "sdxl")
CUE = Cue(start=0.0, prompt="violet nebula", seed=5)
# Long enough for three 75-token windows of the byte-level test tokenizer (one token per
# character), with the style words last, as the scheduler writes its prompts.
LONG = (
    "ink wash of violet nebula drifting over a quiet harbour, soft mist, slow waves, "
    "amber lanterns glowing on the water, wide calm composition with a low horizon, "
    "muted indigo and gold palette, watercolour, slow sustained forms, digital painting"
)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from models.testing import save_random_pipeline

    root = tmp_path_factory.mktemp("tiny-unet")
    return {family: str(save_random_pipeline(root / family, family=family)) for family in FAMILIES}


def make_generator(path, steps=None, **options):
    from render.diffusion import DiffusionGenerator

    return DiffusionGenerator(
        96, 64, seed=3, model=path, device="cpu", resolution=64, steps=steps, **options
    )


def requests(count, cue=CUE):
    return [
        FrameRequest(i, i / 10, cue, Drive(time=i / 10, beat_phase=(i * 0.3) % 1.0))
        for i in range(count)
    ]


def img2img_pipeline(generator):
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionXLImg2ImgPipeline

    kind = StableDiffusionXLImg2ImgPipeline if generator.spec.family == "sdxl" else None
    kind = kind or StableDiffusionImg2ImgPipeline
    return kind(**generator.pipeline.components)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("steps", [1, 2])
def test_keyframe_equals_the_diffusers_text_to_image_pipeline(tiny_models, family, steps):
    generator = make_generator(tiny_models[family], steps=steps)
    noise = generator._noise(CUE.seed, 0)
    with torch.inference_mode():
        ours = generator._keyframe(CUE, 0)
        expected = generator.pipeline(
            CUE.prompt,
            num_inference_steps=steps,
            guidance_scale=0.0,
            height=64,
            width=64,
            latents=noise,
            output_type="latent",
        ).images
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_img2img_equals_the_diffusers_image_to_image_pipeline(tiny_models, family):
    # Our (steps=1, strength=0.5) runs the second half of a 2-step trailing schedule,
    # as diffusers' img2img does with num_inference_steps=2, strength=0.5.
    generator = make_generator(tiny_models[family], steps=1)
    init = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    noise = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        cond = generator._embedding(CUE.prompt, "")
        ours = generator._denoise(noise, [cond], init=init, strength=0.5)
        expected = img2img_pipeline(generator)(
            CUE.prompt,
            image=init,  # 4 channels: taken as latents by the pipeline
            strength=0.5,
            num_inference_steps=2,
            guidance_scale=0.0,
            generator=torch.Generator().manual_seed(2),  # draws the same noise
            output_type="latent",
        ).images
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_long_prompt_windows_equal_the_encoder_on_each_window(tiny_models, family):
    from models.prompts import CLIP_WINDOW, token_count, word_chunks

    generator = make_generator(tiny_models[family])
    tokenizer = generator.pipeline.tokenizer
    chunks = word_chunks(tokenizer, LONG)
    assert len(chunks) == 3 and " ".join(chunks) == " ".join(LONG.split())
    assert all(token_count(tokenizer, chunk) <= CLIP_WINDOW for chunk in chunks)
    with torch.inference_mode():
        long = generator._embedding(LONG, "")
        windows = [generator._embedding(chunk, "") for chunk in chunks]
        short = generator._embedding(CUE.prompt, "")
        plain = generator.pipeline.encode_prompt(CUE.prompt, **_encode_kwargs(family))
    assert long[0].shape[1] == 3 * 77
    torch.testing.assert_close(long[0], torch.cat([w[0] for w in windows], dim=1))
    if family == "sdxl":  # pooled from the first window
        torch.testing.assert_close(long[1], windows[0][1])
        torch.testing.assert_close(short[1], plain[2])
    torch.testing.assert_close(short[0], plain[0])  # one window: exactly diffusers'


def _encode_kwargs(family):
    kwargs = {"device": "cpu", "num_images_per_prompt": 1, "do_classifier_free_guidance": False}
    return kwargs


@pytest.mark.parametrize("family", FAMILIES)
def test_no_cue_word_is_truncated(tiny_models, family):
    # Each of the last words reaches the model: changing it changes the conditioning.
    generator = make_generator(tiny_models[family])
    with torch.inference_mode():
        base = generator._embedding(LONG, "")[0]
        for word in ("watercolour,", "digital", "painting"):
            changed = generator._embedding(LONG.replace(word, "xylophone"), "")[0]
            assert changed.shape == base.shape
            assert not torch.allclose(changed[:, -77:], base[:, -77:]), word
    frames = generator.render_batch(requests(2, Cue(start=0.0, prompt=LONG, seed=5)))
    assert len(frames) == 2 and generator.failures == 0


def test_cross_fade_between_prompts_of_different_lengths(tiny_models):
    generator = make_generator(tiny_models["sd"])
    new_cue = Cue(start=1.0, prompt=LONG, seed=9)
    request = FrameRequest(0, 1.0, new_cue, Drive(time=1.0), previous_cue=CUE, blend=0.25)
    assert generator.render(request).shape == (64, 96, 3)
    mixed = generator._conditioning(generator._plan(request))
    assert mixed[0].shape[1] == 3 * 77
    empty = generator._embedding("", "")[0]
    old = generator._embedding(CUE.prompt, "")[0]
    new = generator._embedding(LONG, "")[0]
    padded = torch.cat([old, empty, empty], dim=1)  # Compel-style padding
    torch.testing.assert_close(mixed[0], padded + (new - padded) * 0.25)
    assert generator.failures == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_frame_graph_function_equals_the_eager_frame(tiny_models, family):
    # What the GPU captures as one graph, run eagerly, gives the frames render() gives,
    # during a cross-fade too; the slot bookkeeping (static buffers, copies skipped for
    # unchanged inputs, two slots in turn) is the same code as on the GPU.
    from render.frame_graph import FrameGraphs

    reference = make_generator(tiny_models[family])
    graphed = make_generator(tiny_models[family])
    graphed.graphs = FrameGraphs(graphed.denoiser, (64, 96), graphed.device, depth=2)
    new_cue = Cue(start=0.3, prompt="golden desert dunes", seed=9)
    stream = requests(3) + [
        FrameRequest(3 + i, 0.3 + i / 10, new_cue, Drive(beat_phase=0.2 * i), CUE, 0.3 * i)
        for i in range(4)
    ]
    for request in stream:
        expected = reference.render(request)
        np.testing.assert_allclose(graphed.render(request), expected, atol=1)
    handles = [graphed.submit([r]) for r in requests(2)]  # two in flight, then collected
    assert all(graphed.collect(h)[0].shape == (64, 96, 3) for h in handles)
    batch = graphed.render_batch(requests(3))
    assert len(batch) == 3 and len(graphed.graphs._slots) == 2  # batch 1 and batch 3
    assert graphed.failures == 0 and reference.failures == 0


def test_native_resolution_comes_from_the_folder_config(tmp_path, tiny_models):
    from models import registry

    def folder(name, unet_sample, levels):
        root = tmp_path / name
        (root / "unet").mkdir(parents=True)
        (root / "vae").mkdir()
        (root / "unet" / "config.json").write_text(json.dumps({"sample_size": unet_sample}))
        vae = {"block_out_channels": [128] * levels}
        (root / "vae" / "config.json").write_text(json.dumps(vae))
        return root

    sd2 = folder("sd2", 96, 4)
    sdxl = folder("sdxl", 128, 4)
    spec = registry.custom_spec(str(sd2), "sd")
    assert registry.native_resolution(spec, sd2) == 768
    assert registry.native_resolution(registry.custom_spec(str(sdxl), "sdxl"), sdxl) == 1024
    assert registry.native_resolution(registry.MODELS["sd-turbo"], sd2) == 512
    from render.diffusion import DiffusionGenerator

    generator = DiffusionGenerator(128, 128, model=tiny_models["sd"], device="cpu")
    assert (generator.model_width, generator.model_height) == (64, 64)  # sample 8 x VAE 8
