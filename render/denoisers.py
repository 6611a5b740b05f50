"""Denoisers: the model-family half of the diffusion engine.

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
the generator can slerp them whatever the family. Two loops:

- `UNetDenoiser` (sd, sdxl): epsilon or v-prediction, Euler on 'trailing' timesteps.
- `FlowMatchDenoiser` (sd3, flux): rectified flow. A latent at noise level sigma is
  x = (1 - sigma) * clean + sigma * noise, the model predicts the velocity
  v = noise - clean, and an Euler step is x += (sigma_next - sigma) * v.

Torch is imported lazily, inside functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from models.registry import DIT_FAMILIES


def make_denoiser(
    components: Any, device: Any, dtype: Any, steps: int, guidance: float, size: tuple[int, int]
) -> Denoiser:
    """The denoiser for the loaded model's family; `size` is the model's (width, height)."""
    family = components.spec.family
    classes = {"sd3": SD3Denoiser, "flux": FluxDenoiser}
    return classes.get(family, UNetDenoiser)(components, device, dtype, steps, guidance, size)


def wants_channels_last(device_type: str, precision: str, family: str) -> bool:
    """Whether the UNet should run channels-last (NHWC): 16-bit UNets on a GPU only.

    Measured per forward on an H100 (docs/benchmarks/fp8.md, sd-turbo UNet at 512x512,
    compiled): fp16 channels-last 5.39 ms against 6.73 ms; with FP8 it was slower (9.51
    against 8.44 ms), so FP8 stays NCHW. DiTs take token sequences: nothing to reorder.
    """
    return device_type == "cuda" and precision in ("fp16", "bf16") and family not in DIT_FAMILIES


def tune_inductor() -> None:
    """Inductor and cuDNN settings for convolutional UNets (diffusers' torch.compile
    guide): 1x1 convs as matrix products, cuDNN picks its fastest algorithm per shape."""
    import torch
    import torch._inductor.config as inductor

    torch.backends.cudnn.benchmark = True
    inductor.conv_1x1_as_mm = True


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
        """Run the denoiser channels-last (see `wants_channels_last`); a UNet's choice."""

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


class UNetDenoiser(Denoiser):
    """sd / sdxl turbo UNets: epsilon or v-prediction in our own Euler loop."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        scheduler = self.pipeline.scheduler
        self._alphas = scheduler.alphas_cumprod.float()
        self._prediction = scheduler.config.get("prediction_type", "epsilon")
        self.channels_last = False

    def use_channels_last(self) -> None:
        """Weights and inputs in NHWC order, before compiling (as scripts/bench_fp8.py)."""
        import torch

        self.model.to(memory_format=torch.channels_last)
        self.channels_last = True

    @property
    def latent_channels(self) -> int:
        return self.pipeline.unet.config.in_channels

    def encode_prompt(self, prompt: str, negative: str) -> tuple:
        """Token embeddings of the whole prompt, 75-token windows side by side
        (`models.prompts`); a prompt of one window is encoded exactly as diffusers does."""
        from models.prompts import encode_long

        encode, device, cfg = self.pipeline.encode_prompt, self.device, self.use_cfg
        if self.spec.family == "sdxl":

            def window(text: str, negative_text: str | None) -> tuple:
                return encode(text, None, device, 1, cfg, negative_text)

        else:

            def window(text: str, negative_text: str | None) -> tuple:
                return encode(text, device, 1, cfg, negative_text)

        out = encode_long(window, self.pipeline.tokenizer, prompt, negative, cfg)
        if self.spec.family == "sdxl":
            embeds, negative_embeds, pooled, negative_pooled = out
            return self._with_negative((embeds, pooled), (negative_embeds, negative_pooled))
        embeds, negative_embeds = out
        return self._with_negative((embeds,), (negative_embeds,))

    def sigmas(self, strength: float) -> tuple[list[float], list[int]]:
        """Euler sigmas on 'trailing' timesteps; img2img starts part-way down."""
        import torch

        total = self._alphas.shape[0]
        count = max(self.steps, math.ceil(self.steps / max(strength, 1e-3)))
        timesteps = np.round(np.arange(total, 0, -total / count)).astype(np.int64) - 1
        timesteps = timesteps[-self.steps :]
        alphas = self._alphas[torch.from_numpy(timesteps)]
        sigmas = ((1 - alphas) / alphas).sqrt().tolist()
        return [*sigmas, 0.0], timesteps.tolist()

    def denoise(self, noise: Any, conds: list, init: Any = None, strength: float = 1.0) -> Any:
        """Our Euler loop over the UNet: a few tensor ops around each model call."""
        return self.run(noise, stack_conditioning(conds, self.use_cfg), init, strength)

    def start_scale(self, sigma: float) -> float:
        """Pure noise's scale at the first sigma, as diffusers' `init_noise_sigma`:
        sigma for 'linspace' and 'trailing' timesteps, sqrt(sigma^2 + 1) otherwise."""
        spacing = self.pipeline.scheduler.config.get("timestep_spacing", "linspace")
        return sigma if spacing in ("linspace", "trailing") else math.sqrt(sigma * sigma + 1)

    def run(self, noise: Any, cond: tuple, init: Any = None, strength: float = 1.0) -> Any:
        """The loop on stacked conditioning; only device work, so it can be graph-captured."""
        import torch

        sigmas, timesteps = self.sigmas(strength if init is not None else 1.0)
        if init is None:
            latents = noise * self.start_scale(sigmas[0])
        else:
            latents = init.float() + noise * sigmas[0]
        for index, timestep in enumerate(timesteps):
            sigma, sigma_next = sigmas[index], sigmas[index + 1]
            model_in = latents / math.sqrt(sigma * sigma + 1)
            if self.use_cfg:
                model_in = torch.cat([model_in] * 2)
            prediction = self._unet(model_in.to(self.dtype), timestep, cond).float()
            if self.use_cfg:
                uncond, text = prediction.chunk(2)
                prediction = uncond + self.guidance * (text - uncond)
            if self._prediction == "v_prediction":
                scale = sigma * sigma + 1
                clean = latents / scale - prediction * sigma / math.sqrt(scale)
            else:
                clean = latents - sigma * prediction
            latents = clean + (latents - clean) / sigma * sigma_next
        return latents

    def _unet(self, model_in: Any, timestep: int, cond: tuple) -> Any:
        import torch

        batch = model_in.shape[0]
        if self.channels_last:
            model_in = model_in.contiguous(memory_format=torch.channels_last)
        timesteps = torch.full((batch,), timestep, device=self.device, dtype=torch.long)
        kwargs = {}
        if self.spec.family == "sdxl":
            kwargs["added_cond_kwargs"] = {
                "text_embeds": cond[1],
                "time_ids": self._time_ids().expand(batch, -1),
            }
        return self.model(model_in, timesteps, encoder_hidden_states=cond[0], **kwargs)[0]

    def _time_ids(self) -> Any:
        """SDXL's size conditioning (original size, crop, target size), made once: a
        host-to-device copy per call would stall the stream and break graph capture."""
        import torch

        if getattr(self, "_time_ids_tensor", None) is None:
            size = (self.height, self.width)
            ids = torch.tensor([[*size, 0, 0, *size]], dtype=self.dtype)
            self._time_ids_tensor = ids.to(self.device)
        return self._time_ids_tensor

    def compile(self, graphs: bool = False, mode: str | None = None) -> None:
        """The whole UNet. Without our frame graphs, with Inductor's CUDA graphs (a
        small model, launch-bound at 1 step); with them, plain kernels that
        `render.frame_graph` captures together with the rest of the frame. `mode`
        overrides (e.g. "max-autotune-no-cudagraphs": slower to compile)."""
        import torch

        tune_inductor()
        mode = mode or ("default" if graphs else "reduce-overhead")
        self.vae.decoder = torch.compile(self.vae.decoder, mode=mode)
        self.model = torch.compile(self.model, mode=mode)


class FlowMatchDenoiser(Denoiser):
    """Rectified-flow DiTs (SD3, Flux): the shared Euler loop; subclasses call the model."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.scheduler = self.pipeline.scheduler
        self.max_sequence_length = self.spec.extra.get("max_sequence_length", 256)
        self._schedule: list[float] | None = None

    def t5_length(self, tokenizer: Any, prompt: str, negative: str) -> int:
        """T5 tokens for this prompt: the model's default (256), or 512 when the prompt
        needs it, so no cue word is cut (`models.prompts.t5_budget`). CLIP's 77 tokens
        still cut the pooled vector's view, as in the pipelines themselves."""
        from models.prompts import t5_budget

        longest = max((prompt, negative), key=len)
        return t5_budget(tokenizer, longest, self.max_sequence_length)

    def sigmas(self, strength: float) -> list[float]:
        """Noise levels from `strength` down to 0, one model call per step.

        The schedule is the scheduler's own (its shift, or Flux's resolution-dependent
        shift), computed once. img2img scales it to start at sigma = strength, keeping the
        step count: one graph shape, and a fixed cost per frame whatever the music does.
        """
        if self._schedule is None:
            kwargs = {"mu": self.dynamic_shift()} if self._dynamic_shifting else {}
            base = self.base_sigmas()
            steps = None if base is not None else self.steps
            self.scheduler.set_timesteps(steps, device="cpu", sigmas=base, **kwargs)
            self._schedule = self.scheduler.sigmas.tolist()  # ends with 0.0
        return [sigma * strength for sigma in self._schedule]

    def base_sigmas(self) -> list[float] | None:
        """Unshifted sigmas as the family's pipeline passes them (None: the scheduler's)."""
        return None

    @property
    def _dynamic_shifting(self) -> bool:
        return bool(self.scheduler.config.get("use_dynamic_shifting"))

    def dynamic_shift(self) -> float:
        """`mu` for dynamic shifting: grows linearly with the image's token count, so
        larger images spend more of their steps at high noise (as the pipelines do)."""
        config = self.scheduler.config
        base_tokens = config.get("base_image_seq_len", 256)
        max_tokens = config.get("max_image_seq_len", 4096)
        base_shift, max_shift = config.get("base_shift", 0.5), config.get("max_shift", 1.15)
        slope = (max_shift - base_shift) / (max_tokens - base_tokens)
        return base_shift + slope * (self.image_tokens() - base_tokens)

    def image_tokens(self) -> int:
        patch = self.model.config.get("patch_size", 1) or 1
        _, _, height, width = self.noise_shape
        return (height // patch) * (width // patch)

    def denoise(self, noise: Any, conds: list, init: Any = None, strength: float = 1.0) -> Any:
        """Euler on the velocity: x += (sigma_next - sigma) * v, a few times."""
        sigmas = self.sigmas(strength if init is not None else 1.0)
        start = sigmas[0]  # 1.0 from pure noise: the noise is the latent at sigma = 1
        latents = noise.float() if init is None else (1 - start) * init.float() + start * noise
        cond = stack_conditioning(conds, self.use_cfg)
        for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:], strict=True):
            latents = latents + (sigma_next - sigma) * self._velocity(latents, sigma, cond)
        return latents

    def _velocity(self, latents: Any, sigma: float, cond: tuple) -> Any:
        import torch

        model_in = torch.cat([latents] * 2) if self.use_cfg else latents
        velocity = self.velocity(model_in.to(self.dtype), sigma, cond).float()
        if self.use_cfg:
            uncond, text = velocity.chunk(2)
            velocity = uncond + self.guidance * (text - uncond)
        return velocity

    def velocity(self, latents: Any, sigma: float, cond: tuple) -> Any:
        """One model call: spatial latents in, spatial velocity out."""
        raise NotImplementedError

    def compile(self, graphs: bool = False, mode: str | None = None) -> None:
        """Regional compilation: each repeated transformer block is compiled once and
        reused, so a cold start compiles one block instead of a 12B-parameter graph."""
        super().compile()
        compile_repeated_blocks(self.model)


class SD3Denoiser(FlowMatchDenoiser):
    """SD3 / SD3.5 (MMDiT): two CLIPs and a T5 give the tokens and the pooled vector."""

    def encode_prompt(self, prompt: str, negative: str) -> tuple:
        out = self.pipeline.encode_prompt(
            prompt,
            None,
            None,
            device=self.device,
            num_images_per_prompt=1,
            do_classifier_free_guidance=self.use_cfg,
            negative_prompt=negative or None,
            max_sequence_length=self.t5_length(self.pipeline.tokenizer_3, prompt, negative),
        )
        embeds, negative_embeds, pooled, negative_pooled = out
        return self._with_negative((embeds, pooled), (negative_embeds, negative_pooled))

    def velocity(self, latents: Any, sigma: float, cond: tuple) -> Any:
        import torch

        embeds, pooled = cond
        # SD3 takes the timestep on the training scale (sigma * 1000).
        timestep = sigma * self.scheduler.config.num_train_timesteps
        timesteps = torch.full((latents.shape[0],), timestep, device=self.device)
        return self.model(
            hidden_states=latents,
            timestep=timesteps,
            encoder_hidden_states=embeds,
            pooled_projections=pooled,
            return_dict=False,
        )[0]


class FluxDenoiser(FlowMatchDenoiser):
    """FLUX.1: CLIP's pooled vector + T5 tokens; the latent goes in as 2x2 patches.

    Guidance is distilled into the model (schnell: none, dev: an embedded scale), so
    there is no negative prompt and no doubled batch.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        _, _, height, width = self.noise_shape
        # Rotary positions of the image tokens: fixed for the generator's size.
        self._image_ids = image_ids(height // 2, width // 2, self.device, self.dtype)

    @property
    def use_cfg(self) -> bool:
        return False

    def encode_prompt(self, prompt: str, negative: str) -> tuple:
        embeds, pooled, _text_ids = self.pipeline.encode_prompt(
            prompt,
            None,
            device=self.device,
            num_images_per_prompt=1,
            max_sequence_length=self.t5_length(self.pipeline.tokenizer_2, prompt, ""),
        )
        return self._with_negative((embeds, pooled), None)

    def base_sigmas(self) -> list[float]:
        return np.linspace(1.0, 1.0 / self.steps, self.steps).tolist()  # as FluxPipeline

    def image_tokens(self) -> int:
        _, _, height, width = self.noise_shape
        return (height // 2) * (width // 2)  # one token per 2x2 patch

    def velocity(self, latents: Any, sigma: float, cond: tuple) -> Any:
        import torch

        embeds, pooled = cond
        batch, _, height, width = latents.shape
        guidance = None
        if self.model.config.guidance_embeds:  # FLUX.1-dev: the scale is an input
            scale = self.guidance if self.guidance > 0 else 3.5
            guidance = torch.full((batch,), scale, device=self.device, dtype=torch.float32)
        velocity = self.model(
            hidden_states=pack_latents(latents),
            timestep=torch.full((batch,), sigma, device=self.device, dtype=self.dtype),
            guidance=guidance,
            pooled_projections=pooled,
            encoder_hidden_states=embeds,
            txt_ids=torch.zeros(embeds.shape[1], 3, device=self.device, dtype=self.dtype),
            img_ids=self._image_ids,
            return_dict=False,
        )[0]
        return unpack_latents(velocity, height, width)


def pack_latents(latents: Any) -> Any:
    """(B, C, H, W) -> (B, H/2 * W/2, C * 4): Flux sees each 2x2 patch as one token."""
    batch, channels, height, width = latents.shape
    patches = latents.view(batch, channels, height // 2, 2, width // 2, 2)
    patches = patches.permute(0, 2, 4, 1, 3, 5)
    return patches.reshape(batch, (height // 2) * (width // 2), channels * 4)


def unpack_latents(tokens: Any, height: int, width: int) -> Any:
    """The inverse of `pack_latents`, back to (B, C, H, W)."""
    batch, _, features = tokens.shape
    patches = tokens.view(batch, height // 2, width // 2, features // 4, 2, 2)
    patches = patches.permute(0, 3, 1, 4, 2, 5)
    return patches.reshape(batch, features // 4, height, width)


def image_ids(rows: int, cols: int, device: Any, dtype: Any) -> Any:
    """Flux's rotary positions per image token: (0, row, column)."""
    import torch

    row, col = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    ids = torch.stack([torch.zeros_like(row), row, col], dim=-1).reshape(-1, 3)
    return ids.to(device=device, dtype=dtype)


def compile_repeated_blocks(model: Any) -> int:
    """Compile each repeated block of a transformer in place; returns how many.

    Diffusers names the block classes in `_repeated_blocks` for some models (Flux); for
    others (SD3) the blocks are the entries of the model's ModuleLists. Blocks of one
    class share one compiled graph, so the cost is one compile per block type.
    """
    import torch

    names = set(getattr(model, "_repeated_blocks", None) or ())
    if names:
        blocks = [m for m in model.modules() if type(m).__name__ in names]
    else:
        lists = [m for m in model.children() if isinstance(m, torch.nn.ModuleList)]
        blocks = [block for module_list in lists for block in module_list]
    for block in blocks:
        block.compile(fullgraph=True)
    return len(blocks)
