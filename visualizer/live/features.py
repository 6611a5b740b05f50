"""The feature thread: audio blocks in, analysis, scheduler, one render request out.

The scheduler sees every feature frame (it keeps history), but only the last frame of
each batch becomes a render request: the generator should draw *now*, not catch up.
Commands from the app (style, tempo lock, control parameters) arrive through a queue;
what the HUD shows leaves as a frozen `MusicState` snapshot replaced on each batch.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from audio.blocks import GapFiller
from audio.capture import AudioBlock
from audio.features import FeatureFrame
from audio.words import WordEvent
from render.frames import Cue
from render.worker import RenderWorker
from visualizer.controls import ControlState, crossfade

log = logging.getLogger(__name__)

HUD_WORDS = 6  # last words heard shown on the HUD


class AudioSource(Protocol):
    sample_rate: int
    finished: bool

    def start(self) -> Any: ...
    def read(self) -> list[AudioBlock]: ...
    def clock(self) -> float: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class TempoLock:
    """Drive the beat from an outside tempo: `origin` is a beat on the audio clock."""

    bpm: float
    origin: float
    source: str


@dataclass(frozen=True)
class MusicState:
    """What the music is doing now, for the HUD (replaced whole, never mutated)."""

    time: float = 0.0
    bpm: float = 0.0
    tempo_source: str = "analysis"
    bar_phase: float = 0.0
    beat_in_bar: int = 0
    section: int = 0
    mood: str = ""
    key: str = ""


class FeatureLoop:
    """Reads blocks, analyses them, asks the scheduler, and submits the newest request."""

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
        from visualizer.mood import MoodTracker
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
        self.moods = MoodTracker()
        self.gaps = GapFiller(analyzer.sample_rate)
        self.commands: queue.SimpleQueue = queue.SimpleQueue()
        self.audio_taps: list[Callable[[AudioBlock], None]] = []  # e.g. the recorder
        self.feature_taps: list[Callable[[FeatureFrame, str], None]] = []  # e.g. OSC out
        self.words_heard: deque[str] = deque(maxlen=HUD_WORDS)
        self.cue: Cue | None = None
        self.music = MusicState()
        self.last_feature: FeatureFrame | None = None
        self.tempo_lock: TempoLock | None = None
        self.controls = ControlState()
        self._fade_style: str | None = None  # the crossfade target's style
        self._fade_scheduler = None
        self.errors = 0
        self.last_error = ""
        self.index = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="features", daemon=True)

    @property
    def tapped_bpm(self) -> float | None:
        lock = self.tempo_lock
        return lock.bpm if lock is not None else None

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
                self._fade_scheduler = None if value == self._fade_style else self._fade_scheduler
                self.worker.flush()
            elif command == "tempo":
                self.tempo_lock = _as_lock(value)
            elif command == "controls":
                self.controls = value
            elif command == "crossfade target":
                if value != self._fade_style:
                    self._fade_style = value
                    self._fade_scheduler = self.make_scheduler(value) if value else None

    def _features(self, block: AudioBlock) -> list[FeatureFrame]:
        frames = []
        for piece in self.gaps(block):  # blocks the ring dropped reach the analyzer as silence
            frames.extend(self.analyzer.push(piece.samples))
        return frames

    def _process(self, blocks: list[AudioBlock]) -> None:
        new_words = self._new_words()
        latest: FeatureFrame | None = None
        fading = self._fade_scheduler is not None and self.controls.crossfade > 0
        target = None
        for block in blocks:
            for tap in self.audio_taps:
                tap(block)
            if self.speech is not None:
                self.speech.push(block.samples, block.time)
            for feature in self._features(block):
                self.cue = self.scheduler.update(feature, new_words)
                if fading:
                    target = self._fade_scheduler.update(feature, new_words)
                new_words = ()
                latest = feature
                drive = self.follower.update(feature)
                self.moods.update(feature)
                for tap in self.feature_taps:
                    tap(feature, self.moods.mood)
        if latest is None:
            return
        self.last_feature = latest
        drive = self._apply_tempo_lock(drive, latest.time)
        lock = self.tempo_lock
        self.music = MusicState(
            time=latest.time,
            bpm=drive.tempo if (lock or latest.tempo) else 0.0,
            tempo_source=lock.source if lock else "analysis",
            bar_phase=latest.bar_phase,
            beat_in_bar=latest.beat_in_bar,
            section=latest.section,
            mood=self.moods.mood,
            key=latest.key,
        )
        request = self.cues.request(self.index, latest.time, self.cue, drive)
        if fading:
            request = crossfade(request, target, self.controls.crossfade)
        self.worker.submit(request)
        self.index += 1

    def _apply_tempo_lock(self, drive, now: float):
        lock = self.tempo_lock
        if lock is None:
            return drive
        beats = (now - lock.origin) * lock.bpm / 60.0
        phase = beats % 1.0
        return replace(
            drive,
            tempo=lock.bpm,
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


def _as_lock(value) -> TempoLock | None:
    """A TempoLock, None (back to the analysis) or the older (bpm, origin) tap pair."""
    if value is None or isinstance(value, TempoLock):
        return value
    bpm, origin = value
    return TempoLock(float(bpm), float(origin), "tap")
