"""Sound devices for live capture: listing them, resolving `--device`, system audio.

Also the one-line `CaptureError` every capture fault becomes, and the guarded import of
sounddevice (a missing PortAudio library is such an error, not an OSError trace).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from audio.source import AudioError

MONITOR_WORDS = ("monitor", "loopback", "stereo mix", "what u hear", "blackhole", "soundflower")


class CaptureError(AudioError):
    """A device that cannot be opened or found; the message is one line for the user."""


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    hostapi: str
    inputs: int
    outputs: int
    sample_rate: float
    default_input: bool = False
    default_output: bool = False

    @property
    def is_monitor(self) -> bool:
        """A source that captures what the computer plays (system audio)."""
        return self.inputs > 0 and any(word in self.name.lower() for word in MONITOR_WORDS)


def list_devices() -> list[DeviceInfo]:
    """Every PortAudio device, inputs and outputs."""
    sd = import_sounddevice()
    hostapis = sd.query_hostapis()
    default_in, default_out = _default_devices(sd)
    return [
        DeviceInfo(
            index=index,
            name=device["name"],
            hostapi=hostapis[device["hostapi"]]["name"],
            inputs=device["max_input_channels"],
            outputs=device["max_output_channels"],
            sample_rate=device["default_samplerate"],
            default_input=index == default_in,
            default_output=index == default_out,
        )
        for index, device in enumerate(sd.query_devices())
    ]


def find_device(spec: str | int | None, kind: str = "input") -> int | None:
    """Resolve `--device`: an index, part of a name, or `system` for system audio.

    None means the default device. Raises CaptureError with the choices when nothing
    matches, so a typo is a one-line fix.
    """
    if spec is None or spec == "":
        return None
    devices = [d for d in list_devices() if (d.inputs if kind == "input" else d.outputs) > 0]
    if isinstance(spec, int) or str(spec).isdigit():
        index = int(spec)
        if any(d.index == index for d in devices):
            return index
        raise CaptureError(f"no {kind} device #{index}; run `visualize devices` to list them")
    if kind == "input" and spec.lower() in ("system", "monitor", "loopback"):
        return system_audio_device(devices)
    matches = [d for d in devices if spec.lower() in d.name.lower()]
    if not matches:
        names = ", ".join(d.name for d in devices) or "none"
        raise CaptureError(f"no {kind} device matches {spec!r} (have: {names})")
    return matches[0].index


def system_audio_device(devices: list[DeviceInfo] | None = None) -> int:
    """The input that hears what the computer plays, where the platform offers one.

    Windows ("Stereo Mix") and macOS (BlackHole) list it as a device. PulseAudio and
    PipeWire hide monitors behind ALSA's `pulse` device; PULSE_SOURCE picks the monitor
    of the default output (read by libpulse when the stream connects).
    """
    devices = devices if devices is not None else list_devices()
    for device in devices:
        if device.is_monitor:
            return device.index
    pulse = next((d for d in devices if d.name == "pulse" and d.inputs), None)
    sink = _pulse_default_sink()
    if pulse is not None and sink:
        os.environ["PULSE_SOURCE"] = f"{sink}.monitor"
        return pulse.index
    raise CaptureError(
        "no system-audio source here: on Linux it needs PulseAudio/PipeWire, on macOS a "
        "loopback driver such as BlackHole, on Windows 'Stereo Mix' enabled"
    )


def _pulse_default_sink() -> str | None:
    if not shutil.which("pactl"):
        return None
    try:
        done = subprocess.run(
            ["pactl", "get-default-sink"], capture_output=True, text=True, timeout=3
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _default_devices(sd) -> tuple[int, int]:
    default_in, default_out = sd.default.device
    return (int(default_in) if default_in is not None else -1), (
        int(default_out) if default_out is not None else -1
    )


def import_sounddevice():
    """Import sounddevice, turning a missing PortAudio library into a one-line error."""
    try:
        import sounddevice
    except OSError as exc:  # PortAudio library not installed
        raise CaptureError(f"PortAudio is not available ({exc}); install libportaudio2") from None
    return sounddevice


def short_error(exc: BaseException) -> str:
    """The first line of an exception's message (or its type), for a one-line notice."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]
