"""The encoder in a child process: same file as the thread, errors and stops handled."""

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

from render.encoder_process import PROCESS_MIN_PIXELS, ProcessWriter, open_writer
from render.partials import DiskFullError, partial_name
from render.recorder import BackgroundWriter

ROOT = Path(__file__).resolve().parents[1]


def frames(count: int, size=(96, 64)) -> list[np.ndarray]:
    w, h = size
    ramp = np.linspace(0, 255, w, dtype=np.float32)
    return [
        np.broadcast_to(((ramp + 9 * i) % 256).astype(np.uint8)[None, :, None], (h, w, 3)).copy()
        for i in range(count)
    ]


def decoded(path: Path) -> tuple[list[np.ndarray], int]:
    with av.open(str(path)) as container:
        video = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        audio = sum(f.samples for f in container.decode(audio=0)) if container.streams.audio else 0
    return video, audio


def no_slots_left() -> bool:
    return (
        not list(Path("/dev/shm").glob("visualize-frames-*")) if Path("/dev/shm").is_dir() else True
    )


def test_the_child_writes_what_the_thread_writes(tmp_path):
    shots = frames(20)
    for name in ("process", "thread"):
        path = tmp_path / f"{name}.mp4"
        if name == "process":
            writer = ProcessWriter(path, 96, 64, 10, depth=2, audio_rate=48000)
        else:
            writer = open_writer(path, 96, 64, 10, 20, audio_rate=48000)
            assert isinstance(writer, BackgroundWriter)  # small renders stay on a thread
        with writer:
            for rgb in shots:
                writer.write_frame(rgb)
                writer.write_audio(np.full((4800, 2), 0.1, np.float32))
        assert writer.close() == path  # closing twice is harmless
    (process, process_audio), (thread, thread_audio) = map(
        decoded, (tmp_path / "process.mp4", tmp_path / "thread.mp4")
    )
    assert len(process) == len(thread) == 20 and process_audio == thread_audio > 0
    assert all(np.array_equal(a, b) for a, b in zip(process, thread, strict=True))
    assert not partial_name(tmp_path / "process.mp4").exists() and no_slots_left()


@pytest.mark.parametrize("cores", [1, 2, 16])
def test_large_renders_on_two_or_more_cores_get_the_child(tmp_path, monkeypatch, cores):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    frames = PROCESS_MIN_PIXELS // (96 * 64) + 1
    writer = open_writer(tmp_path / "v.mp4", 96, 64, 10, frames)
    assert isinstance(writer, ProcessWriter) == (cores >= 2)
    writer.abort()


def test_an_error_in_the_child_comes_back_as_the_same_exception():
    # /dev/full accepts the open and fails every write: ENOSPC inside FFmpeg, in the child.
    if not Path("/dev/full").is_char_device():
        pytest.skip("no /dev/full")
    with pytest.raises(DiskFullError, match="disk full"):
        with ProcessWriter("/dev/full", 96, 64, 10, fragmented=True) as writer:
            for rgb in frames(60):
                writer.write_frame(rgb)
    assert no_slots_left()


def test_abort_throws_the_partial_away(tmp_path):
    path = tmp_path / "v.mp4"
    writer = ProcessWriter(path, 96, 64, 10)
    for rgb in frames(60):  # enough for x264 to hand out packets: the file is on disk
        writer.write_frame(rgb)
    deadline = time.monotonic() + 20
    while not partial_name(path.absolute()).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert partial_name(path.absolute()).exists()
    writer.abort()
    assert not path.exists() and not partial_name(path.absolute()).exists() and no_slots_left()


def test_ctrl_c_reaching_the_child_does_not_break_the_file(tmp_path):
    path = tmp_path / "v.mp4"
    with ProcessWriter(path, 96, 64, 10) as writer:
        writer.write_frame(frames(1)[0])
        os.kill(writer._process.pid, signal.SIGINT)  # a terminal sends it to the whole group
        time.sleep(0.2)
        for rgb in frames(9):
            writer.write_frame(rgb)
    assert len(decoded(path)[0]) == 10


def test_a_killed_parent_leaves_no_partial_file(tmp_path):
    path = tmp_path / "v.mp4"
    script = f"""
import os, signal, sys
sys.path.insert(0, {str(ROOT)!r})
import numpy as np
from render.encoder_process import ProcessWriter
writer = ProcessWriter({str(path)!r}, 96, 64, 10)
for i in range(5):
    writer.write_frame(np.zeros((64, 96, 3), np.uint8))
print(writer._process.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    parent = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    child = int(parent.stdout.split()[0])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        time.sleep(0.1)
    assert not partial_name(path.absolute()).exists() and not path.exists() and no_slots_left()
