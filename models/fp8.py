"""FP8 weights for the denoiser: half the memory, and FP8 matrix multiplies on Hopper/Ada.

Weights are quantized once at load, statically, to float8_e4m3fn with one float32 scale
per output channel (row-wise). At run time a layer quantizes its input per row (one
scale per token or pixel, computed each call) and multiplies with `torch._scaled_mm`,
which runs on the FP8 tensor cores of GPUs with compute capability 8.9+. The layers are
plain modules with tensors as buffers, so torch.compile and CUDA graphs capture them whole.

Convolutions choose per call, from the shapes: where the weight is larger than the
unfolded input (the deep, low-resolution layers of a UNet, which hold most of its
weights: the 1280-channel 3x3 convs at 16x16 and 8x8 are a third of sd-turbo's UNet)
they run as im2col + the FP8 GEMM and read the FP8 weight directly; at high
resolution, where unfolding would copy the feature map 9 times, the weight is
dequantized and cuDNN convolves in bf16 (`quantize_model(conv_gemm_ratio=...)`, default
1.0: the fastest of the three policies timed on an H100, docs/benchmarks/fp8.md). Where
`_scaled_mm` is missing (CPU builds without it, older GPUs), every layer dequantizes, so
the storage path is identical everywhere and testable on a CPU.

This module imports torch at import time; import it lazily.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

FP8_DTYPE = torch.float8_e4m3fn
FP8_MAX = float(torch.finfo(FP8_DTYPE).max)  # 448
# _scaled_mm needs both matrix dimensions of the weight to be multiples of 16.
_MM_ALIGN = 16
# Convs take the FP8 GEMM while output pixels <= out_channels x this ratio. Timed on an
# H100, sd-turbo UNet at 512x512, compiled (docs/benchmarks/fp8.md): 1.0 (GEMM for the
# deep 16x16 and 8x8 convs) 8.44 ms per forward, 0.0 (always dequantize) 11.05 ms, inf
# (GEMM everywhere) 13.05 ms. fp16 without FP8 is 6.73 ms: FP8 still loses on this UNet.
CONV_GEMM_RATIO = 1.0


def fp8_matmul_supported(device: torch.device | str) -> bool:
    """True on CUDA GPUs whose tensor cores do FP8 (Ada and Hopper: capability >= 8.9)."""
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    return torch.cuda.get_device_capability(device) >= (8, 9) and hasattr(torch, "_scaled_mm")


def quantize_per_channel(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight -> (float8 weight, float32 scale per output channel, shaped to broadcast)."""
    flat = weight.detach().float().reshape(weight.shape[0], -1)
    amax = flat.abs().amax(dim=1).clamp(min=1e-12)
    scale = amax / FP8_MAX
    quantized = (flat / scale[:, None]).clamp(-FP8_MAX, FP8_MAX).to(FP8_DTYPE)
    shape = (-1,) + (1,) * (weight.dim() - 1)
    return quantized.reshape(weight.shape), scale.reshape(shape)


def dequantize(quantized: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return (quantized.to(torch.float32) * scale).to(dtype)


@torch.library.custom_op("visualize::fp8_mm", mutates_args=())
def fp8_mm(
    x_fp8: torch.Tensor, weight: torch.Tensor, x_scale: torch.Tensor, weight_scale: torch.Tensor
) -> torch.Tensor:
    """Row-wise scaled FP8 GEMM: (M, K) x (N, K)^T -> (M, N) bfloat16.

    An opaque op on purpose. Left inline, Inductor may store the quantized activation
    column-major (it follows the layout of a permuted input, as in the UNet's proj_in) and
    then refuses `_scaled_mm`, whose first operand must be row-major; torch.compile then
    failed on every call. Here the layout is fixed in eager code, where it always holds.
    """
    return torch._scaled_mm(
        x_fp8.contiguous(),
        weight.t(),  # column-major view of a row-major (N, K) weight, as the GEMM wants
        scale_a=x_scale.contiguous(),
        scale_b=weight_scale,
        out_dtype=torch.bfloat16,
        use_fast_accum=True,
    )


@fp8_mm.register_fake
def _fp8_mm_shape(x_fp8, weight, x_scale, weight_scale):
    return x_fp8.new_empty((x_fp8.shape[0], weight.shape[0]), dtype=torch.bfloat16)


@torch.library.custom_op("visualize::fp8_mm_tensorwise", mutates_args=())
def fp8_mm_tensorwise(
    x_fp8: torch.Tensor, weight: torch.Tensor, x_scale: torch.Tensor
) -> torch.Tensor:
    """Tensor-wise scaled FP8 GEMM (one activation scale, the weight's scales applied
    after): cuBLASLt's FP8 kernel, which needs no per-row scale pass over the input."""
    one = x_scale.new_ones(())
    return torch._scaled_mm(
        x_fp8.contiguous(),
        weight.t(),
        scale_a=x_scale.reshape(()),
        scale_b=one,
        out_dtype=torch.bfloat16,
        use_fast_accum=True,
    )


@fp8_mm_tensorwise.register_fake
def _fp8_mm_tensorwise_shape(x_fp8, weight, x_scale):
    return x_fp8.new_empty((x_fp8.shape[0], weight.shape[0]), dtype=torch.bfloat16)


def fp8_gemm_rows(rows: torch.Tensor, weight: torch.Tensor, weight_scale_row: torch.Tensor):
    """(M, K) activations x FP8 (N, K) weight -> (M, N) bf16, activations quantized per row.

    One scale per row: an outlier token or pixel does not crush the others' precision.
    """
    x_scale = rows.abs().amax(dim=1, keepdim=True).float().clamp(min=1e-12) / FP8_MAX
    x_fp8 = (rows.float() / x_scale).clamp(-FP8_MAX, FP8_MAX).to(FP8_DTYPE)
    return fp8_mm(x_fp8, weight, x_scale, weight_scale_row)


def _gemm_aligned(rows_k: int, columns_n: int) -> bool:
    return rows_k % _MM_ALIGN == 0 and columns_n % _MM_ALIGN == 0


class FP8Linear(nn.Module):
    """A Linear whose weight is float8_e4m3fn with per-output-channel float32 scales."""

    def __init__(
        self,
        linear: nn.Linear,
        compute_dtype: torch.dtype,
        use_scaled_mm: bool,
        gemm_ratio: float = math.inf,
    ):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.compute_dtype = compute_dtype
        aligned = _gemm_aligned(self.in_features, self.out_features)
        # Row-wise scaled_mm writes bf16; other compute dtypes take the dequantize path.
        self.use_scaled_mm = use_scaled_mm and aligned and compute_dtype == torch.bfloat16
        weight, scale = quantize_per_channel(linear.weight)
        self.register_buffer("weight", weight)
        self.register_buffer("weight_scale", scale)  # (out, 1)
        self.register_buffer("weight_scale_row", scale.reshape(1, -1).contiguous())  # (1, out)
        bias = None if linear.bias is None else linear.bias.detach().to(compute_dtype)
        self.register_buffer("bias", bias)
        self.gemm_ratio = gemm_ratio  # FP8 GEMM while rows <= out_features * ratio
        # Static activation scaling (`calibrate_static`): "off", "observe" (record the
        # input's amax while running in 16 bits) or "static" (one calibrated scale).
        self.activation = "off"
        self.register_buffer("input_amax", torch.zeros((), device=weight.device))

    def dequantized_weight(self, dtype: torch.dtype) -> torch.Tensor:
        return dequantize(self.weight, self.weight_scale, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // self.in_features
        observe = self.activation == "observe"
        if observe:
            self.input_amax.copy_(torch.maximum(self.input_amax, x.detach().abs().amax().float()))
        if observe or not self.use_scaled_mm or rows > self.out_features * self.gemm_ratio:
            weight = self.dequantized_weight(x.dtype)
            bias = None if self.bias is None else self.bias.to(x.dtype)
            return F.linear(x, weight, bias)
        shape = x.shape
        flat = x.reshape(-1, self.in_features)
        if self.activation == "static":
            # One scale from calibration: the quantization is a pointwise op that
            # Inductor fuses into whatever produced x; the weight's per-channel scales
            # are applied on the output, fused with the bias add.
            x_scale = self.input_amax.clamp(min=1e-12) / FP8_MAX
            x_fp8 = (flat.float() / x_scale).clamp(-FP8_MAX, FP8_MAX).to(FP8_DTYPE)
            out = fp8_mm_tensorwise(x_fp8, self.weight, x_scale) * self.weight_scale_row
        else:
            out = fp8_gemm_rows(flat, self.weight, self.weight_scale_row)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        mode = "scaled_mm" if self.use_scaled_mm else "dequantize"
        return f"in={self.in_features}, out={self.out_features}, fp8={mode}"


class FP8Conv2d(nn.Module):
    """A Conv2d stored in float8_e4m3fn (per-output-channel scales).

    The weight is kept as a 2-D (out, in * kh * kw) matrix, the im2col GEMM's layout; the
    dequantize path views it back as 4-D. 2-D also keeps `.to(memory_format=...)` from
    reordering it.
    """

    def __init__(
        self,
        conv: nn.Conv2d,
        compute_dtype: torch.dtype,
        use_scaled_mm: bool = False,
        gemm_ratio: float = CONV_GEMM_RATIO,
    ):
        super().__init__()
        self.stride, self.padding = conv.stride, conv.padding
        self.dilation, self.groups = conv.dilation, conv.groups
        self.kernel_size = conv.kernel_size
        self.out_channels = conv.out_channels
        self.weight_shape = tuple(conv.weight.shape)
        weight, scale = quantize_per_channel(conv.weight)
        columns = weight.reshape(self.out_channels, -1)
        self.register_buffer("weight", columns)
        self.register_buffer("weight_scale", scale.reshape(-1, 1))  # (out, 1)
        self.register_buffer("weight_scale_row", scale.reshape(1, -1).contiguous())  # (1, out)
        bias = None if conv.bias is None else conv.bias.detach().to(compute_dtype)
        self.register_buffer("bias", bias)
        gemm_shape_ok = (
            conv.groups == 1
            and isinstance(conv.padding, tuple)
            and conv.padding_mode == "zeros"
            and _gemm_aligned(columns.shape[1], self.out_channels)
        )
        self.use_scaled_mm = use_scaled_mm and gemm_shape_ok and compute_dtype == torch.bfloat16
        # GEMM when output pixels <= out_channels * ratio: then the unfolded FP8 input is
        # no bigger than the FP8 weight that the GEMM saves reading twice over.
        self.gemm_ratio = gemm_ratio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = self._output_size(x.shape[-2], x.shape[-1])
        pixels = x.shape[0] * height * width
        if self.use_scaled_mm and pixels <= self.out_channels * self.gemm_ratio:
            return self._gemm(x, height, width)
        weight = self.dequantized_weight(x.dtype)
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def dequantized_weight(self, dtype: torch.dtype) -> torch.Tensor:
        return dequantize(self.weight, self.weight_scale, dtype).view(self.weight_shape)

    def _output_size(self, height: int, width: int) -> tuple[int, int]:
        def side(size: int, axis: int) -> int:
            reach = self.dilation[axis] * (self.kernel_size[axis] - 1)
            return (size + 2 * self.padding[axis] - reach - 1) // self.stride[axis] + 1

        return side(height, 0), side(width, 1)

    def _gemm(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        batch, channels = x.shape[:2]
        if self.kernel_size == (1, 1) and self.stride == (1, 1) and self.padding == (0, 0):
            rows = x.permute(0, 2, 3, 1).reshape(-1, channels)
        else:  # unfold orders a column as (channel, ky, kx): the weight's row order
            cols = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
            rows = cols.transpose(1, 2).reshape(-1, self.weight.shape[1])
        out = fp8_gemm_rows(rows, self.weight, self.weight_scale_row)
        if self.bias is not None:
            out = out + self.bias
        # (pixels, out) is channels-last already: return it as NCHW without a copy.
        out = out.to(x.dtype).view(batch, height, width, self.out_channels)
        return out.permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        mode = f"scaled_mm when pixels <= {self.gemm_ratio:g} x out" if self.use_scaled_mm else ""
        return f"{self.weight_shape}, fp8={mode or 'dequantize'}"


@dataclass(frozen=True)
class QuantReport:
    linears: int
    linears_scaled_mm: int
    convs: int
    # Convs able to take the GEMM (shape, dtype and GPU allow it); which of them do, per
    # call, depends on conv_gemm_ratio and the input's size (none at ratio 0).
    convs_scaled_mm: int
    bytes_before: int
    bytes_after: int

    @property
    def ratio(self) -> float:
        return self.bytes_after / max(1, self.bytes_before)


def quantize_model(
    model: nn.Module,
    compute_dtype: torch.dtype = torch.bfloat16,
    use_scaled_mm: bool | None = None,
    convs: bool = True,
    min_params: int = 4096,
    conv_gemm_ratio: float = CONV_GEMM_RATIO,
    linear_gemm_ratio: float = math.inf,
) -> QuantReport:
    """Replace Linear (and Conv2d) layers of `model` in place with FP8 ones.

    The rest of the model (norms, embeddings) is cast to `compute_dtype`. Layers with
    fewer than `min_params` weights stay as they are: no memory to win there.
    `conv_gemm_ratio` and `linear_gemm_ratio` set where layers take the FP8 GEMM: while
    rows (pixels, tokens) <= output channels x ratio; above it they dequantize. Convs
    default to 1.0 (the GEMM for the deep low-resolution convs only), the fastest conv
    policy on an H100 (`CONV_GEMM_RATIO`; docs/benchmarks/fp8.md, scripts/bench_fp8.py).
    """
    before = weight_bytes(model)
    model.to(dtype=compute_dtype)
    if use_scaled_mm is None:
        use_scaled_mm = fp8_matmul_supported(next(model.parameters()).device)
    counts = {"linears": 0, "linears_scaled_mm": 0, "convs": 0, "convs_scaled_mm": 0}
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            weight = getattr(child, "weight", None)
            if not isinstance(weight, nn.Parameter) or weight.numel() < min_params:
                continue
            if type(child) is nn.Linear:
                layer = FP8Linear(child, compute_dtype, use_scaled_mm, linear_gemm_ratio)
                counts["linears"] += 1
                counts["linears_scaled_mm"] += int(layer.use_scaled_mm)
            elif type(child) is nn.Conv2d and convs:
                layer = FP8Conv2d(child, compute_dtype, use_scaled_mm, conv_gemm_ratio)
                counts["convs"] += 1
                counts["convs_scaled_mm"] += int(layer.use_scaled_mm)
            else:
                continue
            setattr(parent, child_name, layer)  # the old weight is freed here, layer by layer
    return QuantReport(bytes_before=before, bytes_after=weight_bytes(model), **counts)


def calibrate_static(model: nn.Module, run, margin: float = 1.25) -> int:
    """Static activation scales for the FP8 Linears of `model`: `run()` drives it (a few
    representative calls), each layer records its input's largest magnitude, and from
    then on quantizes with that (times `margin`; larger values saturate at FP8's 448).
    Returns how many layers switched. Scales hold for the inputs seen: a prompt or noise
    far outside them clips, which per-row scaling never does."""
    layers = [m for m in model.modules() if isinstance(m, FP8Linear) and m.use_scaled_mm]
    for layer in layers:
        layer.input_amax.zero_()
        layer.activation = "observe"
    try:
        run()
    finally:
        for layer in layers:
            layer.activation = "off"
    calibrated = 0
    for layer in layers:
        if float(layer.input_amax) > 0:
            layer.input_amax.mul_(margin)
            layer.activation = "static"
            calibrated += 1
    return calibrated


def weight_bytes(model: nn.Module) -> int:
    """Bytes held by parameters and buffers (the model's share of GPU memory)."""
    tensors = list(model.parameters()) + [b for b in model.buffers() if b is not None]
    return sum(t.numel() * t.element_size() for t in tensors)
