"""Audio sources: decode a file once into mono float32 at the analysis rate.

PyAV (FFmpeg's libraries in a wheel) decodes every common format - mp3, wav, flac,
ogg, m4a - at any rate and channel count, so no ffmpeg binary is needed.

Everything decoded here is safe to use: NaN/inf samples (a broken float WAV) become
silence and samples beyond +-1 are clipped, before resampling so damage does not smear
into its neighbours. The analysis, the encoder (AAC refuses NaN) and the live callback
all get audio from here, so none of them has to check again. Damaged packets are
skipped and a stream that breaks off is kept up to the break, as a player would.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ANALYSIS_RATE = 22050
MIN_RATE, MAX_RATE = 1000, 1_000_000  # a claimed rate outside this is a damaged header
MAX_CHANNELS = 64  # swresample's limit
NOTICE_PEAK = 1.5  # lossy decoders overshoot a loud master by less; beyond is damage
_FLOAT_FORMATS = {"flt": np.float32, "fltp": np.float32, "dbl": np.float64, "dblp": np.float64}

Notice = Callable[[str], None]


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
    notice: Notice | None = None,
) -> AudioClip:
    """Decode `path` to mono float32 at `sample_rate`, optionally a [start, start+duration) window."""

    path = check_request(path, start, duration)
    samples = decode_audio(path, sample_rate, channels=1, notice=notice)[:, 0]
    first = int(round(start * sample_rate))
    last = len(samples) if duration is None else first + int(round(duration * sample_rate))
    samples = samples[first:last]
    if samples.size == 0:
        raise empty_window(path, start)
    return AudioClip(np.ascontiguousarray(samples, np.float32), sample_rate, path, start)


def check_request(path: str | Path, start: float = 0.0, duration: float | None = None) -> Path:
    """The checks made before decoding anything, each one line."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"no such file: {path}")
    if path.is_dir():
        raise AudioError(f"is a directory, not an audio file: {path}")
    if start < 0 or (duration is not None and duration <= 0):
        raise AudioError("--start must be >= 0 and --duration > 0")
    return path


def empty_window(path: Path, start: float) -> AudioError:
    where = f" after --start {start:g}s" if start else ""
    return AudioError(f"no audio in {Path(path).name}{where} (zero length)")


def is_silent_level(rms: float, threshold_db: float = -60.0) -> bool:
    """`is_silent` for a level measured elsewhere (the streaming analysis measures it)."""
    return rms <= 0 or 20 * math.log10(rms) < threshold_db


def decode_audio(
    path: str | Path, sample_rate: int, channels: int = 1, notice: Notice | None = None
) -> np.ndarray:
    """Decode the first audio stream to float32 shaped (n, channels) at `sample_rate`."""
    chunks = list(decode_chunks(path, sample_rate, channels, notice))
    if not chunks:
        return np.zeros((0, channels), np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


def decode_chunks(
    path: str | Path, sample_rate: int, channels: int = 1, notice: Notice | None = None
) -> Iterator[np.ndarray]:
    """Repaired float32 blocks shaped (n, channels) at `sample_rate`, in order.

    Raises AudioError (one line) for a file that is not audio, or that holds only
    NaN/inf; a repair is reported once per file through `notice` (default: stderr).
    """
    import av

    path = Path(path)
    damage = _Damage()
    try:
        with av.open(str(path), metadata_errors="replace") as container:
            if not container.streams.audio:
                raise AudioError(f"{path.name} has no audio stream")
            stream = container.streams.audio[0]
            codec = stream.codec_context
            if codec is None:  # a codec tag no decoder knows: usually a scrambled header
                raise AudioError(f"cannot decode {path.name}: no decoder for its audio codec")
            _check_format(codec.sample_rate, codec.channels, path, opening=True)
            yield from _decode_stream(container, stream, path, sample_rate, channels, damage)
    except av.error.FFmpegError as exc:
        raise AudioError(f"cannot decode {path.name} as audio ({_short(exc)})") from None
    except (ValueError, OverflowError, MemoryError) as exc:  # PyAV on a damaged header
        raise AudioError(f"cannot decode {path.name} as audio ({_short(exc)})") from None
    if damage.values and damage.invalid == damage.values:
        raise AudioError(f"{path.name} contains no valid samples (all NaN or infinite)")
    if not damage.values and damage.first_error:
        raise AudioError(f"cannot decode {path.name} as audio ({damage.first_error})")
    message = damage.describe(path.name)
    if message:
        _notify_once(path, message, notice)


class _Damage:
    """What was repaired or skipped while decoding one file."""

    def __init__(self) -> None:
        self.values = 0  # decoded sample values seen (frames x channels)
        self.invalid = 0  # NaN or infinite: set to silence
        self.invalid_seconds = 0.0
        self.clipped = 0  # in frames peaking beyond NOTICE_PEAK (smaller overs: silently)
        self.clipped_seconds = 0.0
        self.skipped_packets = 0
        self.truncated = False
        self.first_error = ""

    def skip(self, exc: Exception) -> None:
        self.skipped_packets += 1
        self.first_error = self.first_error or _short(exc)

    def describe(self, name: str) -> str:
        parts = []
        if self.invalid:
            amount = _amount(self.invalid, self.invalid_seconds)
            parts.append(f"NaN/infinite samples set to silence ({amount})")
        if self.clipped:
            amount = _amount(self.clipped, self.clipped_seconds)
            parts.append(f"samples far beyond +-1 clipped ({amount})")
        if self.skipped_packets:
            parts.append(f"{self.skipped_packets} damaged packets skipped")
        if self.truncated:
            parts.append(f"stream breaks off ({self.first_error}); kept what decoded")
        return f"{name}: " + "; ".join(parts) if parts else ""


def _decode_stream(container, stream, path: Path, rate: int, channels: int, damage: _Damage):
    """Demux and decode packet by packet: a bad packet is skipped, a broken demuxer ends it."""
    import av

    resampler = _Resampler(rate, channels)
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as exc:  # the container itself is cut or scrambled
            if not damage.values:
                raise
            damage.truncated, damage.first_error = True, _short(exc)
            break
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            damage.skip(exc)
            continue
        for frame in frames:
            _check_format(frame.sample_rate, frame.layout.nb_channels, path)
            _repair_frame(frame, damage)
            yield from resampler.push(frame)
    yield from resampler.push(None)


class _Resampler:
    """av.AudioResampler that starts afresh when the input's format, layout or rate changes."""

    def __init__(self, rate: int, channels: int) -> None:
        self.rate, self.channels = rate, channels
        self.layout = "mono" if channels == 1 else "stereo"
        self._resampler = None
        self._key: tuple | None = None

    def push(self, frame) -> Iterator[np.ndarray]:
        import av

        if frame is not None:
            key = (frame.format.name, frame.layout.name, frame.sample_rate)
            if key != self._key:
                yield from self.push(None)
                self._resampler = av.AudioResampler(
                    format="flt", layout=self.layout, rate=self.rate
                )
                self._key = key
        if self._resampler is None:
            return
        for out in self._resampler.resample(frame):
            block = out.to_ndarray().reshape(-1, self.channels)
            np.clip(block, -1.0, 1.0, out=block)  # the resampling filter can overshoot a little
            yield block
        if frame is None:
            self._resampler, self._key = None, None


def _amount(count: int, seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds >= 0.1 else f"{count} sample{'s' if count > 1 else ''}"


def _check_format(rate: int, channels: int, path: Path, opening: bool = False) -> None:
    """Refuse what only a damaged header claims, before it costs a decode."""
    if opening and not rate:
        return  # some containers only know the format once the first frame is decoded
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(f"{path.name} claims a sample rate of {rate} Hz (damaged header?)")
    if channels < 1:  # FFmpeg reports an absurd count (65535) as 0 too
        raise AudioError(f"{path.name} has no valid channel count (damaged header?)")
    if channels > MAX_CHANNELS:
        raise AudioError(f"{path.name} claims {channels} audio channels (damaged header?)")


def _repair_frame(frame, damage: _Damage) -> None:
    """Set NaN/inf to 0 and clip to +-1, in place in the decoder's buffers."""
    channels = frame.layout.nb_channels
    damage.values += frame.samples * channels
    dtype = _FLOAT_FORMATS.get(frame.format.name)
    if dtype is None:
        return  # integer PCM is in range by construction
    planar = frame.format.is_planar
    count = frame.samples if planar else frame.samples * channels
    per_second = frame.sample_rate * (1 if planar else channels)
    for plane in frame.planes:
        values = np.frombuffer(plane, dtype=dtype, count=count)
        if not count or max(values.max(), -values.min()) <= 1.0:
            continue  # the usual case: one pass each, and NaN fails the test too
        bad = ~np.isfinite(values)
        if bad.any():
            n_bad = int(bad.sum())
            damage.invalid += n_bad
            damage.invalid_seconds += n_bad / per_second
            values[bad] = 0.0
        if float(np.abs(values).max()) > NOTICE_PEAK:
            n_over = int(np.count_nonzero(np.abs(values) > 1))
            damage.clipped += n_over
            damage.clipped_seconds += n_over / per_second
        np.clip(values, -1.0, 1.0, out=values)


_notified: set[tuple[str, int, int]] = set()


def _notify_once(path: Path, message: str, notice: Notice | None) -> None:
    """One notice per file per process, however often it is decoded (analysis, mux)."""
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    except OSError:
        key = (str(path), 0, 0)
    if key in _notified:
        return
    _notified.add(key)
    (notice or _stderr_notice)(message)


def _stderr_notice(message: str) -> None:
    print(f"visualize: {message}", file=sys.stderr)


def is_silent(clip: AudioClip, threshold_db: float = -60.0) -> bool:
    """True when the whole clip stays below `threshold_db` dBFS RMS."""
    rms = float(np.sqrt(np.mean(np.square(clip.samples, dtype=np.float64))))
    return is_silent_level(rms, threshold_db)


def _short(exc: Exception) -> str:
    """One short line: FFmpeg's reason without its errno and path."""
    text = getattr(exc, "strerror", None) or str(exc).strip()
    return text.splitlines()[0][:120] if text else type(exc).__name__
