"""The control parameters applied where the frame is drawn, on the render worker's thread.

`SteeredGenerator` wraps any Generator: it takes the newest `ControlState` from its
queue at each frame, animates the engine on a motion clock (real time scaled by the
motion speed) and hands it steered cues. The worker still stamps each finished frame
with the request's real audio time, so latency stays honest whatever the motion speed.
"""

from __future__ import annotations

import queue

import numpy as np

from render.frames import FrameRequest, Generator
from visualizer.controls import ControlState, MotionClock, motion_speed, steer_request


class SteeredGenerator:
    """A Generator that applies intensity, motion, palette and feedback to `inner`."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.controls: queue.SimpleQueue[ControlState] = queue.SimpleQueue()
        self._state = ControlState()
        self._clock = MotionClock()
        self._feedback = inner.name not in ("embedded",)  # the diffusion feedback loop
        if hasattr(inner, "submit") and hasattr(inner, "collect"):  # a pipelined engine
            self.submit = self._submit
            self.collect = inner.collect

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def width(self) -> int:
        return self.inner.width

    @property
    def height(self) -> int:
        return self.inner.height

    def render(self, request: FrameRequest) -> np.ndarray:
        return self.inner.render(self._steer(request))

    def _submit(self, requests: list[FrameRequest]):
        return self.inner.submit([self._steer(request) for request in requests])

    def _steer(self, request: FrameRequest) -> FrameRequest:
        while True:
            try:
                self._state = self.controls.get_nowait()
            except queue.Empty:
                break
        time = self._clock.advance(request.time, motion_speed(self._state))
        return steer_request(request, self._state, time, self._feedback)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
