"""The `[render]` part of a style pack: how the embedded engine draws it.

`families` (top level, or per mood in `[moods.NAME]`) are the scene families sections
pick from; `finish` is the post-processing look; `motion` the speed of the music clock;
`trails` how long feedback lingers. Errors are `LookError`s that name the key, so the
style loader can point at the file and line.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from render.scenes import FAMILIES, FINISHES

RENDER_KEYS = ("families", "finish", "motion", "trails")
RANGES = {"motion": (0.0, 4.0), "trails": (0.0, 1.0)}


class LookError(Exception):
    def __init__(self, where: tuple[str, ...], message: str, needle: str | None = None):
        super().__init__(message)
        self.where, self.message, self.needle = where, message, needle


@dataclass(frozen=True)
class RenderLook:
    """How the embedded engine draws a style (see docs/scheduler.md, `[render]`)."""

    families: tuple[str, ...] = FAMILIES  # scene families to pick from, per section
    finish: str = ""  # "", noir, watercolour, neon, cosmic
    motion: float = 1.0  # speed of the music clock
    trails: float = 0.5  # 0 no feedback trails .. 1 long trails
    mood_families: Mapping[str, tuple[str, ...]] | None = None  # per-mood overrides

    def families_for(self, mood: str) -> tuple[str, ...]:
        if self.mood_families and mood in self.mood_families:
            return self.mood_families[mood]
        return self.families


def render_look(data: dict[str, Any], moods: dict[str, Any], base: RenderLook) -> RenderLook:
    """A pack's look from its top-level table and mood tables; what it omits is `base`'s.

    A pack's own top-level `families` replaces the per-mood lists it would inherit."""
    table = data.get("render", {})
    if not isinstance(table, dict):
        raise LookError(("render",), "must be a table like [render]")
    for key in table:
        if key not in RENDER_KEYS:
            hint = difflib.get_close_matches(key, RENDER_KEYS, n=1)
            maybe = f"did you mean '{hint[0]}'? " if hint else ""
            raise LookError(
                ("render", key), f"unknown key '{key}'; {maybe}allowed: {', '.join(RENDER_KEYS)}"
            )
    values = dataclasses.asdict(base)
    if "families" in table:
        values["families"] = families(table["families"], ("render", "families"))
        values["mood_families"] = None
    if "finish" in table:
        finish = "" if table["finish"] == "none" else table["finish"]
        if not isinstance(finish, str) or finish not in FINISHES:
            choices = ", ".join(f for f in FINISHES if f)
            raise LookError(
                ("render", "finish"), f"must be one of none, {choices}; got {table['finish']!r}"
            )
        values["finish"] = finish
    for key, (low, high) in RANGES.items():
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise LookError(("render", key), "must be a number")
            if not low <= value <= high:
                raise LookError(("render", key), f"must be between {low:g} and {high:g}")
            values[key] = float(value)
    own = {
        mood: families(mood_table["families"], ("moods", mood, "families"))
        for mood, mood_table in moods.items()
        if isinstance(mood_table, dict) and "families" in mood_table
    }
    if own:
        values["mood_families"] = {**(values["mood_families"] or {}), **own}
    return RenderLook(**values)


def families(value: Any, where: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise LookError(where, f"must be a non-empty list of: {', '.join(FAMILIES)}")
    for item in value:
        if item not in FAMILIES:
            hint = difflib.get_close_matches(str(item), FAMILIES, n=1)
            maybe = f" (did you mean '{hint[0]}'?)" if hint else ""
            message = f"unknown scene family {item!r}{maybe}; known: {', '.join(FAMILIES)}"
            raise LookError(where, message, str(item))
    return tuple(dict.fromkeys(value))
