"""Audio sources: decode a file once into mono float32 at the analysis rate.

PyAV (FFmpeg's libraries in a wheel) decodes every common format - mp3, wav, flac,
ogg, m4a - at any rate and channel count, so no ffmpeg binary is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ANALYSIS_RATE = 22050


class AudioError(Exception):
    """A file that cannot be used as audio; the message is one line for the user."""


@dataclass(frozen=True)
class AudioClip:
    """Decoded audio: `samples` is float32 mono in -1..1 at `sample_rate`."""

    samples: np.ndarray
    sample_rate: int
    path: Path | None = None
    offset: float = 0.0  # where this clip starts inside the source file, seconds

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def load_audio(
    path: str | Path,
    sample_rate: int = ANALYSIS_RATE,
    start: float = 0.0,
    duration: float | None = None,
) -> AudioClip:
    """Decode `path` to mono float32 at `sample_rate`, optionally a [start, start+duration) window."""

    path = Path(path)
    if not path.exists():
        raise AudioError(f"no such file: {path}")
    if path.is_dir():
        raise AudioError(f"is a directory, not an audio file: {path}")
    if start < 0 or (duration is not None and duration <= 0):
        raise AudioError("--start must be >= 0 and --duration > 0")
    samples = decode_audio(path, sample_rate, channels=1)[:, 0]
    first = int(round(start * sample_rate))
    last = len(samples) if duration is None else first + int(round(duration * sample_rate))
    samples = samples[first:last]
    if samples.size == 0:
        where = f" after --start {start:g}s" if start else ""
        raise AudioError(f"no audio in {path.name}{where} (zero length)")
    samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    np.clip(samples, -1.0, 1.0, out=samples)
    return AudioClip(np.ascontiguousarray(samples, np.float32), sample_rate, path, start)


def decode_audio(path: str | Path, sample_rate: int, channels: int = 1) -> np.ndarray:
    """Decode the first audio stream to float32 shaped (n, channels) at `sample_rate`."""
    import av

    path = Path(path)
    layout = "mono" if channels == 1 else "stereo"
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(f"{path.name} has no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout=layout, rate=sample_rate)
            for frame in container.decode(stream):
                chunks.extend(
                    out.to_ndarray().reshape(-1, channels) for out in resampler.resample(frame)
                )
            chunks.extend(
                out.to_ndarray().reshape(-1, channels) for out in resampler.resample(None)
            )
    except av.error.FFmpegError as exc:
        raise AudioError(f"cannot decode {path.name} as audio ({_short(exc)})") from None
    if not chunks:
        return np.zeros((0, channels), np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


def is_silent(clip: AudioClip, threshold_db: float = -60.0) -> bool:
    """True when the whole clip stays below `threshold_db` dBFS RMS."""
    rms = float(np.sqrt(np.mean(np.square(clip.samples, dtype=np.float64))))
    return rms <= 0 or 20 * math.log10(rms) < threshold_db


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]
