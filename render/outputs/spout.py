"""Spout on Windows through SpoutGL (BSD-3-Clause, extra `spout`). Spout shares OpenGL
textures, so the sink makes a hidden GL context of its own (via the `glfw` package) on
the output thread and sends each frame from system memory."""

from __future__ import annotations

import sys
import threading

import numpy as np

from render.outputs.errors import OutputError, missing

SENDER_NAME = "visualize"


class SpoutSink:
    name = "spout"

    def __init__(self, width: int, height: int, fps: float) -> None:
        if sys.platform != "win32":
            raise OutputError("--output spout works on Windows only (use ndi or vcam here)")
        try:
            import glfw
            import SpoutGL
            from OpenGL import GL
        except ImportError:
            raise missing("spout", "spout", "SpoutGL, glfw and PyOpenGL", "BSD-3-Clause") from None
        if not glfw.init():
            raise OutputError("--output spout: cannot start OpenGL (glfw.init failed)")
        glfw.window_hint(glfw.VISIBLE, glfw.FALSE)
        self._glfw, self._gl = glfw, GL
        self._window = glfw.create_window(16, 16, "visualize spout", None, None)
        if not self._window:
            raise OutputError("--output spout: no OpenGL context")
        glfw.make_context_current(self._window)
        self._sender = SpoutGL.SpoutSender()
        self._sender.setSenderName(SENDER_NAME)
        glfw.make_context_current(None)  # made current again on the output thread
        self._context_thread: int | None = None
        self._rgba = np.full((height, width, 4), 255, np.uint8)

    def send(self, rgb: np.ndarray) -> None:
        if self._context_thread != threading.get_ident():  # GL contexts belong to a thread
            self._glfw.make_context_current(self._window)
            self._context_thread = threading.get_ident()
        self._rgba[..., :3] = rgb
        height, width = rgb.shape[:2]
        if not self._sender.sendImage(self._rgba, width, height, self._gl.GL_RGBA, False, 0):
            raise OutputError("Spout refused the frame")

    def close(self) -> None:
        self._sender.releaseSender()
        self._glfw.destroy_window(self._window)
