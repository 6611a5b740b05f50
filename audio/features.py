"""Audio features: one definition, computed offline (whole file) or streaming (causal).

CONTRACT (owned by the audio-analysis work, issue 5): the names below are imported by
the visualizer. Keep their signatures; add fields freely.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HOP_SECONDS = 512 / 22050  # ~23 ms; the streaming path may use a finer hop internally


@dataclass(frozen=True)
class FeatureFrame:
    """Everything the scheduler and engines need to know about one instant."""

    time: float
    energy: float = 0.0  # RMS with automatic gain, 0..1
    bass: float = 0.0
    mid: float = 0.0
    treble: float = 0.0
    brightness: float = 0.0  # spectral centroid, normalised 0..1
    onset: float = 0.0  # onset strength envelope, 0..1
    is_onset: bool = False
    is_beat: bool = False
    is_downbeat: bool = False
    beat_phase: float = 0.0  # 0..1 inside the current beat
    beat_in_bar: int = 0  # 1..beats_per_bar for the current beat (1 = downbeat), 0 unknown
    beats_per_bar: int = 0  # the meter: 3 or 4 (0 while unknown)
    bar_phase: float = 0.0  # 0..1 inside the current bar
    tempo: float = 0.0  # BPM, 0 while unknown
    chroma: tuple[float, ...] = field(default_factory=lambda: (0.0,) * 12)
    key: str = ""  # e.g. "A minor"
    mode: str = ""  # "major" | "minor" | ""
    key_confidence: float = 0.0  # 0..1; a low-confidence mode must not swing valence
    section: int = 0  # section label; a repeated section gets the same label
    is_section_start: bool = False
    arousal: float = 0.0  # heuristic 0..1
    valence: float = 0.5  # heuristic 0..1
    silent: bool = True
