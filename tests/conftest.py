"""Shared fixtures: real media from ../shared and synthetic songs with known beats."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import ARTIFACTS

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a model hub


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def beat_song(tmp_path_factory):
    """A 6 s synthetic song at 120 BPM, as (wav path, SynthTrack with the true beats)."""
    from audio.synth import make_beat_track, write_wav

    track = make_beat_track(bpm=120.0, duration=6.0, seed=3)
    path = tmp_path_factory.mktemp("songs") / "beat120.wav"
    write_wav(path, track.samples, track.sample_rate)
    return path, track
