"""The live app end to end under Qt offscreen: real source, analyzer, scheduler, engine."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from audio.capture import PlaybackSource  # noqa: E402
from audio.source import AudioClip  # noqa: E402
from render.embedded import EmbeddedGenerator  # noqa: E402
from visualizer.live import LiveApp, LiveComponents, LiveOptions, TapTempo, make_analyzer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT.parent / "shared" / "media" / "audio"
ARTIFACTS = ROOT / "test-artifacts"


def clicks(seconds: float = 30.0, rate: int = 22050) -> np.ndarray:
    """A click every 0.5 s on near-silence: easy, exact onsets."""
    samples = np.zeros(int(seconds * rate), np.float32)
    for start in range(0, len(samples), rate // 2):
        samples[start : start + 400] = 0.8 * np.sin(np.arange(400) * 0.3)
    return samples


class FakeScheduler:
    def __init__(self, style: str) -> None:
        self.style = style

    def update(self, frame, new_words=()):
        from render.frames import Cue

        return Cue(0.0, prompt=f"{self.style} light", style=self.style)


class ExplodingGenerator(EmbeddedGenerator):
    name = "exploding"

    def render(self, request):
        raise RuntimeError("CUDA out of memory")


def make_app(qtbot, generator=None, fallback=None, **options) -> LiveApp:
    source = PlaybackSource(AudioClip(clicks(), 22050), play=False, loop=True)
    parts = LiveComponents(
        source=source,
        analyzer=make_analyzer(22050),
        make_scheduler=FakeScheduler,
        generator=generator or EmbeddedGenerator(160, 90, 0),
        fallback=fallback,
        styles=("default", "noir", "neon"),
    )
    app = LiveApp(LiveOptions(loop=True, **options), parts)
    qtbot.addWidget(app.window)
    app.start()
    return app


@pytest.fixture
def live(qtbot):
    apps = []

    def start(**kwargs):
        apps.append(make_app(qtbot, **kwargs))
        return apps[-1]

    yield start
    for app in apps:
        app.stop()


def test_frames_arrive_are_shown_and_know_their_latency(live, qtbot):
    app = live()
    qtbot.waitUntil(lambda: app.window.frames_shown >= 10, timeout=10000)
    assert app.shown.error is None and app.shown.image.shape == (90, 160, 3)
    stats = app.stats()
    assert stats["latency_ms_p50"] is not None and 0 <= stats["latency_ms_p50"] < 1000
    assert stats["rendered"] >= 10 and not stats["playback"]
    assert "playback is off" in stats["audio_status"]


def test_freeze_holds_the_picture_and_blackout_records_black(live, qtbot):
    app = live()
    qtbot.waitUntil(lambda: app.window.frames_shown >= 3, timeout=10000)
    app.act("freeze")
    shown = app.window.frames_shown
    qtbot.wait(300)
    assert app.window.frames_shown == shown and app.worker.stats.rendered > 0
    app.act("freeze")
    qtbot.waitUntil(lambda: app.window.frames_shown > shown, timeout=5000)
    app.act("blackout")
    assert not app._visible_picture().any()


def test_style_hotkeys_switch_the_scheduler(live, qtbot):
    app = live()
    app.act("next style")
    qtbot.waitUntil(lambda: app.features.style == "noir", timeout=5000)
    qtbot.waitUntil(
        lambda: app.features.cue is not None and app.features.cue.style == "noir", timeout=5000
    )
    app.act("preset 3")
    qtbot.waitUntil(lambda: app.features.style == "neon", timeout=5000)
    app.act("previous style")
    qtbot.waitUntil(lambda: app.features.style == "noir", timeout=5000)
    app.act("preset 9")
    assert "no style preset 9" in app.window.notice


def test_tap_tempo_sets_the_drive_tempo(live, qtbot):
    tap = TapTempo()
    for beat in range(4):
        tap.tap(10 + beat * 0.5)
    assert tap.bpm == pytest.approx(120)
    assert tap.tap(20.0) is None  # a long pause starts a new count

    app = live()
    app.features.commands.put(("tempo", (100.0, 0.0)))
    qtbot.waitUntil(lambda: app.features.tapped_bpm == 100.0, timeout=5000)


def test_a_failing_generator_keeps_the_window_running_on_the_fallback(live, qtbot):
    app = live(generator=ExplodingGenerator(160, 90, 0), fallback=EmbeddedGenerator(160, 90, 1))
    qtbot.waitUntil(lambda: app.window.frames_shown >= 5, timeout=10000)
    assert app.worker.stats.engine == "embedded"
    assert "out of memory" in app.worker.stats.last_error
    app.update_hud()
    assert any("embedded" in line for line in app.window.hud_lines)


def test_sigterm_quits_through_the_qt_loop(live, qtbot):
    app = live()
    app.on_signal(signal.SIGTERM)
    app.tick()
    assert app.quit_reason == "SIGTERM received"


def _probe(path: Path) -> dict:
    done = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,duration",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return {
        s["codec_type"]: float(s.get("duration", 0)) for s in json.loads(done.stdout)["streams"]
    }


def _decode_all(path: Path) -> tuple[int, int]:
    """Decode every packet with a real decoder; returns (video frames, audio samples)."""
    import av

    video = audio = 0
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                video += 1
            else:
                audio += frame.samples
    return video, audio


@pytest.mark.slow
def test_record_hotkey_writes_a_playable_mp4_with_sound(live, qtbot, tmp_path):
    app = live(record=tmp_path / "show.mp4")
    app.act("record")  # stop the recording started by --record
    assert app.recorder is None
    app.act("record")  # and start a second one with the hotkey
    qtbot.waitUntil(lambda: app.recorder.seconds >= 2.0, timeout=15000)
    app.act("record")
    _, second = app.recordings
    streams = _probe(second)
    assert streams["video"] >= 1.5 and streams["audio"] >= 1.5
    video, audio = _decode_all(second)
    assert video >= 40 and audio >= 1.5 * 22050


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("ffprobe"), reason="ffprobe not installed")
def test_kill_9_during_recording_leaves_a_playable_file(tmp_path):
    out = tmp_path / "killed.mp4"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    env.pop("PULSE_SERVER", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "visualizer", "live", "--input", str(AUDIO / "sorohanro_-_solo-trumpet-06.ogg"),
         "--loop", "--no-playback", "--size", "320x180", "--record", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    if not (AUDIO / "sorohanro_-_solo-trumpet-06.ogg").exists():
        process.kill()
        pytest.skip("shared audio not present")
    deadline = time.monotonic() + 60
    while (not out.exists() or out.stat().st_size < 150_000) and time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode()
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    streams = _probe(out)
    assert streams.get("video", 0) >= 1.0 and "audio" in streams
    video, audio = _decode_all(out)
    assert video >= 25 and audio >= 22050


@pytest.mark.slow
def test_sigint_closes_the_recording_cleanly(tmp_path):
    song = AUDIO / "sorohanro_-_solo-trumpet-06.ogg"
    if not song.exists():
        pytest.skip("shared audio not present")
    out, stats = tmp_path / "stopped.mp4", tmp_path / "stats.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "visualizer", "live", "--input", str(song), "--loop", "--no-playback",
         "--size", "320x180", "--record", str(out), "--stats", str(stats)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while (not out.exists() or out.stat().st_size < 100_000) and time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0
    assert json.loads(stats.read_text())["quit_reason"] == "SIGINT received"
    video, audio = _decode_all(out)
    assert video >= 25 and audio >= 22050
