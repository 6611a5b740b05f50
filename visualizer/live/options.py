"""What `visualize live` was asked for, validated once (see `visualize live --help`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from visualizer.errors import UserError

OUTPUT_NAMES = ("vcam", "ndi", "spout", "syphon")


@dataclass(frozen=True)
class LiveOptions:
    """Everything `visualize live` was asked for."""

    input: Path | None = None
    loop: bool = False
    device: str | None = None
    output_device: str | None = None
    playback: bool = True
    speech: bool = False
    speech_model: str | None = None
    engine: str = "embedded"
    style: str = "default"
    seed: int = 0
    width: int = 640
    height: int = 360
    fullscreen: bool = False
    screen: int | None = None
    hud: bool = False
    window: bool = True  # False: --no-window, a render box that records and/or sends
    record: Path | None = None
    record_fps: float = 30.0
    duration: float | None = None
    stats: Path | None = None
    osc_port: int | None = None
    osc_host: str = "127.0.0.1"
    osc_out: tuple[str, int] | None = None
    midi: str | None = None
    midi_map: Path | None = None
    link: bool = False
    outputs: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, args) -> LiveOptions:
        width, height = parse_size(args.size)
        if args.duration is not None and args.duration <= 0:
            raise UserError("--duration must be > 0")
        if args.record_fps <= 0:
            raise UserError("--record-fps must be > 0")
        if args.osc is not None and not 0 < args.osc < 65536:
            raise UserError(f"--osc needs a UDP port 1..65535, got {args.osc}")
        outputs = tuple(dict.fromkeys(args.output or ()))
        if args.no_window and not (args.record or outputs or args.osc_out):
            raise UserError(
                "--no-window shows nothing: add --record OUT.mp4, --output NAME or --osc-out"
            )
        return cls(
            input=Path(args.input) if args.input else None,
            loop=args.loop,
            device=args.device,
            output_device=args.output_device,
            playback=not args.no_playback,
            speech=args.speech or args.speech_model is not None,
            speech_model=args.speech_model,
            engine=args.engine,
            style=args.style,
            seed=args.seed,
            width=width,
            height=height,
            fullscreen=args.fullscreen,
            screen=args.screen,
            hud=args.hud,
            window=not args.no_window,
            record=Path(args.record) if args.record else None,
            record_fps=args.record_fps,
            duration=args.duration,
            stats=Path(args.stats) if args.stats else None,
            osc_port=args.osc,
            osc_host=args.osc_host,
            osc_out=parse_host_port(args.osc_out, "--osc-out") if args.osc_out else None,
            midi=args.midi,
            midi_map=Path(args.midi_map) if args.midi_map else None,
            link=args.link,
            outputs=outputs,
        )


def parse_size(text: str) -> tuple[int, int]:
    """--size WxH, validated like `visualize render --size` (even sides, for H.264)."""
    import argparse

    from visualizer.commands.render import size_value

    try:
        return size_value(text)
    except argparse.ArgumentTypeError as exc:
        raise UserError(f"--size: {exc}") from None


def parse_host_port(text: str, option: str) -> tuple[str, int]:
    """HOST:PORT (or just PORT, meaning 127.0.0.1)."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = 0
    if not 0 < number < 65536:
        raise UserError(f"{option} needs HOST:PORT with a port 1..65535, got {text!r}")
    return host or "127.0.0.1", number
