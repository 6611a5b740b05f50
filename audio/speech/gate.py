"""Which transcribed words are sure enough to be drawn: Whisper's own confidence decides.

A wrong word in the picture is worse than a missing one: it is drawn, big, in front of an
audience. Whisper gives each word a probability (the mean of its tokens' probabilities,
which is reasonably calibrated for English models) and the live path says how many
successive passes read the word the same (`WordEvent.passes`). A word is admitted when

  - one reading is more likely right than wrong: probability >= `confident` (0.5), or
  - n >= 2 passes agree and n readings at that probability would be, taken as independent
    (noisy-OR): 1 - (1 - p)^n >= `confident`, i.e. p >= 0.29 for two passes.

The passes share most of their audio, so they are not independent and the second rule is
the lenient one; both thresholds come from the rule, not from fitting the test clips.
Segment-level evidence (no-speech probability, average log-probability, compression
ratio) has already dropped whole segments in transcriber.guard_segments.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from audio.words import WordEvent, normalize_word


@dataclass(frozen=True)
class ConfidenceGate:
    confident: float = 0.5  # the probability a word must reach, alone or combined
    min_passes: int = 2  # agreeing passes that count as more than one reading

    def threshold(self, passes: int) -> float:
        """Probability a word read the same by `passes` passes needs."""
        if passes < self.min_passes:
            return self.confident
        return 1.0 - (1.0 - self.confident) ** (1.0 / passes)

    def admits(self, word: WordEvent) -> bool:
        return word.probability >= self.threshold(max(1, word.passes))

    def __call__(self, words: Sequence[WordEvent]) -> list[WordEvent]:
        return [word for word in words if self.admits(word)]


def mark_agreement(primary: Sequence[WordEvent], other: Sequence[WordEvent]) -> list[WordEvent]:
    """`primary` with `passes` raised to 2 where a second reading of the same audio
    (`other`, e.g. offline's second decode) has the same word at about the same time."""
    first = [normalize_word(w.text) for w in primary]
    second = [normalize_word(w.text) for w in other]
    marked = list(primary)
    matcher = difflib.SequenceMatcher(None, first, second, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            word, seen = primary[block.a + k], other[block.b + k]
            if abs((word.start + word.end) - (seen.start + seen.end)) / 2 < 0.5:
                marked[block.a + k] = replace(word, passes=max(word.passes, 2))
    return marked


DEFAULT_GATE = ConfidenceGate()
OPEN_GATE = ConfidenceGate(confident=0.0)  # everything the guards kept (for measuring)
