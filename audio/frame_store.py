"""The song's frame-rate features, gathered block by block in compact arrays.

The streaming analysis (audio.analysis) keeps these instead of audio: the front end's raw
rows while the song is read, then the conditioner's 0..1 curves, all float32 (times stay
float64), joined one field at a time so no hour of rows is ever held twice.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from audio.mood import MoodTracker
from audio.spectral import Conditioned, Conditioner, RawFrames

RAW_FIELDS = tuple(f.name for f in fields(RawFrames))
COND_FIELDS = tuple(f.name for f in fields(Conditioned))
_EMPTY_RAW = RawFrames.concat([])


def unit(values: np.ndarray) -> np.ndarray:
    """0..1 and float32: curves at 100 frames/s are most of what an hour of analysis holds."""
    return np.clip(np.nan_to_num(values), 0.0, 1.0).astype(np.float32, copy=False)


class RawStore:
    """RawFrames of a whole song gathered block by block as float32 (times stay float64),
    joined one field at a time so the song's rows are never held twice."""

    def __init__(self) -> None:
        self._parts: dict[str, list[np.ndarray]] = {name: [] for name in RAW_FIELDS}

    def add(self, raw: RawFrames) -> None:
        for name in RAW_FIELDS:
            value = getattr(raw, name)
            self._parts[name].append(value if name == "times" else value.astype(np.float32))

    def join(self) -> RawFrames:
        joined = {}
        for name, parts in self._parts.items():
            joined[name] = np.concatenate(parts) if parts else getattr(_EMPTY_RAW, name)
            parts.clear()
        return RawFrames(**joined)


def condition(conditioner: Conditioner, raw: RawFrames, step: int = 1 << 15) -> Conditioned:
    """Run the causal conditioner over the song in steps (its state carries across)."""
    if len(raw) == 0:
        return conditioner.process(raw)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in COND_FIELDS}
    for first in range(0, len(raw), step):
        part = RawFrames(*(getattr(raw, n)[first : first + step] for n in RAW_FIELDS))
        cond = conditioner.process(part)
        for name in COND_FIELDS:
            value = getattr(cond, name)
            small = name != "times" and value.dtype.kind == "f"
            parts[name].append(value.astype(np.float32) if small else value)
    return Conditioned(**{name: np.concatenate(values) for name, values in parts.items()})


@dataclass(frozen=True)
class MoodInputs:
    """The raw rows the mood reads after conditioning (the beat tracker's peak comes then)."""

    flux: np.ndarray
    rms_db: np.ndarray


def song_mood(raw, cond, beats, tempo_times, tempo_bpm, estimate) -> tuple[np.ndarray, np.ndarray]:
    n = len(cond.times)
    tempo_per_frame = np.interp(cond.times, tempo_times, tempo_bpm) if len(beats) else np.zeros(n)
    mood = MoodTracker()
    arousal = np.zeros(n, np.float32)
    valence = np.zeros(n, np.float32)
    for i in range(n):
        arousal[i], valence[i] = mood.step(
            float(raw.flux[i]),
            float(raw.rms_db[i]),
            float(cond.brightness[i]),
            float(tempo_per_frame[i]),
            estimate.mode,
            estimate.mode_confidence,  # an unsure major/minor call must not swing valence
            bool(cond.silent[i]),
        )
    return arousal, valence
