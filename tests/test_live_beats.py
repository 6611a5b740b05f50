"""The live tracker's phase lock and bar counting, on exact synthetic inputs."""

from __future__ import annotations

import numpy as np

from audio.live_beats import LiveBeats, _BarLines, refined_peak


def test_refined_peak_finds_the_top_of_a_parabola_between_frames():
    x = np.arange(7, dtype=float)
    values = 1.0 - (x - 3.3) ** 2 / 10.0
    assert abs(refined_peak(values) - 3.3) < 1e-9
    assert refined_peak(np.array([0.0, 0.0, 1.0])) == 2.0  # a peak at the edge stays put


def test_phase_lock_averages_out_jittery_peaks():
    beats = LiveBeats()
    rng = np.random.default_rng(0)
    interval, truth = 25.0, 10.0
    raw_errors, grid_errors = [], []
    for k in range(200):
        peak = truth + k * interval + rng.normal(0.0, 1.5)
        beats._lock(peak, interval)
        raw_errors.append(peak - (truth + k * interval))
        grid_errors.append(beats._grid - (truth + k * interval))
    assert np.std(grid_errors[20:]) < 0.75 * np.std(raw_errors[20:])


def test_phase_lock_takes_a_new_phase_at_once():
    beats = LiveBeats()
    for k in range(10):
        beats._lock(k * 25.0, 25.0)
    beats._lock(10 * 25.0 + 12.0, 25.0)  # half a beat off: the band moved to the off-beat
    assert beats._grid == 262.0


def _bar_lines(indices, meter=4):
    bars = _BarLines()
    chords = np.eye(12)[[0, 5, 7, 9]]  # one chord per bar, changing on the downbeat
    for i in indices:
        downbeat = i % meter == 0
        bars.add_beat(i, 0.8 if downbeat else 0.2, 1.0 if downbeat else 0.1, chords[i // 4 % 4])
    return bars


def test_bar_lines_hold_their_phase_across_missed_beats():
    every = _bar_lines(range(64))
    missed = _bar_lines([i for i in range(64) if i % 7 != 3])  # one beat in seven not heard
    for bars in (every, missed):
        assert [bars.number(i) for i in range(64, 68)] == [1, 2, 3, 4]
