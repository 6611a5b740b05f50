"""`visualize render SONG --out OUT.mp4` (also plain `visualize SONG --out OUT.mp4`)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from render.encoders import ENCODERS
from visualizer.errors import (
    EXIT_DISK_FULL,
    EXIT_ERROR,
    Interrupted,
    Stopped,
    UserError,
    signal_name,
)


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
        "--encoder",
        choices=ENCODERS,
        default="auto",
        help="H.264 encoder: auto (NVENC where the GPU has one, else x264; default), x264, nvenc",
    )
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
    parser.add_argument(
        "--resume",
        action="store_true",
        help="write the video in 30 s segments kept in a hidden .OUT.work folder; run the same "
        "command again after an interruption to continue from the last finished segment",
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
    """Render; every way it can stop leaves no partial file and one line (see visualizer.errors)."""
    out = args.out or Path(f"{args.song.stem}-visualized.mp4")
    if out.suffix.lower() != ".mp4":
        raise UserError(f"output must be an .mp4 file, got {out}")
    if out.resolve() == args.song.resolve():
        raise UserError("output would overwrite the input file")
    bar, before = _ProgressBar(), _identity(out)
    with StopGuard() as guard:  # before the heavy imports: Ctrl-C there is clean too
        try:
            from visualizer.pipeline import render_file

            result = render_file(
                args.song, _settings(args, out), progress=guard.checked(bar.update), notice=_notice
            )
            guard.check()  # a signal that C code or a finalizer swallowed still stops it
            guard.finished = True
        except BaseException as exc:
            guard.cleaning = True
            bar.close()  # before the message, so the line is not glued to the bar
            raise _as_user_error(exc, out, before) from None
    bar.close()
    print(
        f"wrote {result.path}: {result.frames} frames ({result.audio_seconds:.1f} s at {args.fps:g} fps) "
        f"in {result.seconds:.1f} s, {result.fps_achieved:.1f} fps, "
        f"{result.audio_seconds / result.seconds:.2f}x real time, engine {result.engine}"
    )
    return 0


def _settings(args: argparse.Namespace, out: Path):
    from visualizer.pipeline import RenderSettings

    options = {}
    if args.engine != "embedded":
        options = {
            "model": args.model,
            "precision": args.precision,
            "steps": args.steps,
            "interpolate": not args.no_interpolate,
        }
    width, height = args.size
    return RenderSettings(
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
        resume=getattr(args, "resume", False),
        encoder=getattr(args, "encoder", "auto"),
    )


# -- stopping ----------------------------------------------------------------------------


class StopGuard:
    """SIGINT, SIGTERM and SIGHUP stop a render the same way: `Stopped` is raised once in
    the main thread and the caller cleans up. A second signal (while cleaning up, or after
    the first was swallowed) removes the partial file and exits at once. A signal that was
    ignored when we started (nohup, a background job of a script) stays ignored."""

    SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self) -> None:
        self.signum: int | None = None
        self.finished = False  # the video is complete: a late signal changes nothing
        self.cleaning = False
        self._previous: dict[int, object] = {}
        self._discard: Callable[[], list[Path]] = list

    def __enter__(self) -> StopGuard:
        from render.recorder import discard_all  # imported now: not in a handler

        self._discard = discard_all
        if threading.current_thread() is not threading.main_thread():
            return self  # only the main thread may install handlers; tests call run() there
        for name in self.SIGNALS:
            signum = getattr(signal, name, None)
            if signum is None or signal.getsignal(signum) == signal.SIG_IGN:
                continue
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def check(self) -> None:
        if self.signum is not None and not self.finished:
            raise Stopped(self.signum)

    def checked(self, progress: Callable[[int, int], None]) -> Callable[[int, int], None]:
        """`progress`, checking once a frame for a stop that did not get through."""

        def update(done: int, total: int) -> None:
            self.check()
            progress(done, total)

        return update

    def _handle(self, signum: int, _frame) -> None:
        if self.finished:
            return
        if self.signum is None and not self.cleaning:
            self.signum = signum
            raise Stopped(signum)
        line = f"visualize: {_stopped_line(signum, self._discard())}\n"
        with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
            os.write(2, line.encode(errors="replace"))
        os._exit(128 + signum)


def _stopped_line(signum: int, removed: list[Path]) -> str:
    return f"interrupted by {signal_name(signum)}; {_removed_text(removed)}"


def _removed_text(removed: list[Path]) -> str:
    if not removed:
        return "nothing was written"
    return "removed the unfinished " + ", ".join(str(path) for path in removed)


def _as_user_error(exc: BaseException, out: Path, before: tuple | None) -> UserError:
    """One line for any way a render stopped, after removing what it left behind."""
    from render.recorder import discard_unfinished

    if isinstance(exc, Stopped) and _identity(out) not in (None, before):
        out.unlink(missing_ok=True)  # stopped as it finished: no file, as the exit code says
    removed = [p for p in [discard_unfinished(out)] if p is not None]
    work = _work_folder_note(out)
    if isinstance(exc, SystemExit):
        raise exc
    if isinstance(exc, Stopped):
        line = _stopped_line(exc.signum, removed)
        if work and not removed:  # not "nothing was written": the segments are there
            line = f"interrupted by {signal_name(exc.signum)}"
        return Interrupted(line + work, exc.exit_code)
    message, code = _describe(exc)
    if removed:
        message += f"; {_removed_text(removed)}"
    return UserError(message + work, code)


def _work_folder_note(out: Path) -> str:
    """--resume's segments: kept when a resume can use them, else removed (one clause)."""
    from visualizer.segments import after_interruption

    note = after_interruption(out)
    return f"; {note}" if note else ""


def _identity(path: Path) -> tuple | None:
    """Which file is at `path` now (None: none), to tell ours from one that was there."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _describe(exc: BaseException) -> tuple[str, int]:
    from audio.source import AudioError
    from models import ModelUnavailable
    from render.recorder import DiskFullError, RecorderError, is_disk_full

    if isinstance(exc, UserError):
        return str(exc), exc.exit_code
    if isinstance(exc, KeyboardInterrupt):  # SIGINT ignored at start, raised by hand
        return "interrupted", 128 + signal.SIGINT
    if isinstance(exc, DiskFullError):
        return str(exc), EXIT_DISK_FULL
    if is_disk_full(exc):  # outside the recorder, e.g. the --explain JSON
        return f"disk full: {exc.strerror}: {exc.filename or ''}".rstrip(": "), EXIT_DISK_FULL
    if isinstance(exc, (AudioError, RecorderError, ModelUnavailable)):
        return str(exc), EXIT_ERROR
    if isinstance(exc, ImportError):
        return f"{exc}; install the extras named in the README", EXIT_ERROR
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}", EXIT_ERROR
    if os.environ.get("VISUALIZE_DEBUG"):
        raise exc  # a developer asked for the traceback (the cleanup above already ran)
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return (
        f"unexpected {type(exc).__name__}: {text} (a bug; VISUALIZE_DEBUG=1 shows the traceback)",
        EXIT_ERROR,
    )


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
