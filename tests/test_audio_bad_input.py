"""Bad input never crashes, never yields NaN, and silence has no beats."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from audio.analysis import analyze
from audio.source import AudioClip
from audio.streaming import StreamingAnalyzer
from audio.synth import make_beat_track


def _finite(frames) -> bool:
    for frame in frames:
        for value in dataclasses.asdict(frame).values():
            values = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                return False
    return True


def _nasty_inputs():
    rate = 22050
    beat = make_beat_track(bpm=120.0, duration=6.0).samples
    nan_song = beat.copy()
    nan_song[1000:1100] = np.nan
    nan_song[5000] = np.inf
    return {
        "silence": (np.zeros(rate * 5, np.float32), rate),
        "dc": (np.full(rate * 5, 0.4, np.float32), rate),
        "clipped": (np.clip(beat * 20, -1, 1).astype(np.float32), rate),
        "nan_inf": (nan_song, rate),
        "tiny": (np.zeros(10, np.float32), rate),
        "short_click": (np.r_[np.ones(5), np.zeros(300)].astype(np.float32), rate),
        "8k": (np.random.default_rng(0).normal(0, 0.1, 8000 * 3).astype(np.float32), 8000),
        "192k": (np.random.default_rng(1).normal(0, 0.1, 192000).astype(np.float32), 192000),
    }


@pytest.mark.parametrize("name", list(_nasty_inputs()))
def test_offline_survives(name):
    samples, rate = _nasty_inputs()[name]
    result = analyze(AudioClip(samples, rate))
    assert all(np.all(np.isfinite(c)) for c in result.curves.values())
    assert _finite(result.frames(30))
    if name in ("silence", "dc", "tiny"):
        assert len(result.beats) == 0 and result.tempo == 0.0
        assert result.curves["energy"].max(initial=0.0) == 0.0


@pytest.mark.parametrize("name", list(_nasty_inputs()))
def test_streaming_survives(name):
    samples, rate = _nasty_inputs()[name]
    analyzer = StreamingAnalyzer(rate)
    frames = []
    for start in range(0, len(samples), 1000):
        frames.extend(analyzer.push(samples[start : start + 1000]))
    frames.extend(analyzer.push(np.zeros(0, np.float32)))
    assert _finite(frames)
    if name in ("silence", "dc"):
        assert not any(f.is_beat for f in frames)
        # A DC step is one click; after it the picture falls back to rest.
        assert all(f.silent for f in frames if f.time > 0.2)
        assert all(f.energy < 0.01 for f in frames if f.time > 2.0)


def test_eight_channels_offline():
    rate = 44100
    mono = make_beat_track(bpm=120.0, duration=6.0, sample_rate=rate).samples
    result = analyze(AudioClip(np.column_stack([mono] * 8), rate))
    assert abs(result.tempo - 120.0) < 5.0
