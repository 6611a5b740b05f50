"""Offline rendering: a song in, an MP4 out, in the same shape as the live app.

    audio file -> streaming analysis (features over the whole song) -> [speech -> words]
      -> song plan (section looks, cuts on downbeats, build-ups; visualizer.plan)
      -> scheduler (cues, one update per video frame) -> drive follower
      -> generator (virtual clock: frame i answers time i/fps) -> Mp4Writer (+ original audio,
         decoded again block by block while encoding)

With --resume the video is written as closed segments and joined at the end
(visualizer.segments), so an interrupted render continues where it stopped.

The file appears under its final name only when every frame and the audio are written.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from audio.chunks import Feed, file_source
from audio.features import FeatureFrame
from audio.source import AudioClip, AudioError, empty_window, is_silent_level, load_audio
from audio.words import WordEvent
from render.encoder_process import open_writer
from render.encoders import pick_codec
from render.engines import create_generator
from render.frames import Cue, FrameRequest, Generator, render_for_encoder
from render.recorder import check_writable
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
    resume: bool = False  # write closed segments; continue those of an interrupted run
    encoder: str = "auto"  # auto (NVENC where the GPU has one, else x264), x264, nvenc


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
    """Render `song` to `settings.out`. Raises AudioError/RecorderError with one-line messages.

    Memory stays flat in the song's length: the analysis streams the file (audio.analysis),
    the frames' features are made a block at a time, and the soundtrack is decoded again
    while encoding rather than held.
    """
    check_writable(Path(settings.out))  # fail before minutes of work, not after
    settings = replace(
        settings, encoder=pick_codec(settings.encoder)
    )  # resolved: resume keys match
    if settings.encoder != "libx264":
        notice(f"encoding with {settings.encoder} on the GPU")
    from audio.analysis import analyze_file

    name = Path(song).name

    def refuse(seconds: float, rms: float) -> None:
        if seconds == 0:
            raise empty_window(Path(song), settings.start)
        if is_silent_level(rms):
            raise AudioError(f"{name} is silent: nothing to visualize")

    analysis = analyze_file(song, settings.start, settings.duration, check_level=refuse)
    release_freed_memory()
    n_frames = max(1, round(analysis.duration * settings.fps))
    words: list[WordEvent] = []
    if settings.speech:  # Whisper reads the whole window: the one part that holds the audio
        clip = load_audio(song, start=settings.start, duration=settings.duration)
        words = transcribe_words(clip, notice)
    soundtrack = file_source(song, settings.start, analysis.duration, MUX_RATE, channels=2)
    scheduler = planned_scheduler(settings.style, settings.seed, analysis)
    generator = create_generator(
        settings.engine,
        settings.width,
        settings.height,
        settings.seed,
        notice=notice,
        **settings.engine_options,
    )
    state = _State(scheduler, DriveFollower(), CueTracker(), generator, sorted(words, key=_start))
    began = time.perf_counter()
    try:
        if settings.resume:  # may swap in the state saved by an interrupted run
            state = render_segments(
                Path(song), settings, analysis, n_frames, state, soundtrack, progress, notice
            )
        else:
            video = (settings.width, settings.height, settings.fps, n_frames)
            writer = open_writer(settings.out, *video, audio_rate=MUX_RATE, codec=settings.encoder)
            with writer:
                feed = Feed(soundtrack)
                frames = analysis.iter_frames(settings.fps, n_frames)
                for index, feature in enumerate(frames):
                    writer.write_frame(state.render(index, feature))
                    first = round(index * MUX_RATE / settings.fps)
                    last = round((index + 1) * MUX_RATE / settings.fps)
                    _write_audio(writer, feed.take(last - first))
                    if index == n_frames - 1:
                        for block in feed.rest():  # the last frame carries the audio tail
                            _write_audio(writer, block)
                    if progress:
                        progress(index + 1, n_frames)
    finally:
        state.generator.close()
    elapsed = time.perf_counter() - began
    if settings.explain is not None:
        settings.explain.write_text(json.dumps(state.scheduler.explain(), indent=1))
    return RenderResult(settings.out, n_frames, elapsed, analysis.duration, state.generator.name)


def release_freed_memory() -> None:
    """Hand the analysis' freed heap back to the system before the render's own peak.

    glibc keeps freed blocks below its (self-raising) mmap threshold in the heap, so
    without this an hour's transient analysis arrays stay resident under the renderer.
    """
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        pass


def _start(word: WordEvent) -> float:
    return word.start


def _write_audio(writer, samples) -> None:
    if samples is not None and len(samples):
        writer.write_audio(samples)


@dataclass
class _State:
    """Everything that carries from one frame to the next (what a resume restores)."""

    scheduler: Scheduler
    follower: DriveFollower
    cues: CueTracker
    generator: Generator
    pending: list[WordEvent]

    def render(self, index: int, feature: FeatureFrame):
        due = []
        while self.pending and self.pending[0].start <= feature.time:
            due.append(self.pending.pop(0))
        cue = self.scheduler.update(feature, due)
        request = self.cues.request(index, feature.time, cue, self.follower.update(feature))
        return render_for_encoder(self.generator, request)


def render_segments(song, settings, analysis, n_frames, state, soundtrack, progress, notice):
    """The --resume path: closed segments in a work folder, then one lossless join."""
    from render.recorder import concat_segments
    from visualizer.segments import SEGMENT_SECONDS, WorkDir, run_key

    fps = settings.fps
    size = max(1, round(SEGMENT_SECONDS * fps))
    count = -(-n_frames // size)
    work = WorkDir(settings.out, run_key(song, settings, n_frames, size))
    done = min(work.done, count)
    at, saved = work.latest_state(done) if done else (0, None)
    if saved is not None:
        state.generator.close()
        state = saved
    if done:
        replay = (done - at) * size
        extra = f", replaying {replay / fps:.0f} s of frames first" if replay else ""
        notice(f"resuming after {done} of {count} segments ({done * size / fps:.0f} s){extra}")
    try:
        frames = analysis.iter_frames(fps, n_frames, first=at * size)
        index = at * size
        for _ in range(at * size, done * size):  # an engine whose state could not be saved
            state.render(index, next(frames))
            index += 1
        warned = False
        for segment in range(done, count):
            end = min((segment + 1) * size, n_frames)
            video = (settings.width, settings.height, fps, end - index)
            with open_writer(work.segment(segment), *video, codec=settings.encoder) as writer:
                for feature in itertools.islice(frames, end - index):
                    writer.write_frame(state.render(index, feature))
                    index += 1
                    if progress:
                        progress(index, n_frames)
            if not work.finish_segment(segment, state) and not warned:
                warned = True
                notice("resume: this engine's state cannot be saved; a resume replays frames")
        concat_segments(
            [work.segment(i) for i in range(count)],
            settings.out,
            Feed(soundtrack).rest(),
            MUX_RATE,
        )
    except BaseException:
        if saved is not None:  # the caller closes only the generator it made
            state.generator.close()
        raise
    work.remove()
    return state


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


def planned_scheduler(
    style_name: str, seed: int, analysis: Analysis | None, timeline_limit: int | None = None
) -> Scheduler:
    """A scheduler following the plan of the whole song; causal when `analysis` is None."""
    from visualizer.plan import build_plan
    from visualizer.scheduler import Scheduler
    from visualizer.styles import load_style

    style = load_style(style_name)
    if analysis is None:
        return Scheduler(style, seed=seed, timeline_limit=timeline_limit)
    plan = build_plan(analysis, dict(style.feature_weights))
    return Scheduler(style, seed=seed, plan=plan, timeline_limit=timeline_limit)
