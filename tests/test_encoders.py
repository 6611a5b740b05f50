"""Encoder choice: x264 everywhere, NVENC only where it opens, one line when asked for in vain."""

import av
import numpy as np
import pytest

from render import encoders
from render.encoders import EncoderUnavailable, codec_options, pick_codec
from render.recorder import Mp4Writer
from tests.test_cli_render import assert_no_video, assert_one_line_error, visualize, write_wav


def test_x264_by_name_and_unknown_encoder():
    assert pick_codec("x264") == "libx264"
    with pytest.raises(EncoderUnavailable, match="unknown encoder"):
        pick_codec("prores")


def test_auto_follows_whether_nvenc_opens(monkeypatch):
    monkeypatch.setattr(encoders, "nvenc_works", lambda: False)
    assert pick_codec("auto") == "libx264"
    with pytest.raises(EncoderUnavailable, match="no NVENC"):
        pick_codec("nvenc")
    monkeypatch.setattr(encoders, "nvenc_works", lambda: True)
    assert pick_codec("auto") == "h264_nvenc"
    assert pick_codec("nvenc") == "h264_nvenc"


def test_options_per_encoder_and_live():
    assert codec_options("libx264", 20, "ultrafast", live=False) == {
        "crf": "20",
        "preset": "ultrafast",
    }
    assert codec_options("libx264", 20, "ultrafast", live=True)["tune"] == "zerolatency"
    nvenc = codec_options("h264_nvenc", 20, "ultrafast", live=True)
    assert nvenc["cq"] == "23" and nvenc["zerolatency"] == "1" and "crf" not in nvenc


def test_writer_records_its_codec(tmp_path):
    out = tmp_path / "a.mp4"
    with Mp4Writer(out, 64, 48, 12, codec=pick_codec("x264")) as writer:
        for i in range(6):
            writer.write_frame(np.full((48, 64, 3), i * 40, np.uint8))
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.video[0].frames == 6


@pytest.mark.skipif(encoders.nvenc_works(), reason="this machine has NVENC")
def test_cli_nvenc_without_one_is_one_line_and_no_file(tmp_path):
    song = write_wav(tmp_path / "s.wav", 0.3 * np.sin(np.arange(22050) * 0.05))
    result = visualize(song, "--out", tmp_path / "v.mp4", "--encoder", "nvenc")
    assert_one_line_error(result, "nvenc")
    assert_no_video(tmp_path)
