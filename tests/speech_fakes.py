"""Stand-ins for the speech path's models, shared by the speech tests."""

from __future__ import annotations

import numpy as np

from audio.speech.vad import WINDOW


class LoudnessVad:
    """Stands in for Silero: a 32 ms window is speech when it is loud."""

    def __init__(self):
        self._pending = np.zeros(0, np.float32)

    def reset(self):
        self._pending = np.zeros(0, np.float32)

    def __call__(self, samples):
        samples = np.concatenate([self._pending, samples])
        count = len(samples) // WINDOW
        self._pending = samples[count * WINDOW :]
        windows = samples[: count * WINDOW].reshape(count, WINDOW)
        return (np.abs(windows).max(axis=1) > 0.1).astype(np.float32)
