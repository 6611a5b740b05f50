"""Joining MP4 segments without re-encoding (the --resume path), with the soundtrack.

The segments are video-only, from one encoder's settings, each starting on a keyframe;
their packets are copied with shifted timestamps and AAC audio is encoded beside them.
The result is written like any offline recording: a registered partial file, renamed
when it is finished (`render.partials`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from render.channels import match_channels
from render.partials import (
    check_writable,
    mark_finished,
    partial_name,
    register_partial,
    remove_partial,
    write_errors,
)


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
    register_partial(target)
    try:
        with write_errors(path), av.open(str(segments[0])) as first:
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
        remove_partial(target)
        raise
    mark_finished(target)
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
        samples = match_channels(samples, channels)
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
