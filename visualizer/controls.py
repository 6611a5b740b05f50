"""The control surface: every action and continuous parameter a performer can reach.

Keys (visualizer.window), OSC (visualizer.osc) and MIDI (visualizer.midi) all map onto the
names here, so `--help`, the `?` overlay, OSC addresses and MIDI mappings can never
disagree. An action is a name such as "style/next" (OSC: /visualize/style/next); a
parameter is a float 0..1 (OSC: /visualize/param/intensity 0.8). Nothing here imports Qt
or the CLI: the window and the command line both import this module, never each other.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, fields, replace

import numpy as np

from render.frames import RGB, Cue, Drive, FrameRequest

PRESETS = 9


@dataclass(frozen=True)
class Action:
    name: str  # the OSC address tail and the MIDI mapping target
    keys: str  # window keys, "/"-separated ("" = no key)
    text: str


ACTIONS: tuple[Action, ...] = (
    Action("fullscreen", "F/F11", "toggle fullscreen"),
    Action("fullscreen/leave", "Esc", "leave fullscreen"),
    Action("freeze", "Space", "freeze the picture (sound and analysis keep running)"),
    Action("blackout", "B", "blackout: all black until pressed again"),
    Action("style/next", "Right/N", "next style"),
    Action("style/previous", "Left/P", "previous style"),
    Action("preset", "1-9", "jump to style preset 1..9 (preset/1 .. preset/9)"),
    Action("tap", "T", "tap tempo (tap 4+ times on the beat; wait 2 s to clear)"),
    Action("record", "R", "start/stop recording to MP4"),
    Action("hud", "H", "show/hide the HUD (engine, fps, latency, BPM, section, mood, outputs)"),
    Action("help", "?/F1", "show/hide this help"),
    Action("learn", "L", "MIDI learn: L, then a key (or Up for a parameter), then a knob"),
    Action("learn/param", "Up", "in MIDI learn: step through the parameters to map"),
    Action("quit", "Q", "quit (closes any recording cleanly)"),
)


@dataclass(frozen=True)
class Param:
    name: str
    default: float
    text: str


PARAMS: tuple[Param, ...] = (
    Param("intensity", 0.5, "intensity: 0 calm, 0.5 as scheduled, 1 wild"),
    Param("motion", 0.5, "motion speed: 0 still, 0.5 normal, 1 double"),
    Param("palette", 0.0, "palette shift around the colour wheel (0 and 1 = unshifted)"),
    Param("crossfade", 0.0, "style crossfade: 0 this style .. 1 the next style"),
    Param("fade", 0.0, "blackout fade: 0 picture .. 1 black"),
    Param("feedback", 0.5, "diffusion feedback strength: 0 loose, 0.5 as scheduled, 1 locked"),
)
PARAM_NAMES: tuple[str, ...] = tuple(p.name for p in PARAMS)


def action_names() -> tuple[str, ...]:
    """Every action a surface may send (presets expanded)."""
    names = [a.name for a in ACTIONS if a.name != "preset"]
    return tuple(names + [f"preset/{n}" for n in range(1, PRESETS + 1)])


ACTION_NAMES = frozenset(action_names())


@dataclass(frozen=True)
class Control:
    """One message from a surface (key, OSC, MIDI) to the app."""

    kind: str  # "action" | "param"
    name: str
    value: float = 1.0
    source: str = "key"  # where it came from, for notices and learn mode


@dataclass(frozen=True)
class ControlState:
    """The continuous parameters now; a new snapshot replaces the old (never mutated)."""

    intensity: float = 0.5
    motion: float = 0.5
    palette: float = 0.0
    crossfade: float = 0.0
    fade: float = 0.0
    feedback: float = 0.5

    def with_param(self, name: str, value: float) -> ControlState:
        if name not in PARAM_NAMES:
            raise KeyError(name)
        return replace(self, **{name: clamp01(value)})

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def clamp01(value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return min(1.0, max(0.0, value))


# -- what the parameters do to a frame request (pure functions, any thread) ---------------


def motion_speed(state: ControlState) -> float:
    """0 -> still, 0.5 -> 1x, 1 -> 2x."""
    return 2.0 * state.motion


def shift_palette(palette: tuple[RGB, ...], shift: float) -> tuple[RGB, ...]:
    """Rotate every colour's hue by `shift` turns of the colour wheel."""
    if shift % 1.0 == 0.0:
        return palette
    out = []
    for r, g, b in palette:
        h, lightness, s = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)
        r2, g2, b2 = colorsys.hls_to_rgb((h + shift) % 1.0, lightness, s)
        out.append((round(r2 * 255), round(g2 * 255), round(b2 * 255)))
    return tuple(out)


def steer_cue(cue: Cue, state: ControlState) -> Cue:
    """Intensity and palette shift applied to a scheduled cue."""
    intensity = cue.intensity
    if state.intensity != 0.5:
        intensity = min(1.0, max(0.0, cue.intensity * 2.0 * state.intensity))
        if state.intensity > 0.5:  # above the middle, push towards 1 even from a calm cue
            intensity = max(intensity, 2.0 * state.intensity - 1.0)
    palette = shift_palette(cue.palette, state.palette)
    if intensity == cue.intensity and palette is cue.palette:
        return cue
    return replace(cue, intensity=intensity, palette=palette)


def steer_drive(drive: Drive, state: ControlState, feedback: bool) -> Drive:
    """The diffusion feedback loop takes its strength from the onset and beat pulses:
    scaling them is how the feedback parameter reaches an engine through the Generator
    interface. Other engines leave the pulses alone."""
    if not feedback or state.feedback == 0.5:
        return drive
    scale = 2.0 * state.feedback
    return replace(drive, onset=min(1.0, drive.onset * scale), beat=min(1.0, drive.beat * scale))


def steer_request(
    request: FrameRequest, state: ControlState, time: float, feedback: bool = False
) -> FrameRequest:
    """The request the engine sees: steered cues and drive, on the motion clock `time`."""
    previous = request.previous_cue
    return replace(
        request,
        time=time,
        cue=steer_cue(request.cue, state),
        previous_cue=steer_cue(previous, state) if previous is not None else None,
        drive=replace(steer_drive(request.drive, state, feedback), time=time),
    )


def crossfade(request: FrameRequest, target: Cue | None, position: float) -> FrameRequest:
    """Blend from the request's cue toward `target` (another style's cue) by `position`."""
    if target is None or position <= 0.0:
        return request
    return replace(request, previous_cue=request.cue, cue=target, blend=min(1.0, position))


def fade_picture(image: np.ndarray, fade: float) -> np.ndarray:
    """The picture faded toward black; 1 is exactly black."""
    if fade <= 0.0:
        return image
    if fade >= 1.0:
        return np.zeros_like(image)
    return (image.astype(np.uint16) * round(256 * (1.0 - fade)) >> 8).astype(np.uint8)


class MotionClock:
    """The time the engine animates on: real time scaled by the motion speed."""

    def __init__(self) -> None:
        self._real: float | None = None
        self.time = 0.0

    def advance(self, real_time: float, speed: float) -> float:
        if self._real is None:
            self.time = real_time
        else:
            step = real_time - self._real
            if step < 0 or step > 1.0:  # a loop restart or a long stall: no jump in motion
                step = 0.0
            self.time += step * speed
        self._real = real_time
        return self.time


def help_lines() -> list[str]:
    """The `?` overlay and `--help` epilog: keys, then OSC and parameters."""
    lines = [f"{a.keys:<8} {a.name:<17} {a.text}" for a in ACTIONS]
    lines.append("")
    lines.append("OSC: /visualize/<action> (middle column), /visualize/param/<name> 0..1")
    lines.extend(f"  {p.name:<10} {p.text}" for p in PARAMS)
    return lines
