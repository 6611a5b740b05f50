"""The UNet denoiser (sd, sdxl turbo): epsilon or v-prediction, Euler on 'trailing'
timesteps, plus the channels-last and Inductor settings that suit convolutional UNets.

Torch is imported lazily, inside functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from models.registry import DIT_FAMILIES
from render.denoiser_base import Denoiser, stack_conditioning


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
