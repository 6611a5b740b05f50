"""LocalAgreement: commit a word of a live transcript only when successive passes agree.

Whisper's newest guess changes its last words as more audio comes in. A word is committed
when the last `passes` hypotheses agree on it and on every word before it (LocalAgreement-n,
after Machacek et al., "Turning Whisper into Real-Time Transcription System", 2023).

`hold` more: the last `hold` words of the agreed prefix wait until a word after them is
agreed too, i.e. a word is committed only when its right-hand neighbour is settled as
well. The agreed prefix ends where the passes start to differ, and that is usually the
buffer's edge, where a word may be only partly heard: Whisper reads the half it has as a
word of its own ("whale" of "whales", "light" of "lighthouse", "wood" of "woodcutters")
and two passes a half-second apart can both read it so. Once the next word is agreed,
the word before it is whole. This is a property of cutting audio mid-word, not of any
speaker or clip; the cost is one word of latency, capped by `settled_before`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from audio.words import WordEvent, normalize_word


class LocalAgreement:
    """Commit the prefix on which the last `passes` hypotheses agree; words carry absolute times."""

    def __init__(self, passes: int = 2, hold: int = 0) -> None:
        if passes < 2:
            raise ValueError("agreement needs at least two passes")
        if hold < 0:
            raise ValueError("hold is a number of words, at least 0")
        self.passes, self.hold = passes, hold
        self.reset()

    def reset(self) -> None:
        self.committed_end = float("-inf")
        self._recent: list[WordEvent] = []  # last committed words, to spot re-read overlap
        self._history: list[list[WordEvent]] = []  # uncommitted tails of the last hypotheses

    @property
    def pending(self) -> list[WordEvent]:
        return list(self._history[-1]) if self._history else []

    def update(
        self, hypothesis: Sequence[WordEvent], settled_before: float = float("-inf")
    ) -> list[WordEvent]:
        """Feed the newest full hypothesis; returns the words it newly commits.

        Words ending before `settled_before` are committed even if the passes disagree
        on them: far from the buffer's end Whisper's newest reading is its best, and a
        word flipping between two readings must not hold back everything after it.
        """
        fresh = self._beyond_commit(hypothesis)
        self._history = [*self._history, fresh][-self.passes :]
        agreed: list[WordEvent] = []
        if len(self._history) == self.passes:
            for index, new in enumerate(fresh):
                if not all(_same_word(tail, index, new) for tail in self._history[:-1]):
                    break
                agreed.append(replace(new, passes=self.passes))
            # The prefix's last words wait for a settled neighbour (module docstring).
            del agreed[max(0, len(agreed) - self.hold) :]
        for index in range(len(agreed), len(fresh)):
            if fresh[index].end > settled_before:
                break
            agreed.append(self._counted(index, fresh[index]))
        self._history = [tail[len(agreed) :] for tail in self._history]
        self._commit(agreed)
        return agreed

    def flush(self) -> list[WordEvent]:
        """Commit the rest of the last hypothesis (the utterance is over); each word says
        how many of the recent passes read it the same (`passes`), for the confidence gate."""
        words = [self._counted(i, word) for i, word in enumerate(self.pending)]
        self._history = []
        self._commit(words)
        return words

    def _counted(self, index: int, word: WordEvent) -> WordEvent:
        """`word` (at `index` of the newest tail) with the number of passes that agree on it
        and on every word before it: a word read the same after a changed word is no match."""
        passes = 1
        newest = self._history[-1] if self._history else []
        for tail in self._history[:-1]:
            if all(_same_word(tail, i, newest[i]) for i in range(index)) and _same_word(
                tail, index, word
            ):
                passes += 1
        return replace(word, passes=passes)

    def recent_text(self, before: float, max_words: int = 24) -> str:
        """Committed words ending before `before`, as a prompt for the next pass."""
        earlier = [w.text for w in self._recent if w.end <= before][-max_words:]
        return " ".join(earlier)[-200:]

    def cut_point(self, after: float) -> float | None:
        """The middle of the first gap between two committed words that starts at or after
        `after`; the newest committed word always stays after it. None: no such gap."""
        for word, following in zip(self._recent, self._recent[1:], strict=False):
            if word.end >= after:
                return (word.end + max(word.end, following.start)) / 2
        return None

    def _beyond_commit(self, hypothesis: Sequence[WordEvent]) -> list[WordEvent]:
        # Words centred before the commit point were already committed in an earlier pass.
        fresh = [w for w in hypothesis if (w.start + w.end) / 2 > self.committed_end]
        # Whisper may re-read the last committed words with shifted times: drop that overlap.
        for n in range(min(5, len(fresh), len(self._recent)), 0, -1):
            head = [normalize_word(w.text) for w in fresh[:n]]
            tail = [normalize_word(w.text) for w in self._recent[-n:]]
            if head == tail and fresh[0].start < self.committed_end + 1.0:
                return fresh[n:]
        return fresh

    def _commit(self, words: list[WordEvent]) -> None:
        if words:
            self.committed_end = max(self.committed_end, words[-1].end)
            self._recent = (self._recent + words)[-30:]


def _same_word(tail: list[WordEvent], index: int, word: WordEvent) -> bool:
    return index < len(tail) and normalize_word(tail[index].text) == normalize_word(word.text)
