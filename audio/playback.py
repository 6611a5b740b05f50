"""A file played in real time: through an output device, or by its own clock.

The output callback is PortAudio's thread, with the same rules as the microphone's in
`audio.capture`: copy, stamp, append to the ring, return - no locks, no logging.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from audio.blocks import BLOCK_SIZE, AudioBlock, BlockRing, CaptureStats
from audio.devices import CaptureError, import_sounddevice, short_error
from audio.source import AudioClip


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
            sd = import_sounddevice()
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
            return f"output device failed: {short_error(exc)}"
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
