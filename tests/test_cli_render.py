"""The render command from the outside: bad input gets one line and leaves no file."""

import os
import signal
import subprocess
import sys
import time
import wave

import numpy as np
import pytest

from tests.helpers import REPO, shared_audio


def visualize(*args, cwd=None, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "visualizer", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def write_wav(path, samples, rate=22050):
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.asarray(samples) * 32767).astype("<i2").tobytes())
    return path


def assert_one_line_error(result, *needles):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("visualize")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.stderr


def assert_no_video(folder):
    assert not [p for p in folder.iterdir() if ".mp4" in p.name]


def test_help_lists_commands_and_render_options():
    top = visualize("--help")
    assert top.returncode == 0 and "render" in top.stdout
    render = visualize("render", "--help")
    for option in ("--out", "--fps", "--size", "--seed", "--start", "--duration", "--engine"):
        assert option in render.stdout


def test_missing_file(tmp_path):
    result = visualize(tmp_path / "nope.mp3", "--out", tmp_path / "v.mp4")
    assert_one_line_error(result, "no such file")
    assert_no_video(tmp_path)


def test_non_audio_file(tmp_path):
    fake = tmp_path / "notes.mp3"
    fake.write_text("this is not music\n" * 50)
    result = visualize(fake, "--out", tmp_path / "v.mp4")
    assert_one_line_error(result, "notes.mp3")
    assert_no_video(tmp_path)


def test_zero_length_audio(tmp_path):
    empty = write_wav(tmp_path / "empty.wav", [])
    result = visualize(empty, "--out", tmp_path / "v.mp4")
    assert_one_line_error(result, "zero length")
    assert_no_video(tmp_path)


def test_silent_audio(tmp_path):
    silent = write_wav(tmp_path / "silent.wav", np.zeros(22050 * 2))
    result = visualize(silent, "--out", tmp_path / "v.mp4")
    assert_one_line_error(result, "silent")
    assert_no_video(tmp_path)


def test_corrupt_file(tmp_path):
    data = bytearray(shared_audio("sorohanro_-_solo-trumpet-06.ogg").read_bytes())
    rng = np.random.default_rng(0)
    data[200:] = rng.integers(0, 256, len(data) - 200, dtype=np.uint8).tobytes()
    broken = tmp_path / "broken.ogg"
    broken.write_bytes(bytes(data))
    result = visualize(broken, "--out", tmp_path / "v.mp4")
    assert_one_line_error(result, "broken.ogg")
    assert_no_video(tmp_path)


def test_header_only_file(tmp_path):
    whole = write_wav(tmp_path / "whole.wav", np.sin(np.arange(22050) * 0.05))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:44])  # the header and no samples
    result = visualize(cut, "--out", tmp_path / "v.mp4")
    assert_one_line_error(result)
    assert_no_video(tmp_path)


def test_unwritable_output(tmp_path, beat_song):
    song, _ = beat_song
    result = visualize(song, "--out", tmp_path / "no" / "such" / "dir" / "v.mp4")
    assert_one_line_error(result, "does not exist")
    if os.geteuid() != 0:  # root can write anywhere; the folder check above still holds
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert_one_line_error(visualize(song, "--out", locked / "v.mp4"), "not writable")


@pytest.mark.parametrize(
    "option",
    [
        ["--fps", "0"],
        ["--fps", "fast"],
        ["--size", "640by480"],
        ["--size", "641x480"],
        ["--engine", "magic"],
        ["--start", "-3"],
        ["--duration", "0"],
        ["--out", "video.avi"],
    ],
)
def test_bad_option_values(tmp_path, beat_song, option):
    song, _ = beat_song
    args = [song, *option] if "--out" in option else [song, "--out", tmp_path / "v.mp4", *option]
    result = visualize(*args, cwd=tmp_path)
    assert_one_line_error(result)
    assert_no_video(tmp_path)


def test_start_past_the_end(tmp_path, beat_song):
    song, _ = beat_song
    result = visualize(song, "--out", tmp_path / "v.mp4", "--start", "60")
    assert_one_line_error(result, "zero length")
    assert_no_video(tmp_path)


@pytest.mark.slow
def test_ctrl_c_leaves_no_half_file(tmp_path):
    song = write_wav(tmp_path / "long.wav", 0.5 * np.sin(np.arange(22050 * 60) * 0.03))
    out = tmp_path / "v.mp4"
    process = subprocess.Popen(
        [sys.executable, "-m", "visualizer", str(song), "--out", str(out), "--size", "640x360"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell running the suite in the background starts us with SIGINT ignored, and an
        # ignored signal stays ignored in the child: restore the default, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    partial = tmp_path / ".v.mp4.partial"
    deadline = time.time() + 120
    while not partial.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert partial.exists(), "render never started writing"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, f"exit {process.returncode}: {stdout[-300:]} {stderr[-600:]}"
    assert "interrupted" in stderr
    assert not out.exists() and not partial.exists()
