"""Audio features -> the render `Drive`: the one place where analysis meets pictures.

Beat and onset flags are instants; pictures need pulses that jump on the hit and
decay after it, so `DriveFollower` keeps the time of the last hit and turns flags
into decaying envelopes. Offline and live use the same follower.
"""

from __future__ import annotations

import math

from audio.features import FeatureFrame
from render.frames import Drive

BEAT_DECAY_SECONDS = 0.18  # a beat pulse falls to 1/e in this time
ONSET_DECAY_SECONDS = 0.10


class DriveFollower:
    """Turns a time-ordered stream of FeatureFrames into Drives with beat/onset pulses."""

    def __init__(self) -> None:
        self._last_beat = -math.inf
        self._last_onset = -math.inf
        self._onset_strength = 0.0

    def update(self, frame: FeatureFrame) -> Drive:
        if frame.is_beat:
            self._last_beat = frame.time
        if frame.is_onset:
            self._last_onset = frame.time
            self._onset_strength = max(0.3, frame.onset)
        beat = math.exp(-(frame.time - self._last_beat) / BEAT_DECAY_SECONDS)
        onset = self._onset_strength * math.exp(
            -(frame.time - self._last_onset) / ONSET_DECAY_SECONDS
        )
        return Drive(
            time=frame.time,
            energy=_unit(frame.energy),
            bass=_unit(frame.bass),
            mid=_unit(frame.mid),
            treble=_unit(frame.treble),
            brightness=_unit(frame.brightness),
            onset=_unit(max(onset, 0.5 * frame.onset)),
            beat=_unit(beat),
            beat_phase=_unit(frame.beat_phase),
            downbeat=frame.is_downbeat,
            tempo=frame.tempo or 120.0,
            chroma=tuple(frame.chroma),
        )


def drive_from_feature(frame: FeatureFrame) -> Drive:
    """A Drive for a single frame, without pulse memory (a beat frame gets a full pulse)."""
    return DriveFollower().update(frame)


def _unit(value: float) -> float:
    if not math.isfinite(value):
        return 0.0
    return min(1.0, max(0.0, float(value)))
