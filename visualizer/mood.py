"""Mood from music: a point on the arousal/valence plane, named, with hysteresis.

Each feature frame is reduced to two numbers, following Russell's circumplex model:
arousal (how much energy: loudness, tempo, the analysis' own arousal guess) and valence
(how bright in spirit: major vs minor key, the analysis' valence guess, spectral
brightness). How strongly each feature counts is set by the style pack's weights.
Both are smoothed over a few seconds, and the nearest named mood wins only when it is
clearly nearer than the current one for a while, so a song near a border does not
make the picture flip back and forth.
"""

from __future__ import annotations

import math

from audio.features import FeatureFrame

# The named moods and where they sit on the (arousal, valence) plane, both 0..1.
MOOD_CENTRES: dict[str, tuple[float, float]] = {
    "calm": (0.20, 0.65),  # quiet, consonant: pastel, slow
    "sad": (0.20, 0.20),  # quiet, minor: cool, sparse
    "mysterious": (0.45, 0.32),  # middling energy, dark: deep colours, fog
    "happy": (0.60, 0.80),  # lively, major: warm, bright
    "energetic": (0.85, 0.58),  # loud, fast: neon, bursts
    "intense": (0.85, 0.20),  # loud, fast, minor: hot contrast, storm
}
MOODS: tuple[str, ...] = tuple(MOOD_CENTRES)
QUIET_MOOD = "calm"  # what silence looks like before any music arrives

# How strongly each feature steers; a style pack may override any of these.
AROUSAL_FEATURES = ("arousal", "energy", "tempo")
VALENCE_FEATURES = ("valence", "mode", "brightness")
PALETTE_FEATURES = ("key_colour", "brightness_colour")  # palette nudges, not mood
DEFAULT_WEIGHTS: dict[str, float] = {
    "arousal": 1.0,
    # The analysis' arousal already weighs absolute loudness, spectral drive and the tempo;
    # the auto-gained energy curve adds the song's own dynamics (a quiet verse, a loud
    # chorus), and the tempo is not counted twice. A style pack may raise either.
    "energy": 0.3,
    "tempo": 0.0,
    "valence": 1.0,
    # The naive rule set ignored key/mode, the strongest happy/sad cue. The analysis valence
    # already weighs mode by key confidence, so this is a smaller extra push.
    "mode": 0.4,
    "brightness": 0.3,
    "key_colour": 1.0,
    "brightness_colour": 1.0,
}

SLOW_BPM, FAST_BPM = 60.0, 180.0  # tempo maps linearly to 0..1 between these
SILENCE_RESET_SECONDS = 6.0  # this much silence and the next sound starts a fresh estimate


def tempo_level(bpm: float) -> float:
    """Tempo as 0..1 (60 BPM -> 0, 180 BPM -> 1)."""
    return min(1.0, max(0.0, (bpm - SLOW_BPM) / (FAST_BPM - SLOW_BPM)))


def steer(frame: FeatureFrame, weights: dict[str, float]) -> tuple[float, float]:
    """One frame's raw (arousal, valence), each a weighted mean of the features known now."""
    return steer_values(
        weights,
        arousal=frame.arousal,
        energy=frame.energy,
        tempo=frame.tempo,
        valence=frame.valence,
        brightness=frame.brightness,
        mode=frame.mode,
    )


def steer_values(
    weights: dict[str, float],
    *,
    arousal: float,
    energy: float,
    tempo: float,
    valence: float,
    brightness: float,
    mode: str,
    mode_confidence: float = 1.0,
) -> tuple[float, float]:
    """(arousal, valence) from feature values: one frame's (live) or a section's means (plan)."""
    arousal_terms = [(arousal, weights["arousal"]), (energy, weights["energy"])]
    if tempo > 0:  # 0 means the tempo is not known yet
        arousal_terms.append((tempo_level(tempo), weights["tempo"]))
    valence_terms = [(valence, weights["valence"]), (brightness, weights["brightness"])]
    if mode in ("major", "minor"):
        mode_weight = weights["mode"] * min(1.0, max(0.0, mode_confidence))
        valence_terms.append((1.0 if mode == "major" else 0.0, mode_weight))
    return _weighted_mean(arousal_terms, 0.0), _weighted_mean(valence_terms, 0.5)


def nearest_mood(arousal: float, valence: float) -> str:
    return min(MOODS, key=lambda mood: _distance(mood, arousal, valence))


def mood_evidence(arousal: float, valence: float) -> str:
    """Why (arousal, valence) is named what it is: the nearest centre and the runner-up."""
    ranked = sorted(MOODS, key=lambda mood: _distance(mood, arousal, valence))
    best, second = ranked[0], ranked[1]
    return (
        f"nearest {best} {MOOD_CENTRES[best]} at {_distance(best, arousal, valence):.2f}, "
        f"then {second} at {_distance(second, arousal, valence):.2f}"
    )


class MoodTracker:
    """Smoothed arousal/valence and the mood they name, with hysteresis.

    `update(frame)` is cheap (a few float operations) and returns True on the frame where
    the mood switches. Silent frames leave everything as it is.
    """

    def __init__(
        self,
        weights: dict[str, float] | None = None,
        smoothing_seconds: float = 3.0,
        hold_seconds: float = 1.5,
        margin: float = 0.06,
    ):
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        self.smoothing_seconds = smoothing_seconds
        self.hold_seconds = hold_seconds  # a challenger must stay nearer this long
        self.margin = margin  # ... and nearer by at least this much
        self.mood = QUIET_MOOD
        self.arousal, self.valence = MOOD_CENTRES[QUIET_MOOD]
        self.brightness = 0.5
        self.raw_arousal, self.raw_valence = self.arousal, self.valence
        self._sound_frames = 0  # frames of sound since the last long silence
        self._last_time: float | None = None
        self._last_sound_time = -math.inf
        self._challenger: str | None = None
        self._challenger_since = 0.0

    def update(self, frame: FeatureFrame) -> bool:
        """Fold one frame in; True when the mood changed on this frame."""
        dt = 0.0 if self._last_time is None else max(0.0, frame.time - self._last_time)
        self._last_time = frame.time
        if frame.silent:
            return False
        if frame.time - self._last_sound_time > SILENCE_RESET_SECONDS:
            self._sound_frames = 0  # a new piece (live) or the first sound: estimate afresh
        self._last_sound_time = frame.time

        self.raw_arousal, self.raw_valence = steer(frame, self.weights)
        # Running mean for the first frames, then an exponential average: a fresh song
        # settles within a second instead of dragging the previous estimate along.
        self._sound_frames += 1
        alpha = max(1.0 - math.exp(-dt / self.smoothing_seconds), 1.0 / self._sound_frames)
        self.arousal += alpha * (self.raw_arousal - self.arousal)
        self.valence += alpha * (self.raw_valence - self.valence)
        self.brightness += alpha * (frame.brightness - self.brightness)

        if self._sound_frames == 1:  # first sound: take the nearest mood outright
            return self._switch(nearest_mood(self.arousal, self.valence))
        return self._hysteresis(frame.time)

    def force(self, mood: str) -> None:
        """Adopt a mood without waiting (a repeated section returns to its earlier mood)."""
        self.mood = mood
        self._challenger = None

    def _hysteresis(self, now: float) -> bool:
        candidate = nearest_mood(self.arousal, self.valence)
        clearly_nearer = candidate != self.mood and _distance(
            candidate, self.arousal, self.valence
        ) + self.margin < _distance(self.mood, self.arousal, self.valence)
        if not clearly_nearer:
            self._challenger = None
            return False
        if candidate != self._challenger:
            self._challenger, self._challenger_since = candidate, now
            return False
        if now - self._challenger_since >= self.hold_seconds:
            return self._switch(candidate)
        return False

    def _switch(self, mood: str) -> bool:
        changed = mood != self.mood
        self.mood = mood
        self._challenger = None
        return changed


def _distance(mood: str, arousal: float, valence: float) -> float:
    centre_arousal, centre_valence = MOOD_CENTRES[mood]
    return math.hypot(arousal - centre_arousal, valence - centre_valence)


def _weighted_mean(terms: list[tuple[float, float]], empty: float) -> float:
    total = sum(weight for _, weight in terms)
    if total <= 0:
        return empty
    return sum(min(1.0, max(0.0, value)) * weight for value, weight in terms) / total
