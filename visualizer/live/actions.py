"""What each live action does: keys, OSC and MIDI all end here (visualizer.controls
names them). Functions of the app, called on the Qt main thread by `LiveApp.act`."""

from __future__ import annotations

import logging
import time
from typing import Any

from visualizer.controls import ACTION_NAMES
from visualizer.live.tempo import TempoReading

LiveApp = Any  # the visualizer.live.app.LiveApp calling in (not imported: it imports us)

log = logging.getLogger("visualizer.live.app")


def perform(app: LiveApp, action: str) -> None:
    """Do what `action` (an ACTION_NAMES entry) asks, on the Qt main thread."""
    if action == "quit":
        app.request_quit(f"quit ({app.action_source})")
    elif action == "fullscreen":
        app.window.set_fullscreen(not app.window.isFullScreen(), app.options.screen)
    elif action == "fullscreen/leave":
        app.window.set_fullscreen(False)
    elif action == "freeze":
        app.frozen = not app.frozen
    elif action == "blackout":
        app.blackout = not app.blackout
        app.window.set_blackout(app.blackout)
        app.dirty = True
    elif action == "hud":
        app.window.toggle_hud()
    elif action == "help":
        app.window.toggle_help()
    elif action in ("style/next", "style/previous"):
        set_style(app, style_after(app, 1 if action == "style/next" else -1))
    elif action.startswith("preset/"):
        number, styles = int(action.split("/")[1]), list(app.parts.styles)
        if number > len(styles):
            app.notify(f"no style preset {number} ({len(styles)} available)")
            return
        set_style(app, styles[number - 1])
    elif action == "tap":
        now = time.monotonic()
        bpm = app.tap.tap(now)
        if bpm is not None:
            app.tempo.update(TempoReading("tap", bpm, now, now))
            app._follow_tempo()
    elif action == "record":
        if app.recorder is None:
            app.start_recording(app._next_recording_path())
        else:
            app.stop_recording()
    elif action == "learn":
        app.notify(app.learn.toggle(app.surfaces.midi is not None))
    elif action == "learn/param":
        app._notify_if(app.learn.next_param())
    elif action not in ACTION_NAMES:
        app.notify(f"unknown action {action!r}")
    app.update_hud()


def style_after(app: LiveApp, step: int) -> str:
    """The style `step` places after the one playing, wrapping round."""
    styles = list(app.parts.styles)
    current = styles.index(app.features.style) if app.features.style in styles else -1
    return styles[(current + step) % len(styles)]


def set_style(app: LiveApp, name: str) -> None:
    app.features.commands.put(("style", name))
    styles = list(app.parts.styles)
    if app.controls.crossfade > 0 and name in styles:  # keep fading toward the next one
        target = styles[(styles.index(name) + 1) % len(styles)]
        app.features.commands.put(("crossfade target", target))
    log.info("style: %s", name)
    app.notify(f"style: {name}")
