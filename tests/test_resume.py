"""--resume: an interrupted render continues from its last finished segment and the
result equals an uninterrupted one (decoded frames and audio compared)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from audio.synth import make_beat_track, write_wav
from tests.helpers import REPO
from visualizer import segments

TINY = ["--size", "64x64", "--fps", "4", "--engine", "embedded"]


def decoded(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with av.open(str(path)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    with av.open(str(path)) as container:
        audio = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    return frames, audio


def start(song: Path, out: Path, *extra: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "visualizer", str(song), "--out", str(out), *TINY, *extra],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def finish(process: subprocess.Popen) -> str:
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-800:]
    return err


@pytest.mark.slow
@pytest.mark.parametrize("gl", ["1", "0"])
def test_a_render_stopped_by_sigterm_resumes_to_the_same_video(tmp_path, gl):
    """Each render in its own process, as a user runs them (30 s segments: 3 for 70 s).
    With OpenGL the engine's state cannot be pickled and the resume redraws the frames
    before its segment; the CPU engine's state is restored from the snapshot."""
    env = {"VISUALIZE_GL": gl}
    song = write_wav(tmp_path / "song.wav", make_beat_track(duration=70.0).samples, 22050)
    whole, out = tmp_path / "whole.mp4", tmp_path / "v.mp4"
    finish(start(song, whole, "--resume", env=env))
    assert not segments.work_dir(whole).exists()  # the work folder goes on success

    process = start(song, out, "--resume", env=env)
    work = segments.work_dir(out)
    deadline = time.monotonic() + 120
    while not (work / "segment-00000.mp4").exists() and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-800:]
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err[-800:]
    done = len(list(work.glob("segment-*.mp4")))
    assert done in (1, 2) and not out.exists() and not list(work.glob("*.partial"))
    plural = "s" if done > 1 else ""
    assert err.strip().splitlines()[-1] == (
        f"visualize: interrupted by SIGTERM; kept {done} finished segment{plural} in {work} "
        "(run it again with --resume)"
    )

    err = finish(start(song, out, "--resume", env=env))
    assert f"resuming after {done} of 3 segments ({30 * done} s)" in err
    if gl == "0":
        assert "replaying" not in err  # restored from the snapshot, nothing redrawn
    assert not work.exists()
    frames, audio = decoded(out)
    whole_frames, whole_audio = decoded(whole)
    assert len(frames) == 280
    np.testing.assert_array_equal(frames, whole_frames)
    np.testing.assert_array_equal(audio, whole_audio)

    plain = tmp_path / "plain.mp4"  # without --resume: one encoder run, as many frames
    finish(start(song, plain, env=env))
    plain_frames, plain_audio = decoded(plain)
    assert plain_frames.shape == frames.shape
    assert abs(plain_audio.shape[1] - audio.shape[1]) <= 2048  # AAC priming/padding only


def test_a_work_folder_of_other_settings_is_not_used(tmp_path):
    from visualizer.pipeline import RenderSettings

    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF....")

    out = tmp_path / "v.mp4"
    key = segments.run_key(song, RenderSettings(out=out, seed=1), 96, 20)
    work = segments.WorkDir(out, key)
    work.segment(0).write_bytes(b"x")
    assert work.finish_segment(0, {"state": 1})
    assert segments.WorkDir(out, key).done == 1
    other = segments.run_key(song, RenderSettings(out=out, seed=2), 96, 20)
    assert other != key and segments.WorkDir(out, other).done == 0
    assert not work.segment(0).exists()  # cleared: it belonged to another render
    assert segments.after_interruption(out).startswith("removed ")
    assert not segments.work_dir(out).exists()
