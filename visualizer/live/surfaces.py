"""The show's connections to the outside: OSC in/out, MIDI in, Ableton Link, outputs.

`open_surfaces` opens what the options ask for, failing at start-up with one line when
an extra or a device is missing (better than discovering it mid-show). Every surface
talks to the app through the app's inbox queue; `states()` is what the HUD lists.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass, field

from visualizer.errors import UserError
from visualizer.live.options import LiveOptions

log = logging.getLogger(__name__)


@dataclass
class Surfaces:
    osc_in: object | None = None
    osc_out: object | None = None
    midi: object | None = None
    link: object | None = None
    outputs: list = field(default_factory=list)

    def states(self) -> tuple[tuple[str, str], ...]:
        states = [(worker.name, worker.state) for worker in self.outputs]
        if self.osc_in is not None:
            states.append(("osc-in", f":{self.osc_in.port}"))
        if self.osc_out is not None:
            states.append(("osc-out", self.osc_out.target))
        if self.midi is not None:
            states.append(("midi", self.midi.state))
        if self.link is not None:
            states.append(("link", f"{self.link.peers} peers"))
        return tuple(states)

    def send_picture(self, picture) -> None:
        for worker in self.outputs:
            worker.send(picture)

    def stop(self) -> None:
        for part in (self.osc_in, self.midi, *self.outputs):
            if part is not None:
                part.stop()
        for part in (self.osc_out, self.link):
            if part is not None:
                part.close()


def check_surfaces(options: LiveOptions) -> None:
    """The missing extras and wrong systems, found in a moment before the show is built."""
    import importlib.util

    from render.outputs import OutputError, check_available

    for name in options.outputs:
        try:
            check_available(name)
        except OutputError as exc:
            raise UserError(str(exc)) from None
    if options.midi is not None and importlib.util.find_spec("mido") is None:
        raise UserError("--midi needs mido: pip install 'visualize[midi]'")
    if options.link and importlib.util.find_spec("aalink") is None:
        raise UserError("--link needs aalink: pip install 'visualize[link]' (GPL-3.0)")


def open_surfaces(
    options: LiveOptions,
    inbox: queue.SimpleQueue,
    size: tuple[int, int],
    notice: Callable[[str], None],
) -> Surfaces:
    surfaces = Surfaces()
    try:
        if options.osc_port is not None:
            from visualizer.osc import OscServer

            surfaces.osc_in = OscServer(options.osc_port, inbox, options.osc_host).start()
        if options.osc_out is not None:
            from visualizer.osc import OscSender

            surfaces.osc_out = OscSender(*options.osc_out)
        if options.midi is not None:
            from visualizer.midi import MidiInput

            surfaces.midi = MidiInput(options.midi, inbox, notice, options.midi_map).start()
        if options.link:
            from visualizer.live.tempo import LinkTempo

            surfaces.link = LinkTempo()
        for name in options.outputs:
            surfaces.outputs.append(_open_output(name, size, options.record_fps, notice))
    except BaseException:
        surfaces.stop()
        raise
    return surfaces


def _open_output(name: str, size: tuple[int, int], fps: float, notice):
    from render.outputs import OutputError, OutputWorker, open_sink

    width, height = size
    try:
        sink = open_sink(name, width, height, fps)
    except OutputError as exc:
        raise UserError(str(exc)) from None
    log.info("output %s on", name)
    return OutputWorker(
        name, lambda: open_sink(name, width, height, fps), sink=sink, notice=notice
    ).start()
