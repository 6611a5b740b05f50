"""FP8 weights for the denoiser: half the memory, and FP8 matrix multiplies on Hopper/Ada.

Weights are quantized once at load, statically, to float8_e4m3fn with one float32 scale
per output channel (row-wise). At run time a Linear quantizes its input per row (one
scale per token, computed each call) and multiplies with `torch._scaled_mm`, which runs
on the FP8 tensor cores of GPUs with compute capability 8.9+. The layers are plain
modules with tensors as buffers, so torch.compile and CUDA graphs capture them whole.

Convolutions keep their FP8 storage (the memory saving) but compute in bf16: their
weights are dequantized per call, a cheap elementwise pass next to a 3x3 convolution.
Where `_scaled_mm` is missing (CPU, older GPUs), Linears dequantize the same way, so the
storage path is identical everywhere and testable on a CPU.

This module imports torch at import time; import it lazily.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

FP8_DTYPE = torch.float8_e4m3fn
FP8_MAX = float(torch.finfo(FP8_DTYPE).max)  # 448
# _scaled_mm needs both matrix dimensions of the weight to be multiples of 16.
_MM_ALIGN = 16


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


class FP8Linear(nn.Module):
    """A Linear whose weight is float8_e4m3fn with per-output-channel float32 scales."""

    def __init__(self, linear: nn.Linear, compute_dtype: torch.dtype, use_scaled_mm: bool):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.compute_dtype = compute_dtype
        aligned = self.in_features % _MM_ALIGN == 0 and self.out_features % _MM_ALIGN == 0
        # Row-wise scaled_mm writes bf16; other compute dtypes take the dequantize path.
        self.use_scaled_mm = use_scaled_mm and aligned and compute_dtype == torch.bfloat16
        weight, scale = quantize_per_channel(linear.weight)
        self.register_buffer("weight", weight)
        self.register_buffer("weight_scale", scale)  # (out, 1)
        self.register_buffer("weight_scale_row", scale.reshape(1, -1).contiguous())  # (1, out)
        bias = None if linear.bias is None else linear.bias.detach().to(compute_dtype)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.use_scaled_mm:
            weight = dequantize(self.weight, self.weight_scale, x.dtype)
            bias = None if self.bias is None else self.bias.to(x.dtype)
            return F.linear(x, weight, bias)
        shape = x.shape
        rows = x.reshape(-1, self.in_features)
        # One scale per token: outliers in one token do not crush the others' precision.
        x_scale = rows.abs().amax(dim=1, keepdim=True).float().clamp(min=1e-12) / FP8_MAX
        x_fp8 = (rows.float() / x_scale).clamp(-FP8_MAX, FP8_MAX).to(FP8_DTYPE)
        out = fp8_mm(x_fp8, self.weight, x_scale, self.weight_scale_row)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        mode = "scaled_mm" if self.use_scaled_mm else "dequantize"
        return f"in={self.in_features}, out={self.out_features}, fp8={mode}"


class FP8Conv2d(nn.Module):
    """A Conv2d stored in float8_e4m3fn (per-output-channel scales), computed in bf16/fp16."""

    def __init__(self, conv: nn.Conv2d, compute_dtype: torch.dtype):
        super().__init__()
        self.stride, self.padding = conv.stride, conv.padding
        self.dilation, self.groups = conv.dilation, conv.groups
        self.out_channels = conv.out_channels
        weight, scale = quantize_per_channel(conv.weight)
        self.register_buffer("weight", weight)
        self.register_buffer("weight_scale", scale)  # (out, 1, 1, 1)
        bias = None if conv.bias is None else conv.bias.detach().to(compute_dtype)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = dequantize(self.weight, self.weight_scale, x.dtype)
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)


@dataclass(frozen=True)
class QuantReport:
    linears: int
    linears_scaled_mm: int
    convs: int
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
) -> QuantReport:
    """Replace Linear (and Conv2d) layers of `model` in place with FP8 ones.

    The rest of the model (norms, embeddings) is cast to `compute_dtype`. Layers with
    fewer than `min_params` weights stay as they are: no memory to win there.
    """
    before = weight_bytes(model)
    model.to(dtype=compute_dtype)
    if use_scaled_mm is None:
        use_scaled_mm = fp8_matmul_supported(next(model.parameters()).device)
    counts = {"linears": 0, "linears_scaled_mm": 0, "convs": 0}
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            weight = getattr(child, "weight", None)
            if not isinstance(weight, nn.Parameter) or weight.numel() < min_params:
                continue
            if type(child) is nn.Linear:
                layer = FP8Linear(child, compute_dtype, use_scaled_mm)
                counts["linears"] += 1
                counts["linears_scaled_mm"] += int(layer.use_scaled_mm)
            elif type(child) is nn.Conv2d and convs:
                layer = FP8Conv2d(child, compute_dtype)
                counts["convs"] += 1
            else:
                continue
            setattr(parent, child_name, layer)  # the old weight is freed here, layer by layer
    return QuantReport(bytes_before=before, bytes_after=weight_bytes(model), **counts)


def weight_bytes(model: nn.Module) -> int:
    """Bytes held by parameters and buffers (the model's share of GPU memory)."""
    tensors = list(model.parameters()) + [b for b in model.buffers() if b is not None]
    return sum(t.numel() * t.element_size() for t in tensors)
