"""The streaming analyzer: causal beats, agreement with the offline curves, bad input."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from audio.analysis import analyze
from audio.source import AudioClip
from audio.streaming import StreamingAnalyzer
from audio.synth import make_beat_track

WARM_UP = 4.0


def _stream(samples: np.ndarray, sample_rate: int = 22050, block: int = 512):
    analyzer = StreamingAnalyzer(sample_rate)
    frames = []
    for start in range(0, len(samples), block):
        frames.extend(analyzer.push(samples[start : start + block]))
    return frames


def _beats(frames) -> np.ndarray:
    return np.array([f.time for f in frames if f.is_beat])


@pytest.mark.parametrize("bpm", [80.0, 128.0])
def test_online_beats_after_warm_up(bpm):
    track = make_beat_track(bpm=bpm, duration=20.0, seed=7)
    beats = _beats(_stream(track.samples))
    ref = track.beats[track.beats >= WARM_UP]
    assert mir_eval.beat.f_measure(ref, beats[beats >= WARM_UP]) >= 0.85


def test_online_fast_track_at_its_beat_or_its_half():
    track = make_beat_track(bpm=170.0, duration=20.0, seed=7)
    beats = _beats(_stream(track.samples))
    beats = beats[beats >= WARM_UP]
    ref = track.beats[track.beats >= WARM_UP]
    best = max(mir_eval.beat.f_measure(r, beats) for r in (ref, ref[::2], ref[1::2]))
    assert best >= 0.85


def test_online_follows_a_tempo_change_within_4_s():
    track = make_beat_track(bpm=100.0, duration=30.0, tempo_change=(14.0, 130.0))
    frames = _stream(track.samples)
    change = track.beats[np.argmax(np.diff(track.beats) < 0.55) + 1]
    after = [f.tempo for f in frames if f.time >= change + 4.0]
    assert np.all(np.abs(np.array(after) - 130.0) < 0.04 * 130.0)


def test_block_size_does_not_change_the_result():
    track = make_beat_track(bpm=120.0, duration=6.0)
    small = _stream(track.samples, block=37)
    large = _stream(track.samples, block=4096)
    assert len(small) == len(large)
    assert np.allclose([f.energy for f in small], [f.energy for f in large])
    assert [f.is_beat for f in small] == [f.is_beat for f in large]


def test_streaming_curves_agree_with_offline():
    """Same math both ways; they differ only while the live gain warms up (first ~3 s)."""
    track = make_beat_track(bpm=120.0, duration=16.0)
    frames = _stream(track.samples)
    offline = analyze(AudioClip(track.samples, track.sample_rate))
    times = np.array([f.time for f in frames])
    assert np.allclose(times, offline.times[: len(times)])
    late = times >= 3.0
    for name in ("energy", "bass", "mid", "treble", "brightness", "onset"):
        live = np.array([getattr(f, name) for f in frames])[late]
        ref = offline.curves[name][: len(times)][late]
        assert np.mean(np.abs(live - ref)) < 0.05, name
        assert np.percentile(np.abs(live - ref), 95) < 0.1, name


def test_any_rate_and_channel_layout_keeps_time():
    track = make_beat_track(bpm=120.0, duration=6.0, sample_rate=48000)
    stereo = np.column_stack([track.samples] * 6)
    frames = _stream(stereo, sample_rate=48000, block=480)
    assert abs(frames[-1].time - 6.0) < 0.05
    beats = _beats(frames)
    assert mir_eval.beat.f_measure(track.beats[track.beats >= 3], beats[beats >= 3]) >= 0.8


@pytest.mark.parametrize("rate", [8000, 192000])
def test_extreme_rates(rate):
    t = np.arange(rate * 2) / rate
    frames = _stream((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, block=rate // 50)
    assert frames and all(np.isfinite(f.energy) for f in frames)
    assert not any(f.is_beat for f in frames)


def test_live_sections_follow_a_drop_and_relabel_a_return():
    calm = make_beat_track(bpm=90.0, duration=16.0, seed=1, hats=False).samples * 0.05
    loud = make_beat_track(bpm=90.0, duration=16.0, seed=2).samples
    song = np.concatenate([calm, loud, calm, loud]).astype(np.float32)
    frames = _stream(song, block=2048)
    starts = [(f.time, f.section) for f in frames if f.is_section_start]
    assert len(starts) == 3
    for (time, _), truth in zip(starts, (16.0, 32.0, 48.0), strict=True):
        assert truth <= time <= truth + 4.0  # causal: a few seconds late, never early
    assert [label for _, label in starts] == [1, 0, 1]
