"""MIDI in (mido + python-rtmidi, extra `midi`): notes and CCs to actions and parameters,
MIDI learn, and MIDI clock as a tempo source.

The port's callback runs on rtmidi's thread and only turns messages into small frozen
`MidiEvent`s (or, for clock ticks, `TempoReading`s) put on the app's inbox; the app maps
them on its own thread (`MidiMapping.controls`). A mapping is a TOML file:

    channel = 0            # 0 = any channel, 1..16 = that one
    [cc]
    1 = "param/intensity"  # a knob: 0..127 -> 0..1
    7 = "tap"              # a button CC: acts when it goes over 63
    [note]
    36 = "style/next"      # a pad: acts on note-on

A device that disappears gets one notice; a watcher reopens it when it comes back.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from visualizer.controls import ACTION_NAMES, PARAM_NAMES, Control
from visualizer.errors import UserError
from visualizer.live.tempo import MidiClock

log = logging.getLogger(__name__)

DEFAULT_MAP = Path(__file__).parent / "midimaps" / "generic-8knob.toml"
USER_MAP = Path.home() / ".config" / "visualize" / "midi.toml"  # where learn saves
WATCH_SECONDS = 1.0


@dataclass(frozen=True)
class MidiEvent:
    kind: str  # "cc" | "note"
    channel: int  # 1..16
    number: int
    value: int  # 0..127; a note-off is a note with value 0


def event_from_message(message) -> MidiEvent | None:
    """A mido.Message as a MidiEvent; None for what the mapping does not use."""
    kind = message.type
    if kind == "control_change":
        return MidiEvent("cc", message.channel + 1, message.control, message.value)
    if kind == "note_on":
        return MidiEvent("note", message.channel + 1, message.note, message.velocity)
    if kind == "note_off":
        return MidiEvent("note", message.channel + 1, message.note, 0)
    return None


def valid_target(target: str) -> bool:
    if target.startswith("param/"):
        return target[len("param/") :] in PARAM_NAMES
    return target in ACTION_NAMES


class MidiMapping:
    """Notes and CCs to targets; used on the app's thread only."""

    def __init__(
        self, cc: dict[int, str] | None = None, note: dict[int, str] | None = None, channel: int = 0
    ) -> None:
        self.cc, self.note, self.channel = dict(cc or {}), dict(note or {}), channel
        self._high: set[int] = set()  # button CCs now held above 63

    @classmethod
    def load(cls, path: Path) -> MidiMapping:
        from visualizer.styles import tomllib  # tomllib or tomli, as the style packs use

        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--midi-map {path}: cannot read it ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"--midi-map {path}: not valid TOML ({exc})") from None
        channel = data.get("channel", 0)
        if not isinstance(channel, int) or not 0 <= channel <= 16:
            raise UserError(f"--midi-map {path}: channel must be 0 (any) or 1..16")
        tables = {}
        for kind in ("cc", "note"):
            table = data.get(kind, {})
            if not isinstance(table, dict):
                raise UserError(f"--midi-map {path}: [{kind}] must be a table")
            tables[kind] = {}
            for key, target in table.items():
                if not str(key).isdigit() or not 0 <= int(key) <= 127:
                    raise UserError(f"--midi-map {path}: {kind} {key!r} is not 0..127")
                if not isinstance(target, str) or not valid_target(target):
                    raise UserError(f"--midi-map {path}: {kind} {key} -> unknown target {target!r}")
                tables[kind][int(key)] = target
        return cls(tables["cc"], tables["note"], channel)

    def controls(self, event: MidiEvent) -> list[Control]:
        if self.channel and event.channel != self.channel:
            return []
        target = (self.cc if event.kind == "cc" else self.note).get(event.number)
        if target is None:
            return []
        if target.startswith("param/"):
            return [Control("param", target[len("param/") :], event.value / 127.0, "midi")]
        if event.kind == "cc":  # a button CC acts on the way up only
            was_high = event.number in self._high
            (self._high.add if event.value >= 64 else self._high.discard)(event.number)
            if event.value < 64 or was_high:
                return []
        elif event.value == 0:
            return []
        return [Control("action", target, 1.0, "midi")]

    def learn(self, event: MidiEvent, target: str) -> None:
        if not valid_target(target):
            raise ValueError(f"unknown target {target!r}")
        table = self.cc if event.kind == "cc" else self.note
        for other in (self.cc, self.note):  # one control per target, the newest wins
            for number in [n for n, t in other.items() if t == target]:
                del other[number]
        table[event.number] = target

    def to_toml(self) -> str:
        lines = ["# visualize MIDI mapping (written by MIDI learn)", f"channel = {self.channel}"]
        for kind, table in (("cc", self.cc), ("note", self.note)):
            lines += ["", f"[{kind}]"] + [f'{n} = "{t}"' for n, t in sorted(table.items())]
        return "\n".join(lines) + "\n"


def find_input(device: str, names: list[str]) -> str:
    """The input whose name contains `device` (case-insensitive); UserError if none."""
    matches = [name for name in names if device.lower() in name.lower()]
    if not matches:
        listed = ", ".join(names) or "none"
        raise UserError(f"--midi {device!r}: no such MIDI input (inputs: {listed})")
    return matches[0]


class MidiInput:
    """An open MIDI input: events and clock readings into `inbox`; reconnects by itself."""

    def __init__(
        self,
        device: str,
        inbox: queue.SimpleQueue,
        notice: Callable[[str], None],
        map_path: Path | None = None,
        backend=None,
    ) -> None:
        if backend is None:
            try:
                import mido
            except ImportError:
                raise UserError("--midi needs mido: pip install 'visualize[midi]'") from None
            backend = mido
        self._mido = backend
        self.inbox, self._notice = inbox, notice
        self.map_path = map_path or (USER_MAP if USER_MAP.exists() else DEFAULT_MAP)
        self.mapping = MidiMapping.load(self.map_path)
        self.clock = MidiClock()
        self.name = find_input(device, self._input_names())
        self.state = "opening"
        self._port = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="midi-watch", daemon=True)

    def _input_names(self) -> list[str]:
        try:
            return list(self._mido.get_input_names())
        except Exception as exc:  # no ALSA sequencer, no CoreMIDI ...
            raise UserError(f"--midi: no MIDI system here ({exc})") from None

    def start(self) -> MidiInput:
        self._open()
        self._thread.start()
        log.info("MIDI in: %s (mapping %s)", self.name, self.map_path)
        return self

    def _open(self) -> None:
        self._port = self._mido.open_input(self.name, callback=self.on_message)
        self.state = "on"

    def on_message(self, message) -> None:
        """rtmidi's thread: clock ticks become tempo readings, the rest MidiEvents."""
        kind = message.type
        if kind == "clock":
            reading = self.clock.tick(time.monotonic())
            if reading is not None:
                self.inbox.put(reading)
        elif kind in ("start", "continue"):
            self.clock.start()
        elif kind == "stop":
            self.clock.stop()
        else:
            event = event_from_message(message)
            if event is not None:
                self.inbox.put(event)

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_SECONDS):
            try:
                present = self.name in self._mido.get_input_names()
            except Exception:
                present = False
            if not present and self._port is not None:
                self._close_port()
                self.state = "lost, waiting"
                self._notice(f"MIDI {self.name} lost; waiting for it to come back")
            elif present and self._port is None:
                try:
                    self._open()
                    self._notice(f"MIDI {self.name} is back")
                except Exception as exc:
                    log.debug("reopening %s: %s", self.name, exc)

    def learn(self, event: MidiEvent, target: str) -> str:
        """Bind `event`'s control to `target`, save the mapping; returns the notice."""
        self.mapping.learn(event, target)
        try:
            USER_MAP.parent.mkdir(parents=True, exist_ok=True)
            partial = USER_MAP.with_suffix(".partial")
            partial.write_text(self.mapping.to_toml())
            partial.replace(USER_MAP)
            saved = f", saved to {USER_MAP}"
        except OSError as exc:
            saved = f" (not saved: {exc.strerror})"
        return f"MIDI {event.kind} {event.number} -> {target}{saved}"

    def _close_port(self) -> None:
        port, self._port = self._port, None
        try:
            port.close()
        except Exception as exc:
            log.debug("closing MIDI port: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        if self._port is not None:
            self._close_port()
        self.state = "off"
