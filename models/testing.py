"""Random-weight pipelines, for tests and benchmarks where no weights exist.

`save_random_pipeline(folder, size="tiny"|"full", family="sd"|"sdxl"|"sd3"|"flux")` builds a
diffusers pipeline (and a tiny VAE in `vae_tiny/`) from configs written here as data, with
random weights, and saves it with `save_pretrained`; the generator then loads it through
the same code path as a downloaded model. "full" (sd only) uses the public sd-turbo
(SD 2.1-base) architecture: speed does not depend on the weight values.

No tokenizer files can be fetched offline, so they are written on the spot: CLIP gets a
byte-level BPE with no merges, T5 a character-level Unigram vocabulary.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

# Public sd-turbo architecture (stabilityai/sd-turbo unet/config.json), as data.
FULL_UNET = {
    "attention_head_dim": [5, 10, 20, 20],
    "block_out_channels": [320, 640, 1280, 1280],
    "cross_attention_dim": 1024,
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    "layers_per_block": 2,
    "sample_size": 64,
    "use_linear_projection": True,
    "in_channels": 4,
    "out_channels": 4,
}
FULL_TEXT = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_attention_heads": 16,
    "num_hidden_layers": 23,
    "projection_dim": 512,
    "hidden_act": "gelu",
    "max_position_embeddings": 77,
}
FULL_VAE = {
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "layers_per_block": 2,
    "latent_channels": 4,
    "sample_size": 768,
}
TINY_UNET = {
    "attention_head_dim": [2, 4],
    "block_out_channels": [32, 64],
    "cross_attention_dim": 32,
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    "layers_per_block": 1,
    "sample_size": 8,
    "use_linear_projection": True,
    "in_channels": 4,
    "out_channels": 4,
    "norm_num_groups": 16,
}
TINY_TEXT = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "projection_dim": 32,
    "hidden_act": "gelu",
    "max_position_embeddings": 77,
}
TINY_VAE = {  # four levels like the real one: 8x down to the latent
    "block_out_channels": [16, 16, 16, 16],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 16,
    "sample_size": 64,
}
TINY_TAESD = {
    "encoder_block_out_channels": [8, 8, 8, 8],
    "decoder_block_out_channels": [8, 8, 8, 8],
    "num_encoder_blocks": [1, 1, 1, 1],
    "num_decoder_blocks": [1, 1, 1, 1],
}
# Default AutoencoderTiny config is the public TAESD architecture.
FULL_TAESD: dict = {}

# SDXL class: two CLIPs (token widths side by side = cross_attention_dim; the second's
# pooled projection + 6 size ids embedded at addition_time_embed_dim each).
TINY_SDXL_UNET = {
    **TINY_UNET,
    "cross_attention_dim": 64,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 8,
    "projection_class_embeddings_input_dim": 6 * 8 + 32,
    "transformer_layers_per_block": [1, 2],
}
# Public SDXL UNet (stabilityai/sdxl-turbo unet/config.json) at sdxl-base's 1024 px.
FULL_SDXL_UNET = {
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "attention_head_dim": [5, 10, 20],
    "block_out_channels": [320, 640, 1280],
    "cross_attention_dim": 2048,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 2,
    "projection_class_embeddings_input_dim": 2816,
    "sample_size": 128,
    "transformer_layers_per_block": [1, 2, 10],
    "use_linear_projection": True,
}
# Benchmark text encoders at SDXL's output widths (768 and 1280 per token, 1280 pooled):
# they run once per cue, never per frame.
BENCH_SDXL_TEXT = ({**TINY_TEXT, "hidden_size": 768}, {**TINY_TEXT, "hidden_size": 1280})
BENCH_SDXL_TEXT[1]["projection_dim"] = 1280

# Tiny DiT pipelines: the real families' shapes (16 latent channels, 8x VAE, CLIP + T5)
# at toy widths. The VAEs carry the real models' latent shift and scale so the code that
# applies them is exercised; each tiny VAE copies them, as TAESD3 and TAEF1 do.
TINY_DIT_VAE = {**TINY_VAE, "latent_channels": 16, "use_quant_conv": False}
TINY_DIT_VAE["use_post_quant_conv"] = False
TINY_DIT_TAESD = {**TINY_TAESD, "latent_channels": 16}
LATENT_SHIFT_SCALE = {  # (shift_factor, scaling_factor) of the public VAEs
    "sd3": (0.0609, 1.5305),
    "flux": (0.1159, 0.3611),
}
TINY_SD3_TRANSFORMER = {
    "sample_size": 8,
    "patch_size": 2,
    "in_channels": 16,
    "out_channels": 16,
    "num_layers": 2,
    "attention_head_dim": 8,
    "num_attention_heads": 2,
    "caption_projection_dim": 16,  # = heads * head_dim
    "joint_attention_dim": 64,  # = the T5 width, and the two CLIPs side by side
    "pooled_projection_dim": 64,  # = the two CLIP projections side by side
    "pos_embed_max_size": 32,
}
TINY_FLUX_TRANSFORMER = {
    "patch_size": 1,
    "in_channels": 64,  # 16 latent channels packed 2x2
    "num_layers": 1,
    "num_single_layers": 2,
    "attention_head_dim": 16,
    "num_attention_heads": 2,
    "joint_attention_dim": 32,  # = the T5 width
    "pooled_projection_dim": 32,  # = the CLIP width
    "axes_dims_rope": (4, 6, 6),  # sums to attention_head_dim
}
TINY_T5 = {"num_layers": 1, "num_heads": 2, "d_kv": 16, "d_ff": 64}

# Full-size Flux for benchmarks: the public FLUX.1-schnell transformer and VAE shapes.
# Its text encoders stay toy-sized at the real output widths (768 pooled, 4096 per
# token): they run once per cue, never per frame, so they do not change frame speed.
FULL_FLUX_TRANSFORMER = {
    **TINY_FLUX_TRANSFORMER,
    "num_layers": 19,
    "num_single_layers": 38,
    "attention_head_dim": 128,
    "num_attention_heads": 24,
    "joint_attention_dim": 4096,
    "pooled_projection_dim": 768,
    "axes_dims_rope": (16, 56, 56),
}
FULL_DIT_VAE = {**FULL_VAE, "latent_channels": 16, "use_quant_conv": False}
FULL_DIT_VAE["use_post_quant_conv"] = False
FULL_DIT_TAESD = {"latent_channels": 16}
BENCH_CLIP = {**TINY_TEXT, "hidden_size": 768, "projection_dim": 768}


def write_byte_tokenizer(folder: Path) -> None:
    """A CLIP BPE vocabulary of single bytes (no merges): valid input for CLIPTokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    symbols = _byte_symbols()
    vocab = symbols + [s + "</w>" for s in symbols] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({s: i for i, s in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")


def _byte_symbols() -> list[str]:
    """GPT-2/CLIP's printable stand-in for each of the 256 bytes."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    extra = (b for b in range(256) if b not in printable)
    mapping = {b: chr(b) for b in printable}
    mapping.update({b: chr(256 + i) for i, b in enumerate(extra)})
    return [mapping[b] for b in range(256)]


def clip_tokenizer(folder: Path) -> Any:
    """The byte-level CLIP tokenizer, its files written under `folder`."""
    from transformers import CLIPTokenizer

    write_byte_tokenizer(folder)
    return CLIPTokenizer(
        str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77
    )


def t5_tokenizer() -> Any:
    """A T5 tokenizer over single characters: a Unigram vocabulary needs no training."""
    from transformers import T5TokenizerFast

    characters = string.ascii_letters + string.digits + string.punctuation
    # T5's layout: <pad>=0, </s>=1, <unk>=2; "▁" marks a word start (SentencePiece).
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(c, -3.0) for c in characters] + [("▁" + c, -3.0) for c in characters]
    return T5TokenizerFast(vocab=vocab, extra_ids=0, model_max_length=512)


def save_random_pipeline(
    folder: str | Path,
    size: str = "tiny",
    seed: int = 0,
    dtype: str = "float32",
    family: str = "sd",
    device: str = "cpu",
) -> Path:
    """Build a random-weight pipeline of `family` and save it; returns the folder.

    `device="cuda"` builds the weights on the GPU: a full-size Flux (12B parameters) is
    initialised in seconds there instead of minutes on a CPU.
    """
    import torch

    builders = {
        "sd": _sd_pipeline,
        "sdxl": _sdxl_pipeline,
        "sd3": _sd3_pipeline,
        "flux": _flux_pipeline,
    }
    if family not in builders:
        raise ValueError(f"family must be one of {', '.join(builders)}")
    if size != "tiny" and family == "sd3":
        raise ValueError("only tiny random sd3 pipelines are built here")
    folder = Path(folder)
    torch.manual_seed(seed)
    with torch.device(device):
        pipeline, tiny_vae = builders[family](folder, size == "full")
    pipeline.to(getattr(torch, dtype)).save_pretrained(folder)
    tiny_vae.to(getattr(torch, dtype)).save_pretrained(folder / "vae_tiny")
    return folder


def _sd_pipeline(folder: Path, full: bool) -> tuple[Any, Any]:
    """sd-turbo class: a UNet, one CLIP text encoder, v-prediction Euler."""
    from diffusers import (
        AutoencoderKL,
        AutoencoderTiny,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = clip_tokenizer(folder / "_tokenizer_src")
    text_config = CLIPTextConfig(vocab_size=len(tokenizer), **(FULL_TEXT if full else TINY_TEXT))
    pipeline = StableDiffusionPipeline(
        vae=AutoencoderKL(**(FULL_VAE if full else TINY_VAE)),
        text_encoder=CLIPTextModel(text_config),
        tokenizer=tokenizer,
        unet=UNet2DConditionModel(**(FULL_UNET if full else TINY_UNET)),
        scheduler=EulerDiscreteScheduler(
            prediction_type="v_prediction", timestep_spacing="trailing"
        ),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    return pipeline, AutoencoderTiny(**(FULL_TAESD if full else TINY_TAESD))


def _sdxl_pipeline(folder: Path, full: bool) -> tuple[Any, Any]:
    """SDXL(-turbo) class: a UNet with size conditioning, two CLIPs, epsilon Euler."""
    from diffusers import (
        AutoencoderKL,
        AutoencoderTiny,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = clip_tokenizer(folder / "_tokenizer_src")
    first, second = BENCH_SDXL_TEXT if full else (TINY_TEXT, TINY_TEXT)
    vocab = len(tokenizer)
    pipeline = StableDiffusionXLPipeline(
        vae=AutoencoderKL(**(FULL_VAE if full else TINY_VAE)),
        text_encoder=CLIPTextModel(CLIPTextConfig(vocab_size=vocab, **first)),
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(vocab_size=vocab, **second)),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=UNet2DConditionModel(**(FULL_SDXL_UNET if full else TINY_SDXL_UNET)),
        scheduler=EulerDiscreteScheduler(prediction_type="epsilon", timestep_spacing="trailing"),
    )
    return pipeline, AutoencoderTiny(**(FULL_TAESD if full else TINY_TAESD))


def _sd3_pipeline(folder: Path, full: bool) -> tuple[Any, Any]:
    """SD3 class: an MMDiT, two CLIPs with projections and a T5, flow matching (shift 3)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel
    from diffusers import StableDiffusion3Pipeline as Pipeline
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    tokenizer = clip_tokenizer(folder / "_tokenizer_src")
    text_config = CLIPTextConfig(vocab_size=len(tokenizer), **TINY_TEXT)
    t5_tokenizer_, t5 = _t5(width=TINY_SD3_TRANSFORMER["joint_attention_dim"])
    vae, tiny_vae = _dit_vaes("sd3")
    pipeline = Pipeline(
        transformer=SD3Transformer2DModel(**TINY_SD3_TRANSFORMER),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=vae,
        text_encoder=CLIPTextModelWithProjection(text_config),
        tokenizer=tokenizer,
        text_encoder_2=CLIPTextModelWithProjection(text_config),
        tokenizer_2=tokenizer,
        text_encoder_3=t5,
        tokenizer_3=t5_tokenizer_,
    )
    return pipeline, tiny_vae


def _flux_pipeline(folder: Path, full: bool) -> tuple[Any, Any]:
    """Flux class: a double/single-stream DiT, CLIP pooled + T5, flow matching with the
    resolution-dependent (dynamic) shift that FLUX.1-dev's scheduler uses."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = clip_tokenizer(folder / "_tokenizer_src")
    text_config = CLIPTextConfig(vocab_size=len(tokenizer), **(BENCH_CLIP if full else TINY_TEXT))
    transformer_config = FULL_FLUX_TRANSFORMER if full else TINY_FLUX_TRANSFORMER
    t5_tokenizer_, t5 = _t5(width=transformer_config["joint_attention_dim"])
    vae, tiny_vae = _dit_vaes("flux", full)
    pipeline = FluxPipeline(
        transformer=FluxTransformer2DModel(**transformer_config),
        scheduler=FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True),
        vae=vae,
        text_encoder=CLIPTextModel(text_config),
        tokenizer=tokenizer,
        text_encoder_2=t5,
        tokenizer_2=t5_tokenizer_,
    )
    return pipeline, tiny_vae


def _t5(width: int) -> tuple[Any, Any]:
    from transformers import T5Config, T5EncoderModel

    tokenizer = t5_tokenizer()
    config = T5Config(vocab_size=len(tokenizer), d_model=width, **TINY_T5)
    return tokenizer, T5EncoderModel(config)


def _dit_vaes(family: str, full: bool = False) -> tuple[Any, Any]:
    from diffusers import AutoencoderKL, AutoencoderTiny

    shift, scale = LATENT_SHIFT_SCALE[family]
    vae_config, tiny_config = (
        (FULL_DIT_VAE, FULL_DIT_TAESD) if full else (TINY_DIT_VAE, TINY_DIT_TAESD)
    )
    vae = AutoencoderKL(**vae_config, shift_factor=shift, scaling_factor=scale)
    tiny_vae = AutoencoderTiny(**tiny_config, shift_factor=shift, scaling_factor=scale)
    return vae, tiny_vae
