"""Building the real show: source, analyzer, scheduler, engines and speech for the options."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from models import ModelUnavailable
from render.frames import Generator
from visualizer.errors import UserError
from visualizer.live.features import AudioSource
from visualizer.live.options import LiveOptions

LIVE_TIMELINE = 256  # cues kept for a live explain; the rest of an hour-long set is dropped


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
    speech = None
    if options.speech:
        speech = make_speech(source.sample_rate, notice, options.speech_model)
    styles = [style.name for style in list_styles()] or [options.style]
    if options.style not in styles:
        styles.insert(0, options.style)
    return LiveComponents(
        source=source,
        analyzer=make_analyzer(source.sample_rate),
        make_scheduler=lambda name: planned_scheduler(name, options.seed, analysis, LIVE_TIMELINE),
        generator=generator,
        fallback=fallback,
        speech=speech,
        styles=styles,
    )


def make_analyzer(sample_rate: int):
    """The causal analyzer that turns captured blocks into FeatureFrames."""
    from audio.streaming import StreamingAnalyzer

    return StreamingAnalyzer(sample_rate)


def make_speech(sample_rate: int, notice: Callable[[str], None], model: str | None = None):
    """The streaming speech worker, or None (with one notice) when it cannot run."""
    try:
        from audio.speech import SpeechUnavailable, SpeechWorker
    except ImportError as exc:
        notice(f"speech off: {exc}")
        return None
    extra = {"model": model} if model else {}
    try:
        return SpeechWorker(sample_rate=sample_rate, content_only=True, **extra)
    except SpeechUnavailable as exc:
        notice(f"speech off: {exc}")
        return None
