"""Audio as a stream of blocks, so a song of any length is analysed in bounded memory.

A `ChunkSource` is a callable that starts a fresh pass over the same audio each time it
is called (the offline analysis reads a file twice: once for its level and tuning, once
for the features); each pass yields mono float32 blocks at the analysis rate. `Replayable`
keeps the first pass on disk (88 kB per second of audio) for the second, rather than in
memory.

`Blocks` re-cuts such a stream into long blocks with context on both sides, for
transforms that look around each frame (a CQT's longest filter spans ~1.6 s): every
frame a block keeps lies far enough inside it that it equals the frame of the whole
signal, so a chunked computation gives the whole-file result.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.source import ANALYSIS_RATE, Notice, check_request, decode_chunks

ChunkSource = Callable[[], Iterator[np.ndarray]]
ARRAY_CHUNK = 1 << 18  # ~12 s at 22.05 kHz: the blocks every pass hands out


def array_source(samples: np.ndarray, size: int = ARRAY_CHUNK) -> ChunkSource:
    """Passes over an in-memory mono array, in blocks of `size` samples."""

    def passes() -> Iterator[np.ndarray]:
        for first in range(0, len(samples), size):
            yield samples[first : first + size]

    return passes


def file_source(
    path: str | Path,
    start: float = 0.0,
    duration: float | None = None,
    rate: int = ANALYSIS_RATE,
    channels: int = 1,
    notice: Notice | None = None,
) -> ChunkSource:
    """Passes over the [start, start + duration) window of a file, decoded block by block.

    Blocks are (n,) for mono, (n, channels) otherwise; sample k of a pass is sample
    round(start * rate) + k of the decoded file, exactly as `load_audio` cuts it.
    """
    path = check_request(path, start, duration)
    first = int(round(start * rate))
    count = None if duration is None else int(round(duration * rate))

    def passes() -> Iterator[np.ndarray]:
        yield from _rebatch(_window(), ARRAY_CHUNK)

    def _window() -> Iterator[np.ndarray]:
        position, left = 0, count
        for block in decode_chunks(path, rate, channels, notice):
            end = position + len(block)
            if end > first:
                piece = block[max(first - position, 0) :]
                if left is not None:
                    piece, left = piece[:left], left - min(left, len(piece))
                if len(piece):
                    yield piece[:, 0] if channels == 1 else piece
                if left == 0:
                    return
            position = end

    return passes


def _rebatch(blocks: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """A decoder's small blocks (~1k samples) joined into blocks of `size`: per-block work
    (FFT set-up, buffers) is then paid a few times a minute, not 20 times a second."""
    pending: list[np.ndarray] = []
    held = 0
    for block in blocks:
        pending.append(block)
        held += len(block)
        if held >= size:
            joined = np.concatenate(pending)
            yield joined[:size]
            pending, held = [joined[size:]], held - size
    if held:
        yield np.concatenate(pending)


class Replayable:
    """A source whose first pass is kept, as float32 in an unlinked temporary file, so
    later passes read it back instead of decoding and resampling the file again (mono)."""

    def __init__(self, source: ChunkSource) -> None:
        self._source = source
        self._file = None
        self._complete = False

    def __call__(self) -> Iterator[np.ndarray]:
        if self._complete:
            return self._read()
        return self._first()

    def _first(self) -> Iterator[np.ndarray]:
        self.close()
        self._file = tempfile.TemporaryFile(prefix="visualize-audio-")
        for block in self._source():
            self._file.write(np.ascontiguousarray(block, np.float32).tobytes())
            yield block
        self._complete = True

    def _read(self) -> Iterator[np.ndarray]:
        self._file.seek(0)
        while data := self._file.read(ARRAY_CHUNK * 4):
            yield np.frombuffer(data, np.float32)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file, self._complete = None, False


@dataclass(frozen=True)
class Block:
    """Samples [start, start + len(samples)) of the stream; frames [first, stop) are exact."""

    start: int  # sample index of samples[0], a multiple of the hop
    samples: np.ndarray
    first: int  # global frame indices (frame j centred on sample j * hop) to keep
    stop: int
    last: bool  # the stream ends inside this block


class Blocks:
    """Cuts a stream into blocks of `size` frames with `context` samples either side.

    Frames follow librosa's centred framing: frame j is centred on sample j * hop and a
    signal of n samples has 1 + n // hop of them. Feed blocks with `push`, then `finish`.
    """

    def __init__(self, hop: int, size_frames: int, context: int) -> None:
        self.hop, self.size = hop, size_frames
        self.context = -(-context // hop) * hop  # whole hops keep the frame grid aligned
        self._buffer = np.zeros(0, np.float32)
        self._start = 0  # sample index of _buffer[0]
        self._next = 0  # first frame not yet handed out
        self._seen = 0

    def push(self, samples: np.ndarray) -> Iterator[Block]:
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, np.float32)])
        self._seen += len(samples)
        while True:
            stop = self._next + self.size
            needed = stop * self.hop + self.context  # the last kept frame's right context
            if self._seen < needed:
                return
            yield self._cut(stop, needed, last=False)

    def finish(self) -> Iterator[Block]:
        total = 1 + self._seen // self.hop if self._seen else 0
        if self._next < total:
            yield self._cut(total, self._seen, last=True)

    def _cut(self, stop: int, end: int, last: bool) -> Block:
        begin = max(self._next * self.hop - self.context, 0)
        block = Block(
            begin, self._buffer[begin - self._start : end - self._start], self._next, stop, last
        )
        self._next = stop
        keep = max(self._next * self.hop - self.context, 0)
        self._buffer = self._buffer[keep - self._start :].copy()
        self._start = keep
        return block


def frames_of(block: Block, values: np.ndarray, hop: int) -> np.ndarray:
    """The kept frames of a transform computed over `block.samples` (frames on the last axis)."""
    offset = block.start // hop
    return values[..., block.first - offset : block.stop - offset]


class Feed:
    """Hands out the next n samples of a pass, block by block (the render's audio mux)."""

    def __init__(self, source: ChunkSource) -> None:
        self._blocks = source()
        self._held: list[np.ndarray] = []
        self._count = 0

    def take(self, n: int) -> np.ndarray | None:
        """The next `n` samples (fewer at the end); None once the pass is exhausted."""
        while self._count < n:
            block = next(self._blocks, None)
            if block is None:
                break
            self._held.append(block)
            self._count += len(block)
        if not self._held:
            return None
        joined = np.concatenate(self._held)
        out, rest = joined[:n], joined[n:]
        self._held, self._count = ([rest] if len(rest) else []), len(rest)
        return out

    def rest(self) -> Iterator[np.ndarray]:
        while (block := self.take(ARRAY_CHUNK)) is not None:
            yield block
