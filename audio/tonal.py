"""Key and mode from chroma, and the slow mood heuristics (arousal, a valence proxy).

Key: the Krumhansl-Kessler profiles, rotated to all 24 keys and correlated with the
average chroma; the best correlation names the key.

Mood: two slow numbers in 0..1, documented as heuristics, not as emotion recognition.
- arousal: how driven the music feels - loudness, onset density, tempo and brightness.
- valence: a proxy only - major mode and brightness push it up, minor mode and darkness
  push it down. It cannot tell a sad song in a major key from a happy one.
Both are a causal recursion with a 3 s time constant, shared by the offline and live paths.
"""

from __future__ import annotations

import math

import numpy as np

from audio.spectral import FRAME_RATE

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MOOD_TIME_S = 3.0


def estimate_key(chroma_mean: np.ndarray) -> tuple[str, str, float]:
    """(key name, mode, confidence 0..1) for an average chroma vector; ("", "", 0) if flat."""
    chroma = np.asarray(chroma_mean, dtype=np.float64)
    if chroma.shape != (12,) or chroma.std() < 1e-6:
        return "", "", 0.0
    scores = []
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            scores.append((np.corrcoef(chroma, np.roll(profile, tonic))[0, 1], tonic, mode))
    scores.sort(reverse=True)
    best, tonic, mode = scores[0]
    confidence = float(np.clip(best, 0.0, 1.0))
    return f"{NOTE_NAMES[tonic]} {mode}", mode, confidence


class MoodTracker:
    """Causal arousal and valence; one `step` per analysis frame."""

    def __init__(self) -> None:
        self._a = 1.0 - math.exp(-1.0 / (MOOD_TIME_S * FRAME_RATE))
        self._onset_rate = 0.0  # onsets per second, smoothed
        self.arousal = 0.0
        self.valence = 0.5

    def step(
        self,
        energy: float,
        brightness: float,
        is_onset: bool,
        tempo: float,
        mode: str,
        key_confidence: float,
        silent: bool,
    ) -> tuple[float, float]:
        a = self._a
        self._onset_rate += ((FRAME_RATE if is_onset else 0.0) - self._onset_rate) * a
        density = min(self._onset_rate / 8.0, 1.0)
        pace = min(max((tempo - 60.0) / 120.0, 0.0), 1.0) if tempo > 0 else 0.0
        arousal = 0.5 * energy + 0.2 * density + 0.15 * pace + 0.15 * brightness
        if silent:
            arousal = 0.0
        sign = {"major": 1.0, "minor": -1.0}.get(mode, 0.0)
        valence = 0.5 + 0.3 * sign * key_confidence + 0.2 * (brightness - 0.4) + 0.1 * (pace - 0.4)
        self.arousal += (arousal - self.arousal) * a
        self.valence += (min(max(valence, 0.0), 1.0) - self.valence) * a
        return self.arousal, self.valence
