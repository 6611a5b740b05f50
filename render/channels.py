"""Channel matching for float audio blocks on their way into an AAC stream."""

from __future__ import annotations

import numpy as np


def match_channels(samples: np.ndarray, channels: int) -> np.ndarray:
    """(n, k) float audio as (n, `channels`): mixed down to mono, mono repeated, or cut."""
    if channels == 1:
        return samples.mean(axis=1, keepdims=True)
    if samples.shape[1] == 1:
        return np.repeat(samples, channels, axis=1)
    return samples[:, :channels]
