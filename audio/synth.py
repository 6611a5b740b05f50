"""Synthetic test music with exact ground truth: beats, downbeats and every note onset.

`make_beat_track` renders a small band - kick on 1 and 3, snare on 2 and 4, hi-hats,
a bass line and a chord pad - over a beat grid that can swing, change tempo once and
start with a quiet intro. Because we place every note ourselves, the beat and onset
times are known to the sample, which is what the beat-tracking tests measure against.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# I - V - vi - IV in C major, as (bass root MIDI note, chord MIDI notes); one chord per bar.
PROGRESSION = (
    (36, (60, 64, 67)),  # C
    (43, (59, 62, 67)),  # G
    (45, (60, 64, 69)),  # Am
    (41, (60, 65, 69)),  # F
)


@dataclass(frozen=True)
class SynthTrack:
    """A rendered track and its ground truth (all times in seconds from the start)."""

    samples: np.ndarray  # mono float32, peak about 0.9
    sample_rate: int
    beats: np.ndarray
    downbeats: np.ndarray
    onsets: np.ndarray  # every note onset, merged when closer than 30 ms
    bpm: float  # the starting tempo

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def beat_grid(
    bpm: float, duration: float, tempo_change: tuple[float, float] | None = None
) -> np.ndarray:
    """Beat times from 0 up to `duration`; the period switches at the first beat past the change."""
    beats = []
    time, period = 0.0, 60.0 / bpm
    while time < duration - 1e-9:
        beats.append(time)
        if tempo_change is not None and time + period >= tempo_change[0]:
            period = 60.0 / tempo_change[1]
        time += period
    return np.asarray(beats, dtype=np.float64)


def make_beat_track(
    bpm: float = 120.0,
    duration: float = 20.0,
    sample_rate: int = 22050,
    seed: int = 0,
    swing: float = 0.0,
    tempo_change: tuple[float, float] | None = None,
    quiet_intro: float = 0.0,
    intro_gain_db: float = -24.0,
    hats: bool = True,
    beats_per_bar: int = 4,
) -> SynthTrack:
    """Render a groove with known beats and bars (4/4, or 3/4 as a waltz: kick on one).

    swing: 0 straight .. 1 triplet feel (the off-beat eighth moves from 1/2 to 2/3 of the beat).
    tempo_change: (time, new_bpm) - the tempo jumps at the first beat after `time`.
    quiet_intro: seconds at the start played `intro_gain_db` quieter (beats still count).
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration * sample_rate))
    out = np.zeros(n + sample_rate, dtype=np.float64)  # one second of tail room, cut below
    beats = beat_grid(bpm, duration, tempo_change)
    periods = np.diff(np.append(beats, beats[-1] + 60.0 / _tempo_at(beats[-1], bpm, tempo_change)))
    onsets: list[float] = []
    sounds = _Sounds(sample_rate, rng)

    def gain_at(time: float) -> float:
        return 10 ** (intro_gain_db / 20) if time < quiet_intro else 1.0

    def place(sound: np.ndarray, time: float, level: float) -> None:
        start = int(round(time * sample_rate))
        if start >= n:
            return
        end = min(start + len(sound), len(out))
        out[start:end] += level * gain_at(time) * sound[: end - start]
        onsets.append(time)

    for index, (beat, period) in enumerate(zip(beats, periods, strict=True)):
        position = index % beats_per_bar
        bass_root, chord = PROGRESSION[(index // beats_per_bar) % len(PROGRESSION)]
        offbeat = beat + period * (0.5 + swing / 6.0)
        if position == 0 or (beats_per_bar == 4 and position == 2):
            place(sounds.kick(), beat, 0.9)
        else:
            place(sounds.snare(), beat, 0.55)
        if hats:
            place(sounds.hat(), beat, 0.16)
            place(sounds.hat(), offbeat, 0.10)
        # Bass: root on every beat, octave up on the off-beat before the next bar.
        place(sounds.bass(bass_root, period * 0.9), beat, 0.45)
        if position == beats_per_bar - 1:
            place(sounds.bass(bass_root + 12, period * 0.4), offbeat, 0.3)
        if position == 0:
            bar = period * beats_per_bar * 0.98
            place(sounds.chord(chord, bar), beat, 0.22)

    out = out[:n]
    peak = float(np.max(np.abs(out))) or 1.0
    samples = (0.9 * out / peak).astype(np.float32)
    return SynthTrack(
        samples=samples,
        sample_rate=sample_rate,
        beats=beats,
        downbeats=beats[::beats_per_bar].copy(),
        onsets=_merge_close(np.asarray(onsets), 0.03),
        bpm=float(bpm),
    )


def click_track(times: np.ndarray, duration: float, sample_rate: int = 22050) -> np.ndarray:
    """Short clicks at `times`: the simplest possible onset signal."""
    out = np.zeros(int(round(duration * sample_rate)), dtype=np.float32)
    click = np.sin(2 * np.pi * 1500 * np.arange(220) / sample_rate) * np.exp(-np.arange(220) / 40)
    for time in times:
        start = int(round(time * sample_rate))
        end = min(start + len(click), len(out))
        if start < len(out):
            out[start:end] += 0.8 * click[: end - start]
    return out


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> Path:
    """Write 16-bit PCM WAV with the standard library; `samples` is (n,) or (n, channels)."""
    path = Path(path)
    data = np.asarray(samples, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    pcm = (np.clip(np.nan_to_num(data), -1.0, 1.0) * 32767).round().astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(pcm.shape[1])
        handle.setsampwidth(2)
        handle.setframerate(int(sample_rate))
        handle.writeframes(pcm.tobytes())
    return path


def _tempo_at(time: float, bpm: float, tempo_change: tuple[float, float] | None) -> float:
    return tempo_change[1] if tempo_change is not None and time >= tempo_change[0] else bpm


def _merge_close(times: np.ndarray, gap: float) -> np.ndarray:
    """Sorted unique onsets, keeping the first of any group closer than `gap` seconds."""
    times = np.sort(times)
    kept: list[float] = []
    for time in times:
        if not kept or time - kept[-1] >= gap:
            kept.append(float(time))
    return np.asarray(kept)


def _midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


class _Sounds:
    """Instrument voices; drums get a little random variation so hits are not identical."""

    def __init__(self, sample_rate: int, rng: np.random.Generator) -> None:
        self.rate = sample_rate
        self.rng = rng

    def _time(self, seconds: float) -> np.ndarray:
        return np.arange(int(seconds * self.rate)) / self.rate

    def kick(self) -> np.ndarray:
        t = self._time(0.35)
        freq = 50 + 110 * np.exp(-t / 0.03)
        phase = 2 * np.pi * np.cumsum(freq) / self.rate
        click = self.rng.standard_normal(len(t)) * np.exp(-t / 0.003) * 0.3
        return np.sin(phase) * np.exp(-t / 0.12) + click

    def snare(self) -> np.ndarray:
        t = self._time(0.25)
        noise = _highpass(self.rng.standard_normal(len(t)), self.rate, 1200)
        tone = np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05)
        return 0.7 * noise * np.exp(-t / 0.06) + 0.5 * tone

    def hat(self) -> np.ndarray:
        t = self._time(0.06)
        noise = _highpass(self.rng.standard_normal(len(t)), self.rate, 6000)
        return noise * np.exp(-t / 0.015)

    def bass(self, note: int, length: float) -> np.ndarray:
        t = self._time(max(length, 0.05))
        freq = _midi_hz(note)
        tone = np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(4 * np.pi * freq * t)
        return tone * _envelope(t, attack=0.005, release=0.05, length=length)

    def chord(self, notes: tuple[int, ...], length: float) -> np.ndarray:
        t = self._time(max(length, 0.05))
        tone = np.zeros_like(t)
        for note in notes:
            freq = _midi_hz(note)
            for harmonic, level in ((1, 1.0), (2, 0.4), (3, 0.2)):
                tone += level * np.sin(2 * np.pi * freq * harmonic * t + self.rng.uniform(0, 6))
        return tone / len(notes) * _envelope(t, attack=0.01, release=0.2, length=length)


def _envelope(t: np.ndarray, attack: float, release: float, length: float) -> np.ndarray:
    rise = np.clip(t / attack, 0, 1)
    fall = np.clip((length - t) / release, 0, 1)
    return rise * fall * np.exp(-t / (length * 2 + 1e-3))


def _highpass(x: np.ndarray, sample_rate: int, cutoff: float) -> np.ndarray:
    """One-pole high-pass, enough to make noise sound like a snare or hat."""
    alpha = 1.0 / (1.0 + 2 * np.pi * cutoff / sample_rate)
    from scipy.signal import lfilter

    return lfilter([alpha, -alpha], [1, -alpha], x)
