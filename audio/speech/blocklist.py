"""Words that never become pictures: profanity and slurs by default, plus the user's own.

A misheard or oddly written word must not slip past, so a word is compared in the forms
Whisper (or a performer) may produce it in, not just as written:
  - any case, surrounding punctuation, a possessive 's; look-alike digits and signs
    ("sh1t", "$hit"); letters stretched ("fuuuck");
  - inflections: plurals, -ing, -ed, -er(s) ("bitches", "pissed");
  - split in two or three words, or hyphenated ("mother fucker", "mother-fucker"): the
    joined form is checked and every part is dropped;
  - joined into a compound: an entry marked * in the file blocks every word containing it
    ("*fuck" blocks "clusterfuck"); plain entries match whole words only ("therapist"
    is not "rapist");
  - censored by Whisper itself ("f***", "s**t"): any word with letters and * or # inside.

The default list (blocklist.txt, written for this project) ships in the package. Users add
words (`--blocklist a,b`), files (`--blocklist-file PATH`, same format) or a file named by
$VISUALIZE_BLOCKLIST or found at ~/.config/visualize/blocklist.txt.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_FILE = Path(__file__).with_name("blocklist.txt")
USER_FILE = Path("~/.config/visualize/blocklist.txt")
ENV_VAR = "VISUALIZE_BLOCKLIST"

_LOOKALIKES = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
                             "@": "a", "$": "s", "!": "i", "+": "t"})  # fmt: skip
_CENSORED = re.compile(r"[a-z][*#]+|[*#]+[a-z]")
_RUN = re.compile(r"(.)\1+")
_SUFFIXES = ("'s", "es", "s", "ing", "ed", "d", "ers", "er")


def letters(text: str) -> str:
    """`text` as plain lower-case letters: look-alikes mapped, everything else removed."""
    return re.sub(r"[^a-z]", "", text.lower().translate(_LOOKALIKES))


def _forms(word: str) -> set[str]:
    """The word and its likely stems (inflections stripped, stretched letters squeezed)."""
    forms = {word}
    for form in list(forms):
        for suffix in _SUFFIXES:
            if form.endswith(suffix) and len(form) - len(suffix) >= 2:
                stem = form[: -len(suffix)]
                forms.update({stem, stem + "e"})
                if len(stem) >= 3 and stem[-1] == stem[-2]:  # "sinned" -> "sin"
                    forms.add(stem[:-1])
    return forms


@dataclass(frozen=True)
class Blocklist:
    """Words blocked whole (with inflections) and stems blocked anywhere inside a word."""

    words: frozenset[str] = frozenset()
    stems: frozenset[str] = frozenset()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> Blocklist:
        words, stems = set(), set()
        for raw in entries:
            entry = raw.strip()
            if not entry or entry.startswith("#"):
                continue
            target = stems if entry.startswith("*") else words
            cleaned = letters(entry.lstrip("*"))
            if cleaned:
                target.add(cleaned)
        return cls(frozenset(words), frozenset(stems))

    def __or__(self, other: Blocklist) -> Blocklist:
        return Blocklist(self.words | other.words, self.stems | other.stems)

    def __bool__(self) -> bool:
        return bool(self.words or self.stems)

    def blocks(self, text: str) -> bool:
        """True when one written word is blocked in any of its forms."""
        lowered = text.strip().lower()
        if _CENSORED.search(lowered):
            return True
        # With and without the signs around it: "$hit" is a word, "ass!" a word and a "!".
        bare = re.sub(r"^[^\w$@!+]+|[^\w]+$", "", lowered)
        return self._blocks_letters(letters(lowered)) or self._blocks_letters(letters(bare))

    def _blocks_letters(self, word: str) -> bool:
        if not word:
            return False
        squeezed = _RUN.sub(r"\1", word)
        if any(stem in word or _RUN.sub(r"\1", stem) in squeezed for stem in self.stems):
            return True
        forms = _forms(word)
        if forms & self.words:
            return True
        # Stretched letters ("piiss", "sexx"): the same letters with runs squeezed, and
        # longer than the entry, so "as" is not "ass" and "cook" is not "cock".
        for form in forms:
            short = _RUN.sub(r"\1", form)
            if any(len(form) > len(w) and short == _RUN.sub(r"\1", w) for w in self.words):
                return True
        return False

    def blocked_indices(self, texts: Sequence[str], span: int = 3) -> set[int]:
        """Indices of the words in `texts` (in spoken order) that are blocked, alone or as
        part of a word split over up to `span` neighbours."""
        plain = [letters(t) for t in texts]
        blocked = {i for i, text in enumerate(texts) if self.blocks(text)}
        for n in range(2, span + 1):
            for first in range(len(texts) - n + 1):
                parts = plain[first : first + n]
                if all(parts) and self._blocks_joined(parts):
                    blocked.update(range(first, first + n))
        return blocked

    def _blocks_joined(self, parts: list[str]) -> bool:
        """A blocked word split over `parts`: the joined word as a whole, or a * stem that
        starts where the first part starts and runs into the last ("fu ck"), but not a stem
        across a word boundary ("push it" holds "shit")."""
        joined = "".join(parts)
        if _forms(joined) & self.words:
            return True
        head = len(joined) - len(parts[-1])
        return any(joined.startswith(stem) and len(stem) > head for stem in self.stems)


def load_blocklist(
    extra: Iterable[str] = (), files: Iterable[str | os.PathLike] = (), default: bool = True
) -> Blocklist:
    """The default list (unless `default` is False), the user's file if any, `files`, `extra`.

    Raises OSError naming the file when a given file cannot be read.
    """
    entries: list[str] = []
    paths = [Path(f).expanduser() for f in files]
    if default:
        entries += DEFAULT_FILE.read_text(encoding="utf-8").splitlines()
    user = os.environ.get(ENV_VAR)
    if user:
        paths.insert(0, Path(user).expanduser())
    elif USER_FILE.expanduser().is_file():
        paths.insert(0, USER_FILE.expanduser())
    for path in paths:
        entries += path.read_text(encoding="utf-8").splitlines()
    entries += [word for item in extra for word in str(item).split(",")]
    return Blocklist.from_entries(entries)
