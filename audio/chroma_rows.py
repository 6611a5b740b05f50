"""The chroma frame grid the key reads, and how each frame votes (shared by audio.key and
audio.song_frames, which computes the offline frames block by block)."""

from __future__ import annotations

import numpy as np

KEY_HOP = 512  # offline chroma hop in samples (librosa's default)
SILENCE_DB = -60.0  # frames quieter than this carry no key evidence


def normalise_rows(chroma: np.ndarray, level_db: np.ndarray) -> np.ndarray:
    """Max-normalise each row so every sounding frame votes equally; silent rows -> 0."""
    chroma = np.maximum(np.asarray(chroma, dtype=np.float64), 0.0)
    peak = chroma.max(axis=1, keepdims=True)
    out = np.where(peak > 1e-12, chroma / np.maximum(peak, 1e-12), 0.0)
    out[level_db < SILENCE_DB] = 0.0
    return out
