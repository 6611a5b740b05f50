"""NDI through cyndilib (MIT; the bundled NDI runtime is under NewTek/Vizrt's NDI licence,
extra `ndi`). The sender is visible on the local network as "visualize"."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from render.outputs.errors import OutputError, missing

SOURCE_NAME = "visualize"


class NdiSink:
    name = "ndi"

    def __init__(self, width: int, height: int, fps: float, source_name: str = SOURCE_NAME):
        try:
            from cyndilib.sender import Sender
            from cyndilib.video_frame import VideoSendFrame
            from cyndilib.wrapper.ndi_structs import FourCC
        except ImportError:
            raise missing("ndi", "ndi", "cyndilib", "MIT + the NDI runtime licence") from None
        try:
            self._sender = Sender(source_name)
            frame = VideoSendFrame()
            frame.set_resolution(width, height)
            frame.set_frame_rate(Fraction(round(fps * 1000), 1000))
            frame.set_fourcc(FourCC.RGBA)
            self._sender.set_video_frame(frame)
            self._sender.open()
        except Exception as exc:
            raise OutputError(f"--output ndi: cannot start the NDI sender ({exc})") from None
        # NDI reads an async frame until the next send: alternate two buffers.
        self._buffers = [np.full((height, width, 4), 255, np.uint8) for _ in range(2)]
        self._next = 0

    def send(self, rgb: np.ndarray) -> None:
        rgba = self._buffers[self._next]
        self._next ^= 1
        rgba[..., :3] = rgb
        if not self._sender.write_video_async(rgba.reshape(-1)):
            raise OutputError("NDI sender refused the frame")

    def close(self) -> None:
        self._sender.close()
