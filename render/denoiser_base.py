"""The denoiser interface: what the diffusion generator needs from a model family.

`render.diffusion.DiffusionGenerator` owns what every family shares: frames planned on
the beat, fixed-seed keyframe noise, interpolation, batching, failures. A denoiser owns
what differs between families, behind one small interface:

- `encode_prompt(prompt, negative)`: the conditioning, a tuple of tensors that the
  generator caches and cross-fades element-wise (so every entry must be safe to lerp);
  with classifier-free guidance each tensor holds [negative, positive] on the batch axis.
- `noise_shape`: the latent shape of one frame, (1, channels, height, width).
- `denoise(noise, conds, init, strength)`: a few steps from noise to clean latents, or
  from `init` part-way down (img2img).
- `decode(latents)` / `encode(images)`: latents <-> images in [-1, 1] through the VAE.
- `compile()`: torch.compile where it pays.

Latents are always spatial (batch, channels, h, w) in the denoiser's scaled space, so
the generator can slerp them whatever the family. The loops live in
`render.unet_denoiser` (sd, sdxl) and `render.dit_denoisers` (sd3, flux);
`render.denoisers.make_denoiser` picks one. Torch is imported lazily, inside functions.
"""

from __future__ import annotations

from typing import Any


def stack_conditioning(conds: list[tuple], use_cfg: bool) -> tuple:
    """One tensor per conditioning field for a batch of frames.

    With guidance each frame's tensor is [negative, positive]; the batch becomes all the
    negatives, then all the positives, which is how the model input is doubled and how
    the prediction is split again (`chunk(2)`).
    """
    import torch

    fields = list(zip(*conds, strict=True))
    if not use_cfg:
        return tuple(torch.cat(field) for field in fields)
    return tuple(torch.cat([t[:1] for t in field] + [t[1:] for t in field]) for field in fields)


class Denoiser:
    """What the generator needs from a model family; subclasses fill in the loop."""

    def __init__(
        self,
        components: Any,
        device: Any,
        dtype: Any,
        steps: int,
        guidance: float,
        size: tuple[int, int],
    ) -> None:
        self.spec = components.spec
        self.pipeline = components.pipeline
        self.model = components.denoiser  # the UNet or transformer: what FP8 quantizes
        self.vae = components.vae  # what decodes: tiny VAE or full VAE
        self.device, self.dtype = device, dtype
        self.steps, self.guidance = steps, guidance
        self.width, self.height = size
        self.latent_scale = 2 ** (len(self.pipeline.vae.config.block_out_channels) - 1)

    @property
    def use_cfg(self) -> bool:
        return self.guidance > 1.0

    @property
    def latent_channels(self) -> int:
        return self.pipeline.vae.config.latent_channels

    @property
    def noise_shape(self) -> tuple[int, int, int, int]:
        scale = self.latent_scale
        return (1, self.latent_channels, self.height // scale, self.width // scale)

    def encode_prompt(self, prompt: str, negative: str) -> tuple:
        raise NotImplementedError

    def denoise(self, noise: Any, conds: list, init: Any = None, strength: float = 1.0) -> Any:
        raise NotImplementedError

    def decode(self, latents: Any) -> Any:
        """Latents -> images in [-1, 1] (NCHW, model dtype).

        The decoding VAE's own shift and scale map our latents back to its input: the
        tiny VAEs carry the values they expect (TAESD: none; TAESD3/TAEF1: the full VAE's).
        """
        shift, scale = self._vae_shift_scale()
        return self.vae.decode((latents / scale + shift).to(self.dtype))[0]

    def encode(self, images: Any) -> Any:
        """Images in [-1, 1] (NCHW, model size) -> latents in the denoiser's space."""
        encoded = self.vae.encode(images.to(self.dtype))
        raw = encoded.latents if hasattr(encoded, "latents") else encoded.latent_dist.mean
        shift, scale = self._vae_shift_scale()
        return (raw.float() - shift) * scale

    def use_channels_last(self) -> None:
        """Run the denoiser channels-last; a UNet's choice
        (`render.unet_denoiser.wants_channels_last`)."""

    def compile(self, graphs: bool = False, mode: str | None = None) -> None:
        """The VAE decoder runs once per frame at a fixed shape: CUDA graphs suit it."""
        import torch

        self.vae.decoder = torch.compile(self.vae.decoder, mode="reduce-overhead")

    def fuse_projections(self) -> None:
        """One GEMM for attention's q, k and v where the model offers it (same math);
        before FP8 quantization, which replaces the Linears."""
        if hasattr(self.model, "fuse_qkv_projections"):
            self.model.fuse_qkv_projections()

    def _vae_shift_scale(self) -> tuple[float, float]:
        config = self.vae.config
        return getattr(config, "shift_factor", None) or 0.0, config.scaling_factor

    def _with_negative(self, positive: tuple, negative: tuple | None) -> tuple:
        """Stack [negative, positive] when guiding; cast to the model's dtype."""
        import torch

        if self.use_cfg:
            positive = tuple(torch.cat([n, p]) for n, p in zip(negative, positive, strict=True))
        return tuple(tensor.to(self.dtype) for tensor in positive)
