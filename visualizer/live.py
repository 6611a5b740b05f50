"""The live app: sound in, pictures out, on four threads that never wait on each other.

    PortAudio callback --ring--> feature thread --submit--> render worker --queue--> Qt timer
    (copy and return)            analyzer, scheduler,        generator.render       show the newest
                                 drive, speech, recorder                            frame, HUD, record

Each arrow drops old data rather than blocking: the ring drops its oldest block, the
worker keeps only the newest request (and flushes on a prompt change), and the display
takes only the newest finished frame. Every frame carries the audio time it answers, so
the HUD shows true latency: the audio clock now minus the frame's time.

Qt is touched only on the main thread. The recorder encodes on its own thread; the
display hands it the picture being shown and the feature thread hands it the sound.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from audio.capture import AudioBlock
from audio.features import FeatureFrame
from audio.words import WordEvent
from models import ModelUnavailable
from render.frames import Cue, Generator
from render.worker import RenderedFrame, RenderWorker
from visualizer.errors import UserError

log = logging.getLogger(__name__)

HUD_WORDS = 6  # last words heard shown on the HUD
TAP_RESET_SECONDS = 2.0
NOTICE_SECONDS = 3.0


class AudioSource(Protocol):
    sample_rate: int
    finished: bool

    def start(self) -> Any: ...
    def read(self) -> list[AudioBlock]: ...
    def clock(self) -> float: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class LiveOptions:
    """Everything `visualize live` was asked for (see `visualize live --help`)."""

    input: Path | None = None
    loop: bool = False
    device: str | None = None
    output_device: str | None = None
    playback: bool = True
    speech: bool = False
    engine: str = "embedded"
    style: str = "default"
    seed: int = 0
    width: int = 640
    height: int = 360
    fullscreen: bool = False
    screen: int | None = None
    hud: bool = False
    record: Path | None = None
    record_fps: float = 30.0
    duration: float | None = None
    stats: Path | None = None

    @classmethod
    def from_args(cls, args) -> LiveOptions:
        width, height = parse_size(args.size)
        if args.duration is not None and args.duration <= 0:
            raise UserError("--duration must be > 0")
        if args.record_fps <= 0:
            raise UserError("--record-fps must be > 0")
        return cls(
            input=Path(args.input) if args.input else None,
            loop=args.loop,
            device=args.device,
            output_device=args.output_device,
            playback=not args.no_playback,
            speech=args.speech,
            engine=args.engine,
            style=args.style,
            seed=args.seed,
            width=width,
            height=height,
            fullscreen=args.fullscreen,
            screen=args.screen,
            hud=args.hud,
            record=Path(args.record) if args.record else None,
            record_fps=args.record_fps,
            duration=args.duration,
            stats=Path(args.stats) if args.stats else None,
        )


def parse_size(text: str) -> tuple[int, int]:
    """--size WxH, validated like `visualize render --size` (even sides, for H.264)."""
    import argparse

    from visualizer.commands.render import size_value

    try:
        return size_value(text)
    except argparse.ArgumentTypeError as exc:
        raise UserError(f"--size: {exc}") from None


# -- tap tempo -------------------------------------------------------------------------


class TapTempo:
    """Tempo from key taps: the median interval of the recent taps, reset after a pause."""

    def __init__(self) -> None:
        self.taps: deque[float] = deque(maxlen=8)

    def tap(self, now: float) -> float | None:
        if self.taps and now - self.taps[-1] > TAP_RESET_SECONDS:
            self.taps.clear()
        self.taps.append(now)
        return self.bpm

    @property
    def bpm(self) -> float | None:
        if len(self.taps) < 4:
            return None
        intervals = np.diff(np.asarray(self.taps))
        return float(60.0 / np.median(intervals))

    def phase(self, now: float) -> float:
        """Position inside the tapped beat, 0..1 (0 on a tap)."""
        bpm = self.bpm
        if bpm is None:
            return 0.0
        return ((now - self.taps[-1]) * bpm / 60.0) % 1.0


# -- the feature thread ----------------------------------------------------------------


class FeatureLoop:
    """Reads blocks, analyses them, asks the scheduler, and submits the newest request.

    The scheduler sees every feature frame (it keeps history), but only the last frame
    of each batch becomes a render request: the generator should draw *now*, not catch up.
    Commands from the UI (style change, tap tempo) arrive through a queue.
    """

    def __init__(
        self,
        source: AudioSource,
        analyzer,
        make_scheduler: Callable[[str], Any],
        worker: RenderWorker,
        style: str,
        speech=None,
        drive_follower=None,
    ) -> None:
        from visualizer.drive import DriveFollower
        from visualizer.pipeline import CueTracker

        self.source = source
        self.analyzer = analyzer
        self.make_scheduler = make_scheduler
        self.scheduler = make_scheduler(style)
        self.style = style
        self.worker = worker
        self.speech = speech
        self.follower = drive_follower or DriveFollower()
        self.cues = CueTracker()
        self.commands: queue.SimpleQueue = queue.SimpleQueue()
        self.audio_taps: list[Callable[[AudioBlock], None]] = []  # e.g. the recorder
        self.words_heard: deque[str] = deque(maxlen=HUD_WORDS)
        self.cue: Cue | None = None
        self.last_feature: FeatureFrame | None = None
        self.tapped_bpm: float | None = None
        self._tap_origin = 0.0
        self.errors = 0
        self.last_error = ""
        self.index = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="features", daemon=True)

    def start(self) -> FeatureLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._handle_commands()
                blocks = self.source.read()
                if blocks:
                    self._process(blocks)
                else:
                    self._stop.wait(0.004)
            except Exception as exc:  # one bad block must not end the show
                self.errors += 1
                self.last_error = f"analysis: {type(exc).__name__}: {exc}"[:160]
                log.exception("feature loop")
                self._stop.wait(0.05)

    def _handle_commands(self) -> None:
        while True:
            try:
                command, value = self.commands.get_nowait()
            except queue.Empty:
                return
            if command == "style":
                self.scheduler = self.make_scheduler(value)
                self.style = value
                self.worker.flush()
            elif command == "tempo":
                self.tapped_bpm, self._tap_origin = value

    def _process(self, blocks: list[AudioBlock]) -> None:
        new_words = self._new_words()
        latest: FeatureFrame | None = None
        for block in blocks:
            for tap in self.audio_taps:
                tap(block)
            if self.speech is not None:
                self.speech.push(block.samples, block.time)
            for feature in self.analyzer.push(block.samples):
                self.cue = self.scheduler.update(feature, new_words)
                new_words = ()
                latest = feature
                drive = self.follower.update(feature)
        if latest is None:
            return
        self.last_feature = latest
        drive = self._apply_tap_tempo(drive, latest.time)
        request = self.cues.request(self.index, latest.time, self.cue, drive)
        self.worker.submit(request)
        self.index += 1

    def _apply_tap_tempo(self, drive, now: float):
        if not self.tapped_bpm:
            return drive
        beats = (now - self._tap_origin) * self.tapped_bpm / 60.0
        phase = beats % 1.0
        return replace(
            drive,
            tempo=self.tapped_bpm,
            beat_phase=phase,
            beat=max(drive.beat, math.exp(-phase * 6)),
        )

    def _new_words(self) -> Sequence[WordEvent]:
        if self.speech is None:
            return ()
        words = []
        while True:
            try:
                words.append(self.speech.words.get_nowait())
            except queue.Empty:
                break
        self.words_heard.extend(word.text for word in words)
        return words


# -- recording -------------------------------------------------------------------------


class LiveRecorder:
    """Writes what is shown plus the captured sound to a crash-safe fragmented MP4.

    The sound is the clock: after each audio block is written, the picture on screen is
    written for every video slot up to that audio time, so the file has a constant frame
    rate and stays in sync however unevenly frames arrived.
    """

    def __init__(
        self, path: Path, width: int, height: int, fps: float, sample_rate: int, writer_factory=None
    ) -> None:
        if writer_factory is None:
            from render.recorder import Mp4Writer as writer_factory
        self.path = path
        self._writer = writer_factory(
            path, width, height, fps, audio_rate=sample_rate, audio_channels=1, fragmented=True
        )
        self._sample_rate = sample_rate
        self._blocks: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=512)
        self._picture = np.zeros((height, width, 3), np.uint8)
        self._written_seconds = 0.0
        self.dropped_blocks = 0
        self.error = ""
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def show(self, image: np.ndarray) -> None:
        """Called from the display: the picture currently on screen."""
        self._picture = image

    def add_audio(self, block: AudioBlock) -> None:
        """Called from the feature thread; never blocks (drops if the encoder is stuck)."""
        try:
            self._blocks.put_nowait(block.samples)
        except queue.Full:
            self.dropped_blocks += 1

    @property
    def seconds(self) -> float:
        return self._written_seconds

    def _run(self) -> None:
        while True:
            samples = self._blocks.get()
            if samples is None:
                break
            if self.error:
                continue
            try:
                self._writer.write_audio(samples)
                self._written_seconds += len(samples) / self._sample_rate
                self._writer.write_frame(self._picture, time=self._written_seconds)
            except Exception as exc:  # a full disk ends the recording, not the show
                self.error = f"recording stopped: {type(exc).__name__}: {exc}"[:160]
                log.error(self.error)

    def close(self) -> Path:
        self._blocks.put(None)
        self._thread.join(10.0)
        try:
            self._writer.close()
        except Exception as exc:
            log.error("closing %s: %s", self.path, exc)
        return self.path


# -- the app (Qt main thread) ----------------------------------------------------------


@dataclass
class LiveComponents:
    """The parts of a live show; `build_components` makes the real ones, tests make fakes."""

    source: AudioSource
    analyzer: Any
    make_scheduler: Callable[[str], Any]
    generator: Generator
    fallback: Generator | None = None
    speech: Any = None
    styles: Sequence[str] = ("default",)


class LiveApp:
    """Owns the threads and the window; everything here runs on the Qt main thread."""

    def __init__(self, options: LiveOptions, parts: LiveComponents, window=None) -> None:
        from PyQt6.QtCore import QTimer

        from visualizer.window import LiveWindow

        self.options = options
        self.parts = parts
        self.window = window or LiveWindow()
        self.worker = RenderWorker(parts.generator, parts.fallback, max_pending=1, max_ready=2)
        self.features = FeatureLoop(
            parts.source,
            parts.analyzer,
            parts.make_scheduler,
            self.worker,
            options.style,
            parts.speech,
        )
        self.recorder: LiveRecorder | None = None
        self.recordings: list[Path] = []
        self.frozen = False
        self.tap = TapTempo()
        self.latencies: deque[float] = deque(maxlen=2000)
        self.frame_times: deque[float] = deque(maxlen=120)
        self.rendered_times: deque[tuple[float, int]] = deque(maxlen=120)
        self.shown: RenderedFrame | None = None
        self.on_frame: list[Callable[[RenderedFrame], None]] = []  # benchmarks hook in here
        self.quit_reason = ""
        self.started_at = 0.0
        self._signal = ""
        self._message, self._message_until = "", 0.0
        self._timer = QTimer()
        self._timer.timeout.connect(self.tick)
        self._hud_timer = QTimer()
        self._hud_timer.timeout.connect(self.update_hud)
        self.window.action.connect(self.act)
        self.window.hud_visible = options.hud

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> LiveApp:
        self.started_at = time.monotonic()
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
        self.worker.stop()
        for part in (self.parts.speech, self.parts.generator, self.parts.fallback):
            _close_quietly(part)

    def request_quit(self, reason: str) -> None:
        from PyQt6.QtWidgets import QApplication

        if not self.quit_reason:
            self.quit_reason = reason
        QApplication.instance().quit()

    def on_signal(self, signum: int, _frame=None) -> None:
        """SIGINT/SIGTERM: only set a flag; the next tick quits on the main thread."""
        self._signal = signal.Signals(signum).name

    # -- the display tick (screen refresh rate) --------------------------------------

    def tick(self) -> None:
        if self._signal:
            self.request_quit(f"{self._signal} received")
            return
        frame = self.worker.latest_frame()
        now = self.parts.source.clock()
        if frame is not None and not self.frozen:
            self.window.show_frame(frame.image)
            self.shown = frame
            self.latencies.append(now - frame.time)
            self.frame_times.append(time.monotonic())
            for hook in self.on_frame:
                hook(frame)
        if self.recorder is not None and self.shown is not None:
            self.recorder.show(self._visible_picture())
        if self.parts.source.finished and not self.options.loop:
            self.request_quit("end of input")
        elif self.options.duration and time.monotonic() - self.started_at >= self.options.duration:
            self.request_quit("--duration reached")

    def _visible_picture(self) -> np.ndarray:
        if self.window.blackout:
            return np.zeros_like(self.shown.image)
        return self.shown.image

    # -- hotkeys ---------------------------------------------------------------------

    def act(self, action: str) -> None:
        try:
            self._act(action)
        except UserError as exc:  # e.g. a preset that names a missing style
            self.notify(str(exc))
        except Exception as exc:  # a hotkey must never crash the show
            log.exception("hotkey %s", action)
            self.notify(f"{action}: {type(exc).__name__}: {exc}"[:160])

    def _act(self, action: str) -> None:
        if action == "quit":
            self.request_quit("quit key")
        elif action == "fullscreen":
            self.window.set_fullscreen(not self.window.isFullScreen(), self.options.screen)
        elif action == "leave fullscreen":
            self.window.set_fullscreen(False)
        elif action == "freeze":
            self.frozen = not self.frozen
        elif action == "blackout":
            self.window.toggle_blackout()
        elif action == "hud":
            self.window.toggle_hud()
        elif action == "help":
            self.window.toggle_help()
        elif action in ("next style", "previous style"):
            self._step_style(1 if action == "next style" else -1)
        elif action.startswith("preset "):
            number = int(action.split()[1])
            styles = list(self.parts.styles)
            if number > len(styles):
                self.notify(f"no style preset {number} ({len(styles)} available)")
                return
            self._set_style(styles[number - 1])
        elif action == "tap tempo":
            now = self.parts.source.clock()
            bpm = self.tap.tap(now)
            if bpm is not None:
                self.features.commands.put(("tempo", (bpm, now)))
        elif action == "record":
            if self.recorder is None:
                self.start_recording(self._next_recording_path())
            else:
                self.stop_recording()
        self.update_hud()

    def _step_style(self, step: int) -> None:
        styles = list(self.parts.styles)
        current = styles.index(self.features.style) if self.features.style in styles else -1
        self._set_style(styles[(current + step) % len(styles)])

    def _set_style(self, name: str) -> None:
        self.features.commands.put(("style", name))
        self.notify(f"style: {name}")

    # -- recording -------------------------------------------------------------------

    def start_recording(self, path: Path) -> None:
        try:
            recorder = LiveRecorder(
                path,
                self.parts.generator.width,
                self.parts.generator.height,
                self.options.record_fps,
                self.parts.source.sample_rate,
            )
        except Exception as exc:
            self.notify(f"cannot record to {path}: {exc}"[:160])
            log.error("cannot record to %s: %s", path, exc)
            return
        self.recorder = recorder
        self.features.audio_taps.append(recorder.add_audio)
        self.recordings.append(path)
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
        base = self.options.record or Path("live.mp4")
        stem = base.with_suffix("")
        return Path(f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.mp4")

    # -- HUD and stats ---------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        worker = self.worker.stats
        source = self.parts.source.stats
        latencies = np.asarray(self.latencies) * 1000 if self.latencies else np.zeros(0)
        return {
            "fps": round(self._fps(), 2),
            "frames_shown": self.window.frames_shown,
            "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1)
            if latencies.size
            else None,
            "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1)
            if latencies.size
            else None,
            "render_ms": round(worker.last_render_ms, 1),
            "rendered": worker.rendered,
            "dropped_requests": worker.dropped_requests,
            "dropped_frames": worker.dropped_frames,
            "render_errors": worker.errors,
            "engine": worker.engine,
            "analysis_errors": self.features.errors,
            "audio_blocks": source.blocks,
            "input_overflows": source.overflows,
            "output_underflows": source.underflows,
            "dropped_audio_blocks": source.dropped_blocks,
            "reconnects": source.reconnects,
            "audio_status": source.status,
            "playback": source.playback,
            "words_heard": list(self.features.words_heard),
            "recordings": [str(p) for p in self.recordings],
            "quit_reason": self.quit_reason,
        }

    def _fps(self) -> float:
        times = self.frame_times
        if len(times) < 2 or times[-1] == times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def update_hud(self) -> None:
        stats = self.worker.stats
        source = self.parts.source.stats
        latency = (
            f"{np.median(list(self.latencies)[-60:]) * 1000:.0f} ms" if self.latencies else "-"
        )
        cue = self.features.cue
        tempo = f" tap {self.features.tapped_bpm:.0f} BPM" if self.features.tapped_bpm else ""
        states = [
            s for s, on in (("FROZEN", self.frozen), ("BLACKOUT", self.window.blackout)) if on
        ]
        if self.recorder is not None:
            states.append(f"REC {self.recorder.seconds:.0f}s")
        lines = [
            f"{self._fps():.0f} fps  render {stats.last_render_ms:.0f} ms  latency {latency}  {stats.engine}{tempo}",
            f"keyframes {self._render_rate():.1f}/s  dropped {stats.dropped_requests} req {stats.dropped_frames} frames  overflows {source.overflows}",
            f"style {self.features.style}  prompt: {cue.prompt[:70] if cue else '-'}",
            f"heard: {' '.join(self.features.words_heard) or '-'}",
            f"audio: {source.status}",
        ]
        if states:
            lines.insert(0, "  ".join(states))
        self.window.set_hud(lines)
        self.window.set_notice(self._fault_line(stats, source))

    def notify(self, text: str) -> None:
        """Show a short message (style changed, recording saved) for a few seconds."""
        self._message, self._message_until = text, time.monotonic() + NOTICE_SECONDS
        self.window.set_notice(text)

    def _render_rate(self) -> float:
        now, rendered = time.monotonic(), self.worker.stats.rendered
        self.rendered_times.append((now, rendered))
        (t0, r0), (t1, r1) = self.rendered_times[0], self.rendered_times[-1]
        return (r1 - r0) / (t1 - t0) if t1 > t0 else 0.0

    def _fault_line(self, worker_stats, source_stats) -> str:
        """The one problem the performer must see even with the HUD hidden."""
        if self.recorder is not None and self.recorder.error:
            return self.recorder.error
        if worker_stats.last_error and worker_stats.errors and self._recent_error():
            return f"generator: {worker_stats.last_error}"
        if "lost" in source_stats.status or "retrying" in source_stats.status:
            return source_stats.status
        if self.features.last_error:
            return self.features.last_error
        speech_error = getattr(self.features.speech, "error", None)
        if speech_error:
            return f"speech: {speech_error}"
        return (
            self.window.notice
            if self.window.notice.startswith(("style", "saved", "no style", "cannot"))
            else ""
        )

    def _recent_error(self) -> bool:
        return self.shown is not None and self.shown.error is not None


def _close_quietly(part) -> None:
    close = getattr(part, "close", None) or getattr(part, "stop", None)
    if close is None:
        return
    try:
        close()
    except Exception as exc:
        log.warning("closing %s: %s", type(part).__name__, exc)


# -- building the real thing -----------------------------------------------------------


def build_components(options: LiveOptions, notice: Callable[[str], None] = print) -> LiveComponents:
    """The real source, analyzer, scheduler and engines for `options`."""

    from audio.capture import CaptureError, MicrophoneSource, PlaybackSource, find_device
    from audio.source import ANALYSIS_RATE, AudioError, load_audio
    from render.embedded import EmbeddedGenerator
    from render.engines import create_generator
    from visualizer.pipeline import planned_scheduler
    from visualizer.styles import list_styles, load_style

    load_style(options.style)  # a bad --style fails now, with its one-line message
    try:
        if options.input is not None:
            clip = load_audio(options.input, ANALYSIS_RATE)
            output = find_device(options.output_device, "output") if options.output_device else None
            source = PlaybackSource(clip, loop=options.loop, device=output, play=options.playback)
        else:
            source = MicrophoneSource(find_device(options.device, "input"), ANALYSIS_RATE)
    except (CaptureError, AudioError) as exc:
        raise UserError(str(exc)) from None
    analysis = None  # a file played once is known in advance: follow the song plan
    if options.input is not None and not options.loop:
        from audio.analysis import analyze

        notice(f"planning {options.input.name} (whole-song analysis)")
        analysis = analyze(clip)
    try:
        generator = create_generator(
            options.engine, options.width, options.height, options.seed, notice=notice
        )
    except (ValueError, ModelUnavailable) as exc:
        raise UserError(str(exc)) from None
    fallback = None
    if generator.name != "embedded":
        fallback = EmbeddedGenerator(options.width, options.height, options.seed)
    speech = _make_speech(source.sample_rate, notice) if options.speech else None
    styles = [style.name for style in list_styles()] or [options.style]
    if options.style not in styles:
        styles.insert(0, options.style)
    return LiveComponents(
        source=source,
        analyzer=make_analyzer(source.sample_rate),
        make_scheduler=lambda name: planned_scheduler(name, options.seed, analysis),
        generator=generator,
        fallback=fallback,
        speech=speech,
        styles=styles,
    )


def make_analyzer(sample_rate: int):
    """The causal analyzer that turns captured blocks into FeatureFrames."""
    from audio.streaming import StreamingAnalyzer

    return StreamingAnalyzer(sample_rate)


def _make_speech(sample_rate: int, notice: Callable[[str], None]):
    try:
        from audio.speech import SpeechUnavailable, SpeechWorker
    except ImportError as exc:
        notice(f"speech off: {exc}")
        return None
    try:
        return SpeechWorker(sample_rate=sample_rate, content_only=True)
    except SpeechUnavailable as exc:
        notice(f"speech off: {exc}")
        return None


def run_live(options: LiveOptions, parts: LiveComponents | None = None) -> int:
    """Run the window until quit, end of input, --duration, SIGINT or SIGTERM."""
    from PyQt6.QtWidgets import QApplication

    from audio.capture import CaptureError

    logging.basicConfig(level=logging.WARNING, format="visualize: %(message)s")
    for ours in ("visualizer", "render", "audio"):  # our news, not every library's chatter
        logging.getLogger(ours).setLevel(logging.INFO)
    if options.record is not None and options.record.suffix.lower() != ".mp4":
        raise UserError(f"--record needs an .mp4 path, got {options.record}")
    parts = parts or build_components(options)
    qt_app = QApplication.instance() or QApplication(["visualize"])
    app = LiveApp(options, parts)
    previous = {sig: signal.signal(sig, app.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            app.start()
        except CaptureError as exc:
            app.stop()
            raise UserError(str(exc)) from None
        status = parts.source.stats.status
        if status:
            log.info("%s", status)
        qt_app.exec()
    finally:
        app.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        app.window.close()
    stats = app.stats()
    log.info(
        "stopped (%s): %s fps, latency p50 %s ms",
        app.quit_reason or "window closed",
        stats["fps"],
        stats["latency_ms_p50"],
    )
    for path in app.recordings:
        log.info("recording: %s", path)
    if options.stats is not None:
        options.stats.write_text(json.dumps(stats, indent=1))
    return 0
