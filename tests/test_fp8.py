"""FP8 numerics on CPU: the quantized UNet against its unquantized self, and the FP8 GEMM
under torch.compile (the H100 run gave black frames because Inductor refused it)."""

from __future__ import annotations

import copy
import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from models.fp8 import CONV_GEMM_RATIO, FP8Conv2d, FP8Linear, quantize_model  # noqa: E402
from models.testing import TINY_UNET  # noqa: E402


def _scaled_mm_runs_here() -> bool:
    """CPU builds of torch may or may not carry an FP8 `_scaled_mm`."""
    try:
        a = torch.ones(16, 16).to(torch.float8_e4m3fn)
        one = torch.ones(1)
        torch._scaled_mm(a, a.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
    except (RuntimeError, NotImplementedError, AttributeError):
        return False
    return True


needs_scaled_mm = pytest.mark.skipif(not _scaled_mm_runs_here(), reason="no FP8 GEMM on CPU")


def _relative_error(out: torch.Tensor, expected: torch.Tensor) -> float:
    return ((out.float() - expected).norm() / expected.norm()).item()


@pytest.fixture(scope="module")
def unet_and_input():
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(**TINY_UNET).eval()
    sample = torch.randn(1, 4, 16, 16)
    embeds = torch.randn(1, 7, TINY_UNET["cross_attention_dim"])
    with torch.inference_mode():
        expected = unet(sample, 999, encoder_hidden_states=embeds).sample
    return unet, sample, embeds, expected


def _quantized_output(unet_and_input, use_scaled_mm: bool, conv_gemm_ratio=1.0) -> torch.Tensor:
    unet, sample, embeds, _ = unet_and_input
    model = copy.deepcopy(unet)
    report = quantize_model(
        model, torch.bfloat16, use_scaled_mm, min_params=0, conv_gemm_ratio=conv_gemm_ratio
    )
    assert report.linears > 0 and report.convs > 0
    assert report.linears_scaled_mm == (report.linears if use_scaled_mm else 0)
    with torch.inference_mode():
        out = model(sample.bfloat16(), 999, encoder_hidden_states=embeds.bfloat16()).sample
    return out.float()


@pytest.mark.parametrize(
    ("use_scaled_mm", "conv_gemm_ratio"),
    [
        (False, 1.0),
        pytest.param(True, 1.0, marks=needs_scaled_mm),
        pytest.param(True, float("inf"), marks=needs_scaled_mm),
    ],
    ids=["dequant", "gemm", "gemm-all-convs"],
)
def test_quantized_unet_is_finite_and_close_to_reference(
    unet_and_input, use_scaled_mm, conv_gemm_ratio
):
    expected = unet_and_input[3]
    out = _quantized_output(unet_and_input, use_scaled_mm, conv_gemm_ratio)
    assert torch.isfinite(out).all()
    # Every layer in FP8 (e4m3: 3 mantissa bits) plus bf16 compute: ~8% here. A NaN,
    # a black frame or a wrong scale is off by 100% or more.
    assert _relative_error(out, expected) < 0.2


@needs_scaled_mm
def test_fp8_gemm_agrees_with_dequantized_weights(unet_and_input):
    # The two paths share the FP8 weights; the GEMM also rounds activations to FP8.
    gemm = _quantized_output(unet_and_input, True)
    dequant = _quantized_output(unet_and_input, False)
    assert _relative_error(gemm, dequant) < 0.1


@needs_scaled_mm
@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "size"),
    [(3, 1, 1, 8), (3, 2, 1, 9), (1, 1, 0, 6), (3, 1, 0, 7)],
    ids=["3x3", "3x3-stride2-odd", "1x1", "3x3-valid"],
)
def test_conv_gemm_path_matches_the_convolution(kernel, stride, padding, size):
    # im2col must order columns exactly as the weight's rows, and the output must come
    # back in NCHW order; a transposed column order gives an error near 140%, not 5%.
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(32, 48, kernel, stride=stride, padding=padding)
    x = torch.randn(2, 32, size, size)
    with torch.inference_mode():
        expected = conv(x)
        gemm = FP8Conv2d(conv, torch.bfloat16, use_scaled_mm=True, gemm_ratio=float("inf"))
        dequant = FP8Conv2d(conv, torch.bfloat16, use_scaled_mm=False)
        out_gemm, out_dequant = gemm(x.bfloat16()).float(), dequant(x.bfloat16()).float()
    assert out_gemm.shape == expected.shape == out_dequant.shape
    assert _relative_error(out_gemm, expected) < 0.08
    assert _relative_error(out_gemm, out_dequant) < 0.08


def _record_gemm_calls(layer: FP8Conv2d) -> list:
    calls = []
    channels = layer.out_channels
    layer._gemm = lambda x, h, w: calls.append((h, w)) or torch.zeros(1, channels, h, w)
    return calls


def test_conv_defaults_agree_and_follow_the_h100_measurement():
    # docs/benchmarks/fp8.md: GEMM at low resolution (ratio 1) beat dequantizing (0) and
    # the GEMM everywhere (inf). The layer's own default must be quantize_model's.
    import inspect

    assert CONV_GEMM_RATIO == 1.0
    layer_default = inspect.signature(FP8Conv2d).parameters["gemm_ratio"].default
    model_default = inspect.signature(quantize_model).parameters["conv_gemm_ratio"].default
    assert layer_default == model_default == CONV_GEMM_RATIO


def test_conv_takes_the_gemm_by_default_only_where_the_weight_outweighs_the_input():
    conv = torch.nn.Conv2d(32, 64, 3, padding=1)
    layer = FP8Conv2d(conv, torch.bfloat16, use_scaled_mm=True)  # default ratio
    calls = _record_gemm_calls(layer)
    layer(torch.zeros(1, 32, 8, 8))  # 64 pixels <= 64 channels: GEMM
    layer(torch.zeros(1, 32, 9, 9))  # 81 pixels: dequantize + convolution
    assert calls == [(8, 8)]


def test_quantize_model_default_sends_low_res_convs_to_the_gemm():
    model = torch.nn.Sequential(torch.nn.Conv2d(32, 64, 3, padding=1))
    report = quantize_model(model, torch.bfloat16, use_scaled_mm=True, min_params=0)
    layer = model[0]
    assert isinstance(layer, FP8Conv2d) and layer.gemm_ratio == CONV_GEMM_RATIO
    assert report.convs == 1 and report.convs_scaled_mm == 1
    calls = _record_gemm_calls(layer)
    with torch.inference_mode():
        layer(torch.zeros(1, 32, 4, 4))  # a deep UNet layer: weight >> input, GEMM
        out = layer(torch.zeros(1, 32, 64, 64))  # high resolution: dequantize
    assert calls == [(4, 4)] and out.shape == (1, 64, 64, 64)


def test_conv_ratio_zero_always_dequantizes():
    model = torch.nn.Sequential(torch.nn.Conv2d(32, 64, 3, padding=1))
    quantize_model(model, torch.bfloat16, use_scaled_mm=True, min_params=0, conv_gemm_ratio=0)
    calls = _record_gemm_calls(model[0])
    with torch.inference_mode():
        model[0](torch.zeros(1, 32, 2, 2))
    assert calls == []


def test_no_fp8_gemm_means_no_conv_gemm_whatever_the_ratio():
    # CPU builds and pre-Ada GPUs: the storage path only, never the GEMM.
    model = torch.nn.Sequential(torch.nn.Conv2d(32, 64, 3, padding=1))
    report = quantize_model(model, torch.bfloat16, use_scaled_mm=False, min_params=0)
    assert report.convs == 1 and report.convs_scaled_mm == 0
    assert not model[0].use_scaled_mm


def test_zero_weights_and_zero_input_stay_finite():
    # An all-zero output channel or token has amax 0: its scale must not divide by zero.
    linear = torch.nn.Linear(32, 32)
    with torch.no_grad():
        linear.weight[:8] = 0
    layer = FP8Linear(linear, torch.bfloat16, use_scaled_mm=_scaled_mm_runs_here())
    x = torch.randn(4, 32).bfloat16()
    x[1] = 0
    out = layer(x)
    assert torch.isfinite(out.float()).all()
    assert torch.equal(out[:, :8].float(), linear.bias[:8].bfloat16().float().expand(4, 8))


class _ProjIn(torch.nn.Module):
    """The UNet transformer's proj_in: a Linear fed by a channels-last view of a feature map."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(32, 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        return self.proj(x.permute(0, 2, 3, 1).reshape(b, h * w, c))


@pytest.mark.slow
@needs_scaled_mm
@pytest.mark.skipif(shutil.which("g++") is None, reason="Inductor on CPU needs a C++ compiler")
def test_fp8_gemm_compiles_after_a_permute():
    # Inductor used to store the quantized activation column-major here and then refused
    # `_scaled_mm` ("mat_a must be row_major"), on every call: the black frames on the H100.
    torch.manual_seed(0)
    model = _ProjIn()
    quantize_model(model, torch.bfloat16, use_scaled_mm=True, min_params=0)
    assert model.proj.use_scaled_mm
    x = torch.randn(1, 32, 8, 8).bfloat16()
    with torch.inference_mode():
        expected = model(x).float()
        compiled = torch.compile(model)(x).float()
    assert torch.isfinite(compiled).all()
    assert _relative_error(compiled, expected) < 0.02


@pytest.mark.slow
@needs_scaled_mm
@pytest.mark.skipif(shutil.which("g++") is None, reason="Inductor on CPU needs a C++ compiler")
def test_fp8_conv_gemm_compiles():
    # unfold + FP8 GEMM + the NCHW view of a channels-last result, through Inductor.
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.SiLU())
    quantize_model(model, torch.bfloat16, use_scaled_mm=True, min_params=0)
    assert model[0].use_scaled_mm  # and by default 8x8 = 64 pixels <= 64 channels: GEMM
    x = torch.randn(1, 32, 8, 8).bfloat16()
    with torch.inference_mode():
        expected = model(x).float()
        compiled = torch.compile(model)(x).float()
    assert _relative_error(compiled, expected) < 0.02


@needs_scaled_mm
def test_static_activation_scales_match_per_row_scaling(unet_and_input):
    # Calibrated once (tensor-wise scale per layer, cuBLASLt's FP8 GEMM on a GPU), the
    # UNet stays as close to its 16-bit self as with per-row scales computed every call.
    from models.fp8 import calibrate_static

    unet, sample, embeds, expected = unet_and_input
    model = copy.deepcopy(unet)
    quantize_model(model, torch.bfloat16, True, min_params=0, conv_gemm_ratio=0.0)
    with torch.inference_mode():

        def forward():
            return model(sample.bfloat16(), 999, encoder_hidden_states=embeds.bfloat16()).sample

        per_row = forward().float()
        switched = calibrate_static(model, forward)
        static = forward().float()
    linears = [m for m in model.modules() if isinstance(m, FP8Linear)]
    assert switched == len(linears) > 0 and all(m.activation == "static" for m in linears)
    assert all(float(m.input_amax) > 0 for m in linears)
    assert torch.isfinite(static).all()
    assert _relative_error(static, expected) < 0.15
    assert _relative_error(static, per_row) < 0.1
    assert not torch.equal(static, per_row)  # the static path really ran
