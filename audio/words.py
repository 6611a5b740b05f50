"""Spoken words as timed events: the speech path's output, the scheduler's input."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class WordEvent:
    """One committed word, timed on the audio clock (seconds).

    `probability` is Whisper's own (mean token probability of the word); `passes` is how
    many successive live hypotheses read the word the same (1 offline and for a word
    committed on a single reading). The confidence gate (audio/speech/gate.py) reads both.
    """

    text: str
    start: float
    end: float
    probability: float = 1.0
    passes: int = 1


_EDGE_PUNCTUATION = re.compile(r"^[^\w']+|[^\w']+$")


def normalize_word(text: str) -> str:
    """Lower-case, strip surrounding punctuation and a possessive "'s"."""
    word = _EDGE_PUNCTUATION.sub("", text.strip().lower()).strip("'")
    if word.endswith("'s"):
        word = word[:-2]
    return word
