"""OSC in (control the show) and OSC out (the analysis, for other tools to follow).

In: `/visualize/<action>` (e.g. /visualize/style/next, /visualize/preset/3) and
`/visualize/param/<name> <float 0..1>` (see visualizer.controls). A button that sends
1 on press and 0 on release acts on the press only. The server listens on 127.0.0.1
unless told otherwise, reads datagrams on its own thread and hands `Control`s to the
app through a queue. A malformed packet, an unknown address or a bad value is logged
once per address and ignored: the show goes on.

Out: on every beat `/visualize/beat <time> <beat in bar>`, on downbeats
`/visualize/downbeat <time>`, about 30 times a second `/visualize/bar_phase`,
`/visualize/bpm` and `/visualize/bands <energy> <bass> <mid> <treble>`, and on change
`/visualize/section <label>` and `/visualize/mood <name>`. Times are the audio clock.
"""

from __future__ import annotations

import logging
import math
import queue
import socket
import threading
from collections.abc import Sequence

from audio.features import FeatureFrame
from visualizer.controls import ACTION_NAMES, PARAM_NAMES, Control

log = logging.getLogger(__name__)

PREFIX = "/visualize/"
SEND_INTERVAL = 1.0 / 30  # continuous values out at ~30 Hz (beats are sent as they come)


class BadMessage(ValueError):
    pass


def route(address: str, params: Sequence) -> Control | None:
    """The Control an OSC message asks for; None for a button release; BadMessage if wrong."""
    if not address.startswith(PREFIX):
        raise BadMessage("not under /visualize/")
    name = address[len(PREFIX) :].strip("/")
    if name.startswith("param/"):
        param = name[len("param/") :]
        if param not in PARAM_NAMES:
            raise BadMessage(f"unknown parameter (known: {', '.join(PARAM_NAMES)})")
        if len(params) != 1 or not _is_number(params[0]):
            raise BadMessage("needs one float 0..1")
        value = float(params[0])
        if not 0.0 <= value <= 1.0:
            raise BadMessage(f"value {value:g} outside 0..1")
        return Control("param", param, value, "osc")
    if name not in ACTION_NAMES:
        raise BadMessage("unknown action")
    if len(params) > 1 or (params and not _is_number(params[0])):
        raise BadMessage("takes no argument, or one number (0 = button released)")
    if params and float(params[0]) == 0.0:
        return None
    return Control("action", name, 1.0, "osc")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class OscServer:
    """Listens for OSC datagrams on `host:port` and puts Controls into `inbox`."""

    def __init__(self, port: int, inbox: queue.SimpleQueue, host: str = "127.0.0.1") -> None:
        from visualizer.errors import UserError

        self.inbox = inbox
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise UserError(
                f"--osc {port}: cannot listen on {host}:{port} ({exc.strerror})"
            ) from None
        self._socket.settimeout(0.2)
        self.host, self.port = self._socket.getsockname()[:2]
        self.received = 0
        self.ignored = 0
        self._warned: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="osc-in", daemon=True)

    def start(self) -> OscServer:
        self._thread.start()
        log.info("OSC in on %s:%d (/visualize/...)", self.host, self.port)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(1.0)
        self._socket.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self._socket.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            self.handle(data)

    def handle(self, data: bytes) -> None:
        """Parse one datagram (a message or a bundle) and queue what it asks for."""
        from pythonosc.osc_packet import OscPacket, ParseError

        try:
            messages = [timed.message for timed in OscPacket(data).messages]
        except (ParseError, Exception) as exc:  # python-osc raises more than ParseError
            self._ignore("(malformed packet)", f"{type(exc).__name__}")
            return
        for message in messages:
            try:
                control = route(message.address, list(message.params))
            except BadMessage as exc:
                self._ignore(message.address, str(exc))
                continue
            self.received += 1
            if control is not None:
                self.inbox.put(control)

    def _ignore(self, address: str, why: str) -> None:
        self.ignored += 1
        if address not in self._warned:  # once per address: a flood must not flood the log
            self._warned.add(address)
            log.warning("OSC %s ignored: %s", address, why)


class OscSender:
    """Sends the analysis to `host:port`; called on the feature thread, never raises."""

    def __init__(self, host: str, port: int) -> None:
        from pythonosc.udp_client import SimpleUDPClient

        self._client = SimpleUDPClient(host, port)
        self.target = f"{host}:{port}"
        self.sent = 0
        self.error = ""
        self._next_send = -math.inf
        self._section: int | None = None
        self._mood = ""

    def feature(self, frame: FeatureFrame, mood: str = "") -> None:
        try:
            self._send_frame(frame, mood)
        except OSError as exc:  # nobody listening yet (ICMP refused) or no route: carry on
            if not self.error:
                log.warning("OSC out to %s: %s (still sending)", self.target, exc)
            self.error = str(exc)

    def _send_frame(self, frame: FeatureFrame, mood: str) -> None:
        if frame.is_beat:
            self._send("beat", [float(frame.time), int(frame.beat_in_bar)])
        if frame.is_downbeat:
            self._send("downbeat", [float(frame.time)])
        if frame.section != self._section:
            self._section = frame.section
            self._send("section", [int(frame.section)])
        if mood and mood != self._mood:
            self._mood = mood
            self._send("mood", [mood])
        if frame.time >= self._next_send:
            self._next_send = frame.time + SEND_INTERVAL
            self._send("bar_phase", [float(frame.bar_phase)])
            self._send("bpm", [float(frame.tempo)])
            bands = [frame.energy, frame.bass, frame.mid, frame.treble]
            self._send("bands", [float(v) if math.isfinite(v) else 0.0 for v in bands])

    def _send(self, name: str, values: list) -> None:
        self._client.send_message(PREFIX + name, values)
        self.sent += 1

    def close(self) -> None:
        sock = getattr(self._client, "_sock", None)
        if sock is not None:
            sock.close()
