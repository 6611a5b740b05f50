"""Whisper and Silero VAD both want 16 kHz mono; capture and files come at other rates."""

from __future__ import annotations

from math import gcd

import numpy as np

SPEECH_RATE = 16000


def to_speech_rate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Whole-clip resample to 16 kHz float32 (offline path)."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if sample_rate == SPEECH_RATE:
        return samples
    try:
        import soxr

        return soxr.resample(samples, sample_rate, SPEECH_RATE).astype(np.float32, copy=False)
    except ImportError:
        from scipy.signal import resample_poly

        divisor = gcd(SPEECH_RATE, sample_rate)
        resampled = resample_poly(samples, SPEECH_RATE // divisor, sample_rate // divisor)
        return resampled.astype(np.float32)


class StreamResampler:
    """Block-by-block resampling to 16 kHz without clicks at the block edges.

    soxr keeps its filter state between blocks; without soxr, scipy resamples each
    block on its own (small edge error, still fine for speech).
    """

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        self._stream = None
        if sample_rate != SPEECH_RATE:
            try:
                import soxr

                self._stream = soxr.ResampleStream(sample_rate, SPEECH_RATE, 1, dtype="float32")
            except ImportError:
                self._stream = None

    def __call__(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        if self.sample_rate == SPEECH_RATE:
            return block
        if self._stream is not None:
            return self._stream.resample_chunk(block)
        return to_speech_rate(block, self.sample_rate)
