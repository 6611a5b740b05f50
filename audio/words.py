"""Spoken words as timed events: the speech path's output, the scheduler's input."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WordEvent:
    """One committed word, timed on the audio clock (seconds)."""

    text: str
    start: float
    end: float
    probability: float = 1.0
