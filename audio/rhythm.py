"""Offline rhythm of a whole song: beats, bar lines, meter and tempo, from the activation.

Steps, each its own idea:
1. `audio.meter.track_bars`: the bar-pointer HMM decodes a beat grid from the network's
   beat/downbeat activation (Viterbi, whole song);
2. `audio.downbeats.offbeat_shift`: a grid on the off-beats moves onto the bass;
3. no pulse, no beats: when the activation at the beats is not PULSE_RATIO times the
   activation between them over the song, it is speech, whale song or a drone, not a beat;
   inside a song, stretches where the beats stand no higher than the off-beats (over
   PULSE_BEATS beats: an ambient intro, a break) lose their beats;
4. `audio.downbeats.choose_bars`: meter and bar lines from the evidence at each beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audio.activation import FPS
from audio.downbeats import beat_cues, choose_bars, local_peak, offbeat_shift
from audio.meter import track_bars

PULSE_RATIO = 1.5  # over a song, beat peaks must stand this far above the off-beats
LOCAL_PULSE_RATIO = 1.0  # ... and locally at least as high as the off-beats
PULSE_BEATS = 16  # judged over this many beats around each beat
MIN_BEATS = 8  # fewer clear beats than this is no pulse at all
TEMPO_BEATS = 8  # the local tempo is the median interval over this many beats


@dataclass(frozen=True)
class Rhythm:
    beats: np.ndarray  # seconds
    numbers: np.ndarray  # 1..beats_per_bar per beat (1 = downbeat)
    beats_per_bar: int  # 0 without beats
    tempo: float  # BPM of the whole song (median beat interval), 0 without beats
    tempo_times: np.ndarray  # local tempo at each beat ...
    tempo_bpm: np.ndarray  # ... in BPM

    @property
    def downbeats(self) -> np.ndarray:
        return self.beats[self.numbers == 1]


NO_RHYTHM = Rhythm(np.zeros(0), np.zeros(0, int), 0, 0.0, np.zeros(0), np.zeros(0))


def analyse_rhythm(
    activation: np.ndarray, chroma: np.ndarray, chroma_rate: float, fps: float = FPS
) -> Rhythm:
    """Beats, bars and tempo for a whole song's (n, 3) activation and its chroma."""
    track = track_bars(activation[:, :2], fps)
    if track is None or len(track.beats) < MIN_BEATS:
        return NO_RHYTHM
    peaks, between = pulse_strength(track.beats, activation, fps)
    if peaks.mean() < PULSE_RATIO * between.mean():
        return NO_RHYTHM
    unclear = _local_mean(peaks) < LOCAL_PULSE_RATIO * _local_mean(between)
    beats = track.beats[~_long_runs(unclear, PULSE_BEATS // 2)]
    beats = offbeat_shift(beats, activation[:, 2], fps)
    if len(beats) < MIN_BEATS:
        return NO_RHYTHM
    meter, numbers = choose_bars(beat_cues(beats, activation, fps, chroma, chroma_rate))
    times, bpm = local_tempo(beats)
    return Rhythm(beats, numbers, meter, float(60.0 / np.median(np.diff(beats))), times, bpm)


def pulse_strength(
    beats: np.ndarray, activation: np.ndarray, fps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Activation peak at each beat, and half-way to the next beat."""
    total = activation[:, 0] + activation[:, 1]
    peaks = local_peak(total, np.round(beats * fps))
    middles = np.r_[0.5 * (beats[:-1] + beats[1:]), beats[-1] + 0.5 * (beats[-1] - beats[-2])]
    return peaks, local_peak(total, np.round(middles * fps))


def _long_runs(mask: np.ndarray, length: int) -> np.ndarray:
    """`mask` kept only where it is True for `length` values in a row: a stretch without a
    pulse loses its beats, but a lone unclear beat (or every other one) does not."""
    out = np.zeros(len(mask), dtype=bool)
    start = None
    for i, value in enumerate(np.r_[mask, False]):
        if value and start is None:
            start = i
        elif not value and start is not None:
            if i - start >= length:
                out[start:i] = True
            start = None
    return out


def _local_mean(values: np.ndarray) -> np.ndarray:
    """Mean over the PULSE_BEATS values centred on each (fewer at the ends)."""
    sums = np.r_[0.0, np.cumsum(values)]
    index = np.arange(len(values))
    lo = np.clip(index - PULSE_BEATS // 2, 0, len(values))
    hi = np.clip(index + PULSE_BEATS // 2 + 1, 0, len(values))
    return (sums[hi] - sums[lo]) / (hi - lo)


def local_tempo(beats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tempo at each beat: 60 / the median of the intervals around it (robust to one odd beat)."""
    intervals = np.diff(beats)
    if len(intervals) == 0:
        return np.zeros(0), np.zeros(0)
    half = TEMPO_BEATS // 2
    padded = np.pad(intervals, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, TEMPO_BEATS + 1)
    local = np.median(windows, axis=1)[: len(intervals)]
    return beats[:-1], 60.0 / local
