"""Style packs: TOML files with the words, colours and steering behind every cue.

A pack names, for each mood, the colours, compositions, elements and art styles the
prompt is built from, a palette for engines that paint directly, how strongly each
audio feature steers the mood, and (`[render]`, optionally per mood) which scene
families, finish, motion and trails the embedded engine draws with. Built-in packs live next to this file in `styles/`;
users add their own in `$XDG_CONFIG_HOME/visualize/styles/` (default
`~/.config/visualize/styles/`) or pass a path. Anything a pack leaves out comes from
the built-in `default` pack, so a user pack can be three lines long.

Errors are one line naming the file and line: `my.toml:12: moods.calm.palette: ...`.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from visualizer.errors import UserError
from visualizer.mood import AROUSAL_FEATURES, DEFAULT_WEIGHTS, MOODS, VALENCE_FEATURES
from visualizer.render_look import LookError, RenderLook, render_look

RGB = tuple[int, int, int]

BUILTIN_DIR = Path(__file__).parent / "styles"
DEFAULT_STYLE = "default"
WORD_LISTS = ("colours", "composition", "elements", "art")
TOP_KEYS = ("description", "prefix", "suffix", "negative", "weights", "moods", "render")
MOOD_KEYS = (*WORD_LISTS, "negative", "palette", "families")
PALETTE_SIZES = (3, 6)
MAX_WEIGHT = 10.0


class StyleError(UserError):
    """A style pack that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Vocabulary:
    """The words one mood's prompts are built from."""

    colours: tuple[str, ...]
    composition: tuple[str, ...]
    elements: tuple[str, ...]
    art: tuple[str, ...]
    negative: str = ""  # added to the style's negative prompt in this mood


@dataclass(frozen=True)
class Style:
    name: str
    description: str
    vocabularies: Mapping[str, Vocabulary]  # one per mood in visualizer.mood.MOODS
    palettes: Mapping[str, tuple[RGB, ...]]  # 3-6 colours per mood
    negative_prompt: str
    prefix: str
    suffix: str
    feature_weights: Mapping[str, float]  # see visualizer.mood.DEFAULT_WEIGHTS
    source: Path | None = None  # the .toml it came from
    render: RenderLook = RenderLook()


def user_style_dir() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "visualize" / "styles"


def style_files() -> dict[str, Path]:
    """Every style file by name; a user file shadows a built-in one of the same name."""
    files = {path.stem: path for path in sorted(BUILTIN_DIR.glob("*.toml"))}
    user_dir = user_style_dir()
    if user_dir.is_dir():
        files.update({path.stem: path for path in sorted(user_dir.glob("*.toml"))})
    return files


def load_style(name_or_path: str = DEFAULT_STYLE) -> Style:
    """A style by name (built-in or user) or by path to a .toml file."""
    text = str(name_or_path).strip()
    if not text:
        raise StyleError("empty style name; try `visualize styles` for the list")
    if text.endswith(".toml") or "/" in text or os.sep in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise StyleError(f"style file not found: {path}")
        return _load_file(path)
    files = style_files()
    if text not in files:
        hint = difflib.get_close_matches(text, files, n=1)
        maybe = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise StyleError(
            f"unknown style '{text}'{maybe}; available: {', '.join(sorted(files))}, "
            "or a path to a .toml file"
        )
    return _load_file(files[text])


def list_styles() -> list[Style]:
    """All usable styles, built-ins first; broken user files are left out (see `check`)."""
    styles = []
    for path in style_files().values():
        try:
            styles.append(_load_file(path))
        except StyleError:
            continue  # `visualize styles` reports these with their error
    builtin_first = sorted(
        styles, key=lambda s: (s.source is None or s.source.parent != BUILTIN_DIR, s.name)
    )
    return builtin_first


def broken_styles() -> list[str]:
    """One error line per style file that does not load."""
    errors = []
    for path in style_files().values():
        try:
            _load_file(path)
        except StyleError as exc:
            errors.append(str(exc))
    return errors


# --- reading and validating ----------------------------------------------------------


class _SchemaError(Exception):
    def __init__(self, where: tuple[str, ...], message: str, needle: str | None = None):
        super().__init__(message)
        self.where, self.message, self.needle = where, message, needle


def _load_file(path: Path) -> Style:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StyleError(f"{path}: cannot read style file ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = _toml_error_line(str(exc))
        raise StyleError(f"{path}:{line}: invalid TOML: {message}") from None
    is_default = path.parent == BUILTIN_DIR and path.stem == DEFAULT_STYLE
    base = None if is_default else _default_style()
    try:
        return _build_style(path.stem, data, base, source=path)
    except _SchemaError as exc:
        line = _line_of(text, exc.where, exc.needle)
        dotted = ".".join(exc.where)
        where = f"{dotted}: " if dotted else ""
        raise StyleError(f"{path}:{line}: {where}{exc.message}") from None


@functools.lru_cache(maxsize=1)
def _default_style() -> Style:
    return _load_file(BUILTIN_DIR / f"{DEFAULT_STYLE}.toml")


def _build_style(name: str, data: dict[str, Any], base: Style | None, source: Path) -> Style:
    _check_keys(data, TOP_KEYS, ())
    text = {
        key: _string(data, key, (key,)) for key in ("description", "prefix", "suffix", "negative")
    }
    if base is None:  # the default pack has nothing to inherit from: everything is required
        missing = [key for key, value in text.items() if value is None and key != "description"]
        if missing:
            raise _SchemaError((), f"missing '{missing[0]}'")

    weights = dict(base.feature_weights) if base else dict(DEFAULT_WEIGHTS)
    weights.update(_weights(data.get("weights", {})))

    moods_table = data.get("moods", {})
    if not isinstance(moods_table, dict):
        raise _SchemaError(("moods",), "must be a table of moods like [moods.calm]")
    _check_keys(moods_table, MOODS, ("moods",), what="mood")
    vocabularies, palettes = {}, {}
    for mood in MOODS:
        table = moods_table.get(mood, {})
        where = ("moods", mood)
        if not isinstance(table, dict):
            raise _SchemaError(where, "must be a table")
        if base is None and mood not in moods_table:
            raise _SchemaError(("moods",), f"the default style must define [moods.{mood}]")
        _check_keys(table, MOOD_KEYS, where)
        inherited = base.vocabularies[mood] if base else None
        lists = {}
        for key in WORD_LISTS:
            words = _word_list(table, key, (*where, key))
            if words is None:
                if inherited is None:
                    raise _SchemaError(where, f"missing '{key}'")
                words = getattr(inherited, key)
            lists[key] = words
        negative = _string(table, "negative", (*where, "negative"))
        if negative is None:
            negative = inherited.negative if inherited else ""
        vocabularies[mood] = Vocabulary(**lists, negative=negative)
        palette = _palette(table, (*where, "palette"))
        if palette is None:
            if base is None:
                raise _SchemaError(where, "missing 'palette'")
            palette = base.palettes[mood]
        palettes[mood] = palette

    try:
        render = render_look(data, moods_table, base.render if base else RenderLook())
    except LookError as exc:
        raise _SchemaError(exc.where, exc.message, exc.needle) from None

    def pick(key: str) -> str:
        value = text[key]
        if value is not None:
            return value
        return getattr(base, {"negative": "negative_prompt"}.get(key, key)) if base else ""

    return Style(
        name=name,
        description=text["description"] or (f"{name} (user style)" if base else name),
        vocabularies=vocabularies,
        palettes=palettes,
        negative_prompt=pick("negative"),
        prefix=pick("prefix"),
        suffix=pick("suffix"),
        feature_weights=weights,
        source=source,
        render=render,
    )


def _check_keys(table: dict, allowed: tuple[str, ...], where: tuple[str, ...], what: str = "key"):
    for key in table:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            maybe = f"did you mean '{hint[0]}'? " if hint else ""
            raise _SchemaError(
                (*where, key), f"unknown {what} '{key}'; {maybe}allowed: {', '.join(allowed)}"
            )


def _string(table: dict, key: str, where: tuple[str, ...]) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _SchemaError(where, f"must be a string, not {_type_name(value)}")
    return " ".join(value.split())


def _word_list(table: dict, key: str, where: tuple[str, ...]) -> tuple[str, ...] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise _SchemaError(where, "must be a non-empty list of strings")
    words = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise _SchemaError(where, f"entries must be non-empty strings, got {item!r}", str(item))
        words.append(" ".join(item.split()))
    return tuple(words)


def _weights(table: Any) -> dict[str, float]:
    if not isinstance(table, dict):
        raise _SchemaError(("weights",), "must be a table like [weights]")
    _check_keys(table, tuple(DEFAULT_WEIGHTS), ("weights",))
    weights = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _SchemaError(("weights", key), f"must be a number, not {_type_name(value)}")
        if not 0.0 <= value <= MAX_WEIGHT:
            raise _SchemaError(
                ("weights", key), f"must be between 0 and {MAX_WEIGHT:g}, got {value}"
            )
        weights[key] = float(value)
    for axis in (AROUSAL_FEATURES, VALENCE_FEATURES):
        merged = {**DEFAULT_WEIGHTS, **weights}
        if all(merged[key] == 0 for key in axis):
            raise _SchemaError(("weights",), f"at least one of {', '.join(axis)} must be above 0")
    return weights


def _palette(table: dict, where: tuple[str, ...]) -> tuple[RGB, ...] | None:
    value = table.get("palette")
    if value is None:
        return None
    low, high = PALETTE_SIZES
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise _SchemaError(where, f"must be a list of {low} to {high} colours")
    return tuple(_colour(item, where) for item in value)


_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


def _colour(item: Any, where: tuple[str, ...]) -> RGB:
    if isinstance(item, str) and (match := _HEX.fullmatch(item.strip())):
        digits = match.group(1)
        return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
    if (
        isinstance(item, list)
        and len(item) == 3
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in item)
    ):
        return (item[0], item[1], item[2])
    shown = item if isinstance(item, str) else repr(item)
    raise _SchemaError(where, f'colour {shown!r} is not "#rrggbb" or [r, g, b] (0-255)', str(shown))


def _type_name(value: Any) -> str:
    return {
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


# --- finding the line an error is on ---------------------------------------------------

_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")


def _toml_error_line(message: str) -> tuple[int, str]:
    """tomllib puts the position at the end of the message: '... (at line 3, column 7)'."""
    match = _TOML_AT.search(message)
    if not match:
        return 1, message
    return int(match.group(1)), message[: match.start()]


def _line_of(text: str, where: tuple[str, ...], needle: str | None = None) -> int:
    """The 1-based line where the key `where` (e.g. moods.calm.palette) is written.

    Handles `[moods.calm]` + `palette = ...`, dotted keys (`calm.palette = ...` inside
    `[moods]`) and, with `needle`, the line of a bad item inside a multi-line list.
    Falls back to the nearest enclosing table header, then line 1.
    """
    lines = text.splitlines()
    table: tuple[str, ...] = ()
    best = 1
    for number, line in enumerate(lines, start=1):
        header = _TABLE_HEADER.match(line)
        if header:
            table = tuple(part.strip().strip('"') for part in header.group(1).split("."))
            if table == where:
                return number  # the error is about the table itself
            if where[: len(table)] == table and len(table) > 0:
                best = number  # enclosing table: a fallback
            continue
        key = line.split("=", 1)[0].strip() if "=" in line else ""
        if not key:
            continue
        full = table + tuple(part.strip().strip('"') for part in key.split("."))
        if full == where:
            return _needle_line(lines, number, needle) if needle else number
    return best


def _needle_line(lines: list[str], start: int, needle: str) -> int:
    """The first line from `start` (1-based) containing `needle`, before the next key."""
    for number in range(start, len(lines) + 1):
        line = lines[number - 1]
        if needle in line:
            return number
        if number > start and ("=" in line.split("#", 1)[0] or _TABLE_HEADER.match(line)):
            break
    return start
