"""Frame outputs for other programs: virtual camera, NDI, Spout, Syphon.

Each sink is an optional extra with its own licence (docs/live.md lists them); a sink
whose library or driver is missing raises `OutputError` with one line that says what to
install. `OutputWorker` runs a sink on its own thread so a slow or dying receiver never
holds up the display, and reopens it when it comes back.

    sink = open_sink("ndi", 1280, 720, 30.0)    # OutputError if cyndilib is missing
    worker = OutputWorker("ndi", lambda: open_sink("ndi", 1280, 720, 30.0)).start()
    worker.send(rgb)                            # newest frame wins, never blocks
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from render.outputs.errors import OutputError
from render.outputs.worker import OutputWorker

NAMES = ("vcam", "ndi", "spout", "syphon")


class Sink(Protocol):
    name: str

    def send(self, rgb: np.ndarray) -> None:
        """Send one HxWx3 uint8 RGB frame; raises when the receiver or driver is gone."""
        ...

    def close(self) -> None: ...


# name -> (module to import, extra, licence, the one platform it runs on or None)
REQUIRES = {
    "vcam": ("pyvirtualcam", "vcam", "GPL-2.0", None),
    "ndi": ("cyndilib", "ndi", "MIT + the NDI runtime licence", None),
    "spout": ("SpoutGL", "spout", "BSD-3-Clause", "win32"),
    "syphon": ("syphon", "syphon", "see its licence", "darwin"),
}
SYSTEMS = {"win32": "Windows", "darwin": "macOS"}


def check_available(name: str) -> None:
    """Fail fast (before a show is built) when an output cannot work here; opens nothing."""
    import importlib.util
    import sys

    from render.outputs.errors import missing

    if name not in REQUIRES:
        raise OutputError(f"unknown output {name!r} (choose from {', '.join(NAMES)})")
    module, extra, licence, platform = REQUIRES[name]
    if platform is not None and sys.platform != platform:
        raise OutputError(
            f"--output {name} works on {SYSTEMS[platform]} only (use ndi or vcam here)"
        )
    if importlib.util.find_spec(module) is None:
        raise missing(name, extra, module, licence)


def open_sink(name: str, width: int, height: int, fps: float) -> Sink:
    """Open the sink `name`; OutputError (one line) when its extra or driver is missing."""
    if name == "vcam":
        from render.outputs.vcam import VirtualCamSink as cls
    elif name == "ndi":
        from render.outputs.ndi import NdiSink as cls
    elif name == "spout":
        from render.outputs.spout import SpoutSink as cls
    elif name == "syphon":
        from render.outputs.syphon import SyphonSink as cls
    else:
        raise OutputError(f"unknown output {name!r} (choose from {', '.join(NAMES)})")
    return cls(width, height, fps)


__all__ = ["NAMES", "OutputError", "OutputWorker", "Sink", "check_available", "open_sink"]
