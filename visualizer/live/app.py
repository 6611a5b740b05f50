"""The live app: owns the threads, the window and the surfaces; runs on the Qt main thread.

    PortAudio callback --ring--> feature thread --submit--> render worker --queue--> Qt timer
    (copy and return)            analyzer, scheduler,        steered generator      newest frame,
                                 drive, speech, OSC out                             HUD, record, outputs

Each arrow drops old data rather than blocking. Keys, OSC and MIDI all arrive as
`Control`s (visualizer.controls): keys through the window's signal, OSC and MIDI through
`inbox`, whose every put wakes this thread at once, so every change happens here.
"""

from __future__ import annotations

import logging
import queue
import signal
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from render.worker import RenderedFrame, RenderWorker
from visualizer.controls import Control, ControlState, fade_picture
from visualizer.errors import UserError
from visualizer.live.actions import perform, style_after
from visualizer.live.build import LiveComponents
from visualizer.live.features import FeatureLoop, TempoLock
from visualizer.live.hud import fault_line, hud_lines, hud_snapshot
from visualizer.live.inbox import Inbox, make_waker
from visualizer.live.learn import MidiLearn
from visualizer.live.options import LiveOptions
from visualizer.live.recorder import LiveRecorder
from visualizer.live.steer import SteeredGenerator
from visualizer.live.surfaces import Surfaces, open_surfaces
from visualizer.live.tempo import TapTempo, TempoReading, TempoSources

log = logging.getLogger(__name__)

NOTICE_SECONDS = 3.0
# Older action names (before the control surface), still accepted from code and tests.
ALIASES = {"next style": "style/next", "previous style": "style/previous", "tap tempo": "tap",
           "leave fullscreen": "fullscreen/leave"}  # fmt: skip


class LiveApp:
    """Owns the threads and the window; everything here runs on the Qt main thread."""

    def __init__(self, options: LiveOptions, parts: LiveComponents, window=None) -> None:
        from PyQt6.QtCore import QTimer

        self.options = options
        self.parts = parts
        if window is None:
            if options.window:
                from visualizer.window import LiveWindow as window_class
            else:
                from visualizer.live.headless import HeadlessWindow as window_class
            window = window_class()
        self.window = window
        self.steered = [SteeredGenerator(g) for g in (parts.generator, parts.fallback) if g]
        self.worker = RenderWorker(*self.steered[:2], max_pending=1, max_ready=2)
        self.features = FeatureLoop(
            parts.source, parts.analyzer, parts.make_scheduler, self.worker, options.style,
            parts.speech,
        )  # fmt: skip
        self.inbox = Inbox()  # Controls, TempoReadings, MIDI events, notices
        self._waker = make_waker(self._on_wake)
        self.inbox.wake = self._waker.wake.emit
        self.surfaces = Surfaces()
        self.controls = ControlState()
        self.tempo = TempoSources()
        self.tap = TapTempo()
        self.learn = MidiLearn()
        self.recorder: LiveRecorder | None = None
        self.recordings: list[Path] = []
        self.frozen = False
        self.blackout = False
        self.latencies: deque[float] = deque(maxlen=2000)
        self.frame_times: deque[float] = deque(maxlen=120)
        self.shown: RenderedFrame | None = None
        self.on_frame: list[Callable[[RenderedFrame], None]] = []  # benchmarks hook in here
        self.on_picture: list[Callable[[np.ndarray], None]] = []  # what is shown, faded
        self.quit_reason = ""
        self.started_at = 0.0
        self._signal = ""
        self.dirty = False  # the visible picture must be redrawn (fade changed)
        self._tempo_source = ""
        self._message_until = 0.0
        self.action_source = "key"
        self._timer = QTimer()
        self._timer.timeout.connect(self.tick)
        self._hud_timer = QTimer()
        self._hud_timer.timeout.connect(self.update_hud)
        self.window.action.connect(self.act)
        self.window.hud_visible = options.hud

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> LiveApp:
        self.started_at = time.monotonic()
        size = (self.parts.generator.width, self.parts.generator.height)
        self.surfaces = open_surfaces(self.options, self.inbox, size, self._post_notice)
        if self.surfaces.osc_out is not None:
            self.features.feature_taps.append(self.surfaces.osc_out.feature)
        self.worker.start()
        self.parts.source.start()
        if self.parts.speech is not None:
            try:
                self.parts.speech.start()
            except Exception as exc:  # words are a bonus; the show runs without them
                log.warning("speech off: %s", exc)
                self.parts.speech = self.features.speech = None
        self.features.start()
        if self.options.record:
            self.start_recording(self.options.record)
        if self.options.fullscreen:
            self.window.set_fullscreen(True, self.options.screen)
        else:
            self.window.show()
        self._timer.start(max(1, int(1000 / self.window.refresh_rate())))
        self._hud_timer.start(250)
        self.update_hud()
        return self

    def stop(self) -> None:
        """Stop everything in order; idempotent. A recording is closed cleanly."""
        self._timer.stop()
        self._hud_timer.stop()
        self.features.stop()
        self.parts.source.stop()
        if self.recorder is not None:
            self.stop_recording()
        self.surfaces.stop()
        self.surfaces = Surfaces()
        self.worker.stop()
        for part in (self.parts.speech, self.parts.generator, self.parts.fallback):
            _close_quietly(part)

    def request_quit(self, reason: str) -> None:
        from PyQt6.QtCore import QCoreApplication

        if not self.quit_reason:
            self.quit_reason = reason
        QCoreApplication.instance().quit()

    def on_signal(self, signum: int, _frame=None) -> None:
        """SIGINT/SIGTERM: only set a flag; the next tick quits on the main thread."""
        self._signal = signal.Signals(signum).name

    def _post_notice(self, text: str) -> None:
        """For other threads (outputs, MIDI): logged now, shown by the next tick."""
        log.warning("%s", text)
        self.inbox.put(("notice", text))

    # -- the display tick (screen refresh rate) --------------------------------------

    def tick(self) -> None:
        if self._signal:
            self.request_quit(f"{self._signal} received")
            return
        self._drain_inbox()
        frame = self.worker.latest_frame()
        now = self.parts.source.clock()
        if frame is not None and not self.frozen:
            self.shown, self.dirty = frame, True
            self.latencies.append(now - frame.time)
            self.frame_times.append(time.monotonic())
            for hook in self.on_frame:
                hook(frame)
        self._present()
        if self.parts.source.finished and not self.options.loop:
            self.request_quit("end of input")
        elif self.options.duration and time.monotonic() - self.started_at >= self.options.duration:
            self.request_quit("--duration reached")

    def _on_wake(self) -> None:
        """A control arrived from OSC/MIDI: act now, and show a fade/blackout at once."""
        self._drain_inbox()
        self._present()

    def _present(self) -> None:
        """Hand the visible picture to the window, recorder and outputs when it changed."""
        if self.shown is None or not self.dirty:
            return
        self.dirty = False
        picture = self._visible_picture()
        self.window.show_frame(picture)
        if self.recorder is not None:
            self.recorder.show(picture)
        self.surfaces.send_picture(picture)
        for hook in self.on_picture:
            hook(picture)

    def _visible_picture(self) -> np.ndarray:
        return fade_picture(self.shown.image, 1.0 if self.blackout else self.controls.fade)

    def _drain_inbox(self) -> None:
        while True:
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Control):
                self.control(item)
            elif isinstance(item, TempoReading):
                self.tempo.update(item)
            elif isinstance(item, tuple) and item[0] == "notice":
                self.notify(item[1])
            elif hasattr(item, "kind") and self.surfaces.midi is not None:  # a raw MIDI event
                self._midi_event(item)
        self._follow_tempo()

    # -- controls: keys, OSC and MIDI --------------------------------------------------

    def control(self, message: Control) -> None:
        if message.kind == "param":
            self.set_param(message.name, message.value)
        else:
            self.act(message.name, message.source)

    def set_param(self, name: str, value: float) -> None:
        try:
            self.controls = self.controls.with_param(name, value)
        except (KeyError, ValueError) as exc:
            self.notify(f"param {name}: {exc}"[:120])
            return
        for steered in self.steered:
            steered.controls.put(self.controls)
        self.features.commands.put(("controls", self.controls))
        if name == "crossfade":
            self.features.commands.put(("crossfade target", style_after(self, 1)))
        self.dirty = True

    def act(self, action: str, source: str = "key") -> None:
        action = ALIASES.get(action, action.replace("preset ", "preset/"))
        self.action_source = source
        try:
            if source == "key" and self._notify_if(self.learn.pick(action)):
                return
            perform(self, action)
        except UserError as exc:  # e.g. a preset that names a missing style
            self.notify(str(exc))
        except Exception as exc:  # a control must never crash the show
            log.exception("action %s", action)
            self.notify(f"{action}: {type(exc).__name__}: {exc}"[:160])

    @property
    def learning(self) -> str | None:
        return self.learn.target

    def _notify_if(self, text: str | None) -> bool:
        if text is None:
            return False
        self.notify(text)
        return True

    def _midi_event(self, event) -> None:
        midi = self.surfaces.midi
        if self.learn.target:
            self.notify(self.learn.bind(midi, event))
            return
        for message in midi.mapping.controls(event):
            self.control(message)

    # -- tempo sources -----------------------------------------------------------------

    def _follow_tempo(self) -> None:
        """Lock the feature thread to the tempo source in charge, if it changed."""
        now = time.monotonic()
        if self.surfaces.link is not None:
            reading = self.surfaces.link.read(now)
            if reading is not None:
                self.tempo.update(reading)
        reading = self.tempo.choose(now)
        key = f"{reading.source} {reading.bpm:.2f} {reading.beat_time:.3f}" if reading else ""
        if key == self._tempo_source:
            return
        self._tempo_source = key
        lock = None
        if reading is not None:  # the beat's monotonic time on the audio clock
            origin = self.parts.source.clock() - (now - reading.beat_time)
            lock = TempoLock(reading.bpm, origin, reading.source)
        self.features.commands.put(("tempo", lock))

    # -- recording -------------------------------------------------------------------

    def start_recording(self, path: Path) -> None:
        try:
            recorder = LiveRecorder(
                path, self.parts.generator.width, self.parts.generator.height,
                self.options.record_fps, self.parts.source.sample_rate,
            )  # fmt: skip
        except Exception as exc:
            self.notify(f"cannot record to {path}: {exc}"[:160])
            log.error("cannot record to %s: %s", path, exc)
            return
        self.recorder = recorder
        self.features.audio_taps.append(recorder.add_audio)
        self.recordings.append(path)
        self.dirty = True
        log.info("recording to %s", path)

    def stop_recording(self) -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return
        self.features.audio_taps.remove(recorder.add_audio)
        path = recorder.close()
        log.info("recording saved: %s (%.1f s)", path, recorder.seconds)
        self.notify(f"saved {path.name} ({recorder.seconds:.0f} s)")

    def _next_recording_path(self) -> Path:
        stem = (self.options.record or Path("live.mp4")).with_suffix("")
        return Path(f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.mp4")

    # -- HUD and stats ---------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        from visualizer.live.stats import live_stats

        return live_stats(self)

    def fps(self) -> float:
        times = self.frame_times
        if len(times) < 2 or times[-1] == times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def update_hud(self) -> None:
        self.window.set_hud(hud_lines(hud_snapshot(self)))
        if time.monotonic() >= self._message_until:
            self.window.set_notice(fault_line(self))

    def notify(self, text: str) -> None:
        """Show a short message (style changed, recording saved) for a few seconds."""
        self._message_until = time.monotonic() + NOTICE_SECONDS
        self.window.set_notice(text)


def _close_quietly(part) -> None:
    close = getattr(part, "close", None) or getattr(part, "stop", None)
    if close is None:
        return
    try:
        close()
    except Exception as exc:
        log.warning("closing %s: %s", type(part).__name__, exc)
