"""What the HUD says: the lines a performer needs, and a fault line only for real faults.

Pure functions of a `HudSnapshot`, so the wording is tested without Qt. Skipped frame
requests are normal (the worker always draws the newest request and drops the rest),
so they never appear here; they stay in `--stats`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from visualizer.controls import PARAMS, ControlState
from visualizer.live.features import MusicState


@dataclass(frozen=True)
class HudSnapshot:
    engine: str
    fps: float
    render_ms: float
    latency_ms: float | None
    music: MusicState
    style: str
    prompt: str = ""
    words: tuple[str, ...] = ()
    speech: bool = False
    audio_status: str = ""
    outputs: tuple[tuple[str, str], ...] = ()  # (name, state), OSC and MIDI included
    controls: ControlState = field(default_factory=ControlState)
    states: tuple[str, ...] = ()  # BLACKOUT, FROZEN, REC 12s, LEARN ...


def hud_lines(hud: HudSnapshot) -> list[str]:
    latency = f"{hud.latency_ms:.0f} ms" if hud.latency_ms is not None else "-"
    music = hud.music
    bpm = f"{music.bpm:.0f} BPM ({music.tempo_source})" if music.bpm else "BPM - (listening)"
    lines = []
    if hud.states:
        lines.append("  ".join(hud.states))
    lines.append(
        f"{hud.engine}  {hud.fps:.0f} fps  render {hud.render_ms:.0f} ms  latency {latency}"
    )
    lines.append(
        f"{bpm}  bar {bar_meter(music.bar_phase)}"
        f"  section {section_name(music.section)}  mood {music.mood or '-'}"
    )
    style = f"style {hud.style}"
    if hud.prompt and hud.engine not in ("embedded",):  # only prompt-driven engines use it
        style += f"  prompt: {hud.prompt[:60]}"
    lines.append(style)
    if hud.speech:
        lines.append(f"heard: {' '.join(hud.words) or '-'}")
    changed = [
        f"{p.name} {getattr(hud.controls, p.name):.2f}"
        for p in PARAMS
        if abs(getattr(hud.controls, p.name) - p.default) > 1e-6
    ]
    if changed:
        lines.append("  ".join(changed))
    if hud.outputs:
        lines.append("io: " + "  ".join(f"{name} {state}" for name, state in hud.outputs))
    if hud.audio_status:
        lines.append(f"audio: {hud.audio_status}")
    return lines


def hud_snapshot(app) -> HudSnapshot:
    """What a LiveApp shows now (read on the Qt main thread)."""
    stats, source = app.worker.stats, app.parts.source.stats
    states = [s for s, on in (("BLACKOUT", app.blackout), ("FROZEN", app.frozen)) if on]
    if app.recorder is not None:
        states.append(f"REC {app.recorder.seconds:.0f}s")
    if app.learn.target is not None:
        states.append(f"LEARN {app.learn.target or '(press a key)'}")
    recent = list(app.latencies)[-60:]
    cue = app.features.cue
    return HudSnapshot(
        engine=stats.engine or app.parts.generator.name,
        fps=app.fps(),
        render_ms=stats.last_render_ms,
        latency_ms=float(np.median(recent)) * 1000 if recent else None,
        music=app.features.music,
        style=app.features.style,
        prompt=cue.prompt if cue else "",
        words=tuple(app.features.words_heard),
        speech=app.parts.speech is not None,
        audio_status=source.status,
        outputs=app.surfaces.states(),
        controls=app.controls,
        states=tuple(states),
    )


def fault_line(app) -> str:
    """The one real problem the performer must see even with the HUD hidden."""
    worker, source = app.worker.stats, app.parts.source.stats
    if app.recorder is not None and app.recorder.error:
        return app.recorder.error
    if worker.errors and app.shown is not None and app.shown.error is not None:
        return f"generator: {worker.last_error}"
    if "lost" in source.status or "retrying" in source.status:
        return source.status
    lost = [name for name, state in app.surfaces.states() if "lost" in state]
    if lost:
        return f"output lost, retrying: {', '.join(lost)}"
    if app.features.last_error:
        return app.features.last_error
    speech_error = getattr(app.features.speech, "error", None)
    return f"speech: {speech_error}" if speech_error else ""


def bar_meter(phase: float, steps: int = 8) -> str:
    """The position in the bar as a little meter, e.g. ###-----."""
    filled = min(steps, max(0, int(phase * steps) + 1))
    return "#" * filled + "-" * (steps - filled)


def section_name(label: int) -> str:
    return chr(ord("A") + label) if 0 <= label < 26 else str(label)
