"""Damaged samples, every way a render stops, and paths that are not plain ASCII.

In-process renders (`cli.main`) keep these fast; the signal and file-name tests run the
real command in a subprocess, because signals and argv encoding are what they test.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from audio.source import AudioError, decode_audio, load_audio
from render import recorder
from render.recorder import DiskFullError, Mp4Writer
from tests.helpers import REPO
from visualizer import cli
from visualizer.commands.render import StopGuard
from visualizer.errors import EXIT_DISK_FULL, Stopped

TINY = ["--size", "64x64", "--fps", "4", "--engine", "embedded"]


def write_float_wav(path: Path, samples: np.ndarray, rate: int = 44100) -> Path:
    """A 32-bit float WAV (format tag 3), the kind that can carry NaN and inf."""
    data = np.asarray(samples, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def tone(seconds: float, rate: int = 44100) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    beat = (np.sin(2 * np.pi * 2 * t) > 0.9).astype(np.float32)  # clicks for the analysis
    return (0.4 * np.sin(2 * np.pi * 330 * t) + 0.4 * beat).astype(np.float32)


def damaged(seconds: float = 2.0) -> np.ndarray:
    samples = tone(seconds)
    samples[1000:1100] = np.nan
    samples[5000], samples[6000] = np.inf, -np.inf
    samples[9000:9010] = 7.0
    return samples


def render(capfd, *args) -> tuple[int, str]:
    """`visualize ARGS` in this process: (exit code, stderr)."""
    code = cli.main([str(a) for a in args])
    return code, capfd.readouterr().err


def lines(text: str) -> list[str]:
    return [line for line in text.strip().splitlines() if line.strip()]


def no_partials(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".partial")]


# -- 1. non-finite and out-of-range samples -----------------------------------------------


@pytest.mark.parametrize("rate", [44100, 22050, 48000])
def test_decoding_repairs_nan_inf_and_overs_without_smearing(tmp_path, rate):
    clean = decode_audio(write_float_wav(tmp_path / "clean.wav", tone(2.0)), rate)
    bad = decode_audio(write_float_wav(tmp_path / "bad.wav", damaged()), rate, notice=print)
    assert np.isfinite(bad).all() and np.abs(bad).max() <= 1.0
    assert bad.shape == clean.shape
    # Repaired before resampling: a sample well away from the damage is untouched.
    far = int(20000 * rate / 44100)
    np.testing.assert_allclose(bad[far:], clean[far:], atol=1e-6)


def test_planar_float_frames_are_repaired_in_place():
    from audio.source import _Damage, _repair_frame

    planes = np.array([[0.1, np.nan, 3.0, -0.2], [np.inf, 0.5, -9.0, 0.0]], np.float32)
    frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout="stereo")
    frame.sample_rate = 44100
    damage = _Damage()
    _repair_frame(frame, damage)
    fixed = frame.to_ndarray()
    expected = np.array([[0.1, 0.0, 1.0, -0.2], [0.0, 0.5, -1.0, 0.0]], np.float32)
    np.testing.assert_array_equal(fixed, expected)
    assert damage.invalid == 2 and damage.clipped == 2
    assert "NaN/infinite samples set to silence (2 samples)" in damage.describe("x")


def test_nan_wav_renders_with_one_notice_and_clean_audio(tmp_path, capfd):
    song = write_float_wav(tmp_path / "nan.wav", damaged())
    out = tmp_path / "v.mp4"
    code, err = render(capfd, song, "--out", out, *TINY)
    assert code == 0, err
    notices = [line for line in lines(err) if "NaN" in line]
    assert len(notices) == 1 and notices[0].startswith("visualize: nan.wav:"), err
    assert "Traceback" not in err
    with av.open(str(out)) as container:
        audio = np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0.1


def test_all_nan_file_has_no_valid_samples_not_silence(tmp_path, capfd):
    song = write_float_wav(tmp_path / "allnan.wav", np.full(44100, np.nan, np.float32))
    code, err = render(capfd, song, "--out", tmp_path / "v.mp4", *TINY)
    assert code == 1 and lines(err) == [
        "visualize: error: allnan.wav contains no valid samples (all NaN or infinite)"
    ]
    assert not list(tmp_path.glob("*.mp4"))


def test_live_playback_of_a_damaged_file_hands_out_finite_blocks(tmp_path):
    from audio.capture import PlaybackSource

    clip = load_audio(write_float_wav(tmp_path / "nan.wav", damaged()), notice=lambda _: None)
    source = PlaybackSource(clip, play=False, block_size=512)  # what `live --input` builds
    blocks = [source._emit(512) for _ in range(len(clip.samples) // 512)]
    assert all(np.isfinite(b).all() and np.abs(b).max() <= 1 for b in blocks)


def test_the_encoder_never_sees_nan(tmp_path):
    samples = np.zeros((4800, 2), np.float32)
    samples[10:20] = np.nan
    with Mp4Writer(tmp_path / "a.mp4", 64, 64, 4, audio_rate=48000) as writer:
        writer.write_frame(np.zeros((64, 64, 3), np.uint8))
        writer.write_audio(samples)  # the live recorder's taps come straight from capture
    assert (tmp_path / "a.mp4").exists()


# -- 2. every way a render stops --------------------------------------------------------


class FillsUp:
    """A PyAV output container on a disk that is full after `packets` muxes."""

    def __init__(self, container, packets: int) -> None:
        self._container, self._left = container, packets

    def mux(self, packets):
        self._left -= 1
        if self._left < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self._container.mux(packets)

    def __getattr__(self, name):
        return getattr(self._container, name)


def test_disk_full_while_encoding_is_one_line_and_removes_the_partial(tmp_path, capfd, monkeypatch):
    original = Mp4Writer.__init__

    def on_a_small_disk(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self._container = FillsUp(self._container, packets=3)

    monkeypatch.setattr(Mp4Writer, "__init__", on_a_small_disk)
    song = write_float_wav(tmp_path / "song.wav", tone(3.0))
    code, err = render(capfd, song, "--out", tmp_path / "v.mp4", *TINY)
    assert code == EXIT_DISK_FULL, err
    (line,) = lines(err)[-1:]
    assert "disk full while writing v.mp4" in line and "removed the unfinished" in line
    assert "Traceback" not in err and len([x for x in lines(err) if "error" in x]) == 1
    assert not list(tmp_path.glob("*.mp4")) and no_partials(tmp_path)


def test_disk_full_when_finishing_the_file(tmp_path, capfd, monkeypatch):
    class NoRoomToRename:
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def replace(*_):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(recorder, "os", NoRoomToRename())  # the last step of close()
    song = write_float_wav(tmp_path / "song.wav", tone(2.0))
    code, err = render(capfd, song, "--out", tmp_path / "v.mp4", *TINY)
    assert code == EXIT_DISK_FULL and "disk full" in lines(err)[-1], err
    assert no_partials(tmp_path) and not list(tmp_path.glob("*.mp4"))


@pytest.mark.skipif(not Path("/dev/full").is_char_device(), reason="no /dev/full")
def test_a_real_enospc_from_ffmpeg_is_disk_full_error():
    # Fragmented writers write to the target itself and never delete it: /dev/full is safe.
    with pytest.raises(DiskFullError, match="disk full"):
        with Mp4Writer("/dev/full", 64, 64, 4, fragmented=True) as writer:
            for _ in range(40):
                writer.write_frame(np.zeros((64, 64, 3), np.uint8))
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_an_unexpected_exception_is_one_line_and_removes_the_partial(tmp_path, capfd, monkeypatch):
    from render.embedded import EmbeddedGenerator

    calls = []

    def broken(self, request, layout="rgb"):
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("kaboom")
        return np.zeros((self.height, self.width, 3), np.uint8)

    monkeypatch.setattr(EmbeddedGenerator, "_draw", broken)  # RGB and GPU-YUV frames alike
    song = write_float_wav(tmp_path / "song.wav", tone(3.0))
    code, err = render(capfd, song, "--out", tmp_path / "v.mp4", *TINY)
    assert code == 1 and "Traceback" not in err
    line = lines(err)[-1]
    assert "unexpected RuntimeError: kaboom" in line and "removed the unfinished" in line
    assert no_partials(tmp_path)


def test_a_partial_opened_outside_the_with_block_is_still_removed(tmp_path, capfd, monkeypatch):
    def no_thread(self, writer, depth=8):
        raise RuntimeError("no threads left")

    monkeypatch.setattr(recorder.BackgroundWriter, "__init__", no_thread)
    song = write_float_wav(tmp_path / "song.wav", tone(2.0))
    code, err = render(capfd, song, "--out", tmp_path / "v.mp4", *TINY)
    assert code == 1 and "removed the unfinished" in lines(err)[-1]
    assert no_partials(tmp_path)


def test_a_swallowed_signal_still_stops_the_render(tmp_path, capfd, monkeypatch):
    """A stop raised where Python drops it (a finalizer, a C callback) is caught per frame."""
    from visualizer import pipeline

    real = pipeline.render_file

    def swallowing(song, settings, progress=None, notice=print):
        def progress_then_signal(done, total):
            if done == 2:
                try:
                    os.kill(os.getpid(), signal.SIGTERM)
                except Stopped:
                    pass  # lost, as in an "Exception ignored in ..." context
            progress(done, total)

        return real(song, settings, progress=progress_then_signal, notice=notice)

    monkeypatch.setattr(pipeline, "render_file", swallowing)
    song = write_float_wav(tmp_path / "song.wav", tone(3.0))
    code, err = render(capfd, song, "--out", tmp_path / "v.mp4", *TINY)
    assert code == 128 + signal.SIGTERM, err
    assert lines(err)[-1].startswith("visualize: interrupted by SIGTERM; removed the unfinished")
    assert no_partials(tmp_path) and not list(tmp_path.glob("*.mp4"))


def _stop_around_render(monkeypatch, after: bool) -> None:
    """SIGTERM before the render starts, or (swallowed) just after it finished the file."""
    from visualizer import pipeline

    real = pipeline.render_file

    def swallowed_sigterm() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        except Stopped:
            pass

    def render_file(*args, **kwargs):
        if not after:
            os.kill(os.getpid(), signal.SIGTERM)
        result = real(*args, **kwargs)
        if after:
            swallowed_sigterm()
        return result

    monkeypatch.setattr(pipeline, "render_file", render_file)


def test_stopped_as_it_finished_leaves_no_video(tmp_path, capfd, monkeypatch):
    _stop_around_render(monkeypatch, after=True)
    song = write_float_wav(tmp_path / "song.wav", tone(2.0))
    code, err = render(capfd, song, "--out", tmp_path / "v.mp4", *TINY)
    assert code == 143 and lines(err)[-1].startswith("visualize: interrupted by SIGTERM"), err
    assert not list(tmp_path.glob("*.mp4")) and no_partials(tmp_path)


def test_a_stop_before_writing_keeps_an_older_video(tmp_path, capfd, monkeypatch):
    _stop_around_render(monkeypatch, after=False)
    old = tmp_path / "v.mp4"
    old.write_bytes(b"yesterday's render")
    song = write_float_wav(tmp_path / "song.wav", tone(2.0))
    code, err = render(capfd, song, "--out", old, *TINY)
    assert code == 143, err
    assert lines(err)[-1] == "visualize: interrupted by SIGTERM; nothing was written"
    assert old.read_bytes() == b"yesterday's render"


def test_a_second_signal_while_cleaning_up_exits_at_once(monkeypatch, tmp_path):
    exits = []
    monkeypatch.setattr(os, "_exit", exits.append)
    partial = tmp_path / ".v.mp4.partial"
    partial.write_bytes(b"half")
    monkeypatch.setitem(recorder._unfinished, partial, None)
    guard = StopGuard()
    guard._discard = recorder.discard_all
    with pytest.raises(Stopped):
        guard._handle(signal.SIGINT, None)
    guard._handle(signal.SIGTERM, None)  # impatient: the second one does not wait
    assert exits == [128 + signal.SIGTERM] and not partial.exists()


def _default_signals() -> None:
    # A test runner started from a script in the background inherits SIGINT ignored, and
    # the render rightly keeps it ignored: give the child a terminal's default handlers.
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)


def start_render(song: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "visualizer", str(song), "--out", str(out), *extra],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 120) -> None:
    """Until the render is writing: its handlers are installed before the partial exists."""
    deadline = time.monotonic() + seconds
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.exists(), f"render never started writing: {process.communicate()[1][-600:]}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_removes_the_partial_file_with_its_own_exit_code(tmp_path, name):
    signum = getattr(signal, name)
    song = write_float_wav(tmp_path / "long.wav", tone(15.0))  # rendering for seconds
    out = tmp_path / "v.mp4"
    process = start_render(song, out, "--size", "128x128", "--engine", "embedded")
    wait_for(tmp_path / ".v.mp4.partial", process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, stderr[-600:]
    assert lines(stderr)[-1] == (
        f"visualize: interrupted by {name}; removed the unfinished {tmp_path / '.v.mp4.partial'}"
    )
    assert "Traceback" not in stderr
    assert not out.exists() and no_partials(tmp_path)


# -- 4. file names ----------------------------------------------------------------------


@pytest.mark.slow
def test_non_ascii_names_and_spaces_end_to_end(tmp_path):
    folder, out_dir = tmp_path / "tests tmp", tmp_path / "out dir"
    folder.mkdir()
    out_dir.mkdir()
    song = write_float_wav(folder / "Veränderung ñ 日本.wav", tone(2.0))
    out = out_dir / "vidéo.mp4"
    result = subprocess.run(
        [sys.executable, "-m", "visualizer", str(song), "--out", str(out), *TINY],
        cwd=REPO,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "vidéo.mp4" in result.stdout
    with av.open(str(out)) as container:
        assert container.streams.video and container.streams.audio
    assert sorted(p.name for p in out_dir.iterdir()) == ["vidéo.mp4"]


def test_non_ascii_names_in_messages(tmp_path, capfd):
    missing = tmp_path / "Veränderung ñ 日本.mp3"
    code, err = render(capfd, missing, "--out", tmp_path / "vidéo.mp4", *TINY)
    assert code == 1 and lines(err) == [f"visualize: error: no such file: {missing}"]


def test_audio_error_names_the_file(tmp_path):
    fake = tmp_path / "Veränderung.wav"
    fake.write_bytes(b"RIFF" + b"\0" * 40)
    with pytest.raises(AudioError, match="Veränderung.wav"):
        load_audio(fake)
