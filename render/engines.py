"""Pick and build a generator by name: `embedded`, `diffusion`, or `auto`.

`auto` uses diffusion when a CUDA GPU and the model are both present on this machine,
and the embedded engine otherwise, so the same command works on a laptop and a GPU box.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from render.embedded import EmbeddedGenerator
from render.frames import Generator

ENGINES = ("auto", "embedded", "diffusion")


def create_generator(
    engine: str,
    width: int,
    height: int,
    seed: int = 0,
    notice: Callable[[str], None] = print,
    **options,
) -> Generator:
    """Build the engine; `options` go to the diffusion engine (model, precision, steps...)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if engine == "auto":
        reason = diffusion_unavailable_reason(options.get("model", "sd-turbo"))
        if reason:
            notice(f"engine: embedded ({reason})")
            return EmbeddedGenerator(width, height, seed, notice=notice)
        engine = "diffusion"
    if engine == "embedded":
        return EmbeddedGenerator(width, height, seed, notice=notice)
    from render.diffusion import DiffusionGenerator

    structure = EmbeddedGenerator(width, height, seed) if options.pop("structure", False) else None
    return DiffusionGenerator(width, height, seed=seed, structure=structure, **options)


def diffusion_unavailable_reason(model: str) -> str | None:
    """Why `auto` cannot use diffusion here, or None when it can."""
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("diffusers") is None:
        return "diffusion extras not installed"
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU"
    from models import ModelUnavailable, loading, registry

    try:
        if not loading.status(registry.resolve(model)).available:
            return f"model {model} not on this machine; `visualize models pull {model}` fetches it"
    except ModelUnavailable as exc:
        return str(exc)
    return None
