"""An Mp4Writer in a child process, so encoding runs beside drawing instead of taking turns.

PyAV holds the GIL while it converts RGB to YUV and while x264 takes a frame, and
moderngl holds it while it reads a frame back from the GPU, so `BackgroundWriter`'s
thread mostly waits for the drawing thread and the two add up (measured on an H200 at
1080p: 16 ms a frame, ~2x real time). Here the writer lives in its own interpreter:

- frames travel through a few slots of a shared memory-mapped file (one copy in, no
  pickling); audio and commands are small messages on a pipe;
- at most `depth` frames are in flight, so memory stays flat whatever the song's length;
- the child ignores SIGINT/SIGTERM/SIGHUP (a terminal's Ctrl-C reaches the whole process
  group): the parent decides. If the parent dies, the pipe closes and the child throws the
  partial file away. The parent registers the partial too, so its own signal handling and
  messages ("removed the unfinished ...") work as with an in-process writer;
- an error in the child (a full disk, a broken encoder) comes back as the same exception
  on the parent's next call.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import signal
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from render.child_process import child_connection, start_child
from render.partials import (
    FinishOrAbort,
    RecorderError,
    mark_finished,
    partial_name,
    register_partial,
    remove_partial,
)
from render.recorder import frame_layout

# Below this many pixels in a whole render the thread is as fast: the child costs ~0.4 s
# to start (a fresh interpreter importing numpy and PyAV), which 2 s of 1080p30 repays.
PROCESS_MIN_PIXELS = 120_000_000
# Two cores are enough since software GL hands the encoder frames at its drawing budget:
# the README demo (720p30) renders at 1.27x real time with the child against 0.97x with the
# thread, which shares the GIL with the drawing (2026-12-03; before that change the child
# lost, 0.78x vs 0.88x, copying full-size frames). One core gains nothing from a second process.
PROCESS_MIN_CORES = 2
START_SECONDS = 60.0  # a fresh interpreter importing numpy and PyAV takes about a second
STOP_SECONDS = 30.0  # for an abort to finish before the child is killed


class ProcessWriter(FinishOrAbort):
    """Same calls as `BackgroundWriter` (write_frame, write_audio, close, abort); the
    arguments are Mp4Writer's, and the Mp4Writer is built in the child."""

    def __init__(self, path: str | Path, width: int, height: int, fps: float, depth: int = 4,
                 **writer_options) -> None:  # fmt: skip
        self.path = Path(path)
        self._frame_bytes = width * height * 3
        self._shape = (height, width, 3)
        self._free = list(range(depth))
        self._fragmented = bool(writer_options.get("fragmented"))
        self._done = False
        self._partial = partial_name(self.path.absolute())
        self._slots, self._map = _shared_slots(depth * self._frame_bytes)
        self._process, self._conn = start_child("render.encoder_process", "child_main")
        try:
            self._conn.send((str(self._slots), self._frame_bytes, self._shape,
                             (str(self.path), width, height, fps), writer_options))  # fmt: skip
            self._expect("ready", START_SECONDS)
        except BaseException:
            self._stop(kill=True)
            raise
        if not self._fragmented:
            register_partial(self._partial)

    def write_frame(self, rgb: np.ndarray) -> None:
        """(H, W, 3) RGB (or smaller), or (1.5 H, W) yuv420p planes, as Mp4Writer.write_frame."""
        height, width, _ = self._shape
        if frame_layout(rgb, width, height) is None:
            raise ValueError(f"expected {self._shape} uint8, got {rgb.shape} {rgb.dtype}")
        while not self._free:
            self._expect("free", None)  # the child is behind: wait for a slot
        slot = self._free.pop()
        start = slot * self._frame_bytes
        view = np.frombuffer(self._map, np.uint8, rgb.size, start).reshape(rgb.shape)
        view[...] = rgb
        del view  # no view may outlive the map
        self._send(("frame", slot, rgb.shape))

    def write_audio(self, samples: np.ndarray) -> None:
        self._send(("audio", np.asarray(samples, dtype=np.float32)))

    def close(self) -> Path:
        if self._done:
            return self.path
        try:
            self._send(("close",))
            self._expect("closed", None)
        except BaseException:
            self.abort()
            raise
        mark_finished(self._partial)
        self._stop(kill=False)
        return self.path

    def abort(self) -> None:
        if self._done:
            return
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(("abort",))
        self._stop(kill=False)
        if not self._fragmented:
            remove_partial(self._partial)

    # -- the pipe --------------------------------------------------------------------------
    def _send(self, message: tuple) -> None:
        try:
            self._conn.send(message)
        except OSError:  # the child is gone; its last word may be the reason
            while self._conn.poll(0):
                self._receive(0)
            raise RecorderError(f"the encoder process for {self.path.name} stopped") from None
        while self._conn.poll(0):  # free slots (or an error) already waiting
            self._take(self._receive(0))

    def _expect(self, kind: str, timeout: float | None) -> None:
        """Read messages until one of `kind` (free-slot notices are taken on the way)."""
        while True:
            message = self._receive(timeout)
            self._take(message)
            if message[0] == kind:
                return

    def _take(self, message: tuple) -> None:
        if message[0] == "free":
            self._free.append(message[1])

    def _receive(self, timeout: float | None) -> tuple:
        if timeout is not None and not self._conn.poll(timeout):
            raise RecorderError(f"the encoder process for {self.path.name} did not answer")
        try:
            message = self._conn.recv()
        except (OSError, EOFError):
            raise RecorderError(f"the encoder process for {self.path.name} stopped") from None
        if message[0] == "error":
            raise message[1]
        return message

    def _stop(self, kill: bool) -> None:
        self._done = True
        if not kill:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(STOP_SECONDS)
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._conn.close()
        self._map.close()
        with contextlib.suppress(OSError):
            self._slots.unlink()


def open_writer(path: str | Path, width: int, height: int, fps: float, frames: int,
                **writer_options) -> FinishOrAbort:  # fmt: skip
    """A writer for an offline render of `frames` frames: a child process when it pays."""
    from render.recorder import BackgroundWriter, Mp4Writer

    large = frames * width * height >= PROCESS_MIN_PIXELS
    if large and (os.cpu_count() or 1) >= PROCESS_MIN_CORES:
        return ProcessWriter(path, width, height, fps, **writer_options)
    return BackgroundWriter(Mp4Writer(path, width, height, fps, **writer_options))


def _shared_slots(size: int) -> tuple[Path, mmap.mmap]:
    """A file both processes map: in RAM (/dev/shm) where Linux has it."""
    folder = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    handle, name = tempfile.mkstemp(prefix="visualize-frames-", dir=folder)
    try:
        os.ftruncate(handle, size)
        return Path(name), mmap.mmap(handle, size)
    finally:
        os.close(handle)


def child_main() -> None:
    """The child's loop: build the writer, then frames, audio and one close or abort."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    from render.recorder import EncoderLane, Mp4Writer

    conn = child_connection()
    writer = None
    audio = EncoderLane("mp4-audio", 64)  # AAC overlaps x264, which encodes on this thread
    try:
        slots, frame_bytes, _, args, options = conn.recv()
        with open(slots, "r+b") as file:
            shared = mmap.mmap(file.fileno(), 0)
        os.unlink(slots)  # both maps stay valid; nothing is left behind if either side dies
        writer = Mp4Writer(*args, **options)
        conn.send(("ready", None))
        while True:
            message = conn.recv()
            if message[0] == "frame":
                _, slot, shape = message
                size = int(np.prod(shape))
                view = np.frombuffer(shared, np.uint8, size, slot * frame_bytes).reshape(shape)
                writer.write_frame(view)
                conn.send(("free", message[1]))
            elif message[0] == "audio":
                audio.put(writer.write_audio, message[1])
            elif message[0] == "close":
                audio.finish()
                audio.raise_error()
                writer.close()
                conn.send(("closed", None))
                return
            else:  # "abort"
                audio.finish(abandon=True)
                writer.abort()
                return
    except EOFError:  # the parent is gone: nobody will finish this file
        audio.finish(abandon=True)
        if writer is not None:
            writer.abort()
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        audio.finish(abandon=True)
        if writer is not None:
            writer.abort()
        with contextlib.suppress(OSError):
            conn.send(("error", _portable(exc)))


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it pickles (RecorderError and its kin), else one line."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return RecorderError(f"encoder failed: {type(exc).__name__}: {exc}")
