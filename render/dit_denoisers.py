"""The flow-matching DiT denoisers (sd3, flux) and their token helpers.

Rectified flow: a latent at noise level sigma is x = (1 - sigma) * clean + sigma * noise,
the model predicts the velocity v = noise - clean, and an Euler step is
x += (sigma_next - sigma) * v. `FlowMatchDenoiser` holds that shared loop and schedule;
`SD3Denoiser` and `FluxDenoiser` encode prompts and call their model. Torch is imported
lazily, inside functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from render.denoiser_base import Denoiser, stack_conditioning


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
