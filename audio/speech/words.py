"""Which spoken words become pictures: content words in, function words and fillers out.

No part-of-speech tagger: a stopword list (function words, auxiliaries, light verbs,
fillers) catches what should not steer a picture, and what is left is mostly nouns,
adjectives, colours and places - "a red ocean under the moon" -> red, ocean, moon.
`content_words` also drops what the blocklist names (blocklist.py; profanity and slurs
by default) and what Whisper is not sure of (gate.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import replace

from audio.speech.blocklist import Blocklist, load_blocklist
from audio.speech.gate import DEFAULT_GATE, ConfidenceGate
from audio.words import WordEvent, normalize_word

# Function words, pronouns, auxiliaries, light verbs, vague adverbs and fillers.
STOPWORDS = frozenset(
    """
    a about above across after again against all almost along already also although always am
    among an and another any anybody anyone anything anyway anywhere are around as at away
    back be became because become been before behind being below beneath beside besides
    between beyond both but by can cannot could did do does doing done down during each
    either else enough even ever every everybody everyone everything everywhere except few
    for from further had has have having he her here hers herself him himself his how however
    i if in inside instead into is it its itself just least less let like many may maybe me
    might mine more most much must my myself near neither never next no nobody none noone nor
    not nothing now nowhere of off often on once one only onto or other others otherwise ought
    our ours ourselves out outside over own per perhaps please quite rather really same shall
    she should since so some somebody someone something sometimes somewhere soon still such
    than that the their theirs them themselves then there these they thing things this those
    though through throughout thus till to together too toward towards under underneath until
    up upon us very via was we well were what whatever when whenever where wherever whether
    which while who whoever whole whom whose why will with within without would yet you your
    yours yourself yourselves
    am isn aren wasn weren hasn haven hadn doesn don didn won wouldn shan shouldn can't cannot
    couldn mustn mightn needn let's that's there's here's what's who's it's he's she's i'm
    you're we're they're i've you've we've they've i'd you'd he'd she'd we'd they'd i'll
    you'll he'll she'll we'll they'll isn't aren't wasn't weren't hasn't haven't hadn't
    doesn't don't didn't won't wouldn't shouldn't couldn't mustn't
    say says said saying tell tells told go goes going gone went get gets got getting make
    makes made know knows knew think thinks thought see sees saw seen come comes came want
    wants wanted look looks looked take takes took give gives gave put keep kept seem seems
    need needs try tries tried call called ask asked feel feels felt become becomes mean means
    oh ah uh um umm hmm mm yeah yes yep nope okay ok hey hi hello bye la na ooh whoa wow huh
    gonna wanna gotta kinda sorta lot lots bit way ways kind sort stuff
    zero two three four five six seven eight nine ten hundred thousand first second third
    """.split()
)


def is_content_word(word: str, blocklist: frozenset[str] = frozenset()) -> bool:
    """True for a normalized word worth showing: alphabetic, not a stopword, not listed."""
    return (
        len(word) >= 2
        and word.replace("'", "").replace("-", "").isalpha()
        and word not in STOPWORDS
        and word not in blocklist
    )


@functools.lru_cache(maxsize=1)
def default_blocklist() -> Blocklist:
    """The shipped list plus the user's file ($VISUALIZE_BLOCKLIST or ~/.config/visualize)."""
    return load_blocklist()


def content_words(
    words: Sequence[WordEvent],
    blocklist: Iterable[str] | Blocklist = (),
    gate: ConfidenceGate | None = DEFAULT_GATE,
    before: Sequence[WordEvent] = (),
) -> list[WordEvent]:
    """The content words of `words` that may become pictures, lower-cased, timings kept.

    `words` in spoken order (a blocked word split over neighbours is caught). `blocklist`:
    a Blocklist (used as is) or extra words added to `default_blocklist()`. `gate`: the
    confidence gate (None keeps every word the transcriber's guards kept). `before`: the
    words said just before, read only to catch a blocked word split across the two.
    """
    if not isinstance(blocklist, Blocklist):
        extra = [word for word in blocklist if str(word).strip()]
        blocklist = default_blocklist() | Blocklist.from_entries(extra) if extra else None
    blocklist = blocklist if blocklist is not None else default_blocklist()
    blocked = blocklist.blocked_indices([event.text for event in [*before, *words]])
    kept = []
    for index, event in enumerate(words):
        word = normalize_word(event.text)
        if index + len(before) in blocked or not is_content_word(word):
            continue
        if gate is not None and not gate.admits(event):
            continue
        kept.append(replace(event, text=word))
    return kept
