"""Offline analysis against synthetic tracks whose beats and onsets are known exactly."""

from __future__ import annotations

import json

import mir_eval
import numpy as np
import pytest

from audio.analysis import CURVE_NAMES, analyze
from audio.source import AudioClip
from audio.synth import beat_grid, make_beat_track, write_wav


def _clip(track) -> AudioClip:
    return AudioClip(track.samples, track.sample_rate)


def _beat_f(reference: np.ndarray, estimate: np.ndarray, skip: float = 0.0) -> float:
    return mir_eval.beat.f_measure(reference[reference >= skip], estimate[estimate >= skip])


def _level_f(reference: np.ndarray, estimate: np.ndarray, skip: float = 5.0) -> float:
    """Beat F at the reference's level or at half of it (every other beat, either phase)."""
    return max(_beat_f(ref, estimate, skip) for ref in (reference, reference[::2], reference[1::2]))


@pytest.mark.parametrize("bpm", [70.0, 120.0])
def test_offline_beats_and_tempo_on_steady_tracks(bpm):
    track = make_beat_track(bpm=bpm, duration=20.0, seed=int(bpm))
    result = analyze(_clip(track))
    assert _beat_f(track.beats, result.beats, skip=5.0) >= 0.95
    assert abs(result.tempo - bpm) / bpm < 0.04


def test_a_fast_track_is_tapped_at_its_beat_or_its_half():
    """At 180 BPM many listeners tap every other beat; either level, on the grid, is right."""
    track = make_beat_track(bpm=180.0, duration=20.0, seed=180)
    result = analyze(_clip(track))
    assert _level_f(track.beats, result.beats) >= 0.95
    assert min(abs(result.tempo - level) / level for level in (180.0, 90.0)) < 0.04


def test_offline_follows_swing_tempo_change_and_quiet_intro():
    swung = make_beat_track(bpm=100.0, duration=20.0, swing=0.6)
    assert _beat_f(swung.beats, analyze(_clip(swung)).beats, skip=5.0) >= 0.95
    change = make_beat_track(bpm=110.0, duration=30.0, tempo_change=(15.0, 140.0))
    result = analyze(_clip(change))
    assert _beat_f(change.beats, result.beats, skip=5.0) >= 0.95
    late = result.tempo_curve[result.tempo_times >= 20.0]
    assert np.all(np.abs(late - 140.0) < 0.04 * 140.0)
    quiet = make_beat_track(bpm=128.0, duration=24.0, quiet_intro=8.0)
    result = analyze(_clip(quiet))
    assert _beat_f(quiet.beats, result.beats, skip=5.0) >= 0.95
    # A quiet intro looks quiet: the automatic gain knows the whole file offline.
    intro = result.curves["energy"][(result.times > 1) & (result.times < 7)].mean()
    body = result.curves["energy"][result.times > 10].mean()
    assert intro < 0.7 * body


def test_onsets_match_ground_truth():
    track = make_beat_track(bpm=110.0, duration=15.0, seed=5)
    result = analyze(_clip(track))
    f, _, _ = mir_eval.onset.f_measure(track.onsets, result.onsets)
    assert f >= 0.85


def test_frames_flag_each_beat_on_its_nearest_frame():
    track = make_beat_track(bpm=120.0, duration=10.0)
    result = analyze(_clip(track))
    fps = 30
    frames = result.frames(fps)
    assert len(frames) == round(result.duration * fps)
    flagged = [i for i, f in enumerate(frames) if f.is_beat]
    expected = sorted({round(b * fps) for b in result.beats if round(b * fps) < len(frames)})
    assert flagged == expected
    truth = set(np.round(track.beats[(track.beats > 1) & (track.beats < 9.5)] * fps).astype(int))
    assert len(truth - set(flagged)) <= 1  # the tracker may start a beat late
    for frame in frames:
        assert 0.0 <= frame.beat_phase < 1.0
        assert all(0.0 <= getattr(frame, n) <= 1.0 for n in ("energy", "bass", "onset"))
    downbeat_frames = [i for i, f in enumerate(frames) if f.is_downbeat]
    assert downbeat_frames == sorted({round(d * fps) for d in result.downbeats})
    assert len(result.frames(fps, n_frames=7)) == 7


def test_downbeats_land_on_bar_starts():
    track = make_beat_track(bpm=120.0, duration=20.0)
    result = analyze(_clip(track))
    f = mir_eval.beat.f_measure(
        track.downbeats[track.downbeats >= 4], result.downbeats[result.downbeats >= 4]
    )
    assert f >= 0.8


def test_curves_are_bounded_and_json_ready(tmp_path):
    track = make_beat_track(bpm=120.0, duration=8.0)
    result = analyze(_clip(track))
    for name in CURVE_NAMES:
        curve = result.curves[name]
        assert curve.shape == result.times.shape
        assert np.all(np.isfinite(curve)) and curve.min() >= 0 and curve.max() <= 1
    data = json.loads(json.dumps(result.to_dict()))
    assert data["beats"] and data["curves"]["energy"]
    assert abs(data["hop"] - 0.01) < 0.001


def test_key_of_a_pure_triad():
    rate = 22050
    t = np.arange(rate * 4) / rate
    a_minor = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    result = analyze(AudioClip((0.2 * a_minor).astype(np.float32), rate))
    assert result.key in ("A minor", "C major")  # relative keys share the notes


def test_sections_split_a_quiet_and_a_loud_part_and_relabel_a_return():
    rate = 22050
    calm = make_beat_track(bpm=90.0, duration=16.0, seed=1, hats=False).samples * 0.05
    loud = make_beat_track(bpm=90.0, duration=16.0, seed=2).samples
    song = np.concatenate([calm, loud, calm, loud]).astype(np.float32)
    result = analyze(AudioClip(song, rate))
    starts = [s.start for s in result.sections]
    assert len(result.sections) >= 3
    assert any(abs(s - 16.0) < 2.0 for s in starts)
    labels = [s.label for s in result.sections]
    assert len(set(labels)) < len(labels)  # a repeated part gets its label back


def test_beat_grid_changes_tempo_once():
    grid = beat_grid(120.0, 10.0, tempo_change=(5.0, 60.0))
    assert np.allclose(np.diff(grid)[:9], 0.5)
    assert np.allclose(np.diff(grid)[-2:], 1.0)


def test_write_wav_round_trips(tmp_path):
    from audio.source import load_audio

    track = make_beat_track(bpm=120.0, duration=2.0)
    path = write_wav(tmp_path / "t.wav", track.samples, track.sample_rate)
    clip = load_audio(path)
    assert abs(clip.duration - 2.0) < 0.01
    assert np.max(np.abs(clip.samples - track.samples)) < 1e-3
