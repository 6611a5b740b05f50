"""The live window under Qt's offscreen platform: frames shown, hotkeys, fullscreen."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QRect, Qt  # noqa: E402
from PyQt6.QtGui import QGuiApplication, QImage  # noqa: E402

from visualizer.window import LiveWindow, fit_rect  # noqa: E402


@pytest.fixture
def window(qtbot):
    widget = LiveWindow()
    qtbot.addWidget(widget)
    widget.resize(400, 400)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_fit_rect_keeps_the_aspect_and_centres():
    assert fit_rect(640, 360, QRect(0, 0, 400, 400)) == QRect(0, 87, 400, 225)
    assert fit_rect(100, 200, QRect(0, 0, 400, 100)) == QRect(175, 0, 50, 100)


def test_a_frame_is_painted_letterboxed(window):
    frame = np.zeros((90, 160, 3), np.uint8)
    frame[..., 0] = 255  # pure red
    window.show_frame(frame)
    picture = window.grab().toImage()
    middle = picture.pixelColor(200, 200)
    top = picture.pixelColor(200, 5)
    assert (middle.red(), middle.green(), middle.blue()) == (255, 0, 0)
    assert (top.red(), top.green(), top.blue()) == (0, 0, 0)  # black bars above a 16:9 frame
    assert window.frames_shown == 1


def _pixels(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    raw = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
    return raw.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(
        image.height(), image.width(), 3
    )


def test_blackout_is_black_even_with_the_hud_and_a_notice_on(window):
    window.show_frame(np.full((90, 160, 3), 200, np.uint8))
    window.set_hud(["30 fps  latency 60 ms", "124 BPM (analysis)"])
    window.toggle_hud()
    window.set_notice("style: neon")
    assert _pixels(window).max() > 0
    window.toggle_blackout()
    assert _pixels(window).max() == 0  # no picture, no HUD, no notice
    assert window.hud_visible  # the HUD keeps its own state for after the blackout


@pytest.mark.parametrize(
    "key, action",
    [
        (Qt.Key.Key_Q, "quit"),
        (Qt.Key.Key_F, "fullscreen"),
        (Qt.Key.Key_Space, "freeze"),
        (Qt.Key.Key_B, "blackout"),
        (Qt.Key.Key_Right, "style/next"),
        (Qt.Key.Key_P, "style/previous"),
        (Qt.Key.Key_T, "tap"),
        (Qt.Key.Key_L, "learn"),
        (Qt.Key.Key_R, "record"),
        (Qt.Key.Key_H, "hud"),
        (Qt.Key.Key_F1, "help"),
        (Qt.Key.Key_3, "preset/3"),
    ],
)
def test_hotkeys_emit_their_action(window, qtbot, key, action):
    with qtbot.waitSignal(window.action, timeout=1000) as signal:
        qtbot.keyClick(window, key)
    assert signal.args == [action]


def test_unknown_keys_and_escape_outside_fullscreen_do_nothing(window, qtbot):
    seen = []
    window.action.connect(seen.append)
    qtbot.keyClick(window, Qt.Key.Key_Z)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert seen == []


def test_fullscreen_toggles_and_hides_the_cursor(window, qtbot):
    window.set_fullscreen(True, screen=0)
    qtbot.waitUntil(window.isFullScreen, timeout=2000)
    assert window.cursor().shape() == Qt.CursorShape.BlankCursor
    window.toggle_fullscreen()
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=2000)
    assert window.cursor().shape() != Qt.CursorShape.BlankCursor


def test_fullscreen_takes_the_whole_screen_geometry(window, qtbot):
    geometry = QGuiApplication.primaryScreen().geometry()
    window.set_fullscreen(True, screen=0)
    qtbot.waitUntil(lambda: window.geometry() == geometry, timeout=2000)
    window.set_fullscreen(False)
    qtbot.waitUntil(lambda: window.size().width() == 400, timeout=2000)


def test_help_is_drawn_below_the_hud_not_over_it(window):
    window.show_frame(np.zeros((90, 160, 3), np.uint8))
    window.resize(960, 540)
    window.set_hud(["HUD LINE ONE", "HUD LINE TWO"])
    window.toggle_hud()
    hud_only = _pixels(window)
    window.toggle_help()
    both = _pixels(window)
    hud_rows = np.flatnonzero(hud_only.max(axis=(1, 2)) > 100)
    assert hud_rows.size and (both[hud_rows] == hud_only[hud_rows]).all()  # HUD untouched
    assert (both[hud_rows.max() + 1 :] != hud_only[hud_rows.max() + 1 :]).any()  # help below


def test_hud_and_help_overlays_draw_over_the_frame(window):
    window.show_frame(np.zeros((90, 160, 3), np.uint8))
    plain = window.grab().toImage()
    window.set_hud(["30 fps  latency 60 ms", "prompt: neon rain"])
    window.toggle_hud()
    with_hud = window.grab().toImage()
    assert with_hud != plain
    window.toggle_hud()
    window.toggle_help()
    assert window.grab().toImage() != plain


def test_the_window_and_the_controls_never_import_the_cli():
    import subprocess
    import sys

    code = (
        "import sys, visualizer.window, visualizer.controls, visualizer.osc; "
        "print(sorted(m for m in sys.modules if m.startswith('visualizer.commands')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_keyed_action_has_a_key_and_the_help_lists_them(window):
    from visualizer.controls import ACTIONS
    from visualizer.window import KEY_ACTIONS

    keyed = {a.name for a in ACTIONS if a.keys and a.name != "preset"}
    assert keyed == set(KEY_ACTIONS.values())
