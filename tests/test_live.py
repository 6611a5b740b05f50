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
from visualizer.live import LiveApp, LiveComponents, LiveOptions, make_analyzer  # noqa: E402

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


def make_app(qtbot, generator=None, fallback=None, window=True, **options) -> LiveApp:
    source = PlaybackSource(AudioClip(clicks(), 22050), play=False, loop=True)
    parts = LiveComponents(
        source=source,
        analyzer=make_analyzer(22050),
        make_scheduler=FakeScheduler,
        generator=generator or EmbeddedGenerator(160, 90, 0),
        fallback=fallback,
        styles=("default", "noir", "neon"),
    )
    app = LiveApp(LiveOptions(loop=True, window=window, **options), parts)
    if window:
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
    app.act("blackout")
    app.set_param("fade", 1.0)  # the continuous fade reaches black too
    assert not app._visible_picture().any()


def test_style_hotkeys_switch_the_scheduler(live, qtbot):
    app = live()
    app.act("style/next")
    qtbot.waitUntil(lambda: app.features.style == "noir", timeout=5000)
    qtbot.waitUntil(
        lambda: app.features.cue is not None and app.features.cue.style == "noir", timeout=5000
    )
    app.act("preset/3")
    qtbot.waitUntil(lambda: app.features.style == "neon", timeout=5000)
    app.act("style/previous")
    qtbot.waitUntil(lambda: app.features.style == "noir", timeout=5000)
    app.act("preset/9")
    assert "no style preset 9" in app.window.notice


class RecordingGenerator(EmbeddedGenerator):
    """Notes what each request asked for (as the engine sees it, after the controls)."""

    seen: list

    def render(self, request):
        previous = request.previous_cue.style if request.previous_cue else None
        self.seen.append((request.cue.style, previous, request.blend, request.cue.palette[0]))
        return super().render(request)


def test_crossfade_and_palette_reach_the_engine(live, qtbot):
    generator = RecordingGenerator(160, 90, 0)
    generator.seen = []
    app = live(generator=generator)
    qtbot.waitUntil(lambda: len(generator.seen) >= 3, timeout=10000)
    plain = generator.seen[-1][3]
    app.set_param("crossfade", 0.6)
    app.set_param("palette", 0.5)
    qtbot.waitUntil(lambda: generator.seen[-1][:3] == ("noir", "default", 0.6), timeout=5000)
    assert generator.seen[-1][3] != plain  # the palette turned half the wheel
    app.set_param("crossfade", 0.0)
    qtbot.waitUntil(lambda: generator.seen[-1][0] == "default", timeout=5000)


def test_taps_lock_the_tempo_and_the_hud_names_its_source(live, qtbot):
    app = live(hud=True)
    for _ in range(4):
        app.act("tap")
        qtbot.wait(400)  # 150 BPM
    assert app.features.tapped_bpm is None or abs(app.features.tapped_bpm - 150) < 20
    qtbot.waitUntil(lambda: app.features.music.tempo_source == "tap", timeout=5000)
    app.update_hud()
    assert any("(tap)" in line for line in app.window.hud_lines)


def test_hud_shows_what_a_performer_needs_and_no_false_faults(live, qtbot):
    app = live(hud=True)
    qtbot.waitUntil(lambda: app.worker.stats.rendered >= 20, timeout=10000)
    app.update_hud()
    text = "\n".join(app.window.hud_lines)
    for needed in ("embedded", "fps", "latency", "BPM", "bar", "section", "mood", "style"):
        assert needed in text, text
    assert "dropped" not in text and "prompt" not in text  # the embedded engine has no prompt
    assert app.window.notice == ""  # nothing is wrong, so no fault line


def test_a_failing_generator_keeps_the_window_running_on_the_fallback(live, qtbot):
    app = live(generator=ExplodingGenerator(160, 90, 0), fallback=EmbeddedGenerator(160, 90, 1))
    qtbot.waitUntil(lambda: app.window.frames_shown >= 5, timeout=10000)
    assert app.worker.stats.engine == "embedded"
    assert "out of memory" in app.worker.stats.last_error
    app.update_hud()
    assert any("embedded" in line for line in app.window.hud_lines)


def test_osc_in_over_loopback_changes_style_and_parameters(live, qtbot):
    from pythonosc.udp_client import SimpleUDPClient

    from tests.test_osc import free_port

    app = live(osc_port=free_port())
    client = SimpleUDPClient("127.0.0.1", app.surfaces.osc_in.port)
    client.send_message("/visualize/style/next", [])
    client.send_message("/visualize/param/palette", 0.5)
    client.send_message("/visualize/param/palette", 7.0)  # out of range: ignored
    qtbot.waitUntil(lambda: app.features.style == "noir", timeout=5000)
    qtbot.waitUntil(lambda: app.controls.palette == 0.5, timeout=5000)
    client.send_message("/visualize/quit", [])
    qtbot.waitUntil(lambda: app.quit_reason == "quit (osc)", timeout=5000)


def test_headless_app_feeds_outputs_and_survives_a_failing_one(live, qtbot, monkeypatch):
    import render.outputs

    class Sink:
        def __init__(self, name, fail_after):
            self.name, self.frames, self.fail_after = name, [], fail_after

        def send(self, rgb):
            if len(self.frames) >= self.fail_after:
                raise OSError("receiver gone")
            self.frames.append(rgb)

        def close(self):
            pass

    opened: dict[str, list[Sink]] = {"vcam": [], "ndi": []}

    def open_sink(name, width, height, fps):
        first_ndi = name == "ndi" and not opened["ndi"]
        opened[name].append(Sink(name, 3 if first_ndi else 10**6))
        return opened[name][-1]

    monkeypatch.setattr(render.outputs, "open_sink", open_sink)
    app = live(window=False, outputs=("vcam", "ndi"))
    assert type(app.window).__name__ == "HeadlessWindow"
    qtbot.waitUntil(lambda: len(opened["vcam"][0].frames) >= 10, timeout=10000)
    qtbot.waitUntil(lambda: len(opened["ndi"]) == 2, timeout=10000)  # lost, then reopened
    qtbot.waitUntil(lambda: len(opened["ndi"][1].frames) >= 2, timeout=10000)
    assert opened["vcam"][0].frames[0].shape == (90, 160, 3)
    assert len(opened["ndi"][0].frames) == 3 and len(opened["vcam"]) == 1
    assert dict(app.surfaces.states())["ndi"] == "on"


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


@pytest.mark.slow
def test_headless_cli_takes_osc_style_and_quit_and_closes_its_recording(tmp_path):
    from pythonosc.udp_client import SimpleUDPClient

    from audio.synth import make_beat_track, write_wav
    from tests.test_osc import free_port

    track = make_beat_track(bpm=120.0, duration=8.0)
    song = write_wav(tmp_path / "beat.wav", track.samples, track.sample_rate)
    out, stats, port = tmp_path / "show.mp4", tmp_path / "stats.json", free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    env.pop("QT_QPA_PLATFORM", None)  # headless must not need a display or offscreen Qt
    process = subprocess.Popen(
        [sys.executable, "-m", "visualizer", "live", "--input", str(song), "--loop", "--no-playback",
         "--no-window", "--size", "320x180", "--record", str(out), "--stats", str(stats),
         "--osc", str(port), "--style", "default"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    client = SimpleUDPClient("127.0.0.1", port)
    deadline = time.monotonic() + 60
    while (not out.exists() or out.stat().st_size < 50_000) and time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.2)
    client.send_message("/visualize/style/next", [])
    time.sleep(1.0)
    client.send_message("/visualize/quit", [])
    assert process.wait(20) == 0
    log = process.stdout.read()
    result = json.loads(stats.read_text())
    assert result["quit_reason"] == "quit (osc)", log
    assert result["style"] != "default" and "style: " in log
    video, audio = _decode_all(out)
    assert video >= 25 and audio >= 22050


def test_no_display_is_one_line_and_a_non_zero_exit(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="")
    done = subprocess.run(
        [sys.executable, "-m", "visualizer", "live", "--input", str(tmp_path / "none.wav")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0] and "--no-window" in lines[0], done.stderr


def test_display_check_rules():
    from visualizer.live.headless import display_problem

    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") == ""
    assert "no display" in display_problem({}, "linux")
    assert "no X server" in display_problem({"DISPLAY": ":987"}, "linux")
    assert display_problem({"DISPLAY": "remote:10"}, "linux") == ""  # ssh forwarding
    assert display_problem({}, "darwin") == ""


def test_after_an_overload_the_latency_comes_back(live, qtbot):
    """The analysis stalls long enough for the ring to drop blocks (over 6 s); once it runs
    again, frames must carry the time being heard now, not seconds behind it."""
    import time as clock

    app = live(window=False)
    qtbot.waitUntil(lambda: app.window.frames_shown >= 10, timeout=10000)
    push, stalled = app.features.analyzer.push, []

    def stall_once(samples):
        if not stalled:
            stalled.append(True)
            clock.sleep(7.5)
        return push(samples)

    app.features.analyzer.push = stall_once
    qtbot.waitUntil(lambda: app.parts.source.ring.dropped > 0, timeout=15000)
    qtbot.waitUntil(lambda: app.features.gaps.filled_seconds > 1.0, timeout=15000)
    app.latencies.clear()
    qtbot.waitUntil(lambda: len(app.latencies) >= 20, timeout=10000)
    assert float(np.median(app.latencies)) < 0.5, list(app.latencies)[-5:]
