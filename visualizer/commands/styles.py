"""`visualize styles`: list the style packs, show one, or check a style file."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "styles",
        help="list style packs (built-in and yours), show one, or check a .toml",
        description="List style packs. Your own go in $XDG_CONFIG_HOME/visualize/styles/*.toml "
        "(default ~/.config/visualize/styles); anything they leave out comes from 'default'.",
    )
    parser.add_argument("--show", metavar="NAME|PATH", help="print one style's words and palettes")
    parser.add_argument("--check", metavar="PATH", help="validate a style file and exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from visualizer.styles import (
        BUILTIN_DIR,
        broken_styles,
        list_styles,
        load_style,
        user_style_dir,
    )

    if args.check:
        style = load_style(args.check)  # raises StyleError with file:line
        print(f"{style.source}: ok (style '{style.name}')")
        return 0
    if args.show:
        _show(load_style(args.show))
        return 0
    for style in list_styles():
        where = (
            "built-in" if style.source and style.source.parent == BUILTIN_DIR else str(style.source)
        )
        print(f"{style.name:<14} {style.description}  [{where}]")
    for error in broken_styles():
        print(f"broken: {error}")
    print(
        f"\nyour styles: {user_style_dir()}/*.toml   use: --style NAME or --style path/to/file.toml"
    )
    return 0


def _show(style) -> None:
    print(f"{style.name}: {style.description}")
    print(
        f"  prefix:   {style.prefix}\n  suffix:   {style.suffix}\n  negative: {style.negative_prompt}"
    )
    weights = ", ".join(f"{key} {value:g}" for key, value in style.feature_weights.items())
    print(f"  weights:  {weights}")
    for mood, vocab in style.vocabularies.items():
        palette = " ".join("#{:02x}{:02x}{:02x}".format(*rgb) for rgb in style.palettes[mood])
        print(f"  [{mood}] {palette}")
        for key in ("colours", "composition", "elements", "art"):
            print(f"    {key}: {'; '.join(getattr(vocab, key))}")
