"""Beat network, bar-pointer HMM, bar lines and pulse gate, on signals with exact answers."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from audio import activation
from audio.analysis import analyze
from audio.downbeats import choose_bars, offbeat_shift
from audio.meter import bar_space, track_bars
from audio.source import AudioClip
from audio.synth import make_beat_track

FPS = activation.FPS


def _activation(beats: np.ndarray, downbeats: np.ndarray, seconds: float) -> np.ndarray:
    """An idealised network output: peaks on the beats, the downbeat column on bar starts."""
    n = int(seconds * FPS)
    act = np.full((n, 3), 0.01)
    for time in beats:
        column = 1 if np.min(np.abs(downbeats - time)) < 1e-6 else 0
        act[int(round(time * FPS)), column] = 0.9
    return act


def test_filterbank_matches_madmoms_layout():
    bank = activation.filterbank()
    assert bank.shape == (705, 136)  # 136 bands: the network's 272 inputs with differences
    assert np.allclose(bank.sum(axis=0), 1.0)  # each filter normalised to unit area


def test_streaming_activation_equals_the_whole_file():
    track = make_beat_track(bpm=120.0, duration=6.0)
    whole = activation.beat_activation(track.samples)
    streamer = activation.BeatActivation()
    blocks = [streamer.push(track.samples[i : i + 333]) for i in range(0, len(track.samples), 333)]
    streamed = np.concatenate([*blocks, streamer.finish()])
    assert streamed.shape == whole.shape == (int(np.ceil(len(track.samples) / 441)), 3)
    assert np.allclose(streamed, whole, atol=1e-5)


def test_network_hears_the_beats_of_a_drum_track():
    track = make_beat_track(bpm=120.0, duration=10.0)
    act = activation.beat_activation(track.samples)
    total = act[:, 0] + act[:, 1]
    on = total[np.round(track.beats[2:-1] * FPS).astype(int)].mean()
    between = total[np.round((track.beats[2:-1] + 0.25) * FPS).astype(int)].mean()
    assert on > 3 * between


@pytest.mark.parametrize("meter", [3, 4])
def test_bar_pointer_hmm_finds_beats_and_meter(meter):
    beats = np.arange(1.0, 30.0, 0.5)
    downbeats = beats[::meter]
    track = track_bars(_activation(beats, downbeats, 31.0))
    assert track.beats_per_bar == meter
    assert mir_eval.beat.f_measure(beats, track.beats) > 0.98
    assert mir_eval.beat.f_measure(downbeats, track.downbeats) > 0.95


def test_state_space_covers_the_tempo_range():
    space = bar_space(4)
    bpm = 60.0 * FPS / space.intervals
    assert bpm.max() >= 215 and bpm.min() <= 55
    assert space.size == 4 * space.intervals.sum()
    assert np.allclose(np.exp(space.log_transition).sum(axis=1), 1.0)


def test_grid_on_the_offbeats_moves_onto_the_bass():
    beats = np.arange(1.0, 20.0, 0.5)
    bass = np.zeros(int(21 * FPS))
    bass[np.round((beats + 0.25) * FPS).astype(int)] = 1.0  # the bass plays between
    shifted = offbeat_shift(beats, bass, FPS)
    assert np.allclose(shifted[:-1], beats[:-1] + 0.25)
    bass_on = np.zeros_like(bass)
    bass_on[np.round(beats * FPS).astype(int)] = 1.0
    assert np.array_equal(offbeat_shift(beats, bass_on, FPS), beats)


def test_bar_lines_follow_the_evidence():
    evidence = np.tile([2.0, -1.0, -1.0], 20)  # bars of three, the first beat strongest
    meter, numbers = choose_bars(evidence)
    assert meter == 3 and np.array_equal(numbers, np.tile([1, 2, 3], 20))


def test_a_waltz_is_counted_in_three():
    track = make_beat_track(bpm=150.0, duration=24.0, beats_per_bar=3)
    result = analyze(AudioClip(track.samples, track.sample_rate))
    assert result.beats_per_bar == 3
    assert (
        mir_eval.beat.f_measure(track.beats[track.beats > 3], result.beats[result.beats > 3]) > 0.9
    )
    down = mir_eval.beat.f_measure(
        track.downbeats[track.downbeats > 3], result.downbeats[result.downbeats > 3]
    )
    assert down > 0.8


@pytest.mark.parametrize("kind", ["noise", "drone", "babble"])
def test_no_beats_are_invented_without_a_pulse(kind):
    rate, seconds = 22050, 20.0
    rng = np.random.default_rng(3)
    t = np.arange(int(rate * seconds)) / rate
    if kind == "noise":
        samples = 0.3 * rng.standard_normal(len(t))
    elif kind == "drone":
        samples = 0.3 * np.sin(2 * np.pi * 110 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.1 * t))
    else:  # syllable-like bursts at irregular times, as speech has
        samples = np.zeros(len(t))
        time = 0.0
        while time < seconds - 0.5:
            start = int(time * rate)
            length = int(rng.uniform(0.08, 0.3) * rate)
            pitch = rng.uniform(100, 220)
            burst = np.sin(2 * np.pi * pitch * np.arange(length) / rate) * np.hanning(length)
            samples[start : start + length] += 0.5 * burst
            time += rng.uniform(0.1, 0.6)
    result = analyze(AudioClip(samples.astype(np.float32), rate))
    assert len(result.beats) == 0 and result.tempo == 0.0 and result.beats_per_bar == 0
