"""Diffusion models: the registry of known models, loading them, and FP8 weights.

`models.registry` and `models.loading` import no torch at import time; `models.fp8`
does, so import it lazily.
"""

from __future__ import annotations


class ModelUnavailable(Exception):
    """A model that cannot be used here; the message is one line naming the fix."""


__all__ = ["ModelUnavailable"]
