"""`visualize render SONG --out OUT.mp4` (also plain `visualize SONG --out OUT.mp4`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from visualizer.errors import UserError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render an audio file to an MP4 video",
        description="Render SONG to an MP4 whose pictures follow the music, with the song as its soundtrack.",
    )
    parser.add_argument("song", type=Path, help="audio file: mp3, wav, flac, ogg, m4a, ...")
    parser.add_argument("-o", "--out", type=Path, help="output .mp4 (default: SONG-visualized.mp4)")
    parser.add_argument(
        "--fps", type=fps_value, default=24.0, help="frames per second (default 24)"
    )
    parser.add_argument(
        "--size",
        type=size_value,
        default=(512, 512),
        metavar="WxH",
        help="frame size, even numbers (default 512x512)",
    )
    parser.add_argument("--seed", type=int, default=0, help="same seed, same video (default 0)")
    parser.add_argument(
        "--start",
        type=seconds_value,
        default=0.0,
        metavar="SEC",
        help="start this far into the song",
    )
    parser.add_argument(
        "--duration",
        type=positive_seconds,
        default=None,
        metavar="SEC",
        help="render only this long",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "embedded", "diffusion"),
        default="auto",
        help="auto: diffusion when a GPU and model are here, else embedded (default)",
    )
    parser.add_argument(
        "--style",
        default="default",
        help="style pack name or path to a .toml (see `visualize styles`)",
    )
    parser.add_argument(
        "--speech",
        action="store_true",
        help="transcribe the song and let sung/spoken words steer the pictures",
    )
    parser.add_argument(
        "--explain",
        type=Path,
        metavar="JSON",
        help="write the scheduler's cue timeline with its reasons",
    )
    diffusion = parser.add_argument_group("diffusion engine")
    diffusion.add_argument(
        "--model",
        default="sd-turbo",
        help="model name, diffusers folder or Hub id (default sd-turbo)",
    )
    diffusion.add_argument("--precision", choices=("auto", "fp8", "fp16", "bf16"), default="auto")
    diffusion.add_argument(
        "--steps",
        type=int,
        choices=(1, 2, 3, 4),
        default=None,
        help="denoising steps (default: the model's)",
    )
    diffusion.add_argument(
        "--no-interpolate",
        action="store_true",
        help="a full keyframe every frame instead of interpolating between keyframes",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from audio.source import AudioError
    from models import ModelUnavailable
    from render.recorder import RecorderError
    from visualizer.pipeline import RenderSettings, render_file

    out = args.out or Path(f"{args.song.stem}-visualized.mp4")
    if out.suffix.lower() != ".mp4":
        raise UserError(f"output must be an .mp4 file, got {out}")
    if out.resolve() == args.song.resolve():
        raise UserError("output would overwrite the input file")
    width, height = args.size
    options = {}
    if args.engine != "embedded":
        options = {
            "model": args.model,
            "precision": args.precision,
            "steps": args.steps,
            "interpolate": not args.no_interpolate,
        }
    settings = RenderSettings(
        out=out,
        fps=args.fps,
        width=width,
        height=height,
        seed=args.seed,
        start=args.start,
        duration=args.duration,
        engine=args.engine,
        style=args.style,
        speech=args.speech,
        explain=args.explain,
        engine_options=options,
    )
    bar = _ProgressBar()
    try:
        result = render_file(args.song, settings, progress=bar.update, notice=_notice)
    except (AudioError, RecorderError, ModelUnavailable) as exc:
        raise UserError(str(exc)) from None
    except ImportError as exc:
        raise UserError(f"{exc}; install the extras named in the README") from None
    finally:
        bar.close()
    print(
        f"wrote {result.path}: {result.frames} frames ({result.audio_seconds:.1f} s at {args.fps:g} fps) "
        f"in {result.seconds:.1f} s, {result.fps_achieved:.1f} fps, "
        f"{result.audio_seconds / result.seconds:.2f}x real time, engine {result.engine}"
    )
    return 0


def _notice(message: str) -> None:
    print(f"visualize: {message}", file=sys.stderr)


class _ProgressBar:
    """tqdm on stderr, only on a terminal, created lazily once the total is known."""

    def __init__(self) -> None:
        self._bar = None

    def update(self, done: int, total: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, unit="frame", disable=None, file=sys.stderr, dynamic_ncols=True
            )
        self._bar.n = done
        self._bar.refresh() if done == total else self._bar.update(0)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def fps_value(text: str) -> float:
    value = _number(text, "fps")
    if not 1 <= value <= 240:
        raise argparse.ArgumentTypeError(f"fps must be between 1 and 240, got {text}")
    return value


def size_value(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from None
    if not (64 <= width <= 4096 and 64 <= height <= 4096) or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"size must be even numbers from 64 to 4096, got {text}")
    return width, height


def seconds_value(text: str) -> float:
    value = _number(text, "time")
    if value < 0:
        raise argparse.ArgumentTypeError(f"time must be >= 0 seconds, got {text}")
    return value


def positive_seconds(text: str) -> float:
    value = _number(text, "duration")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"duration must be > 0 seconds, got {text}")
    return value


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{what} must be a finite number, got {text!r}")
    return value
