"""End to end: a synthetic song with known beats -> `visualize` -> MP4, checked with real decoders."""

import json
import shutil
import subprocess
import sys

import av
import numpy as np
import pytest

from tests.helpers import REPO

FPS = 24
BPM = 128.0


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from audio.synth import make_beat_track, write_wav

    folder = tmp_path_factory.mktemp("e2e")
    track = make_beat_track(bpm=BPM, duration=10.0, seed=11)
    song = write_wav(folder / "song.wav", track.samples, track.sample_rate)
    out = folder / "video.mp4"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "visualizer",
            str(song),
            "--out",
            str(out),
            "--size",
            "192x144",
            "--fps",
            str(FPS),
            "--engine",
            "embedded",
            "--seed",
            "4",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return out, track, result


def _decode(path):
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        info = {
            "video_codec": video.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "rate": video.average_rate,
            "audio_codec": audio.codec_context.name,
            "audio_rate": audio.rate,
        }
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    return info, frames, samples


def test_mp4_has_video_and_original_audio(rendered):
    out, track, result = rendered
    info, frames, samples = _decode(out)
    assert info["video_codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["audio_codec"] == "aac" and float(info["rate"]) == FPS
    assert len(frames) == round(track.duration * FPS)
    assert abs(len(frames) / FPS - track.duration) <= 1 / FPS
    assert abs(samples / info["audio_rate"] - track.duration) <= 1 / FPS + 0.03  # AAC padding
    assert frames[0].shape == (144, 192, 3)
    assert "wrote" in result.stdout and "frames" in result.stdout


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
def test_ffprobe_agrees_on_the_streams(rendered):
    out, track, _ = rendered
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(probe.stdout)
    kinds = sorted(s["codec_type"] for s in data["streams"])
    assert kinds == ["audio", "video"]
    video = next(s for s in data["streams"] if s["codec_type"] == "video")
    assert video["r_frame_rate"] == f"{FPS}/1" and video["avg_frame_rate"] == f"{FPS}/1"
    assert abs(float(data["format"]["duration"]) - track.duration) <= 2 / FPS


def test_picture_changes_peak_on_the_beats(rendered, artifacts_dir):
    out, track, _ = rendered
    _, frames, _ = _decode(out)
    change = np.array(
        [np.abs(frames[i].astype(np.int16) - frames[i - 1]).mean() for i in range(1, len(frames))]
    )
    change = np.concatenate([[0.0], change])  # change[i]: how much frame i differs from i-1
    half_period = round(FPS * 60 / BPM / 2)
    beats = [b for b in track.beats if 1.0 <= b <= track.duration - 0.5]  # past the warm-up

    def peak_near(beat: float) -> int:
        """The frame with the biggest change within half a beat either side of `beat`."""
        centre = round(beat * FPS)
        window = change[centre - half_period : centre + half_period + 1]
        return centre - half_period + int(np.argmax(window))

    hits = [abs(peak_near(b) - round(b * FPS)) <= 1 for b in beats]
    fraction = float(np.mean(hits))
    (artifacts_dir / "beat_alignment.json").write_text(
        json.dumps({"bpm": BPM, "fps": FPS, "beats": len(beats), "aligned_fraction": fraction})
    )
    print(f"beats with a change peak within one frame: {fraction:.2%} of {len(beats)}")
    assert fraction >= 0.9
