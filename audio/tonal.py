"""Tonal analysis, one import away: key and mode (`audio.key`) and the mood (`audio.mood`).

Kept so that `from audio.tonal import estimate_key, MoodTracker` goes on working; the
code lives in the two modules, one idea each.
"""

from __future__ import annotations

from audio.key import (
    MAJOR_PROFILE,
    MINOR_PROFILE,
    NO_KEY,
    NOTE_NAMES,
    KeyEstimate,
    KeyTracker,
    estimate_key,
    estimate_key_detail,
    key_chroma,
    key_chroma_times,
    key_scores,
    pool_chroma,
    section_key,
    section_key_detail,
)
from audio.mood import MoodTracker

__all__ = [
    "MAJOR_PROFILE",
    "MINOR_PROFILE",
    "NO_KEY",
    "NOTE_NAMES",
    "KeyEstimate",
    "KeyTracker",
    "MoodTracker",
    "estimate_key",
    "estimate_key_detail",
    "key_chroma",
    "key_chroma_times",
    "key_scores",
    "pool_chroma",
    "section_key",
    "section_key_detail",
]
