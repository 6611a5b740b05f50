"""Offline rendering: a song in, an MP4 out, in the same shape as the live app.

    audio file -> analysis (features over the whole song) -> [speech -> words]
      -> song plan (section looks, cuts on downbeats, build-ups; visualizer.plan)
      -> scheduler (cues, one update per video frame) -> drive follower
      -> generator (virtual clock: frame i answers time i/fps) -> Mp4Writer (+ original audio)

The file appears under its final name only when every frame and the audio are written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from audio.features import FeatureFrame
from audio.source import AudioClip, AudioError, decode_audio, is_silent, load_audio
from audio.words import WordEvent
from render.engines import create_generator
from render.frames import Cue, FrameRequest, Generator
from render.recorder import BackgroundWriter, Mp4Writer, check_writable
from visualizer.drive import DriveFollower

if TYPE_CHECKING:
    from audio.analysis import Analysis
    from visualizer.scheduler import Scheduler

MUX_RATE = 48000  # the original audio is resampled once to this rate for AAC


@dataclass(frozen=True)
class RenderSettings:
    out: Path
    fps: float = 24.0
    width: int = 512
    height: int = 512
    seed: int = 0
    start: float = 0.0
    duration: float | None = None
    engine: str = "auto"
    style: str = "default"
    speech: bool = False
    explain: Path | None = None
    engine_options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RenderResult:
    path: Path
    frames: int
    seconds: float  # wall-clock time spent rendering
    audio_seconds: float
    engine: str

    @property
    def fps_achieved(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


class CueTracker:
    """Follows the scheduler's active cue and knows how far a transition has blended."""

    def __init__(self) -> None:
        self.cue: Cue | None = None
        self.previous: Cue | None = None

    def request(self, index: int, t: float, cue: Cue, drive) -> FrameRequest:
        if cue is not self.cue:
            self.previous, self.cue = self.cue, cue
        blend = 1.0
        if self.previous is not None:
            blend = (t - cue.start) / cue.transition if cue.transition > 0 else 1.0
            if blend >= 1.0:
                self.previous, blend = None, 1.0
        return FrameRequest(index, t, cue, drive, self.previous, max(0.0, blend))


def render_file(
    song: str | Path,
    settings: RenderSettings,
    progress: Callable[[int, int], None] | None = None,
    notice: Callable[[str], None] = print,
) -> RenderResult:
    """Render `song` to `settings.out`. Raises AudioError/RecorderError with one-line messages."""
    check_writable(Path(settings.out))  # fail before minutes of work, not after
    clip = load_audio(song, start=settings.start, duration=settings.duration)
    if is_silent(clip):
        raise AudioError(f"{Path(song).name} is silent: nothing to visualize")
    from audio.analysis import analyze

    analysis = analyze(clip)
    n_frames = max(1, round(clip.duration * settings.fps))
    features = analysis.frames(settings.fps, n_frames)
    words = transcribe_words(clip, notice) if settings.speech else []
    mux_audio = _mux_audio(clip)
    scheduler = planned_scheduler(settings.style, settings.seed, analysis)
    generator = create_generator(
        settings.engine,
        settings.width,
        settings.height,
        settings.seed,
        notice=notice,
        **settings.engine_options,
    )
    began = time.perf_counter()
    try:
        mp4 = Mp4Writer(
            settings.out, settings.width, settings.height, settings.fps, audio_rate=MUX_RATE
        )
        with BackgroundWriter(mp4) as writer:
            _render_frames(features, words, scheduler, generator, writer, mux_audio, progress)
    finally:
        generator.close()
    elapsed = time.perf_counter() - began
    if settings.explain is not None:
        settings.explain.write_text(json.dumps(scheduler.explain(), indent=1))
    return RenderResult(settings.out, n_frames, elapsed, clip.duration, generator.name)


def _render_frames(
    features: Sequence[FeatureFrame],
    words: Sequence[WordEvent],
    scheduler,
    generator: Generator,
    writer: BackgroundWriter,
    mux_audio,
    progress: Callable[[int, int], None] | None,
) -> None:
    follower, cues = DriveFollower(), CueTracker()
    pending = sorted(words, key=lambda w: w.start)
    fps, total = float(writer.writer.fps), len(features)
    samples_per_frame = MUX_RATE / fps
    for index, feature in enumerate(features):
        due = []
        while pending and pending[0].start <= feature.time:
            due.append(pending.pop(0))
        cue = scheduler.update(feature, due)
        request = cues.request(index, feature.time, cue, follower.update(feature))
        writer.write_frame(generator.render(request))
        first, last = round(index * samples_per_frame), round((index + 1) * samples_per_frame)
        if index == total - 1:
            last = len(mux_audio)  # the last frame carries the audio tail
        writer.write_audio(mux_audio[first:last])
        if progress:
            progress(index + 1, total)


def transcribe_words(clip: AudioClip, notice: Callable[[str], None]) -> list[WordEvent]:
    """Content words of the whole clip, or none (with a notice) when speech is unavailable."""
    try:
        from audio.speech import SpeechUnavailable, content_words, transcribe_clip
    except ImportError as exc:
        notice(f"speech: off ({exc})")
        return []
    try:
        return content_words(transcribe_clip(clip))
    except SpeechUnavailable as exc:
        notice(f"speech: off ({exc})")
        return []


def _mux_audio(clip: AudioClip):
    """The clip's window of the original file, stereo at MUX_RATE."""
    audio = decode_audio(clip.path, MUX_RATE, channels=2)
    first = round(clip.offset * MUX_RATE)
    return audio[first : first + round(clip.duration * MUX_RATE)]


def planned_scheduler(style_name: str, seed: int, analysis: Analysis | None) -> Scheduler:
    """A scheduler following the plan of the whole song; causal when `analysis` is None."""
    from visualizer.plan import build_plan
    from visualizer.scheduler import Scheduler
    from visualizer.styles import load_style

    style = load_style(style_name)
    if analysis is None:
        return Scheduler(style, seed=seed)
    return Scheduler(style, seed=seed, plan=build_plan(analysis, dict(style.feature_weights)))
