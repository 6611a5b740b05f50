"""The `visualize` command.

`visualize SONG --out OUT.mp4` is shorthand for `visualize render SONG --out OUT.mp4`.
Each subcommand lives in `visualizer/commands/<name>.py` with `add_parser(subparsers)`;
modules keep heavy imports inside their run function so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from visualizer.errors import UserError

COMMANDS = ("render", "live", "analyze", "transcribe", "devices", "models", "styles")

DESCRIPTION = """\
Sound in, living pictures out. Renders music to video, or visualizes a microphone live.

  visualize song.mp3 --out video.mp4           render a file (shorthand for `render`)
  visualize live                               react to the microphone in a window
  visualize live --fullscreen --screen 1       VJ mode on a second screen
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the full usage is one `--help` away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="visualize",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"visualizer.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"visualizer.commands.{name}":
                continue  # command not built in this checkout
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        argv.insert(0, "render")  # `visualize SONG --out OUT.mp4`
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        _say(f"visualize: {exc.prefix}{exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        _say("visualize: interrupted")
        return 130


def _say(line: str) -> None:
    """The closing line; after SIGHUP the terminal may be gone, and the exit code must stay."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _version() -> str:
    try:
        from importlib.metadata import version

        return f"visualize {version('visualize')}"
    except Exception:
        return "visualize (source checkout)"
