"""MIDI learn: press L, then the key of an action (or Up to step through the parameters),
then move a knob or hit a pad. A small state machine the app drives on its own thread;
each step returns the notice to show (None when the key was not for learn)."""

from __future__ import annotations

from visualizer.controls import PARAM_NAMES

LEARN_KEYS = ("learn", "learn/param")


class MidiLearn:
    def __init__(self) -> None:
        self.target: str | None = None  # None: off; "": waiting for a key; else the target

    def toggle(self, have_midi: bool) -> str:
        if not have_midi:
            return "MIDI learn needs --midi DEVICE"
        self.target = None if self.target is not None else ""
        return "MIDI learn: press a key (Up = parameters)" if self.target == "" else ""

    def pick(self, action: str) -> str | None:
        """In learn mode a key picks the target instead of acting; L and Up stay themselves."""
        if self.target is None or action in LEARN_KEYS:
            return None
        self.target = action
        return f"MIDI learn: move a knob or hit a pad for {action}"

    def next_param(self) -> str | None:
        if self.target is None:
            return None
        names = [f"param/{n}" for n in PARAM_NAMES]
        at = names.index(self.target) + 1 if self.target in names else 0
        self.target = names[at % len(names)]
        return f"MIDI learn: move a knob for {self.target}"

    def bind(self, midi, event) -> str:
        """Bind the control that sent `event` to the target; learn mode ends."""
        target, self.target = self.target, None
        return midi.learn(event, target)
