"""MP4 recording: H.264 (yuv420p, constant frame rate) with AAC audio, through PyAV.

Two ways to be safe about unfinished files:
- offline renders (`fragmented=False`) write to a hidden `.NAME.partial` beside the
  target and rename it on `close()`, so a file under the final name is always finished;
- live recordings (`fragmented=True`) write fragmented MP4 straight to the target, so a
  crash or `kill -9` still leaves a playable file up to the last fragment (~1 s).

Every partial file open in this process is registered, so a stop that never reached
`abort()` (a signal between opening and `with`, a forced exit) can still remove it with
`discard_unfinished()`. A full disk is `DiskFullError`, one line, not an FFmpeg trace.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

FRAGMENT_SECONDS = 1.0


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)

_unfinished: dict[Path, None] = {}  # partial files open now (insertion-ordered)
_removed: set[Path] = set()  # partial files removed by abort() or a discard, not yet asked about


class RecorderError(Exception):
    """The output cannot be written; the message is one line for the user."""


class DiskFullError(RecorderError):
    """The disk (or quota) filled up while writing."""


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def discard_unfinished(path: str | Path) -> Path | None:
    """Remove the partial file of an offline recording of `path` if it is still open.

    Returns that partial's name when it was removed, now or by `abort()` (None when no
    writer got as far as opening it), so the caller can say so.
    """
    target = partial_name(Path(path).absolute())
    if target in _unfinished:
        _remove_partial(target)
    if target in _removed:
        _removed.discard(target)
        return target
    return None


def discard_all() -> list[Path]:
    """Remove every partial file this process has open (a forced exit)."""
    removed = list(_unfinished)
    for target in removed:
        _remove_partial(target, report=False)
    return removed


def _remove_partial(path: Path, report: bool = True) -> None:
    """Unlink `path`; it counts as removed if it was registered (x264's lookahead may not
    have let the first bytes reach the disk yet, but the unfinished video is gone either way)."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
    if _unfinished.pop(path, False) is None and report:
        _removed.add(path)


@contextlib.contextmanager
def _write_errors(path: Path):
    """An OS-level write failure (FFmpeg's too) as one RecorderError line."""
    try:
        yield
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"disk full while writing {path.name} ({path.parent})") from None
        raise RecorderError(f"cannot write {path}: {exc.strerror or exc}") from None


class _FinishOrAbort:
    """`with writer:` closes the file on success and throws it away on any exception."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class Mp4Writer(_FinishOrAbort):
    """Encode RGB frames and float audio into an MP4 file."""

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float,
        audio_rate: int | None = None,
        audio_channels: int = 2,
        fragmented: bool = False,
        crf: int = 20,
        preset: str = "ultrafast",  # 720p30 beats real time on 2 cores; ~2x the bytes of veryfast
    ) -> None:
        import av

        if width % 2 or height % 2:
            raise RecorderError(f"video size must be even for H.264 yuv420p, got {width}x{height}")
        self.path = Path(path)
        self.width, self.height = width, height
        self.fps = Fraction(fps).limit_denominator(1001)
        self.fragmented = fragmented
        self.frames_written = 0
        self.audio_samples_written = 0
        self._last_frame: np.ndarray | None = None
        self._closed = False
        self._finished = False
        self._target = self.path if fragmented else partial_name(self.path.absolute())
        check_writable(self.path)
        options = {}
        if fragmented:
            options["movflags"] = "frag_keyframe+empty_moov+default_base_moof"
            options["flush_packets"] = "1"  # each fragment reaches the disk, not an IO buffer
        else:
            options["movflags"] = "+faststart"
        if not fragmented:  # registered first: a signal right after the open still finds it
            _removed.discard(self._target)  # an earlier render's news is not this one's
            _unfinished[self._target] = None
        try:
            with _write_errors(self.path):
                self._container = av.open(
                    str(self._target), mode="w", format="mp4", options=options
                )
        except BaseException as exc:
            _remove_partial(self._target, report=False)  # nothing was started
            if isinstance(exc, av.error.FFmpegError):
                raise RecorderError(f"cannot write {self.path}: {exc}") from None
            raise
        self._video = self._container.add_stream("libx264", rate=self.fps)
        self._video.width, self._video.height = width, height
        self._video.pix_fmt = "yuv420p"
        # A keyframe at least every FRAGMENT_SECONDS bounds what a crash can lose.
        gop = max(1, round(float(self.fps) * FRAGMENT_SECONDS)) if fragmented else None
        self._video.options = {"crf": str(crf), "preset": preset}
        if fragmented:  # live: no lookahead, so what was shown is already encoded
            self._video.options |= {"tune": "zerolatency"}
        if gop:
            self._video.codec_context.gop_size = gop
        self._audio = None
        if audio_rate:
            self._audio = self._container.add_stream("aac", rate=audio_rate)
            self._audio.layout = "stereo" if audio_channels == 2 else "mono"
            self._audio_channels = audio_channels

    # -- video ---------------------------------------------------------------------------
    def write_frame(self, rgb: np.ndarray, time: float | None = None) -> None:
        """Append one frame. With `time`, keep a constant frame rate by repeating or dropping."""
        import av

        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(
                f"expected {self.height}x{self.width}x3 uint8, got {rgb.shape} {rgb.dtype}"
            )
        copies = 1
        if time is not None:
            target_index = int(round(time * float(self.fps)))
            if target_index < self.frames_written:
                return  # the slot for this time is already filled
            copies = target_index - self.frames_written + 1
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        with _write_errors(self.path):
            for _ in range(copies):
                frame.pts = self.frames_written
                self._container.mux(self._video.encode(frame))
                self.frames_written += 1
        self._last_frame = rgb

    # -- audio ---------------------------------------------------------------------------
    def write_audio(self, samples: np.ndarray) -> None:
        """Append float32 audio shaped (n, channels) or (n,) for mono input."""
        import av

        if self._audio is None:
            raise RuntimeError("this writer was opened without audio")
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[:, None]
        if samples.shape[1] != self._audio_channels:
            samples = _match_channels(samples, self._audio_channels)
        if len(samples) == 0:
            return
        if not np.isfinite(samples).all():  # AAC rejects NaN/inf with "returned 22"
            samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
        # Packed float: one plane, channels interleaved.
        packed = np.ascontiguousarray(samples).reshape(1, -1)
        layout = "stereo" if self._audio_channels == 2 else "mono"
        frame = av.AudioFrame.from_ndarray(packed, format="flt", layout=layout)
        frame.sample_rate = self._audio.rate
        frame.pts = self.audio_samples_written
        frame.time_base = Fraction(1, self._audio.rate)
        with _write_errors(self.path):
            self._container.mux(self._audio.encode(frame))
        self.audio_samples_written += len(samples)

    # -- life cycle ----------------------------------------------------------------------
    def close(self) -> Path:
        """Flush encoders, finish the file and (offline mode) move it to its final name."""
        if self._closed:
            return self.path
        self._closed = True
        try:
            with _write_errors(self.path):
                try:
                    self._container.mux(self._video.encode(None))
                    if self._audio is not None:
                        self._container.mux(self._audio.encode(None))
                finally:
                    self._container.close()  # faststart rewrites the file: may hit ENOSPC
                if not self.fragmented:
                    os.replace(self._target, self.path)
        except BaseException:
            self._discard()
            raise
        self._finished = True
        _unfinished.pop(self._target, None)
        return self.path

    def abort(self) -> None:
        """Stop without presenting a file: the partial file is removed (offline mode)."""
        if self._finished:
            return
        if not self._closed:
            self._closed = True
            try:
                self._container.close()
            except Exception:
                pass  # the file is being thrown away; a broken close must not mask the cause
        self._discard()

    def _discard(self) -> None:
        if not self.fragmented:
            _remove_partial(self._target)


def check_writable(path: Path) -> None:
    """Fail early, with one line, when `path` cannot be created."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise RecorderError(f"output path is a directory: {path}")
    if not parent.is_dir():
        raise RecorderError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise RecorderError(f"output path is not writable: {path}")


def partial_name(path: Path) -> Path:
    """Where an offline recording of `path` is written until it is finished."""
    return path.with_name(f".{path.name}.partial")


def _match_channels(samples: np.ndarray, channels: int) -> np.ndarray:
    if channels == 1:
        return samples.mean(axis=1, keepdims=True)
    if samples.shape[1] == 1:
        return np.repeat(samples, channels, axis=1)
    return samples[:, :channels]


class BackgroundWriter(_FinishOrAbort):
    """Runs an Mp4Writer on its own thread, so encoding overlaps with drawing the next frame.

    Calls are queued (bounded, so memory stays flat); an encoder error is raised on the
    next call or on `close()`.
    """

    def __init__(self, writer: Mp4Writer, depth: int = 8) -> None:
        import queue
        import threading

        self.writer = writer
        self._jobs: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._abandoned = False  # abort: pending frames are dropped, not encoded
        self._thread = threading.Thread(target=self._run, name="mp4-writer", daemon=True)
        self._thread.start()

    def write_frame(self, rgb: np.ndarray) -> None:
        self._put((self.writer.write_frame, rgb.copy()))  # the generator may reuse its buffer

    def write_audio(self, samples: np.ndarray) -> None:
        self._put((self.writer.write_audio, samples))

    def close(self) -> Path:
        try:
            self._finish()
            if self._error is not None:
                raise self._error
            return self.writer.close()
        except BaseException:  # an encoder error, or a signal while the queue drains
            self.abort()
            raise

    def abort(self) -> None:
        self._abandoned = True
        try:
            self._finish()
        finally:
            self.writer.abort()

    def _put(self, job) -> None:
        if self._error is not None:
            raise self._error
        self._jobs.put(job)

    def _finish(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._error is None and not self._abandoned:
                try:
                    job[0](job[1])
                except BaseException as exc:  # handed to the producer thread
                    self._error = exc


def concat_segments(
    segments: list[Path],
    path: str | Path,
    audio: Iterator[np.ndarray] | None = None,
    audio_rate: int = 48000,
    audio_channels: int = 2,
) -> Path:
    """Join video-only MP4 segments (one encoder's settings, each starting on a keyframe)
    into `path` without re-encoding, encoding `audio` blocks beside them as AAC.

    Written to the hidden partial file and renamed at the end, like `Mp4Writer`; the
    audio is interleaved about half a second ahead of the video, as a player reads it.
    """
    import av

    path = Path(path)
    target = partial_name(path.absolute())
    check_writable(path)
    _removed.discard(target)
    _unfinished[target] = None
    try:
        with _write_errors(path), av.open(str(segments[0])) as first:
            template = first.streams.video[0]
            container = av.open(
                str(target), mode="w", format="mp4", options={"movflags": "+faststart"}
            )
            try:
                video = container.add_stream_from_template(template)
                sound = None
                if audio is not None:
                    sound = container.add_stream("aac", rate=audio_rate)
                    sound.layout = "stereo" if audio_channels == 2 else "mono"
                _remux(segments, container, video, sound, audio, audio_channels)
            except BaseException:
                with contextlib.suppress(Exception):
                    container.close()
                raise
            container.close()
            os.replace(target, path)
    except BaseException:
        _remove_partial(target)
        raise
    _unfinished.pop(target, None)
    return path


def _remux(segments, container, video, sound, audio, channels: int) -> None:
    """Copy each segment's packets with its timestamps moved past the segments before it."""
    import av

    offset = 0  # in the segments' time base
    written = 0  # audio samples encoded so far
    blocks = iter(audio) if audio is not None else iter(())
    for segment in segments:
        with av.open(str(segment)) as source:
            stream = source.streams.video[0]
            base = stream.time_base
            end = offset
            for packet in source.demux(stream):
                if packet.dts is None:
                    continue  # the demuxer's empty end-of-stream packet
                packet.pts += offset
                packet.dts += offset
                end = max(end, packet.pts + (packet.duration or 0))
                while sound is not None and written < (packet.pts * base + 0.5) * sound.rate:
                    block = next(blocks, None)
                    if block is None:
                        sound, blocks = _flush_audio(container, sound), iter(())
                        break
                    written += _encode_audio(container, sound, block, written, channels)
                packet.stream = video
                container.mux(packet)
            offset = end
    for block in blocks:
        written += _encode_audio(container, sound, block, written, channels)
    if sound is not None:
        _flush_audio(container, sound)


def _encode_audio(container, stream, samples: np.ndarray, pts: int, channels: int) -> int:
    import av

    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.shape[1] != channels:
        samples = _match_channels(samples, channels)
    if not len(samples):
        return 0
    samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples).reshape(1, -1),
        format="flt",
        layout="stereo" if channels == 2 else "mono",
    )
    frame.sample_rate = stream.rate
    frame.pts = pts
    frame.time_base = Fraction(1, stream.rate)
    container.mux(stream.encode(frame))
    return len(samples)


def _flush_audio(container, stream) -> None:
    container.mux(stream.encode(None))
    return None
