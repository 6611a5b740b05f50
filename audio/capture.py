"""Live audio sources: a microphone (or system audio) and a file played in real time.

Both hand out `AudioBlock`s - mono float32 copies stamped with their time on the source's
audio clock - through a small ring buffer. PortAudio calls the callbacks on its own
high-priority thread, so they only copy the block, append it and return: no locks, no
allocation beyond the copy, no logging. `deque.append`/`popleft` are atomic in CPython,
and a full ring drops its oldest block (counted) rather than making anyone wait.

Faults are counted and described, never raised into a running show: `read()` (called by
the feature thread, never the callback) notices a dead stream and reopens it, and a file
source whose output device disappears carries on by its own clock.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from audio.source import ANALYSIS_RATE, AudioClip, AudioError

BLOCK_SIZE = 256  # ~12 ms at 22.05 kHz: small blocks keep the reaction fast
RING_BLOCKS = 512  # ~6 s of audio before the oldest block is dropped
RECONNECT_SECONDS = 1.0
MONITOR_WORDS = ("monitor", "loopback", "stereo mix", "what u hear", "blackhole", "soundflower")

log = logging.getLogger(__name__)


class CaptureError(AudioError):
    """A device that cannot be opened or found; the message is one line for the user."""


@dataclass(frozen=True)
class AudioBlock:
    """A copied block of mono audio and the audio-clock time of its first sample."""

    time: float
    samples: np.ndarray  # float32, mono


@dataclass(frozen=True)
class CaptureStats:
    """Counters for the HUD and the log."""

    blocks: int = 0
    overflows: int = 0  # PortAudio reported lost input (the callback ran late)
    underflows: int = 0  # PortAudio reported an output gap
    dropped_blocks: int = 0  # the consumer fell 6 s behind and old blocks were dropped
    reconnects: int = 0
    status: str = ""  # one line: what the source is doing or what went wrong
    playback: bool = False  # a file source is audible through an output device
    repaired_blocks: int = 0  # blocks whose NaN/inf/out-of-range samples were repaired


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    hostapi: str
    inputs: int
    outputs: int
    sample_rate: float
    default_input: bool = False
    default_output: bool = False

    @property
    def is_monitor(self) -> bool:
        """A source that captures what the computer plays (system audio)."""
        return self.inputs > 0 and any(word in self.name.lower() for word in MONITOR_WORDS)


# -- devices ---------------------------------------------------------------------------


def list_devices() -> list[DeviceInfo]:
    """Every PortAudio device, inputs and outputs."""
    sd = _sounddevice()
    hostapis = sd.query_hostapis()
    default_in, default_out = _default_devices(sd)
    return [
        DeviceInfo(
            index=index,
            name=device["name"],
            hostapi=hostapis[device["hostapi"]]["name"],
            inputs=device["max_input_channels"],
            outputs=device["max_output_channels"],
            sample_rate=device["default_samplerate"],
            default_input=index == default_in,
            default_output=index == default_out,
        )
        for index, device in enumerate(sd.query_devices())
    ]


def find_device(spec: str | int | None, kind: str = "input") -> int | None:
    """Resolve `--device`: an index, part of a name, or `system` for system audio.

    None means the default device. Raises CaptureError with the choices when nothing
    matches, so a typo is a one-line fix.
    """
    if spec is None or spec == "":
        return None
    devices = [d for d in list_devices() if (d.inputs if kind == "input" else d.outputs) > 0]
    if isinstance(spec, int) or str(spec).isdigit():
        index = int(spec)
        if any(d.index == index for d in devices):
            return index
        raise CaptureError(f"no {kind} device #{index}; run `visualize devices` to list them")
    if kind == "input" and spec.lower() in ("system", "monitor", "loopback"):
        return system_audio_device(devices)
    matches = [d for d in devices if spec.lower() in d.name.lower()]
    if not matches:
        names = ", ".join(d.name for d in devices) or "none"
        raise CaptureError(f"no {kind} device matches {spec!r} (have: {names})")
    return matches[0].index


def system_audio_device(devices: list[DeviceInfo] | None = None) -> int:
    """The input that hears what the computer plays, where the platform offers one.

    Windows ("Stereo Mix") and macOS (BlackHole) list it as a device. PulseAudio and
    PipeWire hide monitors behind ALSA's `pulse` device; PULSE_SOURCE picks the monitor
    of the default output (read by libpulse when the stream connects).
    """
    devices = devices if devices is not None else list_devices()
    for device in devices:
        if device.is_monitor:
            return device.index
    pulse = next((d for d in devices if d.name == "pulse" and d.inputs), None)
    sink = _pulse_default_sink()
    if pulse is not None and sink:
        os.environ["PULSE_SOURCE"] = f"{sink}.monitor"
        return pulse.index
    raise CaptureError(
        "no system-audio source here: on Linux it needs PulseAudio/PipeWire, on macOS a "
        "loopback driver such as BlackHole, on Windows 'Stereo Mix' enabled"
    )


def _pulse_default_sink() -> str | None:
    if not shutil.which("pactl"):
        return None
    try:
        done = subprocess.run(
            ["pactl", "get-default-sink"], capture_output=True, text=True, timeout=3
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _default_devices(sd) -> tuple[int, int]:
    default_in, default_out = sd.default.device
    return (int(default_in) if default_in is not None else -1), (
        int(default_out) if default_out is not None else -1
    )


def _sounddevice():
    """Import sounddevice, turning a missing PortAudio library into a one-line error."""
    try:
        import sounddevice
    except OSError as exc:  # PortAudio library not installed
        raise CaptureError(f"PortAudio is not available ({exc}); install libportaudio2") from None
    return sounddevice


# -- the ring of blocks ----------------------------------------------------------------


class BlockRing:
    """A bounded FIFO of AudioBlocks: append from the callback, drain from a worker."""

    def __init__(self, capacity: int = RING_BLOCKS) -> None:
        self._blocks: deque[AudioBlock] = deque(maxlen=capacity)
        self.dropped = 0

    def push(self, block: AudioBlock) -> None:
        if len(self._blocks) == self._blocks.maxlen:
            self.dropped += 1  # a racy count is fine: it only feeds the HUD
        self._blocks.append(block)

    def drain(self) -> list[AudioBlock]:
        blocks = []
        while True:
            try:
                blocks.append(self._blocks.popleft())
            except IndexError:
                return blocks


def repair_block(samples: np.ndarray) -> bool:
    """Make a float32 block finite and within +-1 in place; True when anything changed.

    A broken driver or a misbehaving virtual device can hand out NaN or inf; one such
    sample would poison every filter state downstream, so it becomes silence here. The
    common, clean case costs two vectorised checks on a few hundred samples.
    """
    finite = np.isfinite(samples)
    if finite.all():
        if np.abs(samples).max(initial=0.0) <= 1.0:
            return False
        np.clip(samples, -1.0, 1.0, out=samples)
        return True
    samples[~finite] = 0.0
    np.clip(samples, -1.0, 1.0, out=samples)
    return True


class _LinearResampler:
    """Streams audio from one rate to another, block by block, without clicks."""

    def __init__(self, source_rate: float, target_rate: float) -> None:
        self.step = source_rate / target_rate
        self._position = 0.0  # next output sample, in input samples from `_previous`
        self._previous = np.zeros(1, np.float32)

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        joined = np.concatenate([self._previous, samples])
        last = len(joined) - 1
        positions = np.arange(self._position, last, self.step)
        out = np.interp(positions, np.arange(len(joined)), joined).astype(np.float32)
        self._position = (
            (positions[-1] + self.step - last) if len(positions) else self._position - len(samples)
        )
        self._previous = joined[-1:]
        return out


# -- microphone / system audio ---------------------------------------------------------


class MicrophoneSource:
    """Captures an input device into a ring of blocks at `sample_rate`.

    When the device cannot run at `sample_rate` it is opened at its own rate and the
    blocks are resampled in `read()`. A stream that dies (device unplugged, server
    restarted) is reopened from `read()` about once a second until it comes back.
    """

    def __init__(
        self,
        device: int | str | None = None,
        sample_rate: int = ANALYSIS_RATE,
        block_size: int = BLOCK_SIZE,
    ) -> None:
        self.device = device
        self.sample_rate = sample_rate
        self.block_size = block_size
        self.ring = BlockRing()
        self.device_rate = float(sample_rate)
        self._stream = None
        self._resampler: _LinearResampler | None = None
        self._frames = 0  # input frames seen by the callback, at the device rate
        self._last_callback = 0.0
        self._overflows = 0
        self._blocks = 0
        self._reconnects = 0
        self._status = ""
        self._next_reconnect = 0.0
        self._started = False
        self._clock_offset = 0.0  # audio time already captured by earlier streams
        self._repaired = 0  # blocks repaired by the callback (counted there, told in read())
        self._repair_told = False
        self.finished = False  # a microphone never runs out

    def start(self) -> MicrophoneSource:
        self._open()
        self._started = True
        return self

    def _open(self) -> None:
        sd = _sounddevice()
        try:
            info = sd.query_devices(self.device, "input")
        except (ValueError, sd.PortAudioError) as exc:
            raise CaptureError(f"no input device available ({_short(exc)})") from None
        rate = float(self.sample_rate)
        try:
            sd.check_input_settings(self.device, channels=1, samplerate=rate)
        except (ValueError, sd.PortAudioError):
            rate = float(info["default_samplerate"])  # sample-rate mismatch: resample ourselves
        channels = 1 if info["max_input_channels"] >= 1 else 0
        try:
            stream = sd.InputStream(
                device=self.device,
                channels=channels,
                samplerate=rate,
                blocksize=max(1, round(self.block_size * rate / self.sample_rate)),
                dtype="float32",
                callback=self._callback,
            )
            stream.start()
        except (ValueError, sd.PortAudioError) as exc:
            raise CaptureError(
                f"cannot open input {info['name']!r}: {_short(exc)} (busy?)"
            ) from None
        self._clock_offset += self._frames / self.device_rate
        self._frames = 0
        self.device_rate = rate
        self._resampler = (
            _LinearResampler(rate, self.sample_rate) if rate != self.sample_rate else None
        )
        self._stream = stream
        self._last_callback = time.monotonic()
        resampled = f", resampled from {rate:g} Hz" if self._resampler else ""
        self._status = f"listening to {info['name']}{resampled}"

    def _callback(self, indata, frames, time_info, status) -> None:
        # PortAudio's thread: copy, stamp, append, return. Nothing that can block.
        if status.input_overflow:
            self._overflows += 1
        block_time = self._clock_offset + self._frames / self.device_rate
        samples = indata[:, 0].copy()
        if repair_block(samples):  # never let NaN/inf reach the analyzer
            self._repaired += 1
        self.ring.push(AudioBlock(block_time, samples))
        self._frames += frames
        self._blocks += 1
        self._last_callback = time.monotonic()

    def read(self) -> list[AudioBlock]:
        """Everything captured since the last call, at `sample_rate`; reconnects if needed."""
        blocks = self.ring.drain()
        if self._repaired and not self._repair_told:  # one notice, off PortAudio's thread
            self._repair_told = True
            log.warning("input gave NaN/inf or out-of-range samples: played as silence/clipped")
        if self._resampler is not None:
            blocks = [AudioBlock(b.time, self._resampler(b.samples)) for b in blocks]
        if self._started and not self._stream_alive():
            self._try_reconnect()
        return blocks

    def clock(self) -> float:
        """Seconds of audio captured so far, interpolated between callbacks."""
        captured = self._clock_offset + self._frames / self.device_rate
        since = time.monotonic() - self._last_callback
        return captured + min(since, self.block_size / self.sample_rate)

    def _stream_alive(self) -> bool:
        stream = self._stream
        if stream is None or not stream.active:
            return False
        # A stream whose callbacks stopped for 2 s is as good as dead (unplugged USB mic).
        return time.monotonic() - self._last_callback < 2.0

    def _try_reconnect(self) -> None:
        now = time.monotonic()
        if now < self._next_reconnect:
            return
        self._next_reconnect = now + RECONNECT_SECONDS
        self._close_stream()
        try:
            self._open()
        except CaptureError as exc:
            self._status = f"input lost, retrying: {exc}"
            return
        self._reconnects += 1
        self._status = f"reconnected: {self._status}"

    @property
    def stats(self) -> CaptureStats:
        return CaptureStats(
            blocks=self._blocks,
            overflows=self._overflows,
            dropped_blocks=self.ring.dropped,
            reconnects=self._reconnects,
            status=self._status,
            repaired_blocks=self._repaired,
        )

    def stop(self) -> None:
        self._started = False
        self._close_stream()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # noqa: BLE001 - a dead device may refuse even to close
                pass


# -- a file played in real time --------------------------------------------------------


class PlaybackSource:
    """Plays a clip through an output device and hands the played blocks to analysis.

    The output callback is the clock: a block is analysed exactly when it is sent to the
    speaker, and `clock()` subtracts the output latency so it says what is heard *now*.
    With no output device (a headless box), or when the device dies mid-show, a thread
    feeds blocks at the file's own pace and `stats.status` says playback is off.
    """

    def __init__(
        self,
        clip: AudioClip,
        loop: bool = False,
        device: int | str | None = None,
        play: bool = True,
        block_size: int = BLOCK_SIZE,
    ) -> None:
        self.clip = clip
        self.sample_rate = clip.sample_rate
        self.loop = loop
        self.device = device
        self.play = play
        self.block_size = block_size
        self.ring = BlockRing()
        self.finished = False
        self._position = 0  # samples handed out so far (grows past the clip when looping)
        self._stream = None
        self._latency = 0.0
        self._clock_thread: threading.Thread | None = None
        self._clock_start = 0.0
        self._clock_base = 0
        self._stopping = threading.Event()
        self._underflows = 0
        self._blocks = 0
        self._status = ""

    def start(self) -> PlaybackSource:
        reason = "--no-playback" if not self.play else self._open_output()
        if reason:
            self._run_on_own_clock(f"playback is off ({reason}); running on the file's clock")
        return self

    def _open_output(self) -> str:
        """Open the output stream; return why not ('' on success)."""
        try:
            sd = _sounddevice()
            info = sd.query_devices(self.device, "output")
            stream = sd.OutputStream(
                device=self.device,
                channels=1,
                samplerate=self.sample_rate,
                blocksize=self.block_size,
                dtype="float32",
                callback=self._callback,
            )
            stream.start()
        except (CaptureError, ValueError, OSError):
            return "no output device"
        except Exception as exc:  # sd.PortAudioError and friends
            return f"output device failed: {_short(exc)}"
        self._stream = stream
        self._latency = float(stream.latency)
        self._status = f"playing through {info['name']}"
        return ""

    def _next_samples(self, count: int) -> np.ndarray:
        """The next `count` samples of the clip (looped, or zero-padded at the end)."""
        samples = self.clip.samples
        total = len(samples)
        start = self._position % total if self.loop else self._position
        if self.loop:
            indices = (start + np.arange(count)) % total
            out = samples[indices]
        else:
            out = np.zeros(count, np.float32)
            chunk = samples[start : start + count]
            out[: len(chunk)] = chunk
        return out

    def _emit(self, count: int) -> np.ndarray:
        samples = self._next_samples(count)
        self.ring.push(AudioBlock(self._position / self.sample_rate, samples))
        self._position += count
        self._blocks += 1
        if not self.loop and self._position >= len(self.clip.samples):
            self.finished = True
        return samples

    def _callback(self, outdata, frames, time_info, status) -> None:
        # PortAudio's thread: no locks, no logging.
        if status.output_underflow:
            self._underflows += 1
        if self.finished:
            outdata.fill(0)
            return
        outdata[:, 0] = self._emit(frames)

    def _run_on_own_clock(self, status: str) -> None:
        self._status = status
        self._clock_base = self._position
        self._clock_start = time.monotonic()
        self._clock_thread = threading.Thread(
            target=self._clock_loop, name="file-clock", daemon=True
        )
        self._clock_thread.start()

    def _clock_loop(self) -> None:
        period = self.block_size / self.sample_rate
        while not self._stopping.is_set() and not self.finished:
            due = self._clock_base + (time.monotonic() - self._clock_start) * self.sample_rate
            while self._position + self.block_size <= due and not self.finished:
                self._emit(self.block_size)
            self._stopping.wait(period / 2)

    def read(self) -> list[AudioBlock]:
        blocks = self.ring.drain()
        stream = self._stream
        if stream is not None and not stream.active and not self.finished:
            self._stream = None  # output device died mid-show: keep going by the file's clock
            self._latency = 0.0
            self._run_on_own_clock(
                "output device lost; playback is off, running on the file's clock"
            )
        return blocks

    def clock(self) -> float:
        """Audio time being heard now (or, with playback off, the file position)."""
        if self._clock_thread is not None:
            elapsed = time.monotonic() - self._clock_start
            return self._clock_base / self.sample_rate + elapsed
        return max(0.0, self._position / self.sample_rate - self._latency)

    @property
    def duration(self) -> float | None:
        return None if self.loop else self.clip.duration

    @property
    def stats(self) -> CaptureStats:
        return CaptureStats(
            blocks=self._blocks,
            underflows=self._underflows,
            dropped_blocks=self.ring.dropped,
            status=self._status,
            playback=self._stream is not None,
        )

    def stop(self) -> None:
        self._stopping.set()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # noqa: BLE001
                pass
        if self._clock_thread is not None:
            self._clock_thread.join(1.0)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]
