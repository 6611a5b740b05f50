"""MP4 recording: H.264 (yuv420p, constant frame rate) with AAC audio, through PyAV.

Two ways to be safe about unfinished files:
- offline renders (`fragmented=False`) write to a hidden `.NAME.partial` beside the
  target and rename it on `close()`, so a file under the final name is always finished;
- live recordings (`fragmented=True`) write fragmented MP4 straight to the target, so a
  crash or `kill -9` still leaves a playable file up to the last fragment (~1 s).

`BackgroundWriter` runs a writer on its own thread. The partial-file registry, the
writability check and the one-line errors live in `render.partials`, the lossless join of
--resume segments in `render.concat`; both are re-exported here, where callers import them.
"""

from __future__ import annotations

import os
import queue
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from render.channels import match_channels
from render.concat import concat_segments
from render.encoders import codec_options
from render.partials import (
    DISK_FULL_ERRNOS,
    DiskFullError,
    FinishOrAbort,
    RecorderError,
    _unfinished,  # noqa: F401 - tests reach the registry through here
    check_writable,
    discard_all,
    discard_unfinished,
    is_disk_full,
    mark_finished,
    partial_name,
    register_partial,
    remove_partial,
    write_errors,
)

__all__ = [
    "DISK_FULL_ERRNOS",
    "FRAGMENT_SECONDS",
    "BackgroundWriter",
    "DiskFullError",
    "Mp4Writer",
    "RecorderError",
    "check_writable",
    "concat_segments",
    "discard_all",
    "discard_unfinished",
    "is_disk_full",
    "partial_name",
]

FRAGMENT_SECONDS = 1.0
AAC_BIT_RATE = 192_000  # stereo; mono gets half


def frame_layout(frame: np.ndarray, width: int, height: int) -> str | None:
    """How a writer of width x height takes `frame`: "i420" (yuv420p planes, (1.5 H, W)),
    "rgb" (RGB no larger than the video; smaller frames are scaled up), or None (refused)."""
    if frame.dtype != np.uint8:
        return None
    if frame.shape == (height * 3 // 2, width):
        return "i420"
    h, w = frame.shape[:2]
    if frame.ndim == 3 and frame.shape[2] == 3 and 0 < h <= height and 0 < w <= width:
        return "rgb"
    return None


class Mp4Writer(FinishOrAbort):
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
        codec: str = "libx264",  # or "h264_nvenc" (render.encoders.pick_codec)
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
            register_partial(self._target)
        try:
            with write_errors(self.path):
                self._container = av.open(
                    str(self._target), mode="w", format="mp4", options=options
                )
        except BaseException as exc:
            remove_partial(self._target, report=False)  # nothing was started
            if isinstance(exc, av.error.FFmpegError):
                raise RecorderError(f"cannot write {self.path}: {exc}") from None
            raise
        self.codec = codec
        self._video = self._container.add_stream(codec, rate=self.fps)
        self._video.width, self._video.height = width, height
        self._video.pix_fmt = "yuv420p"
        # A keyframe at least every FRAGMENT_SECONDS bounds what a crash can lose.
        gop = max(1, round(float(self.fps) * FRAGMENT_SECONDS)) if fragmented else None
        # live (fragmented): no lookahead, so what was shown is already encoded
        self._video.options = codec_options(codec, crf, preset, live=fragmented)
        if gop:
            self._video.codec_context.gop_size = gop
        self._audio = None
        if audio_rate:
            self._audio = self._container.add_stream("aac", rate=audio_rate)
            self._audio.layout = "stereo" if audio_channels == 2 else "mono"
            self._audio_channels = audio_channels
            # FFmpeg's constant-quantiser AAC coder: "better and much faster at higher
            # bitrates" than the default two-loop search (FFmpeg's docs); 2.3x less CPU here.
            self._audio.bit_rate = AAC_BIT_RATE * audio_channels // 2
            self._audio.options = {"aac_coder": "fast"}
        # write_frame and write_audio may run on two threads (each encodes with its own
        # codec, which releases the GIL); the container is shared, so muxing takes turns.
        self._mux_lock = threading.Lock()

    # -- video ---------------------------------------------------------------------------
    def write_frame(self, rgb: np.ndarray, time: float | None = None) -> None:
        """Append one frame: (H, W, 3) RGB, (1.5 H, W) yuv420p planes an engine converted
        on the GPU, or RGB smaller than the video (an engine's drawing budget on a software
        rasteriser), scaled up bicubically as it is converted. With `time`, keep a constant
        frame rate by repeating or dropping."""
        import av

        layout = frame_layout(rgb, self.width, self.height)
        planar = layout == "i420"
        if layout is None:
            raise ValueError(
                f"expected {self.height}x{self.width}x3 uint8, got {rgb.shape} {rgb.dtype}"
            )
        copies = 1
        if time is not None:
            target_index = int(round(time * float(self.fps)))
            if target_index < self.frames_written:
                return  # the slot for this time is already filled
            copies = target_index - self.frames_written + 1
        pixels = np.ascontiguousarray(rgb)
        # No copy: the frame wraps the array, which outlives the encode calls below
        # (libx264 and NVENC copy the picture in; a yuv420p copy of 1080p costs 1.2 ms).
        frame = av.VideoFrame.from_numpy_buffer(pixels, format="yuv420p" if planar else "rgb24")
        if not planar and rgb.shape[:2] != (self.height, self.width):
            frame = frame.reformat(self.width, self.height, "yuv420p", interpolation="BICUBIC")
        with write_errors(self.path):
            for _ in range(copies):
                frame.pts = self.frames_written
                self._mux(self._video.encode(frame))
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
            samples = match_channels(samples, self._audio_channels)
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
        with write_errors(self.path):
            self._mux(self._audio.encode(frame))
        self.audio_samples_written += len(samples)

    def _mux(self, packets) -> None:
        with self._mux_lock:
            self._container.mux(packets)

    # -- life cycle ----------------------------------------------------------------------
    def close(self) -> Path:
        """Flush encoders, finish the file and (offline mode) move it to its final name."""
        if self._closed:
            return self.path
        self._closed = True
        try:
            with write_errors(self.path):
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
        mark_finished(self._target)
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
            remove_partial(self._target)


class BackgroundWriter(FinishOrAbort):
    """Runs an Mp4Writer on two threads of its own, one encoding frames and one audio, so
    encoding overlaps with drawing the next frame and the two encoders overlap each other.

    Calls are queued (bounded, so memory stays flat); an encoder error is raised on the
    next call or on `close()`.
    """

    def __init__(self, writer: Mp4Writer, depth: int = 8) -> None:
        self.writer = writer
        self._video = EncoderLane("mp4-video", depth)
        self._audio = EncoderLane("mp4-audio", depth * 4)

    def write_frame(self, rgb: np.ndarray) -> None:
        self._video.put(self.writer.write_frame, rgb.copy())  # the generator may reuse it

    def write_audio(self, samples: np.ndarray) -> None:
        self._audio.put(self.writer.write_audio, samples)

    def close(self) -> Path:
        try:
            for lane in (self._video, self._audio):
                lane.finish()
            for lane in (self._video, self._audio):
                lane.raise_error()
            return self.writer.close()
        except BaseException:  # an encoder error, or a signal while the queues drain
            self.abort()
            raise

    def abort(self) -> None:
        try:
            for lane in (self._video, self._audio):
                lane.finish(abandon=True)
        finally:
            self.writer.abort()


class EncoderLane:
    """One worker thread running queued calls in order; the first error is kept, later
    calls are skipped, and `put` or `raise_error` hands the error to the caller."""

    def __init__(self, name: str, depth: int) -> None:
        self._jobs: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._abandoned = False  # abort: pending calls are dropped, not run
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, call, argument) -> None:
        self.raise_error()
        self._jobs.put((call, argument))

    def raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def finish(self, abandon: bool = False) -> None:
        self._abandoned = self._abandoned or abandon
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
