"""Diffusion engine on CPU: a real diffusers pipeline with tiny random weights, saved and
loaded back through the same code path users run."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from models import ModelUnavailable  # noqa: E402
from models.fp8 import FP8Linear, quantize_model  # noqa: E402
from render.frames import Cue, Drive, FrameRequest  # noqa: E402
from render.interpolation import KeyClock, beat_ease, slerp  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from models.testing import save_random_pipeline

    return str(save_random_pipeline(tmp_path_factory.mktemp("tiny-sd")))


def make_generator(path, **options):
    from render.diffusion import DiffusionGenerator

    return DiffusionGenerator(96, 64, seed=3, model=path, device="cpu", resolution=64, **options)


def requests(count, cue=None):
    cue = cue or Cue(start=0.0, prompt="violet nebula", seed=5)
    return [
        FrameRequest(i, i / 10, cue, Drive(time=i / 10, beat_phase=(i * 0.25) % 1.0))
        for i in range(count)
    ]


def test_frames_have_size_dtype_and_same_seed_repeats(tiny_model):
    first = [make_generator(tiny_model).render(r) for r in requests(1)]
    generator = make_generator(tiny_model)
    frames = [generator.render(r) for r in requests(5)]
    assert len(frames) == 5
    assert all(f.shape == (64, 96, 3) and f.dtype == np.uint8 for f in frames)
    np.testing.assert_array_equal(first[0], frames[0])
    assert generator.failures == 0


def test_cheap_latent_mode_and_batches(tiny_model):
    generator = make_generator(tiny_model, mode="latent")
    frames = generator.render_batch(requests(4))
    assert len(frames) == 4 and frames[0].shape == (64, 96, 3)


def test_one_failing_frame_does_not_stop_the_stream(tiny_model, monkeypatch):
    generator = make_generator(tiny_model)
    good = generator.render(requests(1)[0])
    original = generator._denoise
    monkeypatch.setattr(
        generator,
        "_denoise",
        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("CUDA out of memory")),
    )
    stand_in = generator.render(requests(2)[1])
    np.testing.assert_array_equal(stand_in, good)
    monkeypatch.setattr(generator, "_denoise", original)
    assert generator.render(requests(3)[2]).shape == (64, 96, 3)
    assert generator.failures == 1


def test_missing_model_names_the_pull_command(monkeypatch):
    from models import loading, registry

    monkeypatch.setattr(loading, "locate", lambda source: None)
    with pytest.raises(ModelUnavailable, match="visualize models pull sd-turbo"):
        loading.require(registry.resolve("sd-turbo"))


def test_slerp_endpoints_are_the_keyframes():
    a, b = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    assert torch.equal(slerp(a, b, 0.0), a) and torch.equal(slerp(a, b, 1.0), b)
    batch = slerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.equal(batch[0], a[0]) and torch.equal(batch[2], b[0])
    # the midpoint keeps the norm of unit-variance noise (a lerp would shrink it)
    assert abs(batch[1].norm() / a.norm() - 1) < 0.2


def test_key_clock_follows_beats_and_time():
    clock = KeyClock()
    keys = [clock.advance(i / 10, Drive(beat_phase=(i * 0.3) % 1.0))[0] for i in range(11)]
    assert keys == sorted(keys) and keys[-1] == 3
    still = KeyClock(seconds_per_key=1.0)
    assert [still.advance(t, Drive())[0] for t in (0.0, 0.5, 1.5)] == [0, 0, 1]
    assert beat_ease(0.0, 0.5) == 0.0 and beat_ease(1.0, 0.5) == 1.0


def test_fp8_storage_round_trips_within_fp8_error():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.Conv2d(32, 32, 3))
    reference = [m.weight.detach().clone() for m in model]
    report = quantize_model(model, torch.float32, use_scaled_mm=False)
    assert report.linears == 1 and report.convs == 1 and report.ratio < 0.3
    assert isinstance(model[0], FP8Linear)
    for layer, original in zip(model, reference, strict=True):
        restored = layer.dequantized_weight(torch.float32)
        error = (restored - original).norm() / original.norm()
        assert 0 < error < 0.04  # e4m3 has 3 mantissa bits: ~2-3% relative error
    x = torch.randn(2, 64)
    assert model[0](x).shape == (2, 128)


# -- precision and memory format: what `auto` picks, from the H100 measurements ----------


class _Device:
    """Stands in for torch.device: choose_precision only reads `.type`."""

    def __init__(self, kind: str) -> None:
        self.type = kind


CUDA, CPU = _Device("cuda"), _Device("cpu")


@pytest.fixture
def fp8_gpu(monkeypatch):
    """Set whether the (pretend) GPU does FP8 matmuls."""
    import models.fp8

    def set_supported(supported: bool) -> None:
        monkeypatch.setattr(models.fp8, "fp8_matmul_supported", lambda device: supported)

    return set_supported


@pytest.mark.parametrize("family", ["sd3", "flux"])
def test_auto_picks_fp8_for_dits_where_the_gpu_does_fp8(fp8_gpu, family):
    from render.diffusion_setup import choose_precision

    fp8_gpu(True)
    precision, notice = choose_precision("auto", CUDA, family)
    assert precision == "fp8"
    assert notice and "\n" not in notice and "bf16" in notice  # one line, says the way out
    fp8_gpu(False)
    assert choose_precision("auto", CUDA, family) == ("bf16", None)


@pytest.mark.parametrize("family", ["sd", "sdxl", ""])
def test_auto_keeps_unets_on_fp16_even_where_fp8_runs(fp8_gpu, family):
    from render.diffusion_setup import choose_precision

    fp8_gpu(True)  # FP8 was slower than fp16 on the sd-turbo UNet (8.44 vs 6.73 ms)
    assert choose_precision("auto", CUDA, family) == ("fp16", None)


def test_explicit_precisions_and_cpu(fp8_gpu):
    from render.diffusion_setup import choose_precision

    fp8_gpu(True)
    assert choose_precision("auto", CPU, "flux") == ("fp32", None)
    assert choose_precision("fp8", CPU, "sd") == ("fp32", "fp8 needs a GPU: using fp32")
    precision, notice = choose_precision("fp8", CUDA, "sd")
    assert precision == "fp8" and "25% slower" in notice
    assert choose_precision("fp8", CUDA, "flux")[0] == "fp8"
    assert choose_precision("bf16", CUDA, "flux") == ("bf16", None)
    assert choose_precision("fp16", CUDA, "sd") == ("fp16", None)
    fp8_gpu(False)
    precision, notice = choose_precision("fp8", CUDA, "flux")
    assert precision == "bf16" and "8.9" in notice
    assert choose_precision("fp8", CUDA, "sd")[0] == "fp16"
    with pytest.raises(ValueError):
        choose_precision("int4", CUDA, "sd")


@pytest.mark.parametrize(
    ("device", "precision", "family", "expected"),
    [
        ("cuda", "fp16", "sd", True),
        ("cuda", "bf16", "sdxl", True),
        ("cuda", "fp16", "", True),  # an unknown folder runs the UNet loop
        ("cuda", "fp8", "sd", False),  # FP8 + channels-last was slower (9.51 vs 8.44 ms)
        ("cuda", "fp32", "sd", False),
        ("cuda", "bf16", "flux", False),  # DiTs take token sequences
        ("cuda", "fp8", "sd3", False),
        ("cpu", "fp32", "sd", False),
        ("cpu", "fp16", "sd", False),
    ],
)
def test_channels_last_only_for_16bit_unets_on_a_gpu(device, precision, family, expected):
    from render.unet_denoiser import wants_channels_last

    assert wants_channels_last(device, precision, family) is expected


def test_channels_last_unet_is_wired_in_and_gives_the_same_frames(tiny_model, monkeypatch):
    import render.diffusion

    plain = make_generator(tiny_model)
    assert plain.denoiser.channels_last is False  # a CPU never asks for it
    asked = []
    monkeypatch.setattr(
        render.diffusion, "wants_channels_last", lambda *args: asked.append(args) or True
    )
    nhwc = make_generator(tiny_model)
    assert asked == [("cpu", "fp32", "sd")] and nhwc.denoiser.channels_last
    convs = [m for m in nhwc.denoiser.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    request = requests(1)[0]
    a, b = plain.render(request).astype(int), nhwc.render(request).astype(int)
    assert nhwc.failures == 0
    assert np.abs(a - b).max() <= 2  # the same maths in another memory order
