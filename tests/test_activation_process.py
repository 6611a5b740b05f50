"""The beat activation in a child process: the same rows as in process, and a fallback."""

from __future__ import annotations

import numpy as np

import audio.activation_process as activation_process
from audio.activation_process import ActivationProcess, CollectedActivation, open_activation
from audio.synth import make_beat_track


def _blocks():
    track = make_beat_track(bpm=120.0, duration=6.0, seed=2)
    samples = track.samples.astype(np.float32)
    return [samples[i : i + 30000] for i in range(0, len(samples), 30000)]


def _rows(activation) -> np.ndarray:
    blocks = _blocks()
    for block in blocks:
        activation.push(block)
    return activation.finish(replay=lambda: iter(blocks))


def test_the_child_gives_the_rows_the_process_itself_would():
    here, there = _rows(CollectedActivation()), _rows(ActivationProcess())
    assert here.shape[1] == 3 and len(here) > 250
    # equal to float32 rounding (the child cuts blocks into other pieces, on one BLAS thread)
    assert here.shape == there.shape and np.allclose(here, there, atol=1e-5)


def test_a_child_that_dies_is_replaced_by_the_work_done_here():
    expected = _rows(CollectedActivation())
    activation = ActivationProcess()
    activation._process.kill()
    activation._process.wait()
    assert np.allclose(_rows(activation), expected, atol=1e-5)


def test_only_long_songs_on_machines_with_spare_cores_get_a_child(monkeypatch):
    monkeypatch.setattr(activation_process.os, "cpu_count", lambda: 8)
    long_song = open_activation(activation_process.PARALLEL_MIN_SECONDS)
    assert isinstance(long_song, ActivationProcess)
    long_song.close()
    assert isinstance(open_activation(10.0), CollectedActivation)
    monkeypatch.setattr(activation_process.os, "cpu_count", lambda: 2)
    assert isinstance(open_activation(600.0), CollectedActivation)
