"""What a live source hands out: `AudioBlock`s, through a bounded `BlockRing`.

Plus the per-block helpers the sources share - `repair_block` (NaN/inf/clipping made
safe in place) and `LinearResampler` (a device's own rate to the analysis rate) - and
the `CaptureStats` counters a source reports.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

BLOCK_SIZE = 256  # ~12 ms at 22.05 kHz: small blocks keep the reaction fast
RING_BLOCKS = 512  # ~6 s of audio before the oldest block is dropped


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


class LinearResampler:
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


GAP_TOLERANCE = 0.05  # s: jitter between a block's stamp and the samples counted before it
MAX_GAP_FILL = 30.0  # s: a longer jump (a clock that restarted?) is not filled with silence


class GapFiller:
    """Silence where blocks are missing, so the analyzer's clock stays the capture's.

    The analyzer counts time in samples pushed. When the ring drops blocks (the analysis
    fell 6 s behind under an overload) that count falls behind the capture clock for
    good: beats are predicted on the wrong clock and the HUD shows seconds of latency
    long after the overload ended. Blocks carry their capture time, so a jump in it is
    handed on as silence: the audio that was lost is heard as a gap, and time lines up.
    """

    def __init__(self, sample_rate: float) -> None:
        self.sample_rate = float(sample_rate)
        self._next: float | None = None  # capture time just after the last sample handed on
        self.filled_seconds = 0.0

    def __call__(self, block: AudioBlock) -> list[AudioBlock]:
        """`block`, preceded by a block of silence when samples before it went missing."""
        out = []
        gap = block.time - self._next if self._next is not None else 0.0
        if GAP_TOLERANCE < gap <= MAX_GAP_FILL:
            silence = np.zeros(round(gap * self.sample_rate), np.float32)
            out.append(AudioBlock(self._next, silence))
            self.filled_seconds += len(silence) / self.sample_rate
        out.append(block)
        self._next = block.time + len(block.samples) / self.sample_rate
        return out
