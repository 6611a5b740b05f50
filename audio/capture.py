"""Live audio sources: a microphone (or system audio) here, a file played in real time
in `audio.playback`; this module stays the one place the live app imports them from.

Both hand out `AudioBlock`s - mono float32 copies stamped with their time on the source's
audio clock - through a small ring buffer (`audio.blocks`). PortAudio calls the callbacks
on its own high-priority thread, so they only copy the block, append it and return: no
locks, no allocation beyond the copy, no logging. `deque.append`/`popleft` are atomic in
CPython, and a full ring drops its oldest block (counted) rather than making anyone wait.

Faults are counted and described, never raised into a running show: `read()` (called by
the feature thread, never the callback) notices a dead stream and reopens it, and a file
source whose output device disappears carries on by its own clock. Devices are found in
`audio.devices`.
"""

from __future__ import annotations

import logging
import time

from audio.blocks import (
    BLOCK_SIZE,
    RING_BLOCKS,
    AudioBlock,
    BlockRing,
    CaptureStats,
    LinearResampler,
    repair_block,
)
from audio.devices import (
    MONITOR_WORDS,
    CaptureError,
    DeviceInfo,
    find_device,
    import_sounddevice,
    list_devices,
    short_error,
    system_audio_device,
)
from audio.playback import PlaybackSource
from audio.source import ANALYSIS_RATE

__all__ = [
    "BLOCK_SIZE",
    "MONITOR_WORDS",
    "RECONNECT_SECONDS",
    "RING_BLOCKS",
    "AudioBlock",
    "BlockRing",
    "CaptureError",
    "CaptureStats",
    "DeviceInfo",
    "MicrophoneSource",
    "PlaybackSource",
    "find_device",
    "list_devices",
    "repair_block",
    "system_audio_device",
]

RECONNECT_SECONDS = 1.0

_LinearResampler = LinearResampler  # the name it had before the split (tests import it)

log = logging.getLogger(__name__)


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
        self._resampler: LinearResampler | None = None
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
        sd = import_sounddevice()
        try:
            info = sd.query_devices(self.device, "input")
        except (ValueError, sd.PortAudioError) as exc:
            raise CaptureError(f"no input device available ({short_error(exc)})") from None
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
                f"cannot open input {info['name']!r}: {short_error(exc)} (busy?)"
            ) from None
        self._clock_offset += self._frames / self.device_rate
        self._frames = 0
        self.device_rate = rate
        self._resampler = (
            LinearResampler(rate, self.sample_rate) if rate != self.sample_rate else None
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
