"""Arousal and valence: two slow 0..1 numbers, from evidence that means the same on any song.

Heuristics from music-emotion research (Russell's circumplex; Schubert 2004, Eerola &
Vuoskoski 2011: arousal follows loudness, tempo and spectral change; valence follows mode,
and brightness a little), not emotion recognition:

- arousal = 0.55 drive + 0.35 level + 0.10 pace, where
  - drive: how fast the spectrum changes (mean rectified log-mel flux, log-scaled between
    FLUX_CALM and FLUX_DRIVEN): drums, strummed or bowed attacks, distorted guitars. It does
    not depend on which metrical level a tracker taps (a quiet recording reads lower, as
    its quiet detail falls under the spectral floor);
  - level: absolute loudness (RMS dBFS between LEVEL_QUIET and LEVEL_LOUD). The automatic
    gain of the 0..1 `energy` curve lifts every mastered song to the top, so it is no cue
    between songs;
  - pace: the beat rate at the tapped level, 60 -> 0, 180 BPM -> 1 (0 without a beat);
    weighted least, because the tapped level of a fast song is a matter of taste (88 or 176).
- valence = 0.5 + 0.3 * mode * weight + 0.2 * (brightness - 0.4), where mode is +1 major,
  -1 minor, and weight rises from 0 at KEY_DOUBT to 1 at KEY_SURE mode confidence (how sure
  the key estimate is of major vs minor, audio.key), so a key
  the analysis is unsure of does not swing the mood.
Both follow a causal recursion with a 3 s time constant, shared by the offline and live paths.
"""

from __future__ import annotations

import math

from audio.spectral import FRAME_RATE

MOOD_TIME_S = 3.0
FLUX_TIME_S = 1.0  # flux is spiky: average it (over about a bar) before its log is taken
# Log-mel flux per 10 ms: lightly articulated sustained playing .. a full drum groove (the
# kick/snare/hats groove of audio.synth at 120 BPM measures 0.058; a held chord 0.002).
FLUX_CALM, FLUX_DRIVEN = 0.01, 0.06
LEVEL_QUIET, LEVEL_LOUD = -40.0, -12.0  # RMS dBFS: a quiet room recording .. a loud master
SLOW_BPM, FAST_BPM = 60.0, 180.0
KEY_DOUBT, KEY_SURE = 0.4, 0.8  # key confidence: below DOUBT the mode counts for nothing


def _unit(x: float, low: float, high: float) -> float:
    return min(max((x - low) / (high - low), 0.0), 1.0)


def arousal_now(flux: float, level_db: float, tempo: float) -> float:
    """Arousal before the slow smoothing; `flux` already averaged over about a bar."""
    drive = _unit(math.log10(max(flux, 1e-6)), math.log10(FLUX_CALM), math.log10(FLUX_DRIVEN))
    level = _unit(level_db, LEVEL_QUIET, LEVEL_LOUD)
    pace = _unit(tempo, SLOW_BPM, FAST_BPM) if tempo > 0 else 0.0
    return 0.55 * drive + 0.35 * level + 0.10 * pace


def valence_now(brightness: float, mode: str, key_confidence: float) -> float:
    """Instantaneous valence proxy from mode (weighted by how sure the key is) and brightness."""
    sign = {"major": 1.0, "minor": -1.0}.get(mode, 0.0)
    weight = _unit(key_confidence, KEY_DOUBT, KEY_SURE)
    return min(max(0.5 + 0.3 * sign * weight + 0.2 * (brightness - 0.4), 0.0), 1.0)


class MoodTracker:
    """Causal arousal and valence; one `step` per analysis frame (~10 ms)."""

    def __init__(self) -> None:
        self._a = 1.0 - math.exp(-1.0 / (MOOD_TIME_S * FRAME_RATE))
        self._flux_a = 1.0 - math.exp(-1.0 / (FLUX_TIME_S * FRAME_RATE))
        self._flux = FLUX_CALM
        self.arousal = 0.0
        self.valence = 0.5

    def step(
        self,
        flux: float,
        level_db: float,
        brightness: float,
        tempo: float,
        mode: str,
        key_confidence: float,
        silent: bool,
    ) -> tuple[float, float]:
        if not silent:
            self._flux += (flux - self._flux) * self._flux_a
        arousal = 0.0 if silent else arousal_now(self._flux, level_db, tempo)
        self.arousal += (arousal - self.arousal) * self._a
        if not silent:  # silence says nothing about valence: hold it
            valence = valence_now(brightness, mode, key_confidence)
            self.valence += (valence - self.valence) * self._a
        return self.arousal, self.valence
