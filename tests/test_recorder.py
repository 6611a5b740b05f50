import subprocess
import sys

import av
import numpy as np
import pytest

from render.recorder import Mp4Writer, RecorderError


def _streams(path):
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        samples = sum(f.samples for f in container.decode(audio))
        return frames, video_codec(path), audio.codec_context.name, samples, audio.rate


def video_codec(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.name, stream.codec_context.pix_fmt


def _tone(n, rate):
    t = np.arange(n) / rate
    return np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1).astype(np.float32) * 0.3


def test_writes_h264_yuv420p_with_aac_and_renames_on_close(tmp_path):
    out = tmp_path / "clip.mp4"
    with Mp4Writer(out, 64, 48, 12, audio_rate=48000) as writer:
        assert not out.exists()  # nothing under the final name until it is finished
        for i in range(24):
            writer.write_frame(np.full((48, 64, 3), i * 10, np.uint8))
            writer.write_audio(_tone(4000, 48000))
    frames, (vcodec, pix), acodec, samples, rate = _streams(out)
    assert (frames, vcodec, pix, acodec, rate) == (24, "h264", "yuv420p", "aac", 48000)
    assert abs(samples - 24 * 4000) <= 2048  # AAC priming/padding only
    assert not list(tmp_path.glob(".*partial"))


def test_abort_leaves_no_file(tmp_path):
    out = tmp_path / "never.mp4"
    with pytest.raises(KeyboardInterrupt):
        with Mp4Writer(out, 64, 48, 12) as writer:
            writer.write_frame(np.zeros((48, 64, 3), np.uint8))
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_timed_frames_keep_a_constant_rate(tmp_path):
    out = tmp_path / "cfr.mp4"
    with Mp4Writer(out, 64, 48, 10) as writer:
        for t in (0.0, 0.05, 0.31, 0.32, 0.5):  # a duplicate slot, a gap, a late frame
            writer.write_frame(np.zeros((48, 64, 3), np.uint8), time=t)
    assert _count_video_frames(out) == 6  # slots 0..5 filled, none twice


def _count_video_frames(path):
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def test_fragmented_file_survives_without_close(tmp_path):
    """What a kill -9 leaves: no close(), yet the fragments written so far play."""
    out = tmp_path / "live.mp4"
    script = f"""
import os, numpy as np
from render.recorder import Mp4Writer
w = Mp4Writer({str(out)!r}, 64, 48, 10, fragmented=True)
for i in range(35):
    w.write_frame(np.full((48, 64, 3), i * 7, np.uint8))
os._exit(0)  # no close, no flush: like a crash
"""
    subprocess.run([sys.executable, "-c", script], check=True, cwd=str(_repo()))
    frames = _count_video_frames(out)
    assert 10 <= frames <= 35


def _repo():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("size", [(63, 48), (64, 47)])
def test_odd_sizes_are_refused(tmp_path, size):
    with pytest.raises(RecorderError, match="even"):
        Mp4Writer(tmp_path / "x.mp4", *size, 24)


def test_unwritable_folder_is_a_clear_error(tmp_path):
    with pytest.raises(RecorderError, match="does not exist"):
        Mp4Writer(tmp_path / "missing" / "x.mp4", 64, 48, 24)


def test_background_writer_matches_the_plain_writer(tmp_path):
    from render.recorder import BackgroundWriter

    out = tmp_path / "bg.mp4"
    with BackgroundWriter(Mp4Writer(out, 64, 48, 12, audio_rate=48000)) as writer:
        for i in range(12):
            writer.write_frame(np.full((48, 64, 3), i * 20, np.uint8))
            writer.write_audio(_tone(4000, 48000))
    frames, _, _, samples, _ = _streams(out)
    assert frames == 12 and abs(samples - 12 * 4000) <= 2048


def test_background_writer_reports_encoder_errors_and_leaves_no_file(tmp_path):
    from render.recorder import BackgroundWriter

    out = tmp_path / "bad.mp4"
    writer = BackgroundWriter(Mp4Writer(out, 64, 48, 12))
    writer.write_frame(np.zeros((10, 99, 3), np.uint8))  # too wide: fails on the thread
    with pytest.raises(ValueError, match="expected 48x64x3"):
        writer.close()
    assert list(tmp_path.iterdir()) == []


def test_a_frame_smaller_than_the_video_is_scaled_up_and_a_larger_one_refused(tmp_path):
    # A software rasteriser hands the encoder frames at its drawing budget.
    left, right = (200, 40, 30), (20, 60, 220)
    small = np.zeros((24, 32, 3), np.uint8)
    small[:, :16], small[:, 16:] = left, right
    out = tmp_path / "scaled.mp4"
    with Mp4Writer(out, 64, 48, 12) as writer:
        writer.write_frame(small)
        with pytest.raises(ValueError):
            writer.write_frame(np.zeros((50, 64, 3), np.uint8))
    with av.open(str(out)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    assert frame.shape == (48, 64, 3)
    assert np.abs(frame[8:40, 4:26] - left).max() < 12  # each half keeps its colour ...
    assert np.abs(frame[8:40, 38:60] - right).max() < 12  # ... at twice the size
