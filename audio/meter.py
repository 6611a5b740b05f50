"""Beats, downbeats and meter from the learned activation: a bar-pointer model (HMM).

The state is where we are in the bar: which beat (1..beats_per_bar), the beat period
(one of the integer frame intervals between MIN_BPM and MAX_BPM) and the position inside
that beat (Whiteley, Cemgil, Godsill 2006; the discrete state space of Krebs, Böck,
Widmer 2015, as madmom uses it). The position advances one frame per frame; only when a
beat ends may the period change, with a probability that falls off exponentially with the
tempo ratio (TRANSITION_LAMBDA), so the tracker holds its tempo through fills and breaks
but can follow a real change. The activation (audio.activation) says how likely a beat or
a downbeat is in each frame; states at the start of a beat read it.

- Offline (`track_bars`): Viterbi over the whole song for 3 and for 4 beats a bar; the
  meter whose best path is more likely wins.
- Live (`BarFilter`): the same model run forwards only (a normalised forward filter),
  causal, for both meters; the next beat is predicted from the current state, so beats
  are flagged on time rather than a frame after they are heard.

The metrical level the model settles on is the one the network was trained to tap (human
beat annotations), with a broad perceptual prior on top (log-normal around PRIOR_BPM,
Parncutt / van Noorden & Moelants' resonance near 120 BPM), so a real half-or-double
ambiguity is decided by evidence, not by a fixed range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from audio.activation import FPS

MIN_BPM, MAX_BPM = 55.0, 215.0
METERS = (3, 4)
TRANSITION_LAMBDA = 100.0  # madmom's default: tempo changes are rare and small
OBSERVATION_LAMBDA = 16  # the first 1/16 of a beat is "at the beat"
PRIOR_BPM, PRIOR_OCTAVES = 120.0, 1.0  # broad preference for moderate tempi, per beat
PRIOR_WEIGHT = 1.0
ACTIVITY_THRESHOLD = 0.05  # offline: decode from the first to the last frame above this


@dataclass(frozen=True)
class BarSpace:
    """The flattened state space for one meter; state s = (beat, interval, position)."""

    beats_per_bar: int
    intervals: np.ndarray  # (K,) beat periods in frames
    first: np.ndarray  # (B, K) state index of position 0 of each (beat, interval)
    last: np.ndarray  # (B, K) state index of the last position
    beat: np.ndarray  # (S,) beat in bar, 0-based
    tempo: np.ndarray  # (S,) index into intervals
    position: np.ndarray  # (S,) frames since the beat started
    pointer: np.ndarray  # (S,) 0 no beat, 1 beat, 2 downbeat (which activation a state reads)
    log_transition: np.ndarray  # (K, K) from interval k to interval k' at a beat boundary

    @property
    def size(self) -> int:
        return len(self.beat)


@lru_cache(maxsize=8)
def bar_space(beats_per_bar: int, fps: float = FPS) -> BarSpace:
    """Build (and cache) the state space for `beats_per_bar` beats at `fps` frames/s."""
    intervals = np.arange(
        int(math.floor(60.0 * fps / MAX_BPM)), int(math.ceil(60.0 * fps / MIN_BPM)) + 1
    )
    per_beat = int(intervals.sum())
    first = np.zeros((beats_per_bar, len(intervals)), dtype=np.int64)
    beat, tempo, position = [], [], []
    offset = 0
    for b in range(beats_per_bar):
        for k, interval in enumerate(intervals):
            first[b, k] = offset
            beat.append(np.full(interval, b))
            tempo.append(np.full(interval, k))
            position.append(np.arange(interval))
            offset += interval
    assert offset == per_beat * beats_per_bar
    beat_a, tempo_a, position_a = (np.concatenate(x) for x in (beat, tempo, position))
    at_beat = position_a < intervals[tempo_a] / OBSERVATION_LAMBDA
    pointer = np.where(at_beat, np.where(beat_a == 0, 2, 1), 0)
    ratio = intervals[None, :] / intervals[:, None]
    log_t = -TRANSITION_LAMBDA * np.abs(ratio - 1.0)
    bpm = 60.0 * fps / intervals
    log_t += PRIOR_WEIGHT * -0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES)[None, :] ** 2
    log_t -= np.log(np.exp(log_t).sum(axis=1, keepdims=True))
    return BarSpace(
        beats_per_bar=beats_per_bar,
        intervals=intervals,
        first=first,
        last=first + intervals[None, :] - 1,
        beat=beat_a,
        tempo=tempo_a,
        position=position_a,
        pointer=pointer,
        log_transition=log_t,
    )


def _log_densities(activation: np.ndarray) -> np.ndarray:
    """(n, 2) [beat, downbeat] -> (n, 3) log densities for pointers 0, 1, 2."""
    act = np.clip(activation.astype(np.float64), 1e-7, 1.0)
    none = np.clip(1.0 - act.sum(axis=1), 1e-7, 1.0) / (OBSERVATION_LAMBDA - 1)
    return np.log(np.column_stack([none, act[:, 0], act[:, 1]]))


@dataclass(frozen=True)
class BarTrack:
    """Beats (s), their number in the bar (1 = downbeat), the meter and the path's log-likelihood."""

    beats: np.ndarray
    numbers: np.ndarray
    beats_per_bar: int
    log_likelihood: float

    @property
    def downbeats(self) -> np.ndarray:
        return self.beats[self.numbers == 1]


def viterbi(activation: np.ndarray, space: BarSpace) -> tuple[np.ndarray, float]:
    """Most likely state path (n,) and its log-likelihood for (n, 2) activations."""
    log_obs = _log_densities(activation)
    n, size = len(log_obs), space.size
    shift = np.arange(size) - 1  # non-first states come from the state before them
    previous_beat = np.roll(np.arange(space.beats_per_bar), 1)  # beat b follows beat b-1
    delta = np.full(size, -math.log(size)) + log_obs[0, space.pointer]
    # One byte per (frame, beat, tempo) while tempi fit (memory: ~30 MB per hour of 4/4).
    index_type = np.uint8 if len(space.intervals) <= 256 else np.int16
    back = np.zeros((n, space.beats_per_bar, len(space.intervals)), dtype=index_type)
    total = 0.0
    for t in range(1, n):
        new = delta[shift]
        # (B, K_from, K_to): come from the last position of the previous beat's interval k.
        ends = delta[space.last[previous_beat]][:, :, None] + space.log_transition[None]
        best_from = np.argmax(ends, axis=1)
        back[t] = best_from
        new[space.first] = np.take_along_axis(ends, best_from[:, None, :], axis=1)[:, 0, :]
        delta = new + log_obs[t, space.pointer]
        peak = float(delta.max())
        delta -= peak
        total += peak
    path = np.empty(n, dtype=np.int64)
    state = int(np.argmax(delta))
    total += float(delta[state])
    for t in range(n - 1, -1, -1):
        path[t] = state
        if t == 0:
            break
        if space.position[state] > 0:
            state -= 1
        else:
            b, k = space.beat[state], space.tempo[state]
            state = int(space.last[previous_beat[b], back[t, b, k]])
    return path, total


def track_bars(activation: np.ndarray, fps: float = FPS, meters=METERS) -> BarTrack | None:
    """Offline beats and downbeats for the whole activation; None when nothing is active."""
    active = np.flatnonzero(activation.sum(axis=1) > ACTIVITY_THRESHOLD)
    if len(active) < 2:
        return None
    lo, hi = int(active[0]), int(active[-1]) + 1
    segment = activation[lo:hi]
    best: BarTrack | None = None
    for meter in meters:
        space = bar_space(meter, fps)
        path, log_likelihood = viterbi(segment, space)
        beats, numbers = _beats_from_path(path, segment, space)
        if best is None or log_likelihood > best.log_likelihood:
            best = BarTrack((beats + lo) / fps, numbers, meter, log_likelihood)
    return best


def _beats_from_path(
    path: np.ndarray, activation: np.ndarray, space: BarSpace
) -> tuple[np.ndarray, np.ndarray]:
    """One beat per stretch of the path at a beat: its strongest activation frame (madmom's
    'correct' step), numbered by the beat-in-bar of the path there."""
    at_beat = space.pointer[path] >= 1
    edges = np.flatnonzero(np.diff(at_beat.astype(np.int8))) + 1
    if at_beat[0]:
        edges = np.r_[0, edges]
    if at_beat[-1]:
        edges = np.r_[edges, len(at_beat)]
    frames, numbers = [], []
    for left, right in edges.reshape(-1, 2):
        peak = left + int(np.argmax(activation[left:right].max(axis=1)))
        frames.append(peak)
        numbers.append(int(space.beat[path[left]]) + 1)
    return np.asarray(frames, dtype=float), np.asarray(numbers, dtype=int)
