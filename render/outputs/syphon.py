"""Syphon on macOS through syphon-python (extra `syphon`): a Metal server that
other apps (Resolume, VDMX, OBS with the Syphon plugin) see as "visualize"."""

from __future__ import annotations

import sys

import numpy as np

from render.outputs.errors import OutputError, missing

SERVER_NAME = "visualize"


class SyphonSink:
    name = "syphon"

    def __init__(self, width: int, height: int, fps: float) -> None:
        if sys.platform != "darwin":
            raise OutputError("--output syphon works on macOS only (use ndi or vcam here)")
        try:
            import syphon
            from syphon.utils.numpy import copy_image_to_mtl_texture
            from syphon.utils.raw import create_mtl_texture
        except ImportError:
            raise missing("syphon", "syphon", "syphon-python", "see its licence") from None
        self._server = syphon.SyphonMetalServer(SERVER_NAME)
        self._texture = create_mtl_texture(self._server.device, width, height)
        self._copy = copy_image_to_mtl_texture
        self._rgba = np.full((height, width, 4), 255, np.uint8)

    def send(self, rgb: np.ndarray) -> None:
        self._rgba[..., :3] = rgb
        self._copy(self._rgba, self._texture)
        self._server.publish_frame_texture(self._texture)

    def close(self) -> None:
        self._server.stop()
