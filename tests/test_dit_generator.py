"""The diffusion engine on flow-matching DiTs (SD3, Flux), on CPU: tiny random pipelines
saved and loaded back through the same code path users run."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from render.frames import Cue, Drive, FrameRequest  # noqa: E402

FAMILIES = ("sd3", "flux")
CUE = Cue(start=0.0, prompt="violet nebula", seed=5)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from models.testing import save_random_pipeline

    root = tmp_path_factory.mktemp("tiny-dit")
    return {family: str(save_random_pipeline(root / family, family=family)) for family in FAMILIES}


def make_generator(path, **options):
    from render.diffusion import DiffusionGenerator

    return DiffusionGenerator(96, 64, seed=3, model=path, device="cpu", resolution=64, **options)


def requests(count, cue=CUE, start=0):
    return [
        FrameRequest(i, i / 10, cue, Drive(time=i / 10, beat_phase=(i * 0.25) % 1.0))
        for i in range(start, start + count)
    ]


@pytest.mark.parametrize("family", FAMILIES)
def test_frames_have_count_size_dtype_and_same_seed_repeats(tiny_models, family):
    first = make_generator(tiny_models[family])
    frames = [first.render(r) for r in requests(5)]  # keyframe, then frames between keys
    again = make_generator(tiny_models[family])
    repeated = [again.render(r) for r in requests(5)]
    assert len(frames) == 5
    assert all(f.shape == (64, 96, 3) and f.dtype == np.uint8 for f in frames)
    assert all(f.flags["C_CONTIGUOUS"] for f in frames)
    for frame, twin in zip(frames, repeated, strict=True):
        np.testing.assert_array_equal(frame, twin)
    assert torch.equal(first._previous_latent, again._previous_latent)
    batch = first.render_batch(requests(3, start=5))
    assert len(batch) == 3 and all(f.shape == (64, 96, 3) for f in batch)
    assert first.failures == 0 and again.failures == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_interpolation_endpoints_are_the_keyframes(tiny_models, family):
    generator = make_generator(tiny_models[family])
    plan = generator._plan(requests(1)[0])
    key = plan["key"]
    with torch.inference_mode():
        at_start = generator._latents([{**plan, "t": 0.0}])
        at_end = generator._latents([{**plan, "t": 1.0}])
        midway = generator._latents([{**plan, "t": 0.5}])
        assert torch.equal(at_start, generator._keyframe(CUE, key))
        assert torch.equal(at_end, generator._keyframe(CUE, key + 1))
    assert not torch.equal(midway, at_start) and not torch.equal(midway, at_end)


@pytest.mark.parametrize("family", FAMILIES)
def test_our_loop_matches_the_diffusers_pipeline(tiny_models, family):
    # Same noise, same prompt: our Euler loop (shifted sigmas, Flux's dynamic shift and
    # 2x2 packing) must give the latents the diffusers pipeline gives.
    from render.dit_denoisers import pack_latents, unpack_latents

    generator = make_generator(tiny_models[family])
    noise = generator._noise(CUE.seed, 0)
    with torch.inference_mode():
        ours = generator._denoise(noise, [generator._embedding(CUE.prompt, "")])
        expected = generator.pipeline(
            CUE.prompt,
            num_inference_steps=generator.steps,
            guidance_scale=0.0,
            height=64,
            width=64,
            latents=pack_latents(noise) if family == "flux" else noise,
            output_type="latent",
            max_sequence_length=256,
        ).images
    if family == "flux":
        expected = unpack_latents(expected, *noise.shape[-2:])
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_feedback_and_latent_modes_run(tiny_models, family):
    feedback = make_generator(tiny_models[family], mode="feedback")
    frames = [feedback.render(r) for r in requests(3)]  # txt2img, then img2img from it
    assert all(f.shape == (64, 96, 3) for f in frames)
    sigmas = feedback.denoiser.sigmas(0.4)
    assert sigmas[0] == pytest.approx(0.4) and sigmas[-1] == 0.0
    assert len(sigmas) == feedback.steps + 1  # the same cost per frame at any strength
    latent = make_generator(tiny_models[family], mode="latent")
    assert len(latent.render_batch(requests(4))) == 4
    assert feedback.failures == 0 and latent.failures == 0


def test_feedback_from_structure_with_the_full_vae(tiny_models):
    # quality="high": the full VAE's shift and scale on the way in (encode) and out.
    from render.embedded import EmbeddedGenerator

    structure = EmbeddedGenerator(96, 64, seed=1)
    generator = make_generator(
        tiny_models["sd3"], mode="feedback", quality="high", structure=structure
    )
    assert not generator.components.tiny
    frames = generator.render_batch(requests(2))
    assert len(frames) == 2 and frames[0].shape == (64, 96, 3)
    assert generator.failures == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_embeddings_cross_fade_on_a_cue_blend(tiny_models, family):
    generator = make_generator(tiny_models[family])
    new_cue = Cue(start=1.0, prompt="golden desert dunes", seed=9)
    request = FrameRequest(0, 1.0, new_cue, Drive(time=1.0), previous_cue=CUE, blend=0.25)
    assert generator.render(request).shape == (64, 96, 3)
    old, new = generator._embedding(CUE.prompt, ""), generator._embedding(new_cue.prompt, "")
    mixed = generator._conditioning(generator._plan(request))
    for o, n, m in zip(old, new, mixed, strict=True):
        torch.testing.assert_close(m, o + (n - o) * 0.25)
    assert generator.failures == 0


def test_sd3_with_classifier_free_guidance(tiny_models):
    # sd3.5-large-turbo runs unguided; other SD3 models guide with a negative prompt.
    generator = make_generator(tiny_models["sd3"])
    generator.denoiser.guidance = 3.0
    cue = Cue(start=0.0, prompt="violet nebula", negative_prompt="blurry", seed=5)
    embeds, pooled = generator._embedding(cue.prompt, cue.negative_prompt)
    assert embeds.shape[0] == 2 and pooled.shape[0] == 2  # [negative, positive]
    frames = generator.render_batch(requests(2, cue=cue))
    assert len(frames) == 2 and generator.failures == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_one_failing_frame_does_not_stop_the_stream(tiny_models, family, monkeypatch):
    generator = make_generator(tiny_models[family])
    good = generator.render(requests(1)[0])

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(generator.denoiser, "denoise", out_of_memory)
    np.testing.assert_array_equal(generator.render(requests(2)[1]), good)
    monkeypatch.undo()
    assert generator.render(requests(3)[2]).shape == (64, 96, 3)
    assert generator.failures == 1


@pytest.mark.parametrize("family", FAMILIES)
def test_fp8_transformer_stays_within_fp8_error(tiny_models, family):
    from models.fp8 import FP8Linear, quantize_model

    generator = make_generator(tiny_models[family])
    denoiser = generator.denoiser
    noise = generator._noise(CUE.seed, 0)
    cond = generator._embedding(CUE.prompt, "")
    with torch.inference_mode():
        expected = denoiser.velocity(noise, 0.7, cond).float()
    # The dequantize path, as on a CPU or a GPU without FP8 GEMMs; every layer quantized.
    denoiser.model = copy.deepcopy(denoiser.model)
    report = quantize_model(denoiser.model, torch.bfloat16, use_scaled_mm=False, min_params=0)
    assert report.linears > 0 and report.ratio < 0.6
    assert any(isinstance(m, FP8Linear) for m in denoiser.model.modules())
    denoiser.dtype = torch.bfloat16
    with torch.inference_mode():
        bf16_cond = tuple(c.bfloat16() for c in cond)
        out = denoiser.velocity(noise.bfloat16(), 0.7, bf16_cond).float()
    assert torch.isfinite(out).all()
    # e4m3 weights (3 mantissa bits) and bf16 compute: a few percent; a wrong scale or a
    # NaN is off by 100% or more.
    error = ((out - expected).norm() / expected.norm()).item()
    assert error < 0.1, error


@pytest.mark.parametrize("family", FAMILIES)
def test_compile_is_regional(tiny_models, family):
    from render.dit_denoisers import compile_repeated_blocks

    generator = make_generator(tiny_models[family])
    model = generator.denoiser.model
    count = compile_repeated_blocks(model)  # lazy: nothing compiles until a forward
    config = model.config
    assert count == config.num_layers + config.get("num_single_layers", 0)
    assert generator.denoiser.model is model  # the model itself is not wrapped


def test_a_tiny_vae_for_other_latents_is_not_used(tmp_path):
    from diffusers import AutoencoderTiny

    from models import loading, registry
    from models.testing import TINY_TAESD, save_random_pipeline

    folder = save_random_pipeline(tmp_path / "sd3", family="sd3")
    AutoencoderTiny(**TINY_TAESD).save_pretrained(folder / "vae_tiny")  # 4 channels: sd's
    components = loading.load(registry.resolve(str(folder)), "cpu", torch.float32)
    assert components.spec.family == "sd3" and not components.tiny
    assert components.vae is components.pipeline.vae


def test_guided_batches_put_all_negatives_first():
    # With guidance the model input is [latents] * 2, split again by chunk(2): the
    # conditioning of a batch must be every frame's negative, then every positive.
    from render.denoiser_base import stack_conditioning

    frames = [(torch.tensor([[-1.0], [1.0]]),), (torch.tensor([[-2.0], [2.0]]),)]
    (stacked,) = stack_conditioning(frames, use_cfg=True)
    assert stacked.flatten().tolist() == [-1.0, -2.0, 1.0, 2.0]
    (plain,) = stack_conditioning([(torch.ones(1, 1),), (torch.zeros(1, 1),)], use_cfg=False)
    assert plain.flatten().tolist() == [1.0, 0.0]
