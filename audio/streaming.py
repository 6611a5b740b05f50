"""Live analysis: push blocks of samples, get one FeatureFrame per ~10 ms hop back.

Causal and bounded: every stage keeps a fixed amount of state (the 46 ms window, the
beat network's LSTM state and a beat-pointer filter, a few seconds of section vectors).
The per-frame math is `audio.spectral` and `audio.activation`, the same code the offline
analysis runs, so a curve means the same in a render and on stage; beats and bar lines
come from `audio.live_beats`, the causal reading of the offline evidence. `push` never blocks and never raises on bad samples:
NaN/inf become zeros, any channel layout is mixed down, any rate is resampled.
"""

from __future__ import annotations

import math

import numpy as np

from audio.activation import FPS as ACTIVATION_FPS
from audio.activation import FRAME, HOP, BeatActivation
from audio.features import FeatureFrame
from audio.key import KeyTracker
from audio.live_beats import PEAK_FRAMES, LiveBeats
from audio.mood import MoodTracker
from audio.sections import SectionTracker, section_vectors
from audio.spectral import FRAME_RATE, ONSET_DELAY, RATE, Conditioner, FrontEnd

MIN_BEAT_SPACING = 0.6  # of a period: one flag per beat, whatever the prediction does


class StreamingAnalyzer:
    """Causal analyzer for live input at any `sample_rate`; time = seconds of audio pushed."""

    def __init__(self, sample_rate: int = RATE) -> None:
        self.sample_rate = int(sample_rate)
        self._resampler = _Resampler(self.sample_rate)
        self._front = FrontEnd()
        self._conditioner = Conditioner()
        self._activation = BeatActivation()
        self._beats = LiveBeats()
        self._rows: list[np.ndarray] = []  # activation rows not yet given to the tracker
        self._rows_given = 0
        self._beat_index = -1
        self._last_beat = -math.inf
        self._beat_chroma = np.zeros(12)
        self._pending: tuple[float, float] | None = None  # (share, bass) of the last beat
        self._capture_at = math.inf
        self._beat_in_bar = 0
        self._sections = SectionTracker()
        self._mood = MoodTracker()
        self._key_tracker = KeyTracker(RATE)  # spectral peaks of a long FFT, ~1 min memory
        self._key = self._key_tracker.push(np.zeros(0, np.float32))
        self._frames = 0
        self.pushed_seconds = 0.0

    def push(self, samples: np.ndarray) -> list[FeatureFrame]:
        """Feed any number of samples, shape (n,) or (n, channels); returns the new frames."""
        data = np.asarray(samples, dtype=np.float32)
        if data.ndim == 2:
            data = data.mean(axis=1) if data.shape[1] else np.zeros(len(data), np.float32)
        data = np.clip(np.nan_to_num(data.reshape(-1), nan=0.0, posinf=1.0, neginf=-1.0), -1, 1)
        self.pushed_seconds += len(data) / self.sample_rate
        mono = self._resampler.process(data)
        self._key = self._key_tracker.push(mono)
        rows = self._activation.push(mono)
        if len(rows):
            self._rows.append(rows)
        raw = self._front.process(mono)
        if len(raw) == 0:
            return []
        cond = self._conditioner.process(raw)
        frames = []
        for i in range(len(cond)):
            frames.append(self._frame(cond, raw, i))
        return frames

    def _frame(self, cond, raw, i: int) -> FeatureFrame:
        self._frames += 1
        time = float(cond.times[i])
        silent = bool(cond.silent[i])
        is_beat = self._beat_due(time, silent, cond.chroma[i])
        beats = self._beats
        tempo = beats.bpm if beats.pulse else 0.0
        meter = beats.bars.beats_per_bar if tempo else 0
        beat_phase = min(max((time - self._last_beat) / beats.period, 0.0), 0.999) if tempo else 0.0
        vector = section_vectors(
            raw.rms_db[i : i + 1],
            raw.band_db[i : i + 1],
            cond.brightness[i : i + 1],
            cond.chroma[i : i + 1],
        )[0]
        is_section_start = self._sections.push(vector)
        arousal, valence = self._mood.step(
            float(raw.flux[i]),
            float(raw.rms_db[i]),
            float(cond.brightness[i]),
            tempo,
            self._key.mode,
            self._key.mode_confidence,
            silent,
        )
        return FeatureFrame(
            time=time,
            energy=float(cond.energy[i]),
            bass=float(cond.bass[i]),
            mid=float(cond.mid[i]),
            treble=float(cond.treble[i]),
            brightness=float(cond.brightness[i]),
            onset=float(cond.onset[i]),
            is_onset=bool(cond.is_onset[i]),
            is_beat=is_beat,
            is_downbeat=is_beat and self._beat_in_bar == 1,
            beat_phase=float(beat_phase),
            beat_in_bar=self._beat_in_bar if tempo else 0,
            beats_per_bar=meter,
            bar_phase=((self._beat_in_bar - 1 + beat_phase) / meter) if meter else 0.0,
            tempo=float(tempo),
            chroma=tuple(float(c) for c in cond.chroma[i]),
            key=self._key.key,
            mode=self._key.mode,
            key_confidence=float(self._key.confidence),
            section=self._sections.label,
            is_section_start=is_section_start,
            arousal=float(arousal),
            valence=float(valence),
            silent=silent,
        )

    def _feed_rows(self, time: float) -> None:
        """Give the tracker the activation rows a sound card would have delivered by `time`,
        so the result does not depend on how the audio was cut into blocks."""
        # Row j is complete once sample j * HOP + FRAME - FRAME // 2 has arrived.
        ready = int((time * RATE - (FRAME - FRAME // 2)) // HOP) + 1 - self._rows_given
        while ready > 0 and self._rows:
            head = self._rows[0]
            take = min(ready, len(head))
            self._beats.push(head[:take])
            self._rows_given += take
            ready -= take
            if take == len(head):
                self._rows.pop(0)
            else:
                self._rows[0] = head[take:]

    def _beat_due(self, time: float, silent: bool, chroma: np.ndarray) -> bool:
        """Flag the frame nearest the predicted beat, once per beat, while the pulse is clear."""
        self._feed_rows(time)
        beats = self._beats
        self._beat_chroma += chroma
        if time >= self._capture_at:  # the activation around the last beat has arrived
            self._pending = (beats.downbeat_share(), beats.bass_peak())
            self._capture_at = math.inf
        half_frame = 0.5 / FRAME_RATE
        due = time + half_frame >= beats.next_beat()
        spaced = time - self._last_beat >= MIN_BEAT_SPACING * beats.period
        if not (due and spaced and beats.pulse and not silent):
            return False
        if self._pending is not None:
            beats.bars.add_beat(self._beat_index, *self._pending, self._beat_chroma)
            self._pending = None
        self._beat_chroma = np.zeros(12)
        # Count beats on the grid, not flagged beats: after a missed beat or a gap in the
        # pulse the bar position still advances by the beats that went by.
        gap = (time - self._last_beat) / beats.period if self._beat_index >= 0 else 1.0
        self._beat_index += max(1, round(gap)) if math.isfinite(gap) else 1
        self._beat_in_bar = beats.bars.number(self._beat_index)
        self._last_beat = time
        self._capture_at = time + (PEAK_FRAMES + 2) / ACTIVATION_FPS
        return True


class _Resampler:
    """Streaming resampler to RATE (PyAV's swresample keeps the filter state between blocks)."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._av = None
        if sample_rate != RATE:
            import av

            self._av = av.AudioResampler(format="flt", layout="mono", rate=RATE)
            self._pts = 0

    def process(self, mono: np.ndarray) -> np.ndarray:
        if self._av is None or len(mono) == 0:
            return mono
        import av

        frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = self._pts
        self._pts += len(mono)
        out = [f.to_ndarray().reshape(-1) for f in self._av.resample(frame)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


__all__ = ["StreamingAnalyzer", "ONSET_DELAY"]
