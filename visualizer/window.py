"""The live window: shows frames scaled to fit, a HUD, a help overlay, and hotkeys.

A plain QWidget painted with QPainter - no OpenGL needed, so it runs the same under a
desktop, Xvfb and Qt's offscreen platform. It only ever runs on the Qt main thread and
knows nothing of audio or generators: the app hands it numpy frames and HUD lines, and
it reports key presses as action names through the `action` signal.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRect, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QGuiApplication, QImage, QKeyEvent, QPainter
from PyQt6.QtWidgets import QWidget

from visualizer.commands.live import HOTKEYS

# Qt key codes for the key names used in HOTKEYS.
_SPECIAL_KEYS = {
    "Space": Qt.Key.Key_Space,
    "Esc": Qt.Key.Key_Escape,
    "Left": Qt.Key.Key_Left,
    "Right": Qt.Key.Key_Right,
    "F1": Qt.Key.Key_F1,
    "F11": Qt.Key.Key_F11,
    "?": Qt.Key.Key_Question,
}


def _key_code(name: str) -> Qt.Key:
    if name in _SPECIAL_KEYS:
        return _SPECIAL_KEYS[name]
    return Qt.Key(ord(name.upper()))


KEY_ACTIONS: dict[Qt.Key, str] = {
    _key_code(key): action
    for action, keys, _ in HOTKEYS
    if action != "preset"  # digits 1-9 are handled in keyPressEvent
    for key in keys.split("/")
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

    def toggle_blackout(self) -> None:
        self.blackout = not self.blackout
        self.update()

    def set_fullscreen(self, on: bool, screen: int | None = None) -> None:
        """Fullscreen on screen number `screen` (0-based; None keeps the current one)."""
        if on:
            screens = QGuiApplication.screens()
            if screen is not None and 0 <= screen < len(screens):
                self.setScreen(screens[screen])
                self.move(screens[screen].geometry().topLeft())
            self.showFullScreen()
            self.setCursor(Qt.CursorShape.BlankCursor)
        else:
            self.showNormal()
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
            name = f"preset {event.text()}"
        if name is None:
            super().keyPressEvent(event)
            return
        if name == "leave fullscreen" and not self.isFullScreen():
            return
        self.action.emit(name)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        if self._image is not None and not self.blackout:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(
                fit_rect(self._image.width(), self._image.height(), self.rect()), self._image
            )
        if self.hud_visible and self.hud_lines:
            _draw_panel(
                painter,
                self.hud_lines,
                QRect(12, 12, self.width() - 24, self.height() - 24),
                top=True,
            )
        if self.notice:
            _draw_panel(
                painter,
                [self.notice],
                QRect(12, 12, self.width() - 24, self.height() - 24),
                top=False,
            )
        if self.help_visible:
            lines = ["Hotkeys"] + [f"{keys:<10} {text}" for _, keys, text in HOTKEYS]
            _draw_panel(painter, lines, self.rect().adjusted(40, 40, -40, -40), top=True)
        painter.end()


def fit_rect(width: int, height: int, area: QRect) -> QRect:
    """The largest rectangle of the image's aspect that fits `area`, centred."""
    scale = min(area.width() / width, area.height() / height)
    fitted_w, fitted_h = max(1, round(width * scale)), max(1, round(height * scale))
    left = area.x() + (area.width() - fitted_w) // 2
    top = area.y() + (area.height() - fitted_h) // 2
    return QRect(left, top, fitted_w, fitted_h)


def _draw_panel(painter: QPainter, lines: list[str], area: QRect, top: bool) -> None:
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPointSize(11)
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
