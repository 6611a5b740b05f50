"""The hop-512 tonal and timbre frames of a whole song, computed block by block.

One pass computes what the key (audio.key) and the sections (audio.structure) read: the
key's 36-bins-per-octave CQT chroma, the sections' 12-bin CQT chroma and MFCCs, from one
tuning estimate and one STFT; all are kept at frame rate (~43 frames/s, 37 float32 each:
~23 MB an hour), never the audio.

The tuning is one number per song, so it needs a pass of its own before the CQT:
`TuningPass` takes librosa's `estimate_tuning` apart - spectral peaks of every frame
(per-frame maths), then a histogram of their deviation from equal temperament among the
peaks at or above the median magnitude of the whole song. The median is read from a
fine histogram of log magnitudes (0.25 % steps) instead of from all the peaks at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from audio.chroma_rows import KEY_HOP, normalise_rows
from audio.chunks import Block, Blocks, frames_of

RATE = 22050
N_FFT = 2048  # the STFT of tuning and MFCC (librosa's default at hop 512)
BINS_PER_OCTAVE = 36
N_MFCC, N_MELS = 13, 128
BLOCK_FRAMES = 2048  # ~48 s of frames per block
CONTEXT_S = 4  # > half the CQT's longest filter (C1 at 36 bins/octave: ~0.8 s)
RESOLUTION = 0.01  # tuning histogram step, in bins (librosa's default)
_MAG_LOG_LO, _MAG_LOG_HI, _MAG_STEPS = -12.0, 6.0, 7200  # log10 magnitude histogram


def blocks(sample_rate: int = RATE) -> Blocks:
    return Blocks(KEY_HOP, BLOCK_FRAMES, CONTEXT_S * sample_rate)


def song_frames(samples: np.ndarray, sample_rate: int = RATE) -> SongFrames:
    """`SongFrames` of an in-memory signal: the two passes over one array."""
    tuning = TuningPass(sample_rate)
    for block in _pieces(samples):
        tuning.push(block)
    frames = FramesPass(tuning.finish(), sample_rate)
    for block in _pieces(samples):
        frames.push(block)
    return frames.finish()


def _pieces(samples: np.ndarray, size: int = 1 << 18):
    y = np.nan_to_num(np.asarray(samples, dtype=np.float32).reshape(-1))
    return (y[i : i + size] for i in range(0, len(y), size))


def _magnitude(samples: np.ndarray) -> np.ndarray:
    import librosa

    return np.abs(librosa.stft(samples, n_fft=N_FFT, hop_length=KEY_HOP))


class TuningPass:
    """Streams librosa.estimate_tuning(y=song, sr=RATE) over blocks (see module docstring)."""

    def __init__(self, sample_rate: int = RATE) -> None:
        self.sample_rate = int(sample_rate)
        self._blocks = blocks(self.sample_rate)
        edges = np.linspace(-0.5, 0.5, int(np.ceil(1.0 / RESOLUTION)) + 1)
        self._edges = edges
        self._hist = np.zeros((_MAG_STEPS, len(edges) - 1), np.int64)

    def push(self, samples: np.ndarray) -> None:
        for block in self._blocks.push(samples):
            self._block(block)

    def finish(self) -> float:
        for block in self._blocks.finish():
            self._block(block)
        per_level = self._hist.sum(axis=1)
        total = int(per_level.sum())
        if total == 0:
            return 0.0
        # The lower median (np.median averages the middle two; at 0.25 % steps that is moot).
        level = int(np.searchsorted(np.cumsum(per_level), (total + 1) // 2))
        counts = self._hist[level:].sum(axis=0)
        if not counts.any():
            return 0.0
        return float(self._edges[int(np.argmax(counts))])

    def _block(self, block: Block) -> None:
        import librosa

        if len(block.samples) == 0:
            return
        spectrum = frames_of(block, _magnitude(block.samples), KEY_HOP)
        pitch, mag = librosa.piptrack(S=spectrum, sr=self.sample_rate, n_fft=N_FFT)
        found = pitch > 0
        pitch, mag = pitch[found], mag[found]
        if not len(pitch):
            return
        residual = np.mod(12 * librosa.hz_to_octs(pitch), 1.0)
        residual[residual >= 0.5] -= 1.0
        column = np.clip(
            np.searchsorted(self._edges, residual, "right") - 1, 0, len(self._edges) - 2
        )
        steps = (np.log10(np.maximum(mag, 1e-30)) - _MAG_LOG_LO) / (_MAG_LOG_HI - _MAG_LOG_LO)
        row = np.clip((steps * _MAG_STEPS).astype(np.int64), 0, _MAG_STEPS - 1)
        flat = np.bincount(row * self._hist.shape[1] + column, minlength=self._hist.size)
        self._hist += flat.reshape(self._hist.shape)


@dataclass(frozen=True)
class SongFrames:
    """Hop-512 frames of a song: frame i is centred at i * KEY_HOP / RATE seconds."""

    chroma: np.ndarray  # (n, 12) float32, rows max-normalised, silent rows 0 (key evidence)
    mfcc: np.ndarray  # (n, 13) float32 (timbre; c0 is the level)
    harmony: np.ndarray | None = None  # (n, 12) float32: the sections' 12-bin CQT chroma

    sample_rate: int = RATE

    @property
    def times(self) -> np.ndarray:
        return np.arange(len(self.chroma)) * KEY_HOP / float(self.sample_rate)


class FramesPass:
    """CQT chroma and MFCC of a stream at a known tuning, block by block."""

    def __init__(self, tuning: float, sample_rate: int = RATE) -> None:
        self.tuning = float(tuning)
        self.sample_rate = int(sample_rate)
        self._blocks = blocks(self.sample_rate)
        self._chroma: list[np.ndarray] = []
        self._mfcc: list[np.ndarray] = []
        self._harmony: list[np.ndarray] = []
        self._any_sound = False

    def push(self, samples: np.ndarray) -> None:
        self._any_sound = self._any_sound or bool(np.any(samples))
        for block in self._blocks.push(samples):
            self._block(block)

    def finish(self) -> SongFrames:
        for block in self._blocks.finish():
            self._block(block)
        chroma = np.concatenate(self._chroma) if self._chroma else np.zeros((0, 12), np.float32)
        mfcc = np.concatenate(self._mfcc) if self._mfcc else np.zeros((0, N_MFCC), np.float32)
        self._chroma, self._mfcc = [], []
        if not self._any_sound:  # digital silence: no key evidence anywhere
            chroma = np.zeros_like(chroma)
        harmony = np.concatenate(self._harmony) if self._harmony else np.zeros((0, 12), np.float32)
        self._harmony = []
        return SongFrames(chroma, mfcc, harmony, self.sample_rate)

    def _block(self, block: Block) -> None:
        import librosa

        y = block.samples
        if len(y) == 0:
            return
        rate = self.sample_rate
        octaves = int(min(7, math.floor(math.log2(0.45 * rate / 32.70319566))))
        chroma = librosa.feature.chroma_cqt(
            y=y,
            sr=rate,
            hop_length=KEY_HOP,
            tuning=self.tuning,
            n_octaves=octaves,
            bins_per_octave=BINS_PER_OCTAVE,
            norm=None,
        )
        rms = librosa.feature.rms(y=y, frame_length=4 * KEY_HOP, hop_length=KEY_HOP)[0]
        power = _magnitude(y) ** 2
        mel = librosa.feature.melspectrogram(S=power, sr=rate, n_mels=N_MELS)
        mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, ref=1.0, top_db=None), n_mfcc=N_MFCC)
        # The sections read harmony at a semitone per bin: shorter filters follow chord
        # changes bar by bar, where the key's 3 bins per semitone smear them (and moved
        # section boundaries on real songs when the sections used the key's chroma).
        cqt = np.abs(
            librosa.cqt(
                y, sr=rate, hop_length=KEY_HOP, n_bins=84, bins_per_octave=12, tuning=self.tuning
            )
        )
        harmony = librosa.feature.chroma_cqt(C=cqt, sr=rate, hop_length=KEY_HOP, bins_per_octave=12)
        n = min(chroma.shape[1], rms.shape[0], mfcc.shape[1], harmony.shape[1])
        parts = (chroma[:, :n], rms[:n], mfcc[:, :n], harmony[:, :n])
        chroma, rms, mfcc, harmony = (frames_of(block, v, KEY_HOP) for v in parts)
        self._harmony.append(harmony.T.astype(np.float32))
        level_db = 20 * np.log10(np.maximum(rms, 1e-10))
        self._chroma.append(normalise_rows(chroma.T, level_db).astype(np.float32))
        self._mfcc.append(mfcc.T.astype(np.float32))
