"""OSC in and out: routing rules, bad input, and real UDP on 127.0.0.1 both ways."""

from __future__ import annotations

import logging
import queue
import socket

import numpy as np
import pytest

pytest.importorskip("pythonosc")
from pythonosc.osc_packet import OscPacket  # noqa: E402
from pythonosc.udp_client import SimpleUDPClient  # noqa: E402

from visualizer.controls import Control  # noqa: E402
from visualizer.osc import BadMessage, OscSender, OscServer, route  # noqa: E402


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_routes_actions_params_and_button_releases():
    assert route("/visualize/style/next", []) == Control("action", "style/next", 1.0, "osc")
    assert route("/visualize/preset/3", [1.0]).name == "preset/3"
    assert route("/visualize/blackout", [0.0]) is None  # a TouchOSC button let go
    assert route("/visualize/param/intensity", [0.8]) == Control("param", "intensity", 0.8, "osc")
    assert route("/visualize/param/fade", [1]).value == 1.0  # ints are numbers too


@pytest.mark.parametrize(
    "address, params, why",
    [
        ("/other/thing", [], "not under"),
        ("/visualize/explode", [], "unknown action"),
        ("/visualize/param/volume", [0.5], "unknown parameter"),
        ("/visualize/param/intensity", [1.5], "outside 0..1"),
        ("/visualize/param/intensity", ["loud"], "one float"),
        ("/visualize/param/intensity", [], "one float"),
        ("/visualize/param/intensity", [float("nan")], "one float"),
        ("/visualize/quit", ["now"], "no argument"),
    ],
)
def test_bad_messages_say_why(address, params, why):
    with pytest.raises(BadMessage, match=why):
        route(address, params)


def test_bad_packets_are_logged_once_per_address_and_ignored(caplog):
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    server = OscServer(free_port(), inbox)
    try:
        with caplog.at_level(logging.WARNING, logger="visualizer.osc"):
            for _ in range(5):
                server.handle(b"\x00garbage that is not OSC")
                server.handle(_packet("/visualize/explode"))
            server.handle(_packet("/visualize/style/next"))
    finally:
        server.stop()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings  # one per bad address, not one per packet
    assert server.ignored == 10 and inbox.get_nowait().name == "style/next"


def test_the_server_listens_on_localhost_only_by_default():
    server = OscServer(free_port(), queue.SimpleQueue())
    try:
        assert server.host == "127.0.0.1"
    finally:
        server.stop()


def test_a_taken_port_is_one_clear_line():
    from visualizer.errors import UserError

    port = free_port()
    first = OscServer(port, queue.SimpleQueue())
    try:
        with pytest.raises(UserError, match=f"--osc {port}: cannot listen"):
            OscServer(port, queue.SimpleQueue())
    finally:
        first.stop()


def test_messages_over_real_udp_reach_the_inbox():
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    server = OscServer(free_port(), inbox).start()
    try:
        client = SimpleUDPClient("127.0.0.1", server.port)
        client.send_message("/visualize/param/palette", 0.25)
        client.send_message("/visualize/style/next", [])
        got = [inbox.get(timeout=5), inbox.get(timeout=5)]
    finally:
        server.stop()
    assert got == [
        Control("param", "palette", 0.25, "osc"),
        Control("action", "style/next", 1.0, "osc"),
    ]


def test_analysis_out_sends_beats_at_the_right_times_for_a_synthetic_track():
    """The streaming analyzer on a 120 BPM track, its OSC received on a UDP socket."""
    from audio.synth import make_beat_track
    from visualizer.live import make_analyzer

    track = make_beat_track(bpm=120.0, duration=14.0, seed=3)
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.5)
    sender = OscSender("127.0.0.1", receiver.getsockname()[1])
    analyzer = make_analyzer(track.sample_rate)
    messages = []
    for start in range(0, len(track.samples), 256):
        for frame in analyzer.push(track.samples[start : start + 256]):
            sender.feature(frame, "energetic")
        messages += _drain(receiver)
    messages += _drain(receiver)
    receiver.close()
    beats = np.array([args[0] for address, args in messages if address == "/visualize/beat"])
    addresses = {address for address, _ in messages}
    assert {"/visualize/bpm", "/visualize/bands", "/visualize/bar_phase"} <= addresses
    assert ("/visualize/mood", ["energetic"]) in messages
    late = beats[beats > 6.0]  # after the tracker has locked on
    assert len(late) >= 12
    errors = np.abs(late[:, None] - track.beats[None, :]).min(axis=1)
    assert np.median(errors) < 0.05, errors
    bpms = [args[0] for address, args in messages if address == "/visualize/bpm" and args[0] > 0]
    assert abs(np.median(bpms[-20:]) - 120.0) < 3.0


def _packet(address: str, *values) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address)
    for value in values:
        builder.add_arg(value)
    return builder.build().dgram


def _drain(receiver: socket.socket) -> list[tuple[str, list]]:
    out = []
    receiver.setblocking(False)
    try:
        while True:
            data = receiver.recv(65536)
            out += [(m.message.address, list(m.message.params)) for m in OscPacket(data).messages]
    except BlockingIOError:
        pass
    finally:
        receiver.settimeout(0.5)
    return out


def test_a_bundle_delivers_every_message_in_it():
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    bundle = OscBundleBuilder(IMMEDIATELY)
    for address, value in (("/visualize/param/motion", 0.9), ("/visualize/freeze", 1.0)):
        message = OscMessageBuilder(address)
        message.add_arg(value)
        bundle.add_content(message.build())
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    server = OscServer(free_port(), inbox)
    try:
        server.handle(bundle.build().dgram)
    finally:
        server.stop()
    assert [inbox.get_nowait().name, inbox.get_nowait().name] == ["motion", "freeze"]
