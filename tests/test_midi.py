"""MIDI: mapping, learn and clock logic on mido.Message objects; device loss and return."""

from __future__ import annotations

import os
import queue
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the app test below makes a Qt app

import pytest  # noqa: E402

mido = pytest.importorskip("mido")

from visualizer.controls import Control  # noqa: E402
from visualizer.errors import UserError  # noqa: E402
from visualizer.live.tempo import TempoReading  # noqa: E402
from visualizer.midi import (  # noqa: E402
    DEFAULT_MAP,
    MidiEvent,
    MidiInput,
    MidiMapping,
    event_from_message,
    find_input,
)


def events(*messages) -> list[MidiEvent]:
    return [event_from_message(m) for m in messages]


def test_messages_become_events():
    cc, on, off = events(
        mido.Message("control_change", channel=2, control=7, value=99),
        mido.Message("note_on", note=36, velocity=100),
        mido.Message("note_off", note=36, velocity=64),
    )
    assert cc == MidiEvent("cc", 3, 7, 99)  # channels are 1..16 for people
    assert on == MidiEvent("note", 1, 36, 100) and off.value == 0
    assert event_from_message(mido.Message("pitchwheel", pitch=100)) is None


def test_the_shipped_8_knob_map_drives_parameters_and_actions():
    mapping = MidiMapping.load(DEFAULT_MAP)
    knob = mido.Message("control_change", control=1, value=127)
    assert mapping.controls(event_from_message(knob)) == [
        Control("param", "intensity", 1.0, "midi")
    ]
    pad = event_from_message(mido.Message("note_on", note=37, velocity=90))
    assert mapping.controls(pad) == [Control("action", "style/next", 1.0, "midi")]
    release = event_from_message(mido.Message("note_on", note=37, velocity=0))
    assert mapping.controls(release) == []
    assert mapping.controls(MidiEvent("cc", 1, 99, 64)) == []  # unmapped


def test_a_button_cc_acts_once_per_press():
    mapping = MidiMapping(cc={8: "blackout"})
    presses = [mapping.controls(MidiEvent("cc", 1, 8, v)) for v in (0, 127, 127, 0, 100)]
    assert [len(p) for p in presses] == [0, 1, 0, 0, 1]


def test_channel_filter():
    mapping = MidiMapping(note={36: "tap"}, channel=10)
    assert mapping.controls(MidiEvent("note", 1, 36, 100)) == []
    assert mapping.controls(MidiEvent("note", 10, 36, 100))[0].name == "tap"


@pytest.mark.parametrize(
    "text, why",
    [
        ("[cc\n", "not valid TOML"),
        ('[cc]\n1 = "param/volume"\n', "unknown target"),
        ('[note]\n200 = "tap"\n', "not 0..127"),
        ("channel = 17\n", "channel must be"),
    ],
)
def test_bad_mappings_are_one_line(tmp_path, text, why):
    path = tmp_path / "map.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=why):
        MidiMapping.load(path)


def test_learn_rebinds_and_round_trips_through_toml(tmp_path):
    mapping = MidiMapping(cc={1: "param/intensity"}, note={36: "tap"})
    mapping.learn(MidiEvent("cc", 1, 21, 5), "param/intensity")  # moves the target
    mapping.learn(MidiEvent("note", 1, 50, 100), "style/next")
    assert mapping.cc == {21: "param/intensity"} and mapping.note == {36: "tap", 50: "style/next"}
    path = tmp_path / "learned.toml"
    path.write_text(mapping.to_toml())
    again = MidiMapping.load(path)
    assert again.cc == mapping.cc and again.note == mapping.note
    with pytest.raises(ValueError):
        mapping.learn(MidiEvent("cc", 1, 2, 0), "explode")


def test_find_input_by_part_of_the_name():
    names = ["Midi Through:Midi Through Port-0 14:0", "LPD8 mk2:LPD8 mk2 MIDI 1 24:0"]
    assert find_input("lpd8", names) == names[1]
    with pytest.raises(UserError, match="no such MIDI input"):
        find_input("nanoKONTROL", names)


class FakeBackend:
    """mido's port functions, with a device that can be unplugged."""

    def __init__(self) -> None:
        self.names = ["LPD8 mk2 MIDI 1"]
        self.ports: list = []

    def get_input_names(self):
        return list(self.names)

    def open_input(self, name, callback):
        if name not in self.names:
            raise OSError("gone")
        port = type("Port", (), {"callback": staticmethod(callback), "closed": False})()
        port.close = lambda: setattr(port, "closed", True)
        self.ports.append(port)
        return port


def test_clock_ticks_become_tempo_readings_and_notes_events():
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    backend = FakeBackend()
    midi = MidiInput("lpd8", inbox, lambda text: None, backend=backend).start()
    try:
        port = backend.ports[0]
        port.callback(mido.Message("start"))
        tick = 60.0 / 128 / 24
        start = time.monotonic()
        for i in range(24 * 2 + 1):  # real ticks at 128 BPM, spaced in wall time
            while time.monotonic() < start + i * tick:
                pass
            port.callback(mido.Message("clock"))
        port.callback(mido.Message("note_on", note=36, velocity=80))
        items = []
        while not inbox.empty():
            items.append(inbox.get_nowait())
    finally:
        midi.stop()
    readings = [item for item in items if isinstance(item, TempoReading)]
    assert readings and abs(readings[-1].bpm - 128) < 4
    assert items[-1] == MidiEvent("note", 1, 36, 80)


def test_a_device_that_disappears_gives_one_notice_and_comes_back(monkeypatch):
    import visualizer.midi

    monkeypatch.setattr(visualizer.midi, "WATCH_SECONDS", 0.05)
    notices: list[str] = []
    backend = FakeBackend()
    midi = MidiInput("lpd8", queue.SimpleQueue(), notices.append, backend=backend).start()
    try:
        backend.names = []
        _wait(lambda: midi.state == "lost, waiting")
        time.sleep(0.3)  # stays lost a while: still one notice
        backend.names = ["LPD8 mk2 MIDI 1"]
        _wait(lambda: midi.state == "on" and len(backend.ports) == 2)
    finally:
        midi.stop()
    assert backend.ports[0].closed
    assert notices == ["MIDI LPD8 mk2 MIDI 1 lost; waiting for it to come back",
                       "MIDI LPD8 mk2 MIDI 1 is back"]  # fmt: skip


def _alsa_sequencer() -> bool:
    try:
        port = mido.open_output("visualize-test-probe", virtual=True)
    except Exception:
        return False
    port.close()
    return True


@pytest.mark.skipif(
    not _alsa_sequencer(), reason="no MIDI virtual ports here (no ALSA sequencer /dev/snd/seq)"
)
def test_a_real_virtual_port_reaches_the_inbox():
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    with mido.open_output("visualize-test-knobs", virtual=True) as out:
        midi = MidiInput("visualize-test-knobs", inbox, lambda text: None).start()
        try:
            out.send(mido.Message("control_change", control=1, value=64))
            assert inbox.get(timeout=5) == MidiEvent("cc", 1, 1, 64)
        finally:
            midi.stop()


def _wait(condition, timeout: float = 5.0) -> None:
    done = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        done.wait(0.02)


def test_learn_in_the_app_binds_a_knob_to_the_key_pressed(qtbot, tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    import visualizer.midi
    from tests.test_live import make_app

    monkeypatch.setattr(visualizer.midi, "USER_MAP", tmp_path / "midi.toml")
    app = make_app(qtbot)
    try:
        app.surfaces.midi = MidiInput("lpd8", app.inbox, app._post_notice, backend=FakeBackend())
        app.act("learn")
        app.act("style/next")  # in learn mode a key picks the target instead of acting
        assert app.learning == "style/next" and app.features.style == "default"
        app.inbox.put(MidiEvent("cc", 1, 99, 127))
        qtbot.waitUntil(lambda: app.learning is None, timeout=5000)
        assert "cc 99 -> style/next" in app.window.notice
        assert '\n99 = "style/next"' in (tmp_path / "midi.toml").read_text()
        app.inbox.put(MidiEvent("cc", 1, 99, 0))
        app.inbox.put(MidiEvent("cc", 1, 99, 127))  # the learned knob now acts
        qtbot.waitUntil(lambda: app.features.style == "noir", timeout=5000)
        app.inbox.put(MidiEvent("cc", 1, 1, 127))  # the default map: CC1 = intensity
        qtbot.waitUntil(lambda: app.controls.intensity == 1.0, timeout=5000)
    finally:
        app.stop()
