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
        self._last_peak: int | None = None  # activation frame of the last beat's peak
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
            self._peak_lag.add(float(np.argmax(total)))  # row 0 is the beat's first frame
            self._last_peak = self._frames - 1 - JUDGE_AT + int(np.argmax(total))
        elif position == half + PEAK_FRAMES:  # half-way between two beats
            self._between.add(total[near].max())
            self._bass_between.add(bass[near].max())
        if self._bass_on.count >= BEAT_MEMORY:
            ratio = self._bass_between.value / max(self._bass_on.value, 1e-9)
            self.offbeat = ratio > (OFFBEAT_RATIO if not self.offbeat else 1.0)
        now = (self._frames - 1) / self.fps  # the centre of the newest activation frame
        if self._last_peak is None:
            lag = self._peak_lag.value if self._peak_lag.count else 0.0
            beat_frame = self._frames - 1 - position + lag
        else:  # the last beat heard, where its activation peaked
            beat_frame = float(self._last_peak)
        beat_frame += half if self.offbeat else 0
        frames_to_beat = beat_frame + interval - (self._frames - 1)
        while frames_to_beat > interval:
            frames_to_beat -= interval
        while frames_to_beat < -0.5 * interval:
            frames_to_beat += interval
        self._next_beat = now + frames_to_beat / self.fps

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
        self._slots = {m: np.zeros(m) for m in METERS_LIVE}
        self._history: list[tuple[float, float, np.ndarray]] = []  # (share z, bass z, chroma)
        self._count = 0  # beats counted since the start
        self.beats_per_bar = 4

    def add_beat(self, share: float, bass: float, chroma: np.ndarray) -> None:
        """Cues of the beat that just ended (its chroma ran from it to the next beat)."""
        self._history.append((self._share(share), self._bass(bass), np.asarray(chroma, float)))
        del self._history[: -2 * max(METERS_LIVE) - 1]
        self._count += 1
        for meter, slots in self._slots.items():
            if len(self._history) < 2 * meter:
                continue
            chromas = [h[2] for h in self._history[-2 * meter :]]
            before, after = np.sum(chromas[:meter], axis=0), np.sum(chromas[meter:], axis=0)
            norm = float(np.linalg.norm(before) * np.linalg.norm(after))
            change = 1.0 - float(np.dot(before, after)) / norm if norm > 1e-9 else 0.0
            share_z, bass_z, _ = self._history[-meter]  # the beat where that bar starts
            index = self._count - meter  # its beat index
            evidence = share_z + bass_z + self._change[meter](change)
            slots[index % meter] += (evidence - slots[index % meter]) / BAR_MEMORY
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


def _contrast(slots: np.ndarray) -> float:
    """How far the strongest bar position stands above the others (in evidence units)."""
    best = int(np.argmax(slots))
    return float(slots[best] - np.delete(slots, best).mean())
