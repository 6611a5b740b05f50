"""Tempo and beats from the onset-strength envelope, offline (dynamic programming) and live.

Both trackers read the same envelope (`Conditioned.strength`, one value per ~10 ms frame)
and the same tempo estimate (`tempo_salience` + `fix_octave`):

- Tempo: autocorrelation of a few seconds of envelope, scored at every candidate period
  of 60-200 BPM together with its multiples (so the peak is sharp), weighted by a broad
  prior around 120 BPM. Octave errors are then settled by the beat grid itself: if the
  points half-way between beats are nearly as strong as the beats, the tempo is doubled;
  if every other beat is weak, it is halved.
- Offline: local tempo every second on a 6 s window, smoothed by a Viterbi path over
  tempo, then Ellis' dynamic-programming beat tracker with that time-varying period.
- Live (`BeatTracker`): the same tempo estimate every 0.25 s on the last 6 s, and a comb
  over the last few beats that says where the beat falls; beats are flagged when the
  audio clock reaches the predicted time, so visuals land on the beat, not after it.
"""

from __future__ import annotations

import math

import numpy as np

from audio.spectral import EVENT_DELAY, FRAME_RATE

MIN_BPM, MAX_BPM = 60.0, 200.0
PRIOR_BPM, PRIOR_OCTAVES = 120.0, 1.2
WINDOW_S = 6.0
BPM_GRID = np.exp(np.linspace(math.log(MIN_BPM), math.log(MAX_BPM), 241))
DOUBLE_RATIO = 0.65  # half-way strength / beat strength above this -> double the tempo
HALVE_RATIO = 0.35  # weak-beat strength / strong-beat strength below this -> halve it
MIN_SALIENCE = 0.1  # autocorrelation peak below this: no steady pulse (silence, noise)
# The live tracker judges 6 s at a time, where speech or whale song can look briefly
# periodic: it needs a clearer pulse to start (0.15; speech peaks near 0.12, steady music
# reads 0.2-0.9) and lets go only when the pulse has clearly gone (below 0.08).
LIVE_START_SALIENCE, LIVE_STOP_SALIENCE = 0.15, 0.08


def tempo_salience(envelope: np.ndarray) -> np.ndarray:
    """Pulse strength for each tempo in BPM_GRID (0..1), from the envelope's autocorrelation."""
    env = np.asarray(envelope, dtype=np.float64)
    env = env - env.mean()
    n = len(env)
    energy = float(np.dot(env, env))
    if n < 2 * FRAME_RATE or energy <= 1e-12:
        return np.zeros(len(BPM_GRID))
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(env, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[:n]
    # Unbiased: each lag is an average over the overlap, so long lags are not penalised.
    acf = acf / (n - np.arange(n)) * n / energy
    lags = 60.0 * FRAME_RATE / BPM_GRID
    score = np.zeros(len(BPM_GRID))
    weight = 0.0
    for multiple, w in ((1, 1.0), (2, 0.5), (3, 0.33), (4, 0.25)):
        at = lags * multiple
        usable = at < n * 0.6
        score += w * np.where(usable, np.interp(at, np.arange(n), acf), 0.0)
        weight += w
    prior = np.exp(-0.5 * (np.log2(BPM_GRID / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    return np.clip(score / weight, 0.0, None) * prior


def best_tempo(envelope: np.ndarray, min_salience: float = MIN_SALIENCE) -> float:
    """The most salient tempo with octave errors fixed, or 0.0 when there is no pulse."""
    salience = tempo_salience(envelope)
    if salience.max() < min_salience:
        return 0.0
    return fix_octave(envelope, float(BPM_GRID[int(np.argmax(salience))]))


def beat_phase_strengths(envelope: np.ndarray, bpm: float) -> tuple[float, float, float, float]:
    """Mean envelope on the best beat grid, half-way between, on even and on odd beats."""
    period = 60.0 * FRAME_RATE / bpm
    n = len(envelope)
    count = int(n // period)
    if count < 4:
        return 1.0, 0.0, 1.0, 1.0
    peak = _local_max(envelope, 2)
    best_phase, best = 0.0, -1.0
    for phase in np.arange(0.0, period, 1.0):
        points = (phase + period * np.arange(count)).astype(int)
        value = float(peak[points[points < n]].mean())
        if value > best:
            best_phase, best = phase, value
    points = best_phase + period * np.arange(count)
    on = peak[np.clip(points.astype(int), 0, n - 1)]
    half = peak[np.clip((points + period / 2).astype(int), 0, n - 1)]
    # Compare even and odd beats counted from the end so partial bars do not matter.
    return float(on.mean()), float(half.mean()), float(on[::2].mean()), float(on[1::2].mean())


def fix_octave(envelope: np.ndarray, bpm: float) -> float:
    """Double or halve `bpm` when the beat grid says the pulse is at another metrical level."""
    on, half, even, odd = beat_phase_strengths(envelope, bpm)
    if on <= 0:
        return bpm
    if bpm * 2 <= MAX_BPM and half / on > DOUBLE_RATIO:
        return bpm * 2
    if bpm / 2 >= MIN_BPM and min(even, odd) / max(even, odd, 1e-9) < HALVE_RATIO:
        return bpm / 2
    return bpm


def _local_max(x: np.ndarray, radius: int) -> np.ndarray:
    padded = np.pad(x, radius, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1)
    return windows.max(axis=1)


# --- Offline -----------------------------------------------------------------------------


def tempo_curve(envelope: np.ndarray, step_s: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Local tempo (times, bpm) every `step_s`, smoothed by a Viterbi path over the BPM grid."""
    n = len(envelope)
    half = int(WINDOW_S * FRAME_RATE / 2)
    step = max(1, int(step_s * FRAME_RATE))
    centres = np.arange(0, max(n, 1), step)
    if n < 2 * FRAME_RATE:
        return centres / FRAME_RATE, np.zeros(len(centres))
    salience = np.stack(
        [tempo_salience(envelope[max(0, c - half) : min(n, c + half)]) for c in centres]
    )
    global_bpm = best_tempo(envelope)
    if global_bpm == 0.0:
        return centres / FRAME_RATE, np.zeros(len(centres))
    # Keep the path in the global octave: a local window may prefer the double or the half.
    octave_pull = np.exp(-0.5 * (np.log2(BPM_GRID / global_bpm) / 0.4) ** 2)
    log_score = np.log(salience * (0.2 + octave_pull) + 1e-6)
    path = _viterbi(log_score, jump_cost=30.0)
    bpm = BPM_GRID[path]
    quiet = salience.max(axis=1) < MIN_SALIENCE * 0.5
    bpm = np.where(quiet, global_bpm, bpm)
    return centres / FRAME_RATE, bpm


def _viterbi(log_score: np.ndarray, jump_cost: float) -> np.ndarray:
    """Best path through (steps, states); moving between states costs jump_cost * d(log2 bpm)^2."""
    log_bpm = np.log2(BPM_GRID)
    transition = -jump_cost * (log_bpm[:, None] - log_bpm[None, :]) ** 2
    total = log_score[0].copy()
    back = np.zeros(log_score.shape, dtype=int)
    for step in range(1, len(log_score)):
        candidates = total[:, None] + transition
        back[step] = np.argmax(candidates, axis=0)
        total = candidates[back[step], np.arange(len(total))] + log_score[step]
    path = np.zeros(len(log_score), dtype=int)
    path[-1] = int(np.argmax(total))
    for step in range(len(log_score) - 1, 0, -1):
        path[step - 1] = back[step, path[step]]
    return path


def track_beats(
    envelope: np.ndarray, times: np.ndarray, bpm_times: np.ndarray, bpm: np.ndarray
) -> np.ndarray:
    """Beat times (seconds) by dynamic programming (Ellis 2007) with a time-varying period."""
    n = len(envelope)
    if n < 2 * FRAME_RATE or not np.any(bpm > 0):
        return np.zeros(0)
    local_bpm = np.interp(np.arange(n) / FRAME_RATE, bpm_times, np.where(bpm > 0, bpm, 120.0))
    period = 60.0 * FRAME_RATE / local_bpm
    std = float(envelope.std())
    if std <= 1e-9:
        return np.zeros(0)
    onset = envelope / std
    score = onset.copy()
    back = np.full(n, -1)
    tightness = 100.0
    for t in range(n):
        p = period[t]
        lo, hi = int(t - 2.0 * p), int(t - 0.5 * p)
        if hi < 0:
            continue
        lo = max(lo, 0)
        prev = np.arange(lo, hi + 1)
        gain = score[prev] - tightness * np.log((t - prev) / p) ** 2
        best = int(np.argmax(gain))
        if gain[best] > 0:
            score[t] = onset[t] + gain[best]
            back[t] = prev[best]
    # End on the best-scoring frame within the last beat.
    last_p = int(period[-1])
    tail = np.arange(max(0, n - last_p), n)
    local = score[tail]
    candidates = tail[local >= 0.5 * local.max()] if local.max() > 0 else tail[-1:]
    t = int(candidates[np.argmax(onset[candidates])])
    beats = []
    while t >= 0:
        beats.append(t)
        t = back[t]
    frames = np.asarray(beats[::-1])
    # Drop beats in silent stretches at either end (the DP happily walks through silence).
    peaks = _local_max(envelope, 3)[frames]
    strong = peaks > 0.05 * max(float(np.percentile(peaks, 90)), 1e-9)
    if np.any(strong):
        first, last = np.flatnonzero(strong)[[0, -1]]
        frames = frames[first : last + 1]
    return times[frames] - EVENT_DELAY


def downbeat_phase(
    beat_frames: np.ndarray, low_flux: np.ndarray, chroma: np.ndarray, beats_per_bar: int = 4
) -> int:
    """Which beat of the bar (0..3 counted from the first beat) is the downbeat.

    Bars start where the bass hits and the harmony changes; score each phase by the low
    flux at its beats plus the chroma change across them.
    """
    if len(beat_frames) < beats_per_bar * 2:
        return 0
    scores = downbeat_evidence(beat_frames, low_flux, chroma)
    totals = [scores[p::beats_per_bar].mean() for p in range(beats_per_bar)]
    return int(np.argmax(totals))


def downbeat_evidence(
    beat_frames: np.ndarray, low_flux: np.ndarray, chroma: np.ndarray
) -> np.ndarray:
    """Per-beat evidence that a bar starts there (bass onset + harmonic change)."""
    frames = np.clip(beat_frames.astype(int), 0, len(low_flux) - 1)
    bass = _local_max(low_flux, 3)[frames]
    bass = bass / max(float(bass.max()), 1e-9)
    change = np.zeros(len(frames))
    for i in range(1, len(frames) - 1):
        before = chroma[frames[i - 1] : frames[i]].mean(axis=0)
        after = chroma[frames[i] : frames[i + 1]].mean(axis=0)
        change[i] = 1.0 - _cosine(before, after)
    change = change / max(float(change.max()), 1e-9)
    return bass + change


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b)) / norm if norm > 1e-12 else 1.0


# --- Live -----------------------------------------------------------------------------


class BeatTracker:
    """Causal beat tracker: push one envelope value per frame, get beat flags back.

    Memory is bounded by the 6 s envelope window. The tempo is re-estimated every 0.25 s
    and only switches after two estimates agree, so one odd window does not derail it.
    """

    def __init__(self) -> None:
        self._size = int(WINDOW_S * FRAME_RATE)
        self._env = np.zeros(self._size)
        self._filled = 0
        self._frames = 0
        self.bpm = 0.0
        self._candidate = 0.0
        self._last_beat_time = -1e9
        self.beat_count = 0
        self.phase = 0.0  # 0..1 inside the current beat
        self._next_beat = math.inf

    def push(self, strength: float, time: float, silent: bool = False) -> bool:
        """Add one frame; True when this frame is (the nearest frame to) a beat."""
        self._env = np.roll(self._env, -1)
        self._env[-1] = strength
        self._filled = min(self._filled + 1, self._size)
        self._frames += 1
        if self._frames % int(FRAME_RATE / 4) == 0 and self._filled >= 2 * FRAME_RATE:
            self._update_tempo()
        if self.bpm <= 0:
            self.phase = 0.0
            return False
        period_s = 60.0 / self.bpm
        self._next_beat = self._predict_next(time, period_s)
        since = time - self._last_beat_time
        half_frame = 0.5 / FRAME_RATE
        is_beat = (
            (time + half_frame >= self._next_beat and since >= 0.6 * period_s and not silent)
            or since >= 1.6 * period_s
            and self._pulse_alive()
        )
        if is_beat:
            self._last_beat_time = time
            self.beat_count += 1
        self.phase = min(max((time - self._last_beat_time) / period_s, 0.0), 0.999)
        return is_beat

    def _update_tempo(self) -> None:
        env = self._env[-self._filled :]
        threshold = LIVE_STOP_SALIENCE if self.bpm > 0 else LIVE_START_SALIENCE
        bpm = best_tempo(env, threshold)
        if bpm == 0.0:
            self._candidate = 0.0
            self.bpm = 0.0
            return
        if self.bpm > 0:
            # Stay in the current octave when the new estimate is just its double or half.
            for factor in (2.0, 0.5):
                if abs(math.log2(bpm * factor / self.bpm)) < 0.06:
                    bpm *= factor
        if self.bpm > 0 and abs(math.log2(bpm / self.bpm)) < 0.03:
            self.bpm = 0.7 * self.bpm + 0.3 * bpm
        elif self._candidate > 0 and abs(math.log2(bpm / self._candidate)) < 0.04:
            self.bpm = bpm
        self._candidate = bpm  # a start (or a jump) needs two estimates in a row to agree

    def _predict_next(self, time: float, period_s: float) -> float:
        """Where the next beat falls (audio clock), from a comb over the last 4 beats."""
        period = period_s * FRAME_RATE
        env = self._env[-self._filled :]
        n = len(env)
        lags = np.arange(int(period))
        score = np.zeros(len(lags))
        for k, weight in enumerate((1.0, 0.8, 0.6, 0.4)):
            idx = n - 1 - lags - int(round(k * period))
            ok = idx >= 1
            score[ok] += weight * np.maximum(env[idx[ok]], env[idx[ok] - 1])
        since_last = int(np.argmax(score))  # frames since the last beat, in envelope time
        last_beat = time - since_last / FRAME_RATE - EVENT_DELAY
        next_beat = last_beat + period_s
        while next_beat < time - 0.5 * period_s:
            next_beat += period_s
        return next_beat

    def _pulse_alive(self) -> bool:
        recent = self._env[-int(2 * FRAME_RATE) :]
        return float(recent.max()) > 0.2
