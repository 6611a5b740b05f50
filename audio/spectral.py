"""The per-frame feature math, shared by the offline and the streaming analyzers.

Both paths push audio at `RATE` through the same two stateful objects, so a feature
means the same thing live and in a render:

- `FrontEnd`: samples -> one `RawFrames` row per hop (levels in dB, centroid in Hz,
  spectral flux, chroma). Pure spectral math over a 46 ms window ending at each hop.
- `Conditioner`: raw rows -> 0..1 curves. Automatic gain (a peak follower per level,
  fast attack, slow release), attack/release smoothing, and onset peak picking. It is a
  causal recursion; the offline path only differs in that it may start it warm
  (`Conditioner.warm_start`), because it has already heard the whole file.

Frame k covers the window that ends at sample (k + 1) * HOP, and is stamped with that
time: the live path can only know a frame once its last sample has arrived.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RATE = 22050  # every analysis runs at this rate; sources resample once
HOP = 220  # ~10 ms
N_FFT = 1024  # ~46 ms window: 21.5 Hz bins, enough for bass and chroma
FRAME_RATE = RATE / HOP  # frames per second
SILENCE_DB = -60.0  # frames below this RMS level are silent

BANDS_HZ = {"bass": (20.0, 250.0), "mid": (250.0, 2000.0), "treble": (2000.0, 11025.0)}
CHROMA_HZ = (55.0, 2000.0)
FLUX_LAG = 2  # frames between the spectra whose difference is the flux (20 ms)
# An onset peaks in the flux once it sits inside the window, roughly half a window after it
# happened; event times (onsets, beats) are reported with this delay removed.
EVENT_DELAY = 0.5 * N_FFT / RATE - 0.5 * HOP / RATE
# Onsets are picked one frame after their flux peak (the peak must be seen to fall).
ONSET_DELAY = EVENT_DELAY + 1.0 / (RATE / HOP)


@dataclass(frozen=True)
class RawFrames:
    """Un-normalised per-frame measurements for a run of consecutive frames."""

    times: np.ndarray  # (n,) seconds, end of each frame's window
    rms_db: np.ndarray  # (n,)
    band_db: np.ndarray  # (n, 3) bass, mid, treble power in dB
    centroid_hz: np.ndarray  # (n,)
    flux: np.ndarray  # (n,) rectified log-mel spectral flux (all bands)
    low_flux: np.ndarray  # (n,) the same, below ~200 Hz (kick and bass; for downbeats)
    chroma: np.ndarray  # (n, 12) energy per pitch class, each row max-normalised

    def __len__(self) -> int:
        return len(self.times)

    @staticmethod
    def concat(parts: list[RawFrames]) -> RawFrames:
        if not parts:
            return _empty_raw()
        return RawFrames(
            *(np.concatenate([getattr(p, name) for p in parts]) for name in _RAW_FIELDS)
        )


_RAW_FIELDS = ("times", "rms_db", "band_db", "centroid_hz", "flux", "low_flux", "chroma")


def _empty_raw() -> RawFrames:
    z = np.zeros(0)
    return RawFrames(z, z, np.zeros((0, 3)), z, z, z, np.zeros((0, 12)))


class FrontEnd:
    """Cuts mono samples at RATE into frames and measures each; keeps what the next call needs."""

    def __init__(self) -> None:
        self._tail = np.zeros(N_FFT - HOP, dtype=np.float32)  # zeros before the first sample
        self._pending = np.zeros(0, dtype=np.float32)
        self._previous_logmel: np.ndarray = np.zeros((FLUX_LAG, _N_MEL))
        self._frames_done = 0

    def process(self, samples: np.ndarray) -> RawFrames:
        pending = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32)])
        n_frames = len(pending) // HOP
        if n_frames == 0:
            self._pending = pending
            return _empty_raw()
        used = n_frames * HOP
        signal = np.concatenate([self._tail, pending[:used]])
        frames = np.lib.stride_tricks.sliding_window_view(signal, N_FFT)[::HOP][:n_frames]
        self._tail = signal[-(N_FFT - HOP) :].copy()
        self._pending = pending[used:].copy()
        raw = self._measure(frames)
        self._frames_done += n_frames
        return raw

    def _measure(self, frames: np.ndarray) -> RawFrames:
        n = len(frames)
        times = (self._frames_done + 1 + np.arange(n)) * HOP / RATE
        windowed = frames * _WINDOW
        power = np.abs(np.fft.rfft(windowed, axis=1)) ** 2 * _POWER_SCALE
        power[:, :2] = 0.0  # DC and its window leakage: an offset is not sound
        mean_square = power.sum(axis=1)
        rms_db = _db(mean_square)
        band_db = _db(power @ _BAND_MATRIX)
        weight = power[:, _CENTROID_BINS]
        total = weight.sum(axis=1)
        centroid = (weight @ _FREQS[_CENTROID_BINS]) / np.maximum(total, 1e-20)
        centroid[rms_db < SILENCE_DB] = 0.0

        logmel = np.log1p(1000.0 * np.sqrt(np.maximum(power @ _MEL_MATRIX, 0.0)))
        history = np.concatenate([self._previous_logmel, logmel])
        # Max-filter the reference over neighbouring bands so vibrato does not read as onsets.
        reference = history[:-FLUX_LAG]
        reference = np.maximum(reference, np.roll(reference, 1, axis=1))
        reference = np.maximum(reference, np.roll(reference, -1, axis=1))
        rise = np.maximum(history[FLUX_LAG:] - reference, 0.0)
        self._previous_logmel = history[-FLUX_LAG:].copy()
        flux = rise.mean(axis=1)
        low_flux = rise[:, :_N_LOW_MEL].mean(axis=1)

        chroma = power @ _CHROMA_MATRIX
        chroma = chroma / np.maximum(chroma.max(axis=1, keepdims=True), 1e-12)
        chroma[rms_db < SILENCE_DB] = 0.0
        return RawFrames(times, rms_db, band_db, centroid, flux, low_flux, chroma)


def _db(power: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, 1e-12))


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_matrix(n_mel: int, low: float, high: float) -> np.ndarray:
    """Triangular filters, equally spaced on the mel scale, as (bins, n_mel)."""
    edges_mel = np.linspace(_hz_to_mel(low), _hz_to_mel(high), n_mel + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    matrix = np.zeros((len(_FREQS), n_mel))
    for band in range(n_mel):
        left, centre, right = edges[band : band + 3]
        up = (_FREQS - left) / max(centre - left, 1e-9)
        down = (right - _FREQS) / max(right - centre, 1e-9)
        matrix[:, band] = np.maximum(0.0, np.minimum(up, down))
    matrix /= np.maximum(matrix.sum(axis=0, keepdims=True), 1e-12)
    return matrix


def _chroma_matrix() -> np.ndarray:
    """Each FFT bin in CHROMA_HZ shares its energy among nearby pitch classes (C = 0).

    Low bins are several semitones wide, so a bin votes with a Gaussian over semitone
    distance whose width follows the bin's width, instead of snapping to one class.
    """
    matrix = np.zeros((len(_FREQS), 12))
    bin_hz = _FREQS[1]
    for b in np.flatnonzero((_FREQS >= CHROMA_HZ[0]) & (_FREQS <= CHROMA_HZ[1])):
        midi = 69 + 12 * np.log2(_FREQS[b] / 440.0)
        width = 12 * np.log2((_FREQS[b] + bin_hz / 2) / (_FREQS[b] - bin_hz / 2))
        sigma = max(0.4, width / 2)
        distance = (midi - np.arange(12) + 6) % 12 - 6
        weights = np.exp(-0.5 * (distance / sigma) ** 2)
        matrix[b] = weights / weights.sum()
    return matrix


_FREQS = np.fft.rfftfreq(N_FFT, 1.0 / RATE)
_WINDOW = np.hanning(N_FFT).astype(np.float32)
# Scale so a full-scale sine reads about -3 dB, i.e. `power.sum()` is the mean square.
_POWER_SCALE = 2.0 / (N_FFT * float(np.sum(_WINDOW**2)))
_BAND_MATRIX = np.stack(
    [((_FREQS >= lo) & (_FREQS < hi)).astype(float) for lo, hi in BANDS_HZ.values()], axis=1
)
_CENTROID_BINS = np.flatnonzero(_FREQS >= 40.0)
_N_MEL = 40
_MEL_LOW_HZ, _MEL_HIGH_HZ = 30.0, 10000.0
_MEL_MATRIX = _mel_matrix(_N_MEL, _MEL_LOW_HZ, _MEL_HIGH_HZ)
# Mel bands whose centre lies below 200 Hz: the kick and bass region.
_N_LOW_MEL = int(
    np.sum(
        700.0
        * (
            10
            ** (
                np.linspace(_hz_to_mel(_MEL_LOW_HZ), _hz_to_mel(_MEL_HIGH_HZ), _N_MEL + 2)[1:-1]
                / 2595.0
            )
            - 1.0
        )
        < 200.0
    )
)
_CHROMA_MATRIX = _chroma_matrix()


# --- Conditioning: raw measurements -> 0..1 curves --------------------------------------

LEVEL_RANGE_DB = 30.0  # the span below the running peak that maps onto 0..1
LEVEL_MIN_REF_DB = -50.0  # the gain never lifts material quieter than this to full scale
LEVEL_ATTACK_S = 0.05  # how fast the gain reference follows a louder passage
LEVEL_RELEASE_DB_S = 0.3  # how fast it relaxes in a quieter one (a quiet verse stays quiet)
FLUX_RELEASE_S = 4.0  # the onset reference decays with this time constant
FLUX_FLOOR = 0.02  # flux below this never counts as an onset (noise, dither)
CURVE_ATTACK_S = 0.01  # visuals rise within a frame...
CURVE_RELEASE_S = 0.25  # ...and fall gracefully
ONSET_RELEASE_S = 0.12
CHROMA_SMOOTH_S = 0.15
BRIGHT_LOW_HZ, BRIGHT_HIGH_HZ = 250.0, 6000.0
ONSET_MIN_GAP_S = 0.05
ONSET_THRESHOLD = 0.12  # on the normalised onset strength (0..1)
ONSET_MEAN_FRAMES = 10


@dataclass(frozen=True)
class Conditioned:
    """The conditioner's output for a run of frames (all curves 0..1)."""

    times: np.ndarray
    energy: np.ndarray
    bass: np.ndarray
    mid: np.ndarray
    treble: np.ndarray
    brightness: np.ndarray
    onset: np.ndarray  # smoothed onset strength, for drawing
    strength: np.ndarray  # unsmoothed normalised flux, for beat tracking (0..~2)
    is_onset: np.ndarray  # bool, flagged on the frame after the flux peak
    silent: np.ndarray  # bool
    chroma: np.ndarray  # (n, 12), smoothed

    def __len__(self) -> int:
        return len(self.times)


def _coef(seconds: float) -> float:
    """One-pole smoothing coefficient for a time constant at FRAME_RATE."""
    return 1.0 - math.exp(-1.0 / (max(seconds, 1e-6) * FRAME_RATE))


class Conditioner:
    """Causal per-frame recursion: automatic gain, envelopes and onset picking."""

    def __init__(self) -> None:
        self.level_refs: list[float] | None = None  # rms, bass, mid, treble (dB)
        self.flux_ref = FLUX_FLOOR * 4
        self._smooth = [0.0] * 5  # energy, bass, mid, treble, brightness
        self._onset_smooth = 0.0
        self._chroma = np.zeros(12)
        self._recent: list[float] = []  # normalised flux, last ONSET_MEAN_FRAMES + 2
        self._since_onset = 10**9

    def warm_start(self, raw: RawFrames) -> None:
        """Start the gain where a listener who knows the whole file would set it."""
        loud = raw.rms_db >= SILENCE_DB
        if not np.any(loud):
            return
        levels = np.column_stack([raw.rms_db, raw.band_db])[loud]
        self.level_refs = [float(v) for v in np.percentile(levels, 95, axis=0)]
        self.flux_ref = max(float(np.percentile(raw.flux[loud], 98)), FLUX_FLOOR * 4)

    def process(self, raw: RawFrames) -> Conditioned:
        n = len(raw)
        out = np.zeros((n, 7))
        is_onset = np.zeros(n, dtype=bool)
        chroma = np.zeros((n, 12))
        a_level, release_db = _coef(LEVEL_ATTACK_S), LEVEL_RELEASE_DB_S / FRAME_RATE
        a_up, a_down = _coef(CURVE_ATTACK_S), _coef(CURVE_RELEASE_S)
        a_onset_down = _coef(ONSET_RELEASE_S)
        flux_decay = math.exp(-1.0 / (FLUX_RELEASE_S * FRAME_RATE))
        a_chroma = _coef(CHROMA_SMOOTH_S)
        log_span = math.log(BRIGHT_HIGH_HZ / BRIGHT_LOW_HZ)
        for i in range(n):
            rms = float(raw.rms_db[i])
            silent = rms < SILENCE_DB
            levels = [rms, *(float(v) for v in raw.band_db[i])]
            if self.level_refs is None:
                if silent:
                    levels_01 = [0.0] * 4
                else:
                    self.level_refs = [max(v, LEVEL_MIN_REF_DB) for v in levels]
            if self.level_refs is not None:
                refs = self.level_refs
                for k, value in enumerate(levels):
                    if value > refs[k]:
                        refs[k] += (value - refs[k]) * a_level
                    else:
                        refs[k] = max(refs[k] - release_db, value, LEVEL_MIN_REF_DB)
                levels_01 = [
                    min(max((v - (r - LEVEL_RANGE_DB)) / LEVEL_RANGE_DB, 0.0), 1.0)
                    for v, r in zip(levels, refs, strict=True)
                ]
            centroid = float(raw.centroid_hz[i])
            bright = 0.0
            if centroid > 0:
                bright = min(max(math.log(centroid / BRIGHT_LOW_HZ) / log_span, 0.0), 1.0)
            targets = [*levels_01, bright]
            for k, target in enumerate(targets):
                a = a_up if target > self._smooth[k] else a_down
                self._smooth[k] += (target - self._smooth[k]) * a

            flux = float(raw.flux[i])
            self.flux_ref = max(self.flux_ref * flux_decay, flux, FLUX_FLOOR * 4)
            strength = 0.0 if flux < FLUX_FLOOR else min(flux / self.flux_ref, 2.0)
            a = a_up if strength > self._onset_smooth else a_onset_down
            self._onset_smooth += (min(strength, 1.0) - self._onset_smooth) * a
            if self._pick_onset(strength):
                is_onset[i] = True
            self._chroma += (raw.chroma[i] - self._chroma) * a_chroma
            chroma[i] = self._chroma
            out[i] = [*self._smooth, self._onset_smooth, strength]
        silent_mask = raw.rms_db < SILENCE_DB
        return Conditioned(
            times=raw.times.copy(),
            energy=out[:, 0],
            bass=out[:, 1],
            mid=out[:, 2],
            treble=out[:, 3],
            brightness=out[:, 4],
            onset=out[:, 5],
            strength=out[:, 6],
            is_onset=is_onset,
            silent=silent_mask,
            chroma=chroma,
        )

    def _pick_onset(self, strength: float) -> bool:
        """True when the previous frame was a local peak well above the recent mean."""
        recent = self._recent
        recent.append(strength)
        if len(recent) > ONSET_MEAN_FRAMES + 2:
            del recent[0]
        self._since_onset += 1
        if len(recent) < 3:
            return False
        peak = recent[-2]
        baseline = sum(recent[:-2]) / max(len(recent) - 2, 1)
        is_peak = peak >= recent[-3] and peak > recent[-1]
        gap_ok = self._since_onset * (1.0 / FRAME_RATE) >= ONSET_MIN_GAP_S
        if (
            is_peak
            and gap_ok
            and peak > ONSET_THRESHOLD
            and peak > baseline + 0.5 * ONSET_THRESHOLD
        ):
            self._since_onset = 0
            return True
        return False
