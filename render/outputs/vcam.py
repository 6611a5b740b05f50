"""A virtual camera through pyvirtualcam (GPL-2.0, extra `vcam`): v4l2loopback on Linux,
the OBS virtual camera on Windows and macOS."""

from __future__ import annotations

import numpy as np

from render.outputs.errors import OutputError, missing


class VirtualCamSink:
    name = "vcam"

    def __init__(self, width: int, height: int, fps: float) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise missing("vcam", "vcam", "pyvirtualcam", "GPL-2.0") from None
        try:
            self._camera = pyvirtualcam.Camera(
                width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB, print_fps=False
            )
        except Exception as exc:  # no v4l2loopback device, no OBS camera installed
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise OutputError(f"--output vcam: no virtual camera ({detail})") from None
        self.device = getattr(self._camera, "device", "")

    def send(self, rgb: np.ndarray) -> None:
        self._camera.send(np.ascontiguousarray(rgb, dtype=np.uint8))

    def close(self) -> None:
        self._camera.close()
