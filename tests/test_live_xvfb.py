"""A screenshot of the real live window on a real X server (Xvfb), kept as a test artifact."""

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
from pathlib import Path
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
app = LiveApp(LiveOptions(loop=True, hud=True, duration=2.5), parts)
app.start()
# Grab the X root window - what a monitor would show - while the show is running.
QTimer.singleShot(2000, lambda: qt.primaryScreen().grabWindow(0).save(sys.argv[2]))
qt.exec()
print("frames", app.window.frames_shown, "platform", qt.platformName())
app.stop()
"""


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("Xvfb"), reason="Xvfb not installed")
def test_screenshot_of_the_real_window_under_xvfb():
    song = AUDIO / "Kevin_MacLeod_-_Vibe_Ace.ogg"
    if not song.exists():
        pytest.skip("shared audio not present")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "live-window-xvfb.png"
    shot.unlink(missing_ok=True)
    display = f":{90 + os.getpid() % 100}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(1.0)
        assert server.poll() is None, "Xvfb exited"
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", SHOW_AND_SHOOT, str(song), str(shot)],
                              env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
    finally:
        server.terminate()
        server.wait(5)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "platform xcb" in done.stdout
    frames = int(done.stdout.split("frames")[1].split()[0])
    assert frames >= 10

    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (720, 1280)
    assert pixels.std() > 5  # a picture, not a blank screen
