"""Live analysis: push blocks of samples, get one FeatureFrame per ~10 ms hop back.

Causal and bounded: every stage keeps a fixed amount of state (the 46 ms window, a 6 s
onset envelope for the beat tracker, a few seconds of section vectors). The per-frame
math is `audio.spectral`, the same code the offline analysis runs, so a curve means the
same in a render and on stage. `push` never blocks and never raises on bad samples:
NaN/inf become zeros, any channel layout is mixed down, any rate is resampled.
"""

from __future__ import annotations

import numpy as np

from audio.beats import BeatTracker
from audio.features import FeatureFrame
from audio.sections import SectionTracker, section_vectors
from audio.spectral import FRAME_RATE, ONSET_DELAY, RATE, Conditioner, FrontEnd
from audio.tonal import MoodTracker, estimate_key

KEY_UPDATE_S = 1.0
KEY_MEMORY_S = 30.0  # the key follows the last half minute or so
DOWNBEAT_MEMORY = 0.9  # per-bar decay of the downbeat evidence


class StreamingAnalyzer:
    """Causal analyzer for live input at any `sample_rate`; time = seconds of audio pushed."""

    def __init__(self, sample_rate: int = RATE) -> None:
        self.sample_rate = int(sample_rate)
        self._resampler = _Resampler(self.sample_rate)
        self._front = FrontEnd()
        self._conditioner = Conditioner()
        self._beats = BeatTracker()
        self._sections = SectionTracker()
        self._mood = MoodTracker()
        self._key_chroma = np.zeros(12)
        self._key, self._mode, self._key_conf = "", "", 0.0
        self._frames = 0
        self._bar_evidence = np.zeros(4)  # downbeat evidence per beat-in-bar slot
        self._beat_index = 0
        self._last_chroma = np.zeros(12)
        self._beat_chroma = np.zeros(12)
        self._low_since_beat = 0.0
        self.pushed_seconds = 0.0

    def push(self, samples: np.ndarray) -> list[FeatureFrame]:
        """Feed any number of samples, shape (n,) or (n, channels); returns the new frames."""
        data = np.asarray(samples, dtype=np.float32)
        if data.ndim == 2:
            data = data.mean(axis=1) if data.shape[1] else np.zeros(len(data), np.float32)
        data = np.clip(np.nan_to_num(data.reshape(-1), nan=0.0, posinf=1.0, neginf=-1.0), -1, 1)
        self.pushed_seconds += len(data) / self.sample_rate
        mono = self._resampler.process(data)
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
        is_beat = self._beats.push(float(cond.strength[i]), time, silent)
        tempo = self._beats.bpm
        is_downbeat = self._downbeat(is_beat, float(raw.low_flux[i]), cond.chroma[i])
        decay = 1.0 / (KEY_MEMORY_S * FRAME_RATE)
        if not silent:
            self._key_chroma += (cond.chroma[i] - self._key_chroma) * decay * 10
        if self._frames % int(KEY_UPDATE_S * FRAME_RATE) == 0:
            self._key, self._mode, self._key_conf = estimate_key(self._key_chroma)
        vector = section_vectors(
            raw.rms_db[i : i + 1],
            raw.band_db[i : i + 1],
            cond.brightness[i : i + 1],
            cond.chroma[i : i + 1],
        )[0]
        is_section_start = self._sections.push(vector)
        arousal, valence = self._mood.step(
            float(cond.energy[i]),
            float(cond.brightness[i]),
            bool(cond.is_onset[i]),
            tempo,
            self._mode,
            self._key_conf,
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
            is_downbeat=is_downbeat,
            beat_phase=float(self._beats.phase),
            tempo=float(tempo),
            chroma=tuple(float(c) for c in cond.chroma[i]),
            key=self._key,
            mode=self._mode,
            section=self._sections.label,
            is_section_start=is_section_start,
            arousal=float(arousal),
            valence=float(valence),
            silent=silent,
        )

    def _downbeat(self, is_beat: bool, low_flux: float, chroma: np.ndarray) -> bool:
        """Count beats in bars of 4; the slot where bass hits and harmony changes is beat 1."""
        self._low_since_beat = max(self._low_since_beat * 0.9, low_flux)
        self._beat_chroma += chroma
        if not is_beat:
            return False
        change = 0.0
        norm = float(np.linalg.norm(self._beat_chroma) * np.linalg.norm(self._last_chroma))
        if norm > 1e-9:
            change = 1.0 - float(np.dot(self._beat_chroma, self._last_chroma)) / norm
        slot = self._beat_index % 4
        self._bar_evidence *= DOWNBEAT_MEMORY ** (1 / 4)
        self._bar_evidence[slot] += min(self._low_since_beat, 1.0) + change
        self._last_chroma = self._beat_chroma
        self._beat_chroma = np.zeros(12)
        self._low_since_beat = 0.0
        self._beat_index += 1
        return self._beat_index >= 8 and slot == int(np.argmax(self._bar_evidence))


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
