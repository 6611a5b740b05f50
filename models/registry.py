"""The models `visualize` knows by name, with the settings that make each one fast.

Each entry is data: where the weights live on the Hugging Face Hub, which family of
denoiser it is (the generator's code path), and sane defaults for live use. Anything
else - a diffusers folder on disk or another Hub id - resolves to a custom entry whose
family is read from its `model_index.json` once it is on disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

# Families decide the code path (render/denoisers.py): "sd" and "sdxl" run our UNet
# loop; "sd3" and "flux" are flow-matching DiTs, run by our flow-matching Euler loop.
UNET_FAMILIES = ("sd", "sdxl")
DIT_FAMILIES = ("sd3", "flux")

_PIPELINE_FAMILIES = {
    "StableDiffusionPipeline": "sd",
    "StableDiffusionImg2ImgPipeline": "sd",
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionXLImg2ImgPipeline": "sdxl",
    "StableDiffusion3Pipeline": "sd3",
    "FluxPipeline": "flux",
}


@dataclass(frozen=True)
class ModelSpec:
    """One model and its live defaults."""

    name: str
    source: str  # Hub id ("org/name") or a local folder
    family: str  # "sd", "sdxl", "sd3", "flux"
    steps: int = 1
    guidance: float = 0.0  # turbo/schnell models are distilled: no classifier-free guidance
    width: int = 512
    height: int = 512
    tiny_vae: str | None = None  # TAESD-family Hub id for fast decode
    variant: str | None = None  # weight file variant to prefer ("fp16")
    size_gb: float = 0.0  # download size, for `visualize models`
    license: str = ""
    notes: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def is_local(self) -> bool:
        return Path(self.source).expanduser().is_dir()

    @property
    def is_dit(self) -> bool:
        return self.family in DIT_FAMILIES


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="sd-turbo",
            source="stabilityai/sd-turbo",
            family="sd",
            steps=1,
            width=512,
            height=512,
            tiny_vae="madebyollin/taesd",
            variant="fp16",
            size_gb=2.6,
            license="stabilityai-nc-community",
            notes="default; 1 step at 512x512, the live workhorse",
        ),
        ModelSpec(
            name="sdxl-turbo",
            source="stabilityai/sdxl-turbo",
            family="sdxl",
            steps=1,
            width=512,
            height=512,
            tiny_vae="madebyollin/taesdxl",
            variant="fp16",
            size_gb=7.0,
            license="stabilityai-nc-community",
            notes="richer pictures, ~3x the compute of sd-turbo",
        ),
        ModelSpec(
            name="sd3.5-large-turbo",
            source="stabilityai/stable-diffusion-3.5-large-turbo",
            family="sd3",
            steps=4,
            width=1024,
            height=1024,
            tiny_vae="madebyollin/taesd3",
            size_gb=28.0,
            license="stabilityai-community (gated: accept on the Hub, then log in)",
            notes="8B DiT; offline renders on a large GPU",
            extra={"max_sequence_length": 256},  # T5 tokens per prompt
        ),
        ModelSpec(
            name="flux.1-schnell",
            source="black-forest-labs/FLUX.1-schnell",
            family="flux",
            steps=4,
            width=768,
            height=768,
            tiny_vae="madebyollin/taef1",
            size_gb=34.0,
            license="apache-2.0",
            notes="12B DiT; best pictures, offline renders on a large GPU",
            extra={"max_sequence_length": 256},  # schnell was trained with 256 T5 tokens
        ),
    )
}

ALIASES = {
    "sd35-large-turbo": "sd3.5-large-turbo",
    "sd3.5": "sd3.5-large-turbo",
    "flux": "flux.1-schnell",
    "flux-schnell": "flux.1-schnell",
    "sdxl": "sdxl-turbo",
}

DEFAULT_MODEL = "sd-turbo"


def resolve(name: str) -> ModelSpec:
    """The spec for a known name, a diffusers folder, or a Hub id ("org/name")."""
    key = ALIASES.get(name.lower(), name.lower())
    if key in MODELS:
        return MODELS[key]
    folder = Path(name).expanduser()
    if folder.is_dir():
        return custom_spec(str(folder.resolve()), family_of_folder(folder))
    if _looks_like_hub_id(name):
        return custom_spec(name, family="")  # family known once downloaded
    known = ", ".join(MODELS)
    raise ValueError(
        f"unknown model {name!r}: use one of {known}, a diffusers folder, or a Hub id like org/name"
    )


def custom_spec(source: str, family: str) -> ModelSpec:
    """A spec for weights we have no entry for; defaults suit a distilled few-step model."""
    base = {"sdxl": MODELS["sdxl-turbo"], "sd3": MODELS["sd3.5-large-turbo"]}.get(family)
    base = base or {"flux": MODELS["flux.1-schnell"]}.get(family, MODELS["sd-turbo"])
    return replace(
        base, name=source, source=source, family=family, tiny_vae=None, variant=None, notes=""
    )


def native_resolution(spec: ModelSpec, folder: Path | None) -> int:
    """The side in pixels a model was trained at: a known model's entry, else its
    folder's config (the UNet's or transformer's `sample_size` latents times the VAE's
    downscale: SD 2.x 768, SDXL 1024), else the family default."""
    if spec.name in MODELS or folder is None:
        return spec.width
    vae = _read_config(Path(folder) / "vae" / "config.json")
    levels = len(vae.get("block_out_channels", ())) or 4
    for part in ("unet", "transformer"):
        sample = _read_config(Path(folder) / part / "config.json").get("sample_size")
        if isinstance(sample, (list, tuple)):
            sample = max(sample)
        if isinstance(sample, int) and sample > 0:
            return sample * 2 ** (levels - 1)
    return spec.width


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def family_of_folder(folder: Path) -> str:
    """Read the pipeline class from model_index.json; empty when it is not a pipeline."""
    index = Path(folder) / "model_index.json"
    if not index.is_file():
        return ""
    try:
        class_name = json.loads(index.read_text()).get("_class_name", "")
    except (OSError, ValueError):
        return ""
    return _PIPELINE_FAMILIES.get(class_name, "sd")


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))
