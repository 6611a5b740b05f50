"""Causal beats, tempo, meter and bar lines for the live path.

The same evidence as the offline path (audio.rhythm), read forwards only:
- a forward filter over the beat-pointer HMM of audio.meter (one beat per "bar": beat
  period and position) reads the network's beat activation; its current state says the
  tempo and where the next beat falls, so a beat is flagged when the audio clock reaches
  it, not one activation frame (and 32 ms of window) after it;
- the pulse is "clear" while the activation at the beats stands PULSE_RATIO above the
  activation between them (running means over a few beats): no invented beats on speech;
- when the bass sits between the filter's beats (OFFBEAT_RATIO), the grid moves half a beat;
- bar lines: the offline cues (downbeat share, bass onset, harmonic change), standardised
  with running statistics, are summed per position in the bar for 3 and for 4 beats a bar;
  the meter whose bar lines stand out more wins, with hysteresis.
"""

from __future__ import annotations

import math

import numpy as np

from audio.activation import BASS_ONSET, BEAT, DOWNBEAT, FPS
from audio.downbeats import OFFBEAT_RATIO
from audio.meter import _log_densities, bar_space
from audio.rhythm import PULSE_RATIO

BEAT_MEMORY = 16.0  # beats: time constant of the pulse and off-beat statistics (as offline)
BAR_MEMORY = 8.0  # bars: time constant of the bar-line evidence
CUE_MEMORY = 64.0  # beats: running mean/variance of each bar-line cue
START_RATIO = 2.0  # live, a pulse must be this clear to start and PULSE_RATIO clear to go on
METER_MARGIN = 0.5  # standard deviations of evidence: a new meter must be clearly better
METER_BEATS = 32  # ... and only after eight bars of four have been heard
METERS_LIVE = (3, 4)  # a new meter must beat the current one by this contrast
PEAK_FRAMES = 2  # activation peaks are looked for within this many frames of a beat
JUDGE_AT = 6  # frames after a beat starts: its peak is surely heard by then
PHASE_GAIN = 0.5  # share of a beat's timing error the grid follows (a first-order PLL)


class LiveBeats:
    """Push activation rows (50/s); ask `due(time)` at any rate whether a beat falls now."""

    def __init__(self, fps: float = FPS) -> None:
        self.fps = fps
        self._space = bar_space(1, fps)
        space = self._space
        self._transition = np.exp(space.log_transition)
        self._alpha = np.full(space.size, 1.0 / space.size)
        self._shift = np.arange(space.size) - 1
        self._recent = np.zeros((JUDGE_AT + 1, 3))  # the last activation rows
        # The filter enters a beat where the activation starts to rise; its peak (where a
        # listener hears the beat) comes a frame or two later, so measure that lag.
        self._peak_lag = _Mean(BEAT_MEMORY)
        self._grid: float | None = None  # activation frame of a beat on the phase-locked grid
        self._frames = 0
        self._on = _Mean(BEAT_MEMORY)  # total activation at the filter's beats
        self._between = _Mean(BEAT_MEMORY)  # ... and half-way between them
        self._bass_on = _Mean(BEAT_MEMORY)
        self._bass_between = _Mean(BEAT_MEMORY)
        self._next_beat = math.inf  # seconds, on the audio clock
        self.bpm = 0.0
        self.offbeat = False
        self._pulse = False
        self.bars = _BarLines()

    # --- the filter, one activation frame at a time -------------------------------------

    def push(self, rows: np.ndarray) -> None:
        for row in np.asarray(rows, dtype=np.float64).reshape(-1, 3):
            self._step(row)

    def _step(self, row: np.ndarray) -> None:
        space = self._space
        alpha = self._alpha[self._shift]
        alpha[space.first[0]] = self._alpha[space.last[0]] @ self._transition
        beat_only = np.array([[row[BEAT] + row[DOWNBEAT], 0.0]])
        density = np.exp(_log_densities(beat_only)[0])[[0, 1, 1]]  # beat states read the total
        alpha *= density[space.pointer]
        total = float(alpha.sum())
        self._alpha = alpha / total if total > 1e-300 else np.full(space.size, 1.0 / space.size)
        self._recent = np.vstack([self._recent[1:], row])
        self._frames += 1
        self._follow()

    def _follow(self) -> None:
        """Read tempo and position off the filter; update the pulse and off-beat statistics."""
        space = self._space
        per_tempo = np.bincount(space.tempo, weights=self._alpha, minlength=len(space.intervals))
        k = int(np.argmax(per_tempo))
        states = slice(space.first[0, k], space.last[0, k] + 1)
        position = int(np.argmax(self._alpha[states]))
        # The period: the posterior mean over tempi near the best one (not the argmax, which
        # hops between neighbouring integer intervals and moves the predicted beat with it).
        near = np.abs(np.log2(space.intervals / space.intervals[k])) < 0.1
        weights = per_tempo * near
        interval = float((weights * space.intervals).sum() / max(weights.sum(), 1e-12))
        self.bpm = 60.0 * self.fps / interval
        half = int(space.intervals[k]) // 2
        total = self._recent[:, BEAT] + self._recent[:, DOWNBEAT]
        bass = self._recent[:, BASS_ONSET]
        near = slice(JUDGE_AT - 2 * PEAK_FRAMES - 1, None)  # a few frames around a point
        if position == JUDGE_AT:  # the beat started JUDGE_AT frames ago: judge it
            self._on.add(total.max())
            self._bass_on.add(bass.max())
            peak = refined_peak(total)  # row 0 is the beat's first frame
            self._peak_lag.add(peak)
            self._lock(self._frames - 1 - JUDGE_AT + peak, interval)
        elif position == half + PEAK_FRAMES:  # half-way between two beats
            self._between.add(total[near].max())
            self._bass_between.add(bass[near].max())
        if self._bass_on.count >= BEAT_MEMORY:
            ratio = self._bass_between.value / max(self._bass_on.value, 1e-9)
            self.offbeat = ratio > (OFFBEAT_RATIO if not self.offbeat else 1.0)
        now = (self._frames - 1) / self.fps  # the centre of the newest activation frame
        if self._grid is None:
            lag = self._peak_lag.value if self._peak_lag.count else 0.0
            beat_frame = self._frames - 1 - position + lag
        else:  # the grid through the beats heard, where their activation peaked
            beat_frame = self._grid
        beat_frame += half if self.offbeat else 0
        frames_to_beat = beat_frame + interval - (self._frames - 1)
        while frames_to_beat > interval:
            frames_to_beat -= interval
        while frames_to_beat < -0.5 * interval:
            frames_to_beat += interval
        self._next_beat = now + frames_to_beat / self.fps

    def _lock(self, peak: float, interval: float) -> None:
        """Move the beat grid part of the way to a beat heard at frame `peak`.

        One peak is a noisy measurement of the beat (a flam, a soft attack, 20 ms frames), so
        the grid follows PHASE_GAIN of each error instead of jumping to every peak; a peak
        far from the grid (over a quarter beat) is a new phase and is taken as it is."""
        if self._grid is None:
            self._grid = peak
            return
        nearest = self._grid + round((peak - self._grid) / interval) * interval
        error = peak - nearest
        self._grid = nearest + PHASE_GAIN * error if abs(error) < 0.25 * interval else peak

    @property
    def pulse(self) -> bool:
        """A clear pulse: beats stand well above the off-beats (see PULSE_RATIO)."""
        if self._on.count < 6 or self._between.count < 6:
            return False
        ratio = START_RATIO if not self._pulse else PULSE_RATIO
        self._pulse = self._on.value >= ratio * self._between.value
        return self._pulse

    @property
    def period(self) -> float:
        return 60.0 / self.bpm if self.bpm > 0 else math.inf

    def next_beat(self) -> float:
        return self._next_beat

    def downbeat_share(self) -> float:
        recent = self._recent[-(2 * PEAK_FRAMES + 1) :]
        total = recent[:, BEAT] + recent[:, DOWNBEAT]
        return float(recent[:, DOWNBEAT].max() / (total.max() + 1e-6))

    def bass_peak(self) -> float:
        return float(self._recent[-(2 * PEAK_FRAMES + 1) :, BASS_ONSET].max())


def refined_peak(values: np.ndarray) -> float:
    """Index of the maximum, refined between frames by a parabola through its neighbours."""
    i = int(np.argmax(values))
    if 0 < i < len(values) - 1:
        left, centre, right = values[i - 1], values[i], values[i + 1]
        curve = left - 2.0 * centre + right
        if curve < -1e-12:
            return i + float(np.clip(0.5 * (left - right) / curve, -0.5, 0.5))
    return float(i)


class _Mean:
    """Exponential running mean over about `memory` samples."""

    def __init__(self, memory: float) -> None:
        self._a = 1.0 / memory
        self.value = 0.0
        self.count = 0

    def add(self, x: float) -> None:
        self.count += 1
        a = max(self._a, 1.0 / self.count)  # a plain mean until `memory` samples are in
        self.value += a * (float(x) - self.value)


class _Standard:
    """Running mean and variance of one cue, to standardise it as the offline path does."""

    def __init__(self, memory: float) -> None:
        self._mean = _Mean(memory)
        self._square = _Mean(memory)

    def __call__(self, x: float) -> float:
        self._mean.add(x)
        self._square.add(x * x)
        spread = math.sqrt(max(self._square.value - self._mean.value**2, 0.0))
        return (x - self._mean.value) / spread if spread > 1e-9 else 0.0


class _BarLines:
    """Bar-line evidence per position for 3 and 4 beats a bar; picks meter and downbeat.

    The cues are the offline ones (audio.downbeats.BeatCues); the bar-long harmonic change
    at a beat is known once the bar after it has been heard, so a beat's evidence arrives
    `beats_per_bar` beats late: the bar lines settle after a few bars and then hold.
    """

    def __init__(self) -> None:
        self._share, self._bass = _Standard(CUE_MEMORY), _Standard(CUE_MEMORY)
        self._change = {m: _Standard(CUE_MEMORY) for m in METERS_LIVE}
        self._accent = {m: np.zeros(m) for m in METERS_LIVE}  # downbeat share + bass, per slot
        self._harmony = {m: np.zeros(m) for m in METERS_LIVE}  # harmonic change, per slot
        self._slots = {m: np.zeros(m) for m in METERS_LIVE}  # their sum: the evidence
        self._history: list[tuple[int, np.ndarray]] = []  # (beat index, chroma) of recent beats
        self._count = 0  # beats on the grid since the first
        self.beats_per_bar = 4

    def add_beat(self, index: int, share: float, bass: float, chroma: np.ndarray) -> None:
        """Cues of beat `index` (on the beat grid), which just ended: its chroma ran from it
        to the next beat. Beats may skip indices (a beat missed, a gap in the pulse)."""
        share_z, bass_z = self._share(share), self._bass(bass)
        self._history.append((index, np.asarray(chroma, dtype=float)))
        del self._history[: -2 * max(METERS_LIVE)]
        self._count = max(self._count, index + 1)
        for meter in METERS_LIVE:
            _follow_slot(self._accent[meter], index % meter, share_z + bass_z)
            recent = self._history[-2 * meter :]
            if len(recent) < 2 * meter or recent[-1][0] - recent[0][0] != 2 * meter - 1:
                continue  # the harmonic change needs two whole bars of consecutive beats
            chromas = [chroma for _, chroma in recent]
            before, after = np.sum(chromas[:meter], axis=0), np.sum(chromas[meter:], axis=0)
            norm = float(np.linalg.norm(before) * np.linalg.norm(after))
            change = 1.0 - float(np.dot(before, after)) / norm if norm > 1e-9 else 0.0
            start = recent[meter][0]  # the beat where the second bar starts
            _follow_slot(self._harmony[meter], start % meter, self._change[meter](change))
        self._slots = {m: self._accent[m] + self._harmony[m] for m in METERS_LIVE}
        self._choose_meter()

    def _choose_meter(self) -> None:
        contrast = {m: _contrast(s) for m, s in self._slots.items()}
        other = 3 if self.beats_per_bar == 4 else 4
        settled = self._count >= METER_BEATS
        if settled and contrast[other] > contrast[self.beats_per_bar] + METER_MARGIN:
            self.beats_per_bar = other

    def number(self, beat_index: int) -> int:
        """1..beats_per_bar for the beat with this index (0 = the first beat heard)."""
        meter = self.beats_per_bar
        downbeat_slot = int(np.argmax(self._slots[meter]))
        return (beat_index - downbeat_slot) % meter + 1


def _follow_slot(slots: np.ndarray, slot: int, evidence: float) -> None:
    """Running mean of the evidence at one bar position, over about BAR_MEMORY bars."""
    slots[slot] += (evidence - slots[slot]) / BAR_MEMORY


def _contrast(slots: np.ndarray) -> float:
    """How far the strongest bar position stands above the others (in evidence units)."""
    best = int(np.argmax(slots))
    return float(slots[best] - np.delete(slots, best).mean())
