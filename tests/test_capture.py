"""Audio capture: ring buffer, resampling, the file clock, and a real PortAudio stream
fed through a PulseAudio null sink started for the test."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from audio.capture import AudioBlock, BlockRing, CaptureError, PlaybackSource, _LinearResampler
from audio.source import AudioClip

RATE = 22050


def test_the_ring_drops_its_oldest_block_when_full():
    ring = BlockRing(capacity=3)
    for index in range(5):
        ring.push(AudioBlock(index, np.zeros(4, np.float32)))
    assert [block.time for block in ring.drain()] == [2, 3, 4]
    assert ring.dropped == 2 and ring.drain() == []


def test_streaming_resampler_matches_one_shot_resampling():
    source_rate, target_rate = 48000, RATE
    t = np.arange(48000) / source_rate
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    resample = _LinearResampler(source_rate, target_rate)
    pieces = [resample(tone[i : i + 1000]) for i in range(0, len(tone), 1000)]
    out = np.concatenate(pieces)
    assert abs(len(out) - target_rate) <= 2
    delay = 1 / source_rate  # the resampler is causal: one input sample late
    expected = np.sin(2 * np.pi * 440 * (np.arange(len(out)) / target_rate - delay))
    assert np.max(np.abs(out[10:-10] - expected[10:-10])) < 0.02  # no clicks at block edges


def test_file_source_without_output_runs_on_the_files_clock():
    clip = AudioClip(np.linspace(-1, 1, RATE // 2, dtype=np.float32), RATE)
    source = PlaybackSource(clip, play=False, block_size=512).start()
    try:
        time.sleep(0.25)
        early = source.read()
        assert 0.15 < source.clock() < 0.6
        deadline = time.monotonic() + 3
        while not source.finished and time.monotonic() < deadline:
            time.sleep(0.02)
        blocks = early + source.read()
    finally:
        source.stop()
    assert source.finished and "playback is off" in source.stats.status
    times = [block.time for block in blocks]
    assert times == sorted(times) and times[0] == 0
    audio = np.concatenate([block.samples for block in blocks])
    assert np.array_equal(audio[: len(clip.samples)], clip.samples)  # every sample, in order


def test_a_looping_file_wraps_around():
    clip = AudioClip(np.arange(1000, dtype=np.float32), RATE)
    source = PlaybackSource(clip, loop=True, play=False, block_size=512)
    first, second, third = (source._emit(512) for _ in range(3))
    assert third[0] == (1024 % 1000) and not source.finished
    assert source.duration is None


# -- a real PortAudio stream through a PulseAudio null sink ----------------------------


@pytest.fixture(scope="module")
def pulse_sink(tmp_path_factory):
    """A private PulseAudio server with a null sink; its monitor is the default source."""
    if not shutil.which("pulseaudio") or not shutil.which("paplay"):
        pytest.skip("pulseaudio/paplay not installed")
    if not Path("/usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so").exists():
        pytest.skip("ALSA pulse plugin (libasound2-plugins) not installed")
    home = tmp_path_factory.mktemp("pulse")
    socket = home / "native"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home),
        "PULSE_RUNTIME_PATH": str(home / "run"),
    }
    server = subprocess.Popen(
        ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--system=false", "-n",
         "--disallow-exit", "--log-target=stderr",
         "-L", f"module-native-protocol-unix socket={socket} auth-anonymous=1",
         "-L", "module-null-sink sink_name=vsink rate=44100"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not socket.exists() and server.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not socket.exists():
        server.kill()
        pytest.skip(f"pulseaudio did not start: {server.stderr.read().decode()[-300:]}")
    saved = {key: os.environ.get(key) for key in ("PULSE_SERVER", "PULSE_SOURCE", "PULSE_SINK")}
    os.environ.update(
        PULSE_SERVER=f"unix:{socket}", PULSE_SOURCE="vsink.monitor", PULSE_SINK="vsink"
    )
    import sounddevice as sd

    sd._terminate()  # PortAudio enumerates devices once; make it see the new server
    sd._initialize()
    yield {"env": {**env, "PULSE_SERVER": f"unix:{socket}"}}
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.terminate()
    server.wait(5)


def bursts() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Silence with tone bursts of different lengths: a pattern with one clear alignment."""
    spans = [(0.8, 1.0), (1.5, 1.9), (2.4, 2.5), (3.0, 3.6)]
    audio = np.zeros(int(4.2 * RATE), np.float32)
    for start, end in spans:
        t = np.arange(int((end - start) * RATE)) / RATE
        audio[int(start * RATE) : int(start * RATE) + len(t)] = 0.6 * np.sin(2 * np.pi * 330 * t)
    return audio, spans


@pytest.mark.slow
def test_microphone_capture_follows_audio_played_into_the_sink(pulse_sink, tmp_path):
    import soundfile

    from audio.capture import MicrophoneSource, find_device
    from visualizer.live import make_analyzer

    audio, spans = bursts()
    wav = tmp_path / "bursts.wav"
    soundfile.write(wav, audio, RATE)
    source = MicrophoneSource(find_device("pulse"), RATE).start()
    player = None
    try:
        time.sleep(0.3)
        source.read()  # start from here
        player = subprocess.run(
            ["paplay", "--device=vsink", str(wav)], env=pulse_sink["env"], timeout=20
        )
        time.sleep(0.5)
        blocks = source.read()
    finally:
        source.stop()
    assert player.returncode == 0
    assert source.stats.overflows == 0 or source.stats.blocks > 100
    analyzer = make_analyzer(RATE)
    captured = np.concatenate([block.samples for block in blocks])
    frames = analyzer.push(captured)
    energy = np.array([frame.energy for frame in frames])
    times = np.array([frame.time for frame in frames])
    # Each burst in the file starts a rise in the captured energy, at the same spacing.
    above = energy > 0.5
    rises = times[1:][above[1:] & ~above[:-1]]
    starts = np.array([start for start, _ in spans])
    assert len(rises) == len(starts), rises
    assert np.allclose(np.diff(rises), np.diff(starts), atol=0.06)
    assert energy[times < rises[0] - 0.1].max() < 0.05  # silence before the file is silent


def test_an_unknown_device_is_a_one_line_error(pulse_sink):
    from audio.capture import find_device

    with pytest.raises(CaptureError, match="no input device matches 'no-such-mic'"):
        find_device("no-such-mic")
    with pytest.raises(CaptureError, match="#999"):
        find_device(999)


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.slow
def test_a_dead_stream_is_reopened_by_read(pulse_sink):
    from audio.capture import MicrophoneSource, find_device

    source = MicrophoneSource(find_device("pulse"), RATE).start()
    try:
        wait_until(lambda: source.stats.blocks > 0)
        source._stream.abort()  # what an unplugged device looks like to PortAudio
        source._next_reconnect = 0.0
        source.read()
        assert source.stats.reconnects == 1 and "reconnected" in source.stats.status
        before = source.stats.blocks
        wait_until(lambda: source.stats.blocks > before)  # audio flows again
    finally:
        source.stop()


def test_no_input_device_is_a_clear_cli_error(tmp_path):
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PULSE_SERVER": f"unix:{tmp_path}/nothing-here",
        "QT_QPA_PLATFORM": "offscreen",
    }
    done = subprocess.run(
        [sys.executable, "-m", "visualizer", "live", "--duration", "1"],
        env=env, capture_output=True, text=True, timeout=60, cwd=root,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("visualize: error: no input device")
    assert "Traceback" not in done.stderr


def test_devices_command_lists_the_sound_server(pulse_sink):
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "visualizer", "devices"],
        env={**os.environ, **pulse_sink["env"]}, capture_output=True, text=True, timeout=60, cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    inputs, outputs = done.stdout.split("outputs:")
    assert "pulse" in inputs and "pulse" in outputs


def test_the_callback_counts_overflows_and_stamps_blocks_on_the_audio_clock():
    from types import SimpleNamespace

    from audio.capture import MicrophoneSource

    source = MicrophoneSource(sample_rate=RATE, block_size=256)
    block = np.ones((256, 1), np.float32)
    source._callback(block, 256, None, SimpleNamespace(input_overflow=False))
    source._callback(block, 256, None, SimpleNamespace(input_overflow=True))
    block[:] = 0  # PortAudio reuses its buffer after the callback returns
    blocks = source.read()
    assert [b.time for b in blocks] == [0.0, pytest.approx(256 / RATE)]
    assert source.stats.overflows == 1 and source.stats.blocks == 2
    assert all(b.samples.min() == 1.0 for b in blocks)  # the ring holds copies


def test_a_device_at_another_rate_is_resampled_to_the_analysis_rate():
    from types import SimpleNamespace

    from audio.capture import MicrophoneSource

    source = MicrophoneSource(sample_rate=RATE, block_size=256)
    source.device_rate = 48000.0  # what _open() picks when the device refuses 22.05 kHz
    source._resampler = _LinearResampler(48000, RATE)
    for _ in range(10):
        source._callback(
            np.zeros((4800, 1), np.float32), 4800, None, SimpleNamespace(input_overflow=False)
        )
    samples = sum(len(b.samples) for b in source.read())
    assert abs(samples - RATE) <= 2  # one second of audio, at the analysis rate
    assert source.clock() == pytest.approx(1.0, abs=0.02)


def test_non_finite_microphone_samples_never_reach_the_analyzer(caplog):
    from types import SimpleNamespace

    from audio.capture import MicrophoneSource

    source = MicrophoneSource(sample_rate=RATE, block_size=256)
    ok = SimpleNamespace(input_overflow=False)
    clean = (0.5 * np.sin(np.arange(256) / 5)).astype(np.float32)[:, None]
    broken = clean.copy()
    broken[[3, 50, 100]] = [[np.nan], [np.inf], [-np.inf]]
    broken[200] = 7.0  # beyond full scale
    for block in (clean, broken, clean, broken):
        source._callback(block, 256, None, ok)
    with caplog.at_level("WARNING", logger="audio.capture"):
        blocks = source.read()
        source._callback(broken, 256, None, ok)
        blocks += source.read()
    assert len(blocks) == 5
    samples = np.concatenate([b.samples for b in blocks])
    assert np.isfinite(samples).all() and np.abs(samples).max() <= 1.0
    assert blocks[1].samples[3] == 0.0 and blocks[1].samples[200] == 1.0
    np.testing.assert_array_equal(blocks[0].samples, clean[:, 0])  # clean blocks untouched
    assert source.stats.repaired_blocks == 3
    assert sum("NaN/inf" in r.getMessage() for r in caplog.records) == 1  # one notice
    assert np.isnan(broken[3, 0])  # the device's buffer itself is left alone


def test_blocks_the_ring_dropped_reach_the_analyzer_as_silence():
    """After an overload the analyzer's clock (samples pushed) must be the capture's again."""
    from audio.blocks import MAX_GAP_FILL, AudioBlock, GapFiller
    from audio.streaming import StreamingAnalyzer

    rate, size = 22050, 2205  # 0.1 s blocks
    tone = (0.3 * np.sin(np.arange(size) * 0.2)).astype(np.float32)
    captured = [AudioBlock(i * 0.1, tone) for i in range(40)]
    survived = captured[:10] + captured[30:]  # 2 s of blocks dropped in the middle
    gaps, analyzer = GapFiller(rate), StreamingAnalyzer(rate)
    for block in survived:
        for piece in gaps(block):
            analyzer.push(piece.samples)
    assert analyzer.pushed_seconds == pytest.approx(4.0, abs=1e-3)  # 40 blocks of time
    assert gaps.filled_seconds == pytest.approx(2.0, abs=1e-3)
    # A source that starts over (a looped file) or a jump past MAX_GAP_FILL fills nothing.
    assert gaps(AudioBlock(0.0, tone)) == [AudioBlock(0.0, tone)]
    far = AudioBlock(MAX_GAP_FILL + 5.0, tone)
    assert gaps(far) == [far] and gaps.filled_seconds == pytest.approx(2.0, abs=1e-3)
