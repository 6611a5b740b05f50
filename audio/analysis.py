"""Offline analysis of a whole clip: curves, beats, downbeats, tempo, key, sections, mood.

The per-frame math is `audio.spectral` and `audio.activation` (shared with the live path);
offline we may look ahead, so the automatic gain starts warm, beats and bar lines are
decoded over the whole song (`audio.rhythm`), and the key and sections use the whole file.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audio.activation import BeatActivation
from audio.chunks import ChunkSource, Replayable, array_source, file_source
from audio.features import FeatureFrame
from audio.frame_store import MoodInputs, RawStore, condition, song_mood, unit
from audio.key import section_key, section_key_detail
from audio.rhythm import analyse_rhythm
from audio.sections import Section
from audio.song_frames import FramesPass, TuningPass
from audio.source import AudioClip, Notice
from audio.spectral import (
    EVENT_DELAY,
    FRAME_RATE,
    ONSET_DELAY,
    RATE,
    Conditioner,
    FrontEnd,
)
from audio.structure import sections_from_frames

CURVE_NAMES = ("energy", "bass", "mid", "treble", "brightness", "onset", "arousal", "valence")


@dataclass(frozen=True)
class Analysis:
    """What the analysis found; curves are sampled every `hop` seconds at `times`."""

    duration: float
    hop: float
    times: np.ndarray
    curves: dict[str, np.ndarray]
    chroma: np.ndarray  # (n, 12)
    beats: np.ndarray
    downbeats: np.ndarray
    onsets: np.ndarray
    tempo: float
    tempo_times: np.ndarray
    tempo_curve: np.ndarray
    key: str
    mode: str
    sections: list[Section] = field(default_factory=list)
    silent: np.ndarray | None = None
    beats_per_bar: int = 0  # the meter (3 or 4), 0 without beats
    beat_numbers: np.ndarray | None = None  # 1..beats_per_bar for each beat (1 = downbeat)
    key_confidence: float = 0.0

    def frames(self, fps: float, n_frames: int | None = None) -> list[FeatureFrame]:
        """One FeatureFrame per video frame i at t = i / fps; each event flags its nearest frame."""
        return list(self.iter_frames(fps, n_frames))

    def iter_frames(
        self, fps: float, n_frames: int | None = None, first: int = 0, block: int = 1024
    ) -> Iterator[FeatureFrame]:
        """`frames` from frame `first` on, made `block` frames at a time (bounded memory)."""
        if n_frames is None:
            n_frames = max(1, round(self.duration * fps))
        for start in range(first, n_frames, block):
            yield from self._frames_between(fps, start, min(start + block, n_frames))

    def _frames_between(self, fps: float, begin: int, end: int) -> list[FeatureFrame]:
        index = np.arange(begin, end)
        t = index / fps
        # Offline we may look ahead: read the curves half a window later, where a sound at t
        # shows its peak, so a render moves with the audio instead of ~20 ms after it.
        ahead = t + EVENT_DELAY
        sampled = {name: _sample(self.times, curve, ahead) for name, curve in self.curves.items()}
        chroma = np.stack(
            [_sample(self.times, self.chroma[:, k], ahead) for k in range(12)], axis=1
        )
        tempo = np.interp(t, self.tempo_times, self.tempo_curve) if len(self.tempo_times) else 0 * t
        silent = (
            _sample(self.times, self.silent.astype(float), t) > 0.5
            if self.silent is not None
            else np.zeros(len(t), bool)
        )
        beat_at = _flags(self.beats, fps, begin, end)
        downbeat_at = _flags(self.downbeats, fps, begin, end)
        onset_at = _flags(self.onsets, fps, begin, end)
        starts = [s.start for s in self.sections[1:]]
        section_at = _flags(np.asarray(starts), fps, begin, end)
        phase = _beat_phase(self.beats, t)
        in_bar = _beat_in_bar(self.beats, self.beat_numbers, self.beats_per_bar, t)
        meter = self.beats_per_bar
        section_ids = np.zeros(len(t), dtype=int)
        for s in self.sections:
            section_ids[index >= round(s.start * fps)] = s.label
        frames = []
        for i in range(len(t)):
            frames.append(
                FeatureFrame(
                    time=float(t[i]),
                    energy=float(sampled["energy"][i]),
                    bass=float(sampled["bass"][i]),
                    mid=float(sampled["mid"][i]),
                    treble=float(sampled["treble"][i]),
                    brightness=float(sampled["brightness"][i]),
                    onset=float(sampled["onset"][i]),
                    is_onset=bool(onset_at[i]),
                    is_beat=bool(beat_at[i]),
                    is_downbeat=bool(downbeat_at[i]),
                    beat_phase=float(phase[i]),
                    beat_in_bar=int(in_bar[i]),
                    beats_per_bar=meter,
                    bar_phase=float((in_bar[i] - 1 + phase[i]) / meter) if meter else 0.0,
                    tempo=float(tempo[i]) if len(self.beats) else 0.0,
                    chroma=tuple(float(c) for c in chroma[i]),
                    key=self.key,
                    mode=self.mode,
                    key_confidence=self.key_confidence,
                    section=int(section_ids[i]),
                    is_section_start=bool(section_at[i]),
                    arousal=float(sampled["arousal"][i]),
                    valence=float(sampled["valence"][i]),
                    silent=bool(silent[i]),
                )
            )
        return frames

    def to_dict(self) -> dict:
        """JSON-ready summary: events in seconds, curves at `hop`."""

        def rounded(values: np.ndarray, digits: int = 4) -> list[float]:
            return [round(float(v), digits) for v in values]

        return {
            "duration": round(self.duration, 4),
            "hop": self.hop,
            "tempo": round(self.tempo, 2),
            "key": self.key,
            "mode": self.mode,
            "key_confidence": round(self.key_confidence, 3),
            "beats_per_bar": self.beats_per_bar,
            "beats": rounded(self.beats),
            "beat_numbers": [
                int(n) for n in (self.beat_numbers if self.beat_numbers is not None else [])
            ],
            "downbeats": rounded(self.downbeats),
            "onsets": rounded(self.onsets),
            "tempo_curve": {
                "times": rounded(self.tempo_times, 3),
                "bpm": rounded(self.tempo_curve, 2),
            },
            "sections": [
                {
                    "start": round(s.start, 3),
                    "end": round(s.end, 3),
                    "label": s.label,
                    "key": s.key,
                    "key_confidence": round(s.key_confidence, 3),
                    "arousal": round(s.arousal, 3),
                    "valence": round(s.valence, 3),
                }
                for s in self.sections
            ],
            "curves": {
                "times": rounded(self.times),
                **{name: rounded(curve, 3) for name, curve in self.curves.items()},
                "chroma": [rounded(row, 3) for row in self.chroma],
            },
        }


def resample_to_analysis_rate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 at RATE, finite and clipped: the one resampling step for offline input."""
    import soxr  # librosa's resampler: high quality and ~10x faster than a polyphase filter

    data = np.asarray(samples, dtype=np.float64)
    if data.ndim == 2:
        data = data.mean(axis=1)
    data = np.nan_to_num(data, nan=0.0, posinf=1.0, neginf=-1.0)
    data = np.clip(data, -1.0, 1.0)
    if sample_rate != RATE and len(data):
        data = soxr.resample(data, int(sample_rate), RATE, quality="HQ")
    return np.clip(data, -1.0, 1.0).astype(np.float32)


def analyze(clip: AudioClip) -> Analysis:
    """Analyse a decoded clip (any rate; mono expected, (n, ch) tolerated)."""
    samples = resample_to_analysis_rate(clip.samples, clip.sample_rate)
    return analyze_stream(array_source(samples))


def analyze_file(
    path: str | Path,
    start: float = 0.0,
    duration: float | None = None,
    notice: Notice | None = None,
    check_level: Callable[[float, float], None] | None = None,
) -> Analysis:
    """Analyse the [start, start + duration) window of a file without holding its audio.

    The file is decoded once, block by block, and read back from a temporary file for the
    second pass (see `analyze_stream`); the result equals
    `analyze(load_audio(path, start=start, duration=duration))`.
    """
    source = Replayable(file_source(path, start, duration, notice=notice))
    try:
        return analyze_stream(source, check_level)
    finally:
        source.close()


def analyze_stream(
    source: ChunkSource, check_level: Callable[[float, float], None] | None = None
) -> Analysis:
    """Analyse mono audio at RATE given as passes of blocks (`audio.chunks`), in memory
    that grows only with the frame-rate features (~30 MB an hour), never with the audio.

    Pass 1 measures the level, the DC offset and the tuning; `check_level(seconds, rms)` may then
    refuse the input (an empty or silent window) before the work. Pass 2 computes every feature.
    """
    with warnings.catch_warnings():
        # librosa warns when a pure tone or silence gives it no peaks to estimate tuning
        # from; the estimate is then 0 cents, which is right, and the user needs no notice.
        warnings.filterwarnings("ignore", message="Trying to estimate tuning")
        count, total, squares, tuning = 0, 0.0, 0.0, TuningPass()
        for block in source():
            count += len(block)
            total += float(np.sum(block, dtype=np.float64))
            squares += float(np.sum(np.square(block, dtype=np.float64)))
            tuning.push(block)
        rms = math.sqrt(squares / count) if count else 0.0
        if check_level is not None:
            check_level(count / RATE, rms)
        mean = total / count if count else 0.0
        return _analyze(source, count, mean, rms, tuning.finish())


def _analyze(source: ChunkSource, count: int, mean: float, rms: float, tuning: float) -> Analysis:
    duration = count / RATE
    front, activation, frames = FrontEnd(), BeatActivation(), FramesPass(tuning)
    store = RawStore()
    rows: list[np.ndarray] = []
    for block in source():
        block = (block - np.float32(mean)) if mean else block  # DC offset
        store.add(front.process(block))
        rows.append(activation.push(block))
        frames.push(block)
    rows.append(activation.finish())
    song = frames.finish()
    raw = store.join()
    conditioner = Conditioner()
    conditioner.warm_start(raw)
    cond = condition(conditioner, raw)
    n_raw = len(raw)
    raw = MoodInputs(raw.flux, raw.rms_db)  # all the mood still reads: drop the rest now
    times = cond.times
    silent_all = n_raw == 0 or bool(np.all(cond.silent))

    if silent_all or n_raw < 2 * FRAME_RATE:
        rhythm = analyse_rhythm(np.zeros((0, 3)), cond.chroma, FRAME_RATE)
    else:
        rhythm = analyse_rhythm(np.concatenate(rows), cond.chroma, FRAME_RATE)
    del rows
    beats, downbeats, tempo = rhythm.beats, rhythm.downbeats, rhythm.tempo
    tempo_times, tempo_bpm = rhythm.tempo_times, rhythm.tempo_bpm
    onsets = times[cond.is_onset] - ONSET_DELAY
    onsets = onsets[onsets >= 0]

    key_frames = song.chroma  # tuning-aware CQT chroma, shared with the sections
    key_times = song.times
    estimate = section_key_detail(key_frames)
    key, mode, confidence = estimate.key, estimate.mode, estimate.confidence
    arousal, valence = song_mood(raw, cond, beats, tempo_times, tempo_bpm, estimate)
    sections = _describe_sections(
        sections_from_frames(song, beats, downbeats, duration, rms),
        times,
        arousal,
        valence,
        cond.silent,
        key_frames,
        key_times,
    )
    curves = {
        "energy": cond.energy,
        "bass": cond.bass,
        "mid": cond.mid,
        "treble": cond.treble,
        "brightness": cond.brightness,
        "onset": cond.onset,
        "arousal": arousal,
        "valence": valence,
    }
    return Analysis(
        duration=duration,
        hop=1.0 / FRAME_RATE,
        times=times,
        curves={k: unit(v) for k, v in curves.items()},
        chroma=unit(cond.chroma),
        beats=beats,
        downbeats=downbeats,
        onsets=onsets,
        tempo=float(tempo),
        tempo_times=tempo_times,
        tempo_curve=tempo_bpm,
        key=key,
        mode=mode,
        sections=sections,
        silent=cond.silent,
        beats_per_bar=rhythm.beats_per_bar,
        beat_numbers=rhythm.numbers,
        key_confidence=float(confidence),
    )


def _sample(times: np.ndarray, values: np.ndarray, t: np.ndarray) -> np.ndarray:
    if len(times) == 0:
        return np.zeros(len(t))
    return np.interp(t, times, values)


def _flags(events: np.ndarray, fps: float, begin: int, end: int) -> np.ndarray:
    """Frames begin..end-1 that are the nearest frame of some event."""
    flags = np.zeros(end - begin, dtype=bool)
    if len(events):
        index = np.round(np.asarray(events) * fps).astype(int)
        flags[index[(index >= begin) & (index < end)] - begin] = True
    return flags


def _beat_phase(beats: np.ndarray, t: np.ndarray) -> np.ndarray:
    """0..1 position inside the current beat; extrapolated before the first and after the last."""
    if len(beats) < 2:
        return np.zeros(len(t))
    position = np.interp(t, beats, np.arange(len(beats)), left=np.nan, right=np.nan)
    period_first = beats[1] - beats[0]
    period_last = beats[-1] - beats[-2]
    before = t < beats[0]
    after = t > beats[-1]
    position[before] = (t[before] - beats[0]) / period_first
    position[after] = len(beats) - 1 + (t[after] - beats[-1]) / period_last
    return np.mod(position, 1.0)


def _beat_in_bar(
    beats: np.ndarray, numbers: np.ndarray | None, meter: int, t: np.ndarray
) -> np.ndarray:
    """1..meter: the number of the beat each time falls in (0 before the first beat)."""
    if numbers is None or len(beats) == 0 or meter == 0:
        return np.zeros(len(t), dtype=int)
    index = np.searchsorted(beats, t + 1e-9, side="right") - 1
    out = np.where(index >= 0, numbers[np.clip(index, 0, None)], 0)
    return out.astype(int)


def _describe_sections(
    sections: list[Section],
    times: np.ndarray,
    arousal: np.ndarray,
    valence: np.ndarray,
    silent: np.ndarray,
    key_frames: np.ndarray,
    key_times: np.ndarray,
) -> list[Section]:
    """Each section's key and mean mood over the whole section (its silent frames left out)."""
    described = []
    for section in sections:
        inside = (times >= section.start) & (times < section.end)
        loud = inside & ~silent
        use = loud if np.any(loud) else inside
        if not np.any(use):
            described.append(section)
            continue
        span = (key_times >= section.start) & (key_times < section.end)
        key, _, confidence = section_key(key_frames[span])
        described.append(
            Section(
                section.start,
                section.end,
                section.label,
                key=key,
                key_confidence=float(confidence),
                arousal=float(np.clip(arousal[use].mean(), 0.0, 1.0)),
                valence=float(np.clip(valence[use].mean(), 0.0, 1.0)),
            )
        )
    return described
