"""Key, mode and their confidences (audio.key via audio.tonal), on synthetic music in known keys."""

from __future__ import annotations

import numpy as np
import pytest

from audio.tonal import (
    MAJOR_PROFILE,
    MINOR_PROFILE,
    KeyTracker,
    MoodTracker,
    estimate_key,
    estimate_key_detail,
    key_chroma,
    key_chroma_times,
    section_key,
    section_key_detail,
)

SR = 22050
G_MAJOR = [(43, (55, 59, 62)), (48, (55, 60, 64)), (50, (54, 57, 62)), (43, (55, 59, 62))]
G_SCALE = [67, 69, 71, 72, 74, 76, 78, 79]
E_MINOR = [(40, (52, 55, 59)), (45, (52, 57, 60)), (47, (51, 54, 59)), (40, (52, 55, 59))]
E_HARMONIC_MINOR = [64, 66, 67, 69, 71, 72, 75, 76]


def _tone(midi: float, seconds: float, cents: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    freq = 440.0 * 2 ** ((midi + cents / 100 - 69) / 12)
    y = sum(0.6 ** (h - 1) * np.sin(2 * np.pi * freq * h * t) for h in range(1, 7))
    return y * np.minimum(1, t / 0.01) * np.minimum(1, (seconds - t) / 0.05)


def _song(chords, scale, cents: float = 0.0, repeats: int = 2) -> np.ndarray:
    """One chord a second over its bass, a scale melody in half-second notes."""
    bars, step = [], 0
    for _ in range(repeats):
        for bass, notes in chords:
            bar = 0.5 * _tone(bass, 1.0, cents) + sum(_tone(n, 1.0, cents) for n in notes) / 3
            for half in (0, SR // 2):
                bar[half : half + SR // 2] += 0.6 * _tone(scale[step % len(scale)], 0.5, cents)
                step += 1
            bars.append(bar)
    song = np.concatenate(bars)
    return (0.5 * song / np.abs(song).max()).astype(np.float32)


@pytest.fixture(scope="module")
def g_major() -> np.ndarray:
    return _song(G_MAJOR, G_SCALE)


@pytest.fixture(scope="module")
def e_minor() -> np.ndarray:
    return _song(E_MINOR, E_HARMONIC_MINOR)


def _unit(v: np.ndarray) -> np.ndarray:
    v = v - v.mean()
    return v / np.linalg.norm(v)


def test_progressions_name_their_key_offline_and_live(g_major, e_minor):
    for song, key, mode in ((g_major, "G major", "major"), (e_minor, "E minor", "minor")):
        offline = section_key_detail(key_chroma(song, SR))
        tracker = KeyTracker(SR)
        tracker.push(song)
        live = estimate_key_detail(tracker.chroma)
        for est in (offline, live):
            assert (est.key, est.mode) == (key, mode)
            assert est.confidence > 0.6 and est.mode_confidence > 0.5
            assert np.sign(est.majorness) == (1 if mode == "major" else -1)


def test_a_band_tuned_40_cents_sharp_keeps_its_key(g_major):
    sharp = _song(G_MAJOR, G_SCALE, cents=40.0)
    in_tune, tracker = KeyTracker(SR), KeyTracker(SR)
    in_tune.push(g_major)
    tracker.push(sharp)
    assert abs(tracker.tuning - 0.4) < 0.05
    live = estimate_key_detail(tracker.chroma)
    # Uncorrected, 40% of every note would leak a semitone up (clarity ~0.70, not ~0.97).
    assert (
        live.key == "G major" and live.clarity > estimate_key_detail(in_tune.chroma).clarity - 0.03
    )
    offline = section_key_detail(key_chroma(sharp, SR))
    assert offline.key == "G major" and offline.clarity > 0.85 and offline.confidence > 0.8


def test_relative_keys_scoring_alike_leave_the_mode_unsure():
    c_major = _unit(MAJOR_PROFILE)
    a_minor = _unit(np.roll(MINOR_PROFILE, 9))
    clear = estimate_key_detail(c_major)
    assert clear.key == "C major" and clear.confidence > 0.99 and clear.mode_confidence > 0.99
    torn = estimate_key_detail(c_major + a_minor)  # equal correlation with both by construction
    assert abs(torn.scores[0] - torn.scores[12 + 9]) < 1e-9
    assert torn.mode_confidence < 0.15 and torn.confidence < 0.55
    assert torn.key in ("C major", "A minor")


def test_confidence_falls_as_a_competitor_closes_in():
    g_major, d_major = _unit(np.roll(MAJOR_PROFILE, 7)), _unit(np.roll(MAJOR_PROFILE, 2))
    estimates = [estimate_key_detail(g_major + k * d_major) for k in (0.0, 0.5, 0.9, 1.0)]
    assert [e.key for e in estimates[:3]] == ["G major"] * 3
    confidences = [e.confidence for e in estimates]
    assert confidences[0] > 0.99 and confidences[0] > confidences[1] > confidences[2]
    assert confidences[3] < 0.55  # a tie: neither key can be more than a coin toss
    assert all(e.mode_confidence > 0.9 for e in estimates)  # both are major: the mode is sure


def test_no_key_in_silence_flat_chroma_or_noise():
    assert estimate_key(np.zeros(12)) == ("", "", 0.0)
    assert estimate_key(np.ones(12)) == ("", "", 0.0)
    assert estimate_key(np.full(12, np.nan)) == ("", "", 0.0)
    assert section_key(key_chroma(np.zeros(SR * 2, np.float32), SR)) == ("", "", 0.0)
    tracker = KeyTracker(SR)
    assert tracker.push(np.zeros(SR * 3, np.float32)).key == ""
    noise = 0.1 * np.random.default_rng(1).standard_normal(SR * 4).astype(np.float32)
    assert section_key_detail(key_chroma(noise, SR)).confidence < 0.2


def test_key_chroma_frames_and_times(g_major):
    chroma = key_chroma(g_major, SR)
    assert chroma.shape == (1 + len(g_major) // 512, 12)
    assert np.allclose(chroma.max(axis=1)[5:-5], 1.0)  # every sounding frame max-normalised
    times = key_chroma_times(len(chroma), SR)
    assert times[0] == 0.0 and np.isclose(times[1], 512 / SR)
    # A section is just a slice: the first four seconds are one pass of the progression.
    assert section_key(chroma[times < 4.0])[:2] == ("G major", "major")


def test_live_key_does_not_depend_on_block_size(e_minor):
    whole, blocks = KeyTracker(SR), KeyTracker(SR)
    whole.push(e_minor)
    for start in range(0, len(e_minor), 333):
        blocks.push(e_minor[start : start + 333])
    assert np.allclose(whole.chroma, blocks.chroma)
    assert whole.estimate.key == blocks.estimate.key == "E minor"


def test_an_unsure_mode_moves_valence_less_than_a_sure_one():
    sure = estimate_key_detail(_unit(np.roll(MINOR_PROFILE, 4)))
    unsure = estimate_key_detail(
        _unit(np.roll(MINOR_PROFILE, 4)) + _unit(np.roll(MAJOR_PROFILE, 7))
    )
    assert sure.mode == "minor" and unsure.mode_confidence < 0.3 < sure.mode_confidence
    valence = {}
    for name, est in (("sure", sure), ("unsure", unsure)):
        tracker = MoodTracker()
        for _ in range(1500):
            _, v = tracker.step(
                flux=0.03,
                level_db=-18.0,
                brightness=0.4,
                tempo=100.0,
                mode=est.mode,
                key_confidence=est.mode_confidence,
                silent=False,
            )
        valence[name] = v
    assert valence["sure"] < 0.3 and abs(valence["unsure"] - 0.5) < abs(valence["sure"] - 0.5)
