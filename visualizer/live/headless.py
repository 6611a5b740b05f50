"""Running without a window: a stand-in for it, and the check that a display exists.

`--no-window` swaps the Qt window for `HeadlessWindow`, which has the same small
interface the app uses but draws nothing, so the same app records, sends outputs and
takes OSC/MIDI on a render box under QCoreApplication. `display_problem()` runs before
any QApplication is made: Qt aborts the process (exit 134) when it cannot reach a
display, so we look first and say in one line what to do instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal

HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay")
ADVICE = "run headless with --no-window plus --record OUT.mp4 and/or --output NAME"


def display_problem(environ=os.environ, platform: str = sys.platform) -> str:
    """'' when a window can open; otherwise one line saying there is no display and why."""
    qpa = environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    if qpa in HEADLESS_PLATFORMS or platform in ("win32", "darwin"):
        return ""
    if environ.get("WAYLAND_DISPLAY") and qpa in ("", "wayland"):
        return ""
    display = environ.get("DISPLAY", "")
    if not display:
        return f"no display (DISPLAY and WAYLAND_DISPLAY are unset): {ADVICE}"
    if display.startswith(":"):  # a local X server has a socket; ssh forwarding is host:N
        number = display[1:].split(".")[0]
        if number.isdigit() and not Path(f"/tmp/.X11-unix/X{number}").exists():
            return f"no display: no X server on DISPLAY={display}: {ADVICE}"
    return ""


class HeadlessWindow(QObject):
    """What the app needs of a window, drawing nothing (no display, no QWidget)."""

    action = pyqtSignal(str)

    def __init__(self) -> None:
        super().__init__()
        self.frames_shown = 0
        self.hud_visible = False
        self.help_visible = False
        self.blackout = False
        self.hud_lines: list[str] = []
        self.notice = ""

    def show_frame(self, rgb) -> None:
        self.frames_shown += 1

    def set_hud(self, lines: list[str]) -> None:
        self.hud_lines = lines

    def set_notice(self, text: str) -> None:
        self.notice = text

    def toggle_hud(self) -> None:
        self.hud_visible = not self.hud_visible

    def toggle_help(self) -> None:
        self.help_visible = not self.help_visible

    def set_blackout(self, on: bool) -> None:
        self.blackout = on

    def set_fullscreen(self, on: bool, screen: int | None = None) -> None:
        pass

    def isFullScreen(self) -> bool:  # noqa: N802 - the QWidget name
        return False

    def show(self) -> None:
        pass

    def close(self) -> None:
        pass

    def refresh_rate(self) -> float:
        return 60.0
