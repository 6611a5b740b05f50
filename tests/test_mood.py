"""Arousal and valence from evidence that means the same on any song (audio.mood)."""

from __future__ import annotations

import numpy as np

from audio.mood import MoodTracker, arousal_now, valence_now
from audio.spectral import FrontEnd
from audio.synth import make_beat_track


def _settle(tracker: MoodTracker, seconds: float = 15.0, **frame) -> tuple[float, float]:
    for _ in range(int(seconds * 100)):
        result = tracker.step(**frame)
    return result


def test_a_loud_driven_track_is_more_aroused_than_a_quiet_held_one():
    groove = make_beat_track(bpm=128.0, duration=10.0)
    raw = FrontEnd().process(groove.samples)
    chord = 0.05 * np.sin(2 * np.pi * 220 * np.arange(220500) / 22050).astype(np.float32)
    calm = FrontEnd().process(chord)
    driven, quiet = MoodTracker(), MoodTracker()
    for i in range(len(raw)):
        a_driven, _ = driven.step(raw.flux[i], raw.rms_db[i], 0.5, 128.0, "", 0.0, False)
    for i in range(len(calm)):
        a_quiet, _ = quiet.step(calm.flux[i], calm.rms_db[i], 0.5, 0.0, "", 0.0, False)
    assert a_driven > 0.7 and a_quiet < 0.35


def test_an_unsure_key_does_not_swing_valence():
    sure = valence_now(0.4, "minor", 0.9)
    unsure = valence_now(0.4, "minor", 0.3)
    assert sure < 0.3 and abs(unsure - 0.5) < 1e-9
    assert valence_now(0.4, "major", 0.9) > 0.7


def test_silence_brings_arousal_down_and_holds_valence():
    tracker = MoodTracker()
    _settle(
        tracker,
        flux=0.06,
        level_db=-12.0,
        brightness=0.6,
        tempo=120.0,
        mode="major",
        key_confidence=0.9,
        silent=False,
    )
    valence = tracker.valence
    arousal, after = _settle(
        tracker,
        flux=0.0,
        level_db=-90.0,
        brightness=0.0,
        tempo=0.0,
        mode="",
        key_confidence=0.0,
        silent=True,
    )
    assert arousal < 0.05 and abs(after - valence) < 1e-9


def test_tempo_counts_but_cannot_decide_alone():
    slow = arousal_now(0.03, -18.0, 85.0)
    fast = arousal_now(0.03, -18.0, 170.0)
    assert 0 < fast - slow <= 0.1
