"""Random-weight sd-turbo-class pipelines, for tests and benchmarks where no weights exist.

`save_random_pipeline(folder, size="tiny"|"full")` builds a StableDiffusionPipeline (and a
tiny VAE in `vae_tiny/`) from configs written here as data, with random weights, and
saves it with `save_pretrained`; the generator then loads it through the same code path
as a downloaded model. "full" uses the public sd-turbo (SD 2.1-base) architecture: speed
does not depend on the weight values. The tokenizer is a byte-level CLIP BPE with no
merges, written on the spot, since no tokenizer files can be fetched offline.
"""

from __future__ import annotations

import json
from pathlib import Path

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


def save_random_pipeline(
    folder: str | Path, size: str = "tiny", seed: int = 0, dtype: str = "float32"
) -> Path:
    """Build a random-weight sd-turbo-class pipeline and save it; returns the folder."""
    import torch
    from diffusers import (
        AutoencoderKL,
        AutoencoderTiny,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    full = size == "full"
    folder = Path(folder)
    torch.manual_seed(seed)
    write_byte_tokenizer(folder / "_tokenizer_src")
    tokenizer = CLIPTokenizer(
        str(folder / "_tokenizer_src" / "vocab.json"),
        str(folder / "_tokenizer_src" / "merges.txt"),
        model_max_length=77,
    )
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
    pipeline.to(getattr(torch, dtype)).save_pretrained(folder)
    tiny_vae = AutoencoderTiny(**(FULL_TAESD if full else TINY_TAESD)).to(getattr(torch, dtype))
    tiny_vae.save_pretrained(folder / "vae_tiny")
    return folder
