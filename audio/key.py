"""Key and mode from chroma, with confidences that mean something.

Profiles: Krumhansl-Kessler (1982) probe-tone ratings. The corpus profiles (Temperley
2007, Albrecht & Shanahan 2013) model note counts in scores and are nearly zero off the
scale; audio chroma is smeared by harmonics and drums, and on our recordings they flipped
between a key and its relative or fifth neighbour depending on chroma details, while KK's
smoother shape gave the same key from the CQT and the live chroma on every song.

Confidence: the chroma direction is modelled as von Mises-Fisher around the 24 rotated
profiles (in the 11-d space left after removing the mean), so p(chroma | key) grows as
exp(KAPPA * r) with r the Pearson correlation. KAPPA is set so that the mean correlation
under the model is TYPICAL_R, what a whole song in a clear key reaches; a 25th hypothesis,
"no key" (a uniform direction), takes NULL_PRIOR. The posterior gives
- confidence: P(best key), low when any competitor (relative, parallel, fifth) is close,
- majorness: P(any major key) - P(any minor key), so relative-key ambiguity (C major vs A
  minor share their notes) or a weak key both pull it towards 0; mode_confidence = |majorness|.

Chroma: offline `key_chroma` is a tuning-corrected CQT chroma (librosa); live, `KeyTracker`
takes spectral peaks of a 370 ms FFT (HPCP-style, Gomez 2006) with a running tuning
estimate - a cheap approximation that names the same keys as the CQT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from audio.chroma_rows import KEY_HOP, SILENCE_DB, normalise_rows

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
TYPICAL_R = 0.8  # correlation of a whole song's chroma with its key's profile
NULL_PRIOR = 0.1  # prior that a signal has no key at all (speech, noise, drums)
CHROMA_HZ = (30.0, 4000.0)  # live peaks: about the CQT's C1..B7
PEAK_FLOOR = 1e-3  # live peaks more than 60 dB below the frame's strongest are ignored
PROMINENCE, PROMINENCE_BINS = 2.0, 8  # a peak must exceed twice the mean of +-8 bins (+-22 Hz)


@dataclass(frozen=True)
class KeyEstimate:
    """One key decision; empty strings and zeros when there is no tonal evidence."""

    key: str  # "G major"
    tonic: int  # pitch class 0..11 (C = 0), -1 when unknown
    mode: str  # "major" / "minor" / ""
    confidence: float  # P(this key), 0..1
    mode_confidence: float  # |majorness|, 0..1
    majorness: float  # P(major) - P(minor), -1..1: mode weighed by its certainty
    clarity: float  # best correlation, clipped to 0..1 (key clarity)
    scores: np.ndarray = field(default_factory=lambda: np.zeros(24), compare=False)
    # scores: Pearson r for C..B major then C..B minor


NO_KEY = KeyEstimate("", -1, "", 0.0, 0.0, 0.0, 0.0)


def _vmf_constants(typical_r: float, dim: int = 11) -> tuple[float, float]:
    """(kappa, r0): vMF concentration with mean correlation `typical_r`, and the correlation
    at which that density equals a uniform direction's on the (dim-1)-sphere."""
    from scipy.optimize import brentq
    from scipy.special import gammaln, ive

    half = dim / 2.0
    kappa = brentq(lambda k: ive(half, k) / ive(half - 1, k) - typical_r, 1e-3, 1e4)
    log_norm = (
        (half - 1) * math.log(kappa)
        - half * math.log(2 * math.pi)
        - (math.log(ive(half - 1, kappa)) + kappa)
    )
    log_area = math.log(2.0) + half * math.log(math.pi) - gammaln(half)
    return float(kappa), float(-(log_area + log_norm) / kappa)


KAPPA, NULL_R = _vmf_constants(TYPICAL_R)  # about 22.7 and 0.56


def _templates() -> np.ndarray:
    rows = [np.roll(p, t) for p in (MAJOR_PROFILE, MINOR_PROFILE) for t in range(12)]
    t = np.array(rows) - np.mean(rows, axis=1, keepdims=True)
    return t / np.linalg.norm(t, axis=1, keepdims=True)


_TEMPLATES = _templates()  # (24, 12), zero-mean unit-norm


def key_scores(chroma: np.ndarray) -> np.ndarray:
    """Pearson correlation of a 12-bin chroma with each key (C..B major, C..B minor)."""
    x = np.asarray(chroma, dtype=np.float64) - np.mean(chroma)
    norm = float(np.linalg.norm(x))
    return _TEMPLATES @ (x / norm) if norm > 1e-12 else np.zeros(24)


def estimate_key_detail(chroma_mean: np.ndarray) -> KeyEstimate:
    """Key, mode and their confidences for an average chroma vector (12,)."""
    chroma = np.nan_to_num(np.asarray(chroma_mean, dtype=np.float64))
    if chroma.shape != (12,) or chroma.std() < 1e-6 * max(float(np.abs(chroma).max()), 1e-9):
        return NO_KEY
    scores = key_scores(chroma)
    logits = np.append(
        KAPPA * (scores - NULL_R) + math.log((1 - NULL_PRIOR) / 24), math.log(NULL_PRIOR)
    )
    post = np.exp(logits - logits.max())
    post /= post.sum()
    best = int(np.argmax(scores))
    tonic, mode = best % 12, ("major", "minor")[best // 12]
    majorness = float(post[:12].sum() - post[12:24].sum())
    return KeyEstimate(
        key=f"{NOTE_NAMES[tonic]} {mode}",
        tonic=tonic,
        mode=mode,
        confidence=float(post[best]),
        mode_confidence=abs(majorness),
        majorness=majorness,
        clarity=float(np.clip(scores[best], 0.0, 1.0)),
        scores=scores,
    )


def estimate_key(chroma_mean: np.ndarray) -> tuple[str, str, float]:
    """(key name, mode, confidence 0..1) for an average chroma vector; ("", "", 0) if flat."""
    est = estimate_key_detail(chroma_mean)
    return est.key, est.mode, est.confidence


def pool_chroma(chroma_frames: np.ndarray) -> np.ndarray:
    """Mean of the frames that carry any pitch (silent frames are all-zero rows)."""
    frames = np.nan_to_num(np.asarray(chroma_frames, dtype=np.float64)).reshape(-1, 12)
    voiced = frames.max(axis=1) > 0 if len(frames) else np.zeros(0, bool)
    return frames[voiced].mean(axis=0) if np.any(voiced) else np.zeros(12)


def section_key_detail(chroma_frames: np.ndarray) -> KeyEstimate:
    """The key of a span of chroma frames (any front end: `key_chroma` rows, live rows)."""
    return estimate_key_detail(pool_chroma(chroma_frames))


def section_key(chroma_frames: np.ndarray) -> tuple[str, str, float]:
    """(key, mode, confidence) of a span of chroma frames, e.g. key_chroma(...)[i:j]."""
    est = section_key_detail(chroma_frames)
    return est.key, est.mode, est.confidence


# --- Offline: tuning-aware CQT chroma ----------------------------------------------------


def key_chroma(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(frames, 12) chroma every KEY_HOP samples, each row max-normalised, silent rows 0.

    CQT from C1 over 7 octaves at 3 bins per semitone, shifted by librosa's tuning
    estimate so a band tuned 20 cents sharp does not leak into the next pitch class.
    Frame i is centred at i * KEY_HOP / sample_rate (`key_chroma_times`). The offline
    analysis computes the same frames block by block (`audio.song_frames`), once for the
    key and the sections together.
    """
    y = np.nan_to_num(np.asarray(samples, dtype=np.float32))
    if y.ndim == 2:
        y = y.mean(axis=1)
    n_frames = 1 + len(y) // KEY_HOP
    if len(y) < 2 * KEY_HOP or not np.any(y):
        return np.zeros((n_frames if len(y) else 0, 12))
    try:
        import librosa  # noqa: F401
    except ImportError:  # not installed: the live front end, on the same frame grid
        return _peak_chroma_offline(y, sample_rate)
    from audio.song_frames import song_frames

    return song_frames(y, sample_rate).chroma[:n_frames].astype(np.float64)


def key_chroma_times(n_frames: int, sample_rate: int) -> np.ndarray:
    """Centre time in seconds of each `key_chroma` frame."""
    return np.arange(n_frames) * KEY_HOP / float(sample_rate)


# --- Live: spectral-peak chroma of a long FFT --------------------------------------------


class _PeakChroma:
    """Pitch-class magnitudes of the spectral peaks of one long Hann-windowed frame.

    The 46 ms analysis window of audio.spectral has 21.5 Hz bins, several semitones wide
    below 300 Hz, so bass notes smear over the whole octave; 370 ms gives 2.7 Hz bins.
    Peaks (with parabolic interpolation) instead of all bins keep noise from voting.
    """

    def __init__(self, sample_rate: int) -> None:
        self.n_fft = 1 << max(8, round(math.log2(0.37 * sample_rate)))
        self.window = np.hanning(self.n_fft)
        self.bin_hz = sample_rate / self.n_fft
        lo = max(2, int(CHROMA_HZ[0] / self.bin_hz))
        hi = min(self.n_fft // 2 - 1, int(CHROMA_HZ[1] / self.bin_hz))
        self.bins = slice(lo, hi)
        centres = np.arange(lo, hi)
        self._left = np.maximum(centres - PROMINENCE_BINS, 0)
        self._right = np.minimum(centres + PROMINENCE_BINS + 1, self.n_fft // 2 + 1)
        self.scale = 2.0 / self.window.sum()

    def peaks(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(pitch in MIDI numbers, magnitude) of each peak, and the frame's level in dB."""
        mag = np.abs(np.fft.rfft(frame * self.window)) * self.scale
        level_db = 10 * math.log10(max(float(np.mean(frame.astype(np.float64) ** 2)), 1e-12))
        lo, hi = self.bins.start, self.bins.stop
        m = mag[lo - 1 : hi + 1]
        centre = m[1:-1]
        # A partial stands out of its neighbourhood; the local maxima of noise (rumble, hiss,
        # cymbals) barely do, and would otherwise each vote with a full peak.
        cs = np.concatenate([[0.0], np.cumsum(mag)])
        local = (cs[self._right] - cs[self._left]) / (self._right - self._left)
        is_peak = (
            (centre > m[:-2])
            & (centre >= m[2:])
            & (centre > PROMINENCE * local)
            & (centre > PEAK_FLOOR * centre.max())
        )
        idx = np.flatnonzero(is_peak)
        if len(idx) == 0:
            return np.zeros(0), np.zeros(0), level_db
        a, b, c = (np.log(np.maximum(m[idx + k], 1e-12)) for k in (0, 1, 2))
        denom = a - 2 * b + c
        shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0)
        shift = np.clip(shift, -0.5, 0.5)
        freq = (lo + idx + shift) * self.bin_hz
        # librosa's CQT answers a sine of amplitude A with A / sqrt(f) (scale=True); weigh
        # peaks alike so both front ends hear the same balance of bass and treble.
        amp = np.exp(b - 0.25 * (a - c) * shift) * np.sqrt(440.0 / freq)
        return 69.0 + 12.0 * np.log2(freq / 440.0), amp, level_db


def _fold(pitch: np.ndarray, amp: np.ndarray, tuning: float) -> np.ndarray:
    """Each peak's magnitude shared between its two nearest pitch classes, linearly."""
    x = pitch - tuning
    low = np.floor(x)
    frac = x - low
    chroma = np.zeros(12)
    np.add.at(chroma, low.astype(int) % 12, amp * (1 - frac))
    np.add.at(chroma, (low.astype(int) + 1) % 12, amp * frac)
    return chroma


def _tuning_phasor(pitch: np.ndarray, amp: np.ndarray) -> complex:
    """Sum of the peaks' fractional pitch on the unit circle; its angle / 2 pi is the tuning."""
    return complex(np.sum(amp * np.exp(2j * np.pi * pitch))) if len(pitch) else 0j


def _peak_chroma_offline(y: np.ndarray, sample_rate: int) -> np.ndarray:
    """`key_chroma` without librosa: the live front end, frames centred on the KEY_HOP grid."""
    front = _PeakChroma(sample_rate)
    half = front.n_fft // 2
    padded = np.pad(y.astype(np.float64), (half, half))
    n_frames = 1 + len(y) // KEY_HOP
    found = [front.peaks(padded[i * KEY_HOP : i * KEY_HOP + front.n_fft]) for i in range(n_frames)]
    phasor = sum((_tuning_phasor(p, a) for p, a, _ in found), 0j)
    tuning = float(np.angle(phasor) / (2 * np.pi)) if abs(phasor) > 0 else 0.0
    chroma = np.array([_fold(p, a, tuning) for p, a, _ in found])
    return normalise_rows(chroma, np.array([level for _, _, level in found]))


KEY_MEMORY_S = 60.0  # the live key follows about the last minute
KEY_UPDATE_S = 1.0


class KeyTracker:
    """Live key: peak chroma of a 370 ms FFT every 185 ms, averaged with a long memory.

    `push(mono)` takes samples at `sample_rate` (the streaming analyzer's RATE) and
    returns the current estimate, refreshed every KEY_UPDATE_S of audio. The tuning is
    tracked from the same peaks. Cost: one 8192-point FFT per 185 ms (well under 1% of
    a core).
    """

    def __init__(self, sample_rate: int = 22050, memory_s: float = KEY_MEMORY_S) -> None:
        self._front = _PeakChroma(sample_rate)
        self.hop = self._front.n_fft // 2
        hop_s = self.hop / sample_rate
        self._decay = math.exp(-hop_s / memory_s)
        self._update_every = max(1, round(KEY_UPDATE_S / hop_s))
        self._buffer = np.zeros(0, dtype=np.float64)
        self._sum = np.zeros(12)
        self._weight = 0.0
        self._phasor = 0j
        self._frames = 0
        self.tuning = 0.0  # semitones, -0.5..0.5
        self.estimate: KeyEstimate = NO_KEY

    @property
    def chroma(self) -> np.ndarray:
        """The running mean chroma (12,), zeros before any sound."""
        return self._sum / self._weight if self._weight > 0 else np.zeros(12)

    def push(self, samples: np.ndarray) -> KeyEstimate:
        data = np.nan_to_num(np.asarray(samples, dtype=np.float64).reshape(-1))
        buffer = np.concatenate([self._buffer, data])
        n_fft, hop = self._front.n_fft, self.hop
        start = 0
        while start + n_fft <= len(buffer):
            self._frame(buffer[start : start + n_fft])
            start += hop
        self._buffer = buffer[start:]
        return self.estimate

    def _frame(self, frame: np.ndarray) -> None:
        pitch, amp, level_db = self._front.peaks(frame)
        self._frames += 1
        if level_db >= SILENCE_DB and len(pitch):
            self._phasor = self._phasor * self._decay + _tuning_phasor(pitch, amp)
            self.tuning = float(np.angle(self._phasor) / (2 * np.pi))
            chroma = _fold(pitch, amp, self.tuning)
            self._sum = self._sum * self._decay + chroma / max(float(chroma.max()), 1e-12)
            self._weight = self._weight * self._decay + 1.0
        if self._frames % self._update_every == 0:
            self.estimate = estimate_key_detail(self.chroma)
