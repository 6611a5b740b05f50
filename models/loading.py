"""Find model weights on disk, download them, and load them as diffusers components.

Lookup order: a local folder named directly, then the local Hugging Face cache. Loading
never touches the network; `pull()` is the one function that downloads. A model that is
not on disk raises `ModelUnavailable` with the command that fetches it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from models import ModelUnavailable
from models.registry import DIT_FAMILIES, ModelSpec, family_of_folder

log = logging.getLogger(__name__)

# A local pipeline folder may carry its tiny VAE in this subfolder (our convention).
TINY_VAE_FOLDER = "vae_tiny"

# Only what a diffusers pipeline needs: configs, tokenizers and safetensors weights
# inside component folders (single-file checkpoints at the repo root are skipped).
_PULL_PATTERNS = ["*.json", "*.txt", "*.model", "tokenizer*/*"]


@dataclass(frozen=True)
class ModelStatus:
    """Whether a model is usable offline, for `visualize models`."""

    spec: ModelSpec
    path: Path | None
    tiny_vae_path: Path | None

    @property
    def available(self) -> bool:
        return self.path is not None


def cache_dir() -> Path:
    """Where our own artifacts (compiled kernels) live between runs."""
    root = os.environ.get("VISUALIZE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "visualize"
    )
    return Path(root)


def locate(source: str) -> Path | None:
    """The folder holding `source` (a local folder or a Hub id), or None if not on disk."""
    folder = Path(source).expanduser()
    if folder.is_dir():
        return folder
    if "/" not in source or source.startswith((".", "/", "~")):
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, local_files_only=True))
    except Exception:  # not cached, or the hub library is missing: same answer
        return None


def status(spec: ModelSpec) -> ModelStatus:
    path = locate(spec.source)
    tiny = None
    if path is not None and (path / TINY_VAE_FOLDER).is_dir():
        tiny = path / TINY_VAE_FOLDER
    elif spec.tiny_vae:
        tiny = locate(spec.tiny_vae)
    return ModelStatus(spec, path, tiny)


def require(spec: ModelSpec) -> Path:
    """The model's folder, or ModelUnavailable naming the command that downloads it."""
    path = locate(spec.source)
    if path is None:
        if spec.is_local or spec.source.startswith((".", "/", "~")):
            raise ModelUnavailable(f"model folder {spec.source} does not exist")
        raise ModelUnavailable(
            f"model {spec.name!r} is not available offline: run `visualize models pull {spec.name}`"
        )
    if not (path / "model_index.json").is_file():
        raise ModelUnavailable(f"{path} is not a diffusers pipeline folder (no model_index.json)")
    return path


def pull(spec: ModelSpec, include_tiny_vae: bool = True) -> Path:
    """Download a model (and its tiny VAE) into the Hugging Face cache; returns its folder."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise ModelUnavailable(
            "downloading needs huggingface_hub: pip install 'visualize[diffusion]'"
        ) from exc
    weights = f"*/*.{spec.variant}.safetensors" if spec.variant else "*/*.safetensors"
    path = _download(snapshot_download, spec.source, [*_PULL_PATTERNS, weights, "*/*.index.json"])
    if include_tiny_vae and spec.tiny_vae:
        _download(snapshot_download, spec.tiny_vae, ["*.json", "*.safetensors"])
    return path


def _download(snapshot_download: Any, repo_id: str, patterns: list[str]) -> Path:
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "401" in reason or "403" in reason or "gated" in reason.lower():
            reason = (
                f"{repo_id} is gated: accept its license on huggingface.co, "
                "then `hf auth login` and pull again"
            )
        raise ModelUnavailable(f"could not download {repo_id}: {reason[:200]}") from exc


@dataclass
class Components:
    """The loaded pieces the generator drives (diffusers objects, on one device)."""

    spec: ModelSpec
    pipeline: Any  # the diffusers pipeline: text encoders, tokenizers, scheduler
    denoiser: Any  # pipeline.unet or pipeline.transformer
    vae: Any  # what decodes: the tiny VAE when available and allowed, else the full VAE
    tiny: bool


def load(spec: ModelSpec, device: str, dtype: Any, quality: str = "fast") -> Components:
    """Load a pipeline from disk (never the network) onto `device`.

    `quality="fast"` decodes with the tiny VAE when one is on disk, `"high"` always with
    the full VAE. FP8 quantizes the denoiser after this, layer by layer (`models.fp8`).
    """
    from diffusers import DiffusionPipeline

    path = require(spec)
    family = spec.family or family_of_folder(path)
    variant = spec.variant if spec.variant and any(path.glob(f"*/*.{spec.variant}.*")) else None
    try:
        pipeline = DiffusionPipeline.from_pretrained(
            path, torch_dtype=dtype, variant=variant, local_files_only=True
        )
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailable(f"could not load {spec.name}: {reason[:200]}") from exc
    if getattr(pipeline, "safety_checker", None) is not None:
        pipeline.safety_checker = None  # frames are abstract art; it costs a model per frame
    denoiser = pipeline.transformer if family in DIT_FAMILIES else pipeline.unet
    pipeline.to(device)

    vae, tiny = pipeline.vae, False
    tiny_path = status(spec).tiny_vae_path
    if quality != "high" and tiny_path is not None:
        fitting = _tiny_vae(tiny_path, pipeline.vae, device, dtype)
        vae, tiny = (pipeline.vae, False) if fitting is None else (fitting, True)
    elif quality != "high":
        log.info("no tiny VAE on disk for %s: decoding with the full VAE", spec.name)
    for module in (denoiser, vae):
        module.eval()
        module.requires_grad_(False)
    return Components(replace(spec, family=family), pipeline, denoiser, vae, tiny)


def _tiny_vae(path: Path, full_vae: Any, device: str, dtype: Any) -> Any:
    """The tiny VAE at `path`, or None when its latent channels differ from the model's
    (a TAESD for 4-channel sd latents cannot decode the 16 channels of sd3 or flux)."""
    from diffusers import AutoencoderTiny

    vae = AutoencoderTiny.from_pretrained(path, torch_dtype=dtype)
    if vae.config.latent_channels != full_vae.config.latent_channels:
        log.warning("tiny VAE at %s does not fit this model: using the full VAE", path)
        return None
    return vae.to(device)
