"""The live window: shows frames scaled to fit, a HUD, a help overlay, and hotkeys.

A plain QWidget painted with QPainter - no OpenGL needed, so it runs the same under a
desktop, Xvfb and Qt's offscreen platform. It only ever runs on the Qt main thread and
knows nothing of audio or generators: the app hands it numpy frames and HUD lines, and
it reports key presses as action names (visualizer.controls) through the `action` signal.

Layout: the HUD sits top-left, the `?` help below it, notices bottom-left, so none
hides another. In blackout the window is pure black: no picture, HUD or notice (the HUD keeps
its own on/off state for when the blackout ends); only an asked-for help shows.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRect, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QGuiApplication, QImage, QKeyEvent, QPainter
from PyQt6.QtWidgets import QWidget

from visualizer.controls import ACTIONS, help_lines

# Qt key codes for the key names used in the actions table.
_SPECIAL_KEYS = {
    "Space": Qt.Key.Key_Space,
    "Esc": Qt.Key.Key_Escape,
    "Left": Qt.Key.Key_Left,
    "Right": Qt.Key.Key_Right,
    "F1": Qt.Key.Key_F1,
    "F11": Qt.Key.Key_F11,
    "?": Qt.Key.Key_Question,
    "Up": Qt.Key.Key_Up,
    "Down": Qt.Key.Key_Down,
}


def _key_code(name: str) -> Qt.Key:
    if name in _SPECIAL_KEYS:
        return _SPECIAL_KEYS[name]
    return Qt.Key(ord(name.upper()))


KEY_ACTIONS: dict[Qt.Key, str] = {
    _key_code(key): action.name
    for action in ACTIONS
    if action.name != "preset" and action.keys  # digits 1-9 are handled in keyPressEvent
    for key in action.keys.split("/")
}


class LiveWindow(QWidget):
    """Shows the latest frame, letterboxed; emits `action(name)` for every hotkey."""

    action = pyqtSignal(str)

    def __init__(self, title: str = "visualize live") -> None:
        super().__init__()
        self.setWindowTitle(title)
        self.setMinimumSize(320, 180)
        self.resize(960, 540)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._image: QImage | None = None
        self._pixels: np.ndarray | None = None  # keeps the QImage's buffer alive
        self.frames_shown = 0
        self.hud_visible = False
        self.help_visible = False
        self.blackout = False
        self.hud_lines: list[str] = []
        self.notice = ""  # a fault or state the performer must see, shown even without HUD
        self._normal_geometry: QRect | None = None

    # -- what the app calls ------------------------------------------------------------

    def show_frame(self, rgb: np.ndarray) -> None:
        """Display an HxWx3 uint8 RGB frame (copied into a QImage; no Qt on other threads)."""
        pixels = np.ascontiguousarray(rgb, dtype=np.uint8)
        height, width = pixels.shape[:2]
        self._pixels = pixels
        self._image = QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888)
        self.frames_shown += 1
        self.update()

    def set_hud(self, lines: list[str]) -> None:
        self.hud_lines = lines
        if self.hud_visible:
            self.update()

    def set_notice(self, text: str) -> None:
        if text != self.notice:
            self.notice = text
            self.update()

    def toggle_hud(self) -> None:
        self.hud_visible = not self.hud_visible
        self.update()

    def toggle_help(self) -> None:
        self.help_visible = not self.help_visible
        self.update()

    def set_blackout(self, on: bool) -> None:
        self.blackout = on
        self.update()

    def toggle_blackout(self) -> None:
        self.set_blackout(not self.blackout)

    def set_fullscreen(self, on: bool, screen: int | None = None) -> None:
        """Fullscreen on screen number `screen` (0-based; None keeps the current one).

        The window is sized to the screen's geometry by hand as well: without a window
        manager (a projector box running bare X) showFullScreen() alone changes nothing.
        """
        if on:
            if not self.isFullScreen():
                self._normal_geometry = self.geometry()
            screens = QGuiApplication.screens()
            target = self.screen() or QGuiApplication.primaryScreen()
            if screen is not None and 0 <= screen < len(screens):
                target = screens[screen]
                self.setScreen(target)
            self.setGeometry(target.geometry())
            self.showFullScreen()
            self.setGeometry(target.geometry())
            self.setCursor(Qt.CursorShape.BlankCursor)
        else:
            self.showNormal()
            if self._normal_geometry is not None:
                self.setGeometry(self._normal_geometry)
            self.unsetCursor()

    def toggle_fullscreen(self) -> None:
        self.set_fullscreen(not self.isFullScreen())

    def refresh_rate(self) -> float:
        screen = self.screen() or QGuiApplication.primaryScreen()
        rate = screen.refreshRate() if screen is not None else 0.0
        return rate if 20 <= rate <= 500 else 60.0

    # -- Qt events ---------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.isAutoRepeat():
            return
        name = KEY_ACTIONS.get(Qt.Key(event.key()))
        if name is None and event.text() and event.text() in "123456789":
            name = f"preset/{event.text()}"
        if name is None:
            super().keyPressEvent(event)
            return
        if name == "fullscreen/leave" and not self.isFullScreen():
            return
        self.action.emit(name)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        area = self.rect().adjusted(12, 12, -12, -12)
        below_hud = area
        if not self.blackout:
            if self._image is not None:
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                painter.drawImage(
                    fit_rect(self._image.width(), self._image.height(), self.rect()), self._image
                )
            if self.hud_visible and self.hud_lines:
                hud = _draw_panel(painter, self.hud_lines, area, top=True)
                below_hud = area.adjusted(0, hud.height() + 8, 0, 0)
            if self.notice:
                _draw_panel(painter, [self.notice], area, top=False)
        if self.help_visible:  # under the HUD, never over it
            _draw_panel(painter, ["Hotkeys", *help_lines()], below_hud, top=True)
        painter.end()


def fit_rect(width: int, height: int, area: QRect) -> QRect:
    """The largest rectangle of the image's aspect that fits `area`, centred."""
    scale = min(area.width() / width, area.height() / height)
    fitted_w, fitted_h = max(1, round(width * scale)), max(1, round(height * scale))
    left = area.x() + (area.width() - fitted_w) // 2
    top = area.y() + (area.height() - fitted_h) // 2
    return QRect(left, top, fitted_w, fitted_h)


def _draw_panel(painter: QPainter, lines: list[str], area: QRect, top: bool) -> QRect:
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPointSize(11 if area.width() >= 900 else 9)
    painter.setFont(font)
    metrics = painter.fontMetrics()
    line_height = metrics.height()
    width = max(metrics.horizontalAdvance(line) for line in lines) + 16
    height = line_height * len(lines) + 12
    y = area.y() if top else area.bottom() - height
    panel = QRect(area.x(), y, min(width, area.width()), height)
    painter.fillRect(panel, QColor(0, 0, 0, 170))
    painter.setPen(QColor(235, 235, 235))
    for row, line in enumerate(lines):
        painter.drawText(panel.x() + 8, panel.y() + 6 + metrics.ascent() + row * line_height, line)
    return panel
