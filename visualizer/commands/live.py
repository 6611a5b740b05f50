"""`visualize live`: react to the microphone (or a file played in real time) in a window."""

from __future__ import annotations

import argparse

# (action, keys, what it does). The window maps keys to actions; --help and the help
# overlay list this same table, so the three can never disagree.
HOTKEYS: tuple[tuple[str, str, str], ...] = (
    ("fullscreen", "F/F11", "toggle fullscreen"),
    ("leave fullscreen", "Esc", "leave fullscreen"),
    ("freeze", "Space", "freeze the picture (sound and analysis keep running)"),
    ("blackout", "B", "blackout: show black until pressed again"),
    ("next style", "Right/N", "next style"),
    ("previous style", "Left/P", "previous style"),
    ("preset", "1-9", "jump to style preset 1..9"),
    ("tap tempo", "T", "tap tempo (tap 4+ times on the beat; wait 2 s to clear)"),
    ("record", "R", "start/stop recording to MP4"),
    ("hud", "H", "show/hide the HUD (fps, latency, prompt, words heard)"),
    ("help", "?/F1", "show/hide this help"),
    ("quit", "Q", "quit (closes any recording cleanly)"),
)

EPILOG = "hotkeys:\n" + "\n".join(f"  {keys:<10} {text}" for _, keys, text in HOTKEYS)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "live",
        help="visualize the microphone or a file live in a window",
        description="React to the microphone in a window, or play a file and visualize it in sync.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_argument_group("sound")
    source.add_argument(
        "--input", metavar="FILE", help="play FILE and visualize it (default: microphone)"
    )
    source.add_argument(
        "--loop", action="store_true", help="loop --input instead of ending with it"
    )
    source.add_argument(
        "--device",
        metavar="DEV",
        help="input device: number, part of its name, or 'system' for system audio (see `visualize devices`)",
    )
    source.add_argument("--output-device", metavar="DEV", help="output device for --input playback")
    source.add_argument(
        "--no-playback",
        action="store_true",
        help="do not play --input aloud; run on the file's clock",
    )
    source.add_argument(
        "--speech",
        action="store_true",
        help="listen for words and put them in the picture (faster-whisper)",
    )
    picture = parser.add_argument_group("picture")
    picture.add_argument(
        "--engine",
        default="embedded",
        choices=("embedded", "diffusion", "auto"),
        help="embedded (CPU, default), diffusion (GPU) or auto",
    )
    picture.add_argument(
        "--style", default="default", help="style pack name or TOML path (see `visualize styles`)"
    )
    picture.add_argument("--seed", type=int, default=0)
    picture.add_argument(
        "--size", default="640x360", metavar="WxH", help="render size (default 640x360)"
    )
    window = parser.add_argument_group("window")
    window.add_argument(
        "--fullscreen", action="store_true", help="start fullscreen (cursor hidden)"
    )
    window.add_argument(
        "--screen",
        type=int,
        default=None,
        metavar="N",
        help="screen number for --fullscreen (0 = primary)",
    )
    window.add_argument("--hud", action="store_true", help="start with the HUD shown")
    output = parser.add_argument_group("recording and testing")
    output.add_argument(
        "--record", metavar="OUT.mp4", help="record what is shown, with the sound, from the start"
    )
    output.add_argument(
        "--record-fps", type=float, default=30.0, help="recording frame rate (default 30)"
    )
    output.add_argument(
        "--duration", type=float, default=None, metavar="SECONDS", help="stop after SECONDS"
    )
    output.add_argument(
        "--stats", metavar="FILE.json", help="write run statistics (fps, latency, drops) at exit"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from visualizer.live import LiveOptions, run_live

    return run_live(LiveOptions.from_args(args))
