"""What a cue looks like: prompt words, palette and scene family for a section's look.

The scheduler decides *when* the picture changes; these functions decide *what* it
shows, from the style pack, the mood, the section and a stable hash of the seed, so
the same section in the same mood always looks the same.
"""

from __future__ import annotations

import colorsys
import hashlib

from visualizer.styles import Style

_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F#": 6, "GB": 6, "C#": 7, "DB": 7,
           "G#": 8, "AB": 8, "D#": 9, "EB": 9, "A#": 10, "BB": 10, "F": 11}  # fmt: skip


def motion_phrase(intensity: float) -> str:
    if intensity < 0.3:
        return "slow sustained forms"
    if intensity < 0.55:
        return "flowing movement"
    if intensity < 0.8:
        return "dynamic rhythmic motion"
    return "rapid bursts, motion blur"


def build_prompt(
    style: Style,
    seed: int,
    mood: str,
    section: int,
    words: tuple[str, ...],
    motion: str,
    variant: int,
) -> str:
    """Colours and art style stay fixed for a section's look; elements and composition
    move with each drift (`variant`)."""
    vocab = style.vocabularies[mood]
    look = (seed, section, mood)
    colour = pick(vocab.colours, *look, "colour")
    art = pick(vocab.art, *look, "art")
    composition = pick(vocab.composition, *look, "composition", variant)
    first = stable_int(*look, "elements", variant) % len(vocab.elements)
    elements = vocab.elements[first]
    if len(vocab.elements) > 1:
        second = vocab.elements[(first + 1 + variant) % len(vocab.elements)]
        if second != elements:
            elements = f"{elements} and {second}"
    parts = [style.prefix, ", ".join(words), elements, composition, colour, art]
    parts += [motion, style.suffix]
    return join(*parts)


def mood_palette(
    style: Style, mood: str, key: str, brightness: float
) -> tuple[tuple[int, int, int], ...]:
    """The mood's palette, hue turned a little by key and lightened by brightness."""
    weights = style.feature_weights
    hue_shift = 0.0
    tonic = tonic_fifths(key)
    if tonic is not None:  # circle of fifths position -> up to +-15 degrees
        hue_shift = (tonic - 5.5) / 5.5 * (15 / 360) * weights["key_colour"]
    light = 1.0 + (brightness - 0.5) * 0.3 * weights["brightness_colour"]
    palette = []
    for red, green, blue in style.palettes[mood]:
        h, lightness, s = colorsys.rgb_to_hls(red / 255, green / 255, blue / 255)
        r, g, b = colorsys.hls_to_rgb((h + hue_shift) % 1.0, min(1.0, lightness * light), s)
        palette.append((round(r * 255), round(g * 255), round(b * 255)))
    return tuple(palette)


def pick_family(style: Style, seed: int, section: int, mood: str, avoid: str = "") -> str:
    """The scene family for a section's look: a stable pick from the style's families for
    the mood, never `avoid` (the family on screen) when there is another to cut to."""
    families = style.render.families_for(mood)
    index = stable_int(seed, "family", section, mood) % len(families)
    if families[index] == avoid and len(families) > 1:
        index = (index + 1) % len(families)
    return families[index]


def tonic_fifths(key: str) -> int | None:
    """Position of the key's tonic on the circle of fifths (C=0 ... F=11), None if unknown."""
    tonic = key.split(" ", 1)[0].upper() if key else ""
    return _FIFTHS.get(tonic)


def stable_int(*parts: object) -> int:
    """A hash that is the same in every process (Python's hash() of str is salted)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def pick(items: tuple[str, ...], *key: object) -> str:
    return items[stable_int(*key) % len(items)]


def join(*parts: str) -> str:
    return ", ".join(part for part in parts if part)


def clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"
