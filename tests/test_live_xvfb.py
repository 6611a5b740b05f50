"""The real live window on a real X server (Xvfb) with no window manager, as a projector
box runs it: --fullscreen must cover the screen, the HUD and help must both be readable,
and blackout must be black. Screenshots are kept as test artifacts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT.parent / "shared" / "media" / "audio"
ARTIFACTS = ROOT / "test-artifacts"

SHOW_AND_SHOOT = """
import sys
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication
from audio.capture import PlaybackSource
from audio.source import load_audio
from render.embedded import EmbeddedGenerator
from visualizer.live import LiveApp, LiveComponents, LiveOptions, make_analyzer
from visualizer.scheduler import Scheduler
from visualizer.styles import load_style

qt = QApplication([])
clip = load_audio(sys.argv[1])
parts = LiveComponents(PlaybackSource(clip, loop=True, play=False), make_analyzer(22050),
                       lambda name: Scheduler(load_style(name)), EmbeddedGenerator(640, 360, 0))
app = LiveApp(LiveOptions(loop=True, hud=True, fullscreen=True, duration=4.0), parts)
app.start()
def root(path):  # what a monitor shows; paint first, the event loop may be running late
    app.window.repaint()
    qt.processEvents()
    qt.primaryScreen().grabWindow(0).save(path)

QTimer.singleShot(1800, lambda: app.act("help"))
QTimer.singleShot(2600, lambda: (root(sys.argv[2]), app.window.grab().save(sys.argv[3])))
QTimer.singleShot(2800, lambda: (app.act("help"), app.act("blackout")))
QTimer.singleShot(3300, lambda: root(sys.argv[4]))
qt.exec()
g = app.window.geometry()
print("frames", app.window.frames_shown, "platform", qt.platformName(),
      "geometry", g.x(), g.y(), g.width(), g.height())
app.stop()
"""


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("Xvfb"), reason="Xvfb not installed")
def test_fullscreen_hud_help_and_blackout_on_a_bare_x_server():
    song = AUDIO / "Kevin_MacLeod_-_Vibe_Ace.ogg"
    if not song.exists():
        pytest.skip("shared audio not present")
    ARTIFACTS.mkdir(exist_ok=True)
    shots = [ARTIFACTS / f"live-window-xvfb{suffix}.png" for suffix in ("", "-widget", "-blackout")]
    for shot in shots:
        shot.unlink(missing_ok=True)
    display = f":{90 + os.getpid() % 100}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(1.0)
        assert server.poll() is None, "Xvfb exited"
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", SHOW_AND_SHOOT, str(song), *map(str, shots)],
                              env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
    finally:
        server.terminate()
        server.wait(5)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "platform xcb" in done.stdout
    frames = int(done.stdout.split("frames")[1].split()[0])
    assert frames >= 10
    assert done.stdout.split("geometry")[1].split() == ["0", "0", "1280", "800"]  # no WM needed

    import numpy as np
    from PIL import Image

    screen = np.asarray(Image.open(shots[0]).convert("RGB"))
    assert screen.shape[:2] == (800, 1280)
    assert screen.std() > 5  # a picture, not a blank screen
    assert screen[:, -40:].std() > 1  # the picture reaches the right edge: fullscreen
    black = np.asarray(Image.open(shots[2]).convert("RGB"))
    assert black.max() == 0  # blackout: no picture, no HUD, no notice
