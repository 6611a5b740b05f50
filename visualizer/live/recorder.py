"""The recorder thread: what is shown plus the captured sound, into a crash-safe MP4.

The sound is the clock: after each audio block is written, the picture on screen is
written for every video slot up to that audio time, so the file has a constant frame
rate and stays in sync however unevenly frames arrived.
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

import numpy as np

from audio.capture import AudioBlock

log = logging.getLogger(__name__)


class LiveRecorder:
    """Writes what is shown plus the captured sound to a fragmented MP4 on its own thread."""

    def __init__(
        self, path: Path, width: int, height: int, fps: float, sample_rate: int, writer_factory=None
    ) -> None:
        if writer_factory is None:
            from render.recorder import Mp4Writer as writer_factory
        self.path = path
        self._writer = writer_factory(
            path, width, height, fps, audio_rate=sample_rate, audio_channels=1, fragmented=True
        )
        self._sample_rate = sample_rate
        self._blocks: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=512)
        self._picture = np.zeros((height, width, 3), np.uint8)
        self._written_seconds = 0.0
        self.dropped_blocks = 0
        self.error = ""
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def show(self, image: np.ndarray) -> None:
        """Called from the display: the picture currently on screen (never mutated after)."""
        self._picture = image

    def add_audio(self, block: AudioBlock) -> None:
        """Called from the feature thread; never blocks (drops if the encoder is stuck)."""
        try:
            self._blocks.put_nowait(block.samples)
        except queue.Full:
            self.dropped_blocks += 1

    @property
    def seconds(self) -> float:
        return self._written_seconds

    def _run(self) -> None:
        while True:
            samples = self._blocks.get()
            if samples is None:
                break
            if self.error:
                continue
            try:
                self._writer.write_audio(samples)
                self._written_seconds += len(samples) / self._sample_rate
                self._writer.write_frame(self._picture, time=self._written_seconds)
            except Exception as exc:  # a full disk ends the recording, not the show
                self.error = f"recording stopped: {type(exc).__name__}: {exc}"[:160]
                log.error(self.error)

    def close(self) -> Path:
        self._blocks.put(None)
        self._thread.join(10.0)
        try:
            self._writer.close()
        except Exception as exc:
            log.error("closing %s: %s", self.path, exc)
        return self.path
