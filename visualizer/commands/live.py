"""`visualize live`: react to the microphone (or a file played in real time) in a window."""

from __future__ import annotations

import argparse

from visualizer.controls import help_lines

# The window, OSC and MIDI share visualizer.controls; --help lists that same table.
EPILOG = "hotkeys:\n" + "\n".join(f"  {line}" for line in help_lines())


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
    source.add_argument(
        "--speech-model",
        metavar="NAME",
        default=None,
        help="Whisper model for --speech (default auto: the best model on disk for this machine, tiny.en on a small CPU; implies --speech)",
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
    window.add_argument(
        "--no-window",
        action="store_true",
        help="headless render box: no window; needs --record, --output or --osc-out",
    )
    control = parser.add_argument_group("control and tempo")
    control.add_argument(
        "--osc", type=int, metavar="PORT", help="take OSC on UDP PORT (/visualize/<action>)"
    )
    control.add_argument(
        "--osc-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address to listen on for --osc (default 127.0.0.1; 0.0.0.0 opens it to the network)",
    )
    control.add_argument(
        "--osc-out",
        metavar="HOST:PORT",
        help="send the analysis (beat, downbeat, bar phase, BPM, bands, section, mood) as OSC",
    )
    control.add_argument(
        "--midi", metavar="DEVICE", help="MIDI input: part of its name (extra `midi`)"
    )
    control.add_argument(
        "--midi-map",
        metavar="FILE.toml",
        help="MIDI mapping of notes/CCs to actions and parameters (default: a generic 8-knob map)",
    )
    control.add_argument(
        "--link", action="store_true", help="follow Ableton Link tempo and phase (extra `link`)"
    )
    output = parser.add_argument_group("recording, outputs and testing")
    output.add_argument(
        "--output",
        action="append",
        choices=("vcam", "ndi", "spout", "syphon"),
        help="send the picture to a virtual camera, NDI, Spout (Windows) or Syphon (macOS); repeatable",
    )
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
