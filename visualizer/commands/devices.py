"""`visualize devices`: list audio inputs and outputs for `--device`."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "devices",
        help="list audio input and output devices",
        description="List audio devices. Pass a number or part of a name to `visualize live --device`; "
        "`--device system` captures what the computer plays where the platform offers a monitor/loopback source.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from audio.capture import CaptureError, list_devices
    from visualizer.errors import UserError

    try:
        devices = list_devices()
    except CaptureError as exc:
        raise UserError(str(exc)) from None
    if not devices:
        print("no audio devices found (is PortAudio able to see a sound server or card?)")
        return 0
    for title, key in (("inputs", "inputs"), ("outputs", "outputs")):
        print(f"{title}:")
        chosen = [d for d in devices if getattr(d, key) > 0]
        if not chosen:
            print("  (none)")
        for d in chosen:
            default = d.default_input if key == "inputs" else d.default_output
            marks = ("default " if default else "") + (
                "system audio " if key == "inputs" and d.is_monitor else ""
            )
            print(
                f"  {'*' if default else ' '} {d.index:>3}  {d.name}  ({d.hostapi}, {getattr(d, key)} ch, {d.sample_rate:g} Hz) {marks}".rstrip()
            )
    print("\n* = default. `--device system` picks a monitor/loopback source where one exists.")
    return 0
