"""Beat phase and bar lines from several kinds of evidence, one value per beat.

The network's downbeat output alone is a weak cue (a causal model hears a bar start
only as it happens). Bars in most music start where three things coincide, each a
standard cue in the downbeat literature (Goto 2001; Papadopoulos & Peeters 2011;
Durand, Bello, David, Richard 2016):
- the network's downbeat share (downbeat / (beat + downbeat)) at the beat,
- a low-frequency onset (kick, bass note) at the beat,
- a harmonic change: the chroma of the bar that would start at this beat differs from
  the chroma of the bar before it (chords change with the bar; a wrong phase straddles
  two chords, so neighbouring "bars" sound alike). This cue depends on the meter.
Each is standardised over the song and the three are summed with equal weight (no
weight is fitted to any song). A beat-level HMM then walks the bar positions, stepping
one position per beat with a small chance of a phase jump (a 2/4 bar in a 4/4 song), and
the meter whose bar lines stand out most clearly wins.

`offbeat_shift` handles the other common failure: a grid locked to the off-beats
(a reggae or ska skank, off-beat hi-hats) when the kick and bass sit between its beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OFFBEAT_RATIO = 1.5  # bass onsets this much stronger half-way between beats: shift the grid
PHASE_JUMP = 0.01  # per beat: chance that the bar position jumps (a bar of another length)
METERS = (3, 4)


def local_peak(values: np.ndarray, frames: np.ndarray, radius: int = 2) -> np.ndarray:
    """The largest value within `radius` frames of each frame index."""
    if len(values) == 0:
        return np.zeros(len(frames))
    offsets = np.arange(-radius, radius + 1)
    index = np.clip(np.asarray(frames, dtype=int)[:, None] + offsets, 0, len(values) - 1)
    return values[index].max(axis=1)


def offbeat_shift(beats: np.ndarray, bass_onset: np.ndarray, fps: float) -> np.ndarray:
    """Move the grid half a beat when the bass clearly plays between the beats, not on them."""
    if len(beats) < 8:
        return beats
    on = local_peak(bass_onset, np.round(beats[:-1] * fps)).mean()
    middles = 0.5 * (beats[:-1] + beats[1:])
    between = local_peak(bass_onset, np.round(middles * fps)).mean()
    if between <= OFFBEAT_RATIO * max(on, 1e-9):
        return beats
    half = 0.5 * (beats[-1] - beats[-2])
    return np.r_[middles, beats[-1] + half]


def beat_chroma(chroma: np.ndarray, chroma_rate: float, beats: np.ndarray) -> np.ndarray:
    """(len(beats), 12) mean chroma from each beat to the next (the last to the end)."""
    frames = np.clip(np.round(beats * chroma_rate).astype(int), 0, max(len(chroma) - 1, 0))
    ends = np.r_[frames[1:], len(chroma)]
    rows = [chroma[a : max(b, a + 1)].mean(axis=0) for a, b in zip(frames, ends, strict=True)]
    return np.asarray(rows) if rows else np.zeros((0, 12))


def bar_change(per_beat_chroma: np.ndarray, beats_per_bar: int) -> np.ndarray:
    """Cosine distance between the bar-long chroma after each beat and the bar-long one before."""
    m, n = beats_per_bar, len(per_beat_chroma)
    change = np.zeros(n)
    if n < 2 * m + 1:
        return change
    sums = np.vstack([np.zeros(12), np.cumsum(per_beat_chroma, axis=0)])
    index = np.arange(m, n - m + 1)
    after = sums[index + m] - sums[index]
    before = sums[index] - sums[index - m]
    norms = np.linalg.norm(after, axis=1) * np.linalg.norm(before, axis=1)
    cosine = np.where(norms > 1e-9, (after * before).sum(axis=1) / np.maximum(norms, 1e-9), 1.0)
    change[index] = 1.0 - cosine
    return change


@dataclass(frozen=True)
class BeatCues:
    """What each beat offers as evidence of a bar start (see the module docstring)."""

    share: np.ndarray  # network's downbeat / (beat + downbeat) at the beat
    bass: np.ndarray  # low-frequency onset at the beat
    chroma: np.ndarray  # (beats, 12) mean chroma from each beat to the next

    def evidence(self, beats_per_bar: int) -> np.ndarray:
        change = bar_change(self.chroma, beats_per_bar)
        return _standard(self.share) + _standard(self.bass) + _standard(change)


def beat_cues(
    beats: np.ndarray,
    activation: np.ndarray,
    fps: float,
    chroma: np.ndarray,
    chroma_rate: float,
) -> BeatCues:
    frames = np.round(beats * fps)
    total = activation[:, 0] + activation[:, 1]
    share = local_peak(activation[:, 1], frames) / (local_peak(total, frames) + 1e-6)
    bass = local_peak(activation[:, 2], frames)
    return BeatCues(share, bass, beat_chroma(chroma, chroma_rate, beats))


def _standard(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 1e-9 else np.zeros(len(values))


def bar_positions(evidence: np.ndarray, beats_per_bar: int) -> np.ndarray:
    """0-based position in the bar for each beat: Viterbi over positions, one step per beat."""
    n, m = len(evidence), beats_per_bar
    log_t = np.full((m, m), np.log(PHASE_JUMP / (m - 1)))
    log_t[np.arange(m), (np.arange(m) + 1) % m] = np.log(1.0 - PHASE_JUMP)
    score = np.where(np.arange(m) == 0, evidence[0], 0.0)
    back = np.zeros((n, m), dtype=int)
    for t in range(1, n):
        candidates = score[:, None] + log_t
        back[t] = candidates.argmax(axis=0)
        score = candidates.max(axis=0) + np.where(np.arange(m) == 0, evidence[t], 0.0)
    path = np.zeros(n, dtype=int)
    path[-1] = int(np.argmax(score))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def choose_bars(cues: BeatCues | np.ndarray, meters=METERS) -> tuple[int, np.ndarray]:
    """(beats_per_bar, beat numbers 1..N): the meter whose bar lines stand out most.

    `cues` may also be one evidence value per beat, used for every meter."""
    best: tuple[float, int, np.ndarray] | None = None
    n = len(cues.share) if isinstance(cues, BeatCues) else len(cues)
    for meter in meters:
        if n < 2 * meter:
            continue
        evidence = cues.evidence(meter) if isinstance(cues, BeatCues) else np.asarray(cues)
        positions = bar_positions(evidence, meter)
        first = positions == 0
        contrast = float(evidence[first].mean() - evidence[~first].mean())
        if best is None or contrast > best[0]:
            best = (contrast, meter, positions)
    if best is None:
        return 4, (np.arange(n) % 4) + 1
    return best[1], best[2] + 1
