"""The generator thread: frame requests in, rendered frames out, never a backlog.

A live show cares about *now*. Requests wait in a short queue; when the generator falls
behind, the oldest waiting request is dropped, and a prompt change throws away every
request made for the old prompt (a deep queue that is never flushed is how a live
diffusion installation ends up seconds behind the music). Finished frames go into a
bounded queue the display drains; if the display is behind, the oldest frame goes.

Each `RenderedFrame` carries the audio time of the request it answers, so whoever shows
it knows exactly how late it is. A generator that raises never kills the thread: the
frame comes back with an `error` note and the last good image, or a fallback generator
takes over after repeated failures (for example a GPU that ran out of memory).

A generator with `submit()`/`collect()` (the diffusion engine on a GPU) gets its next
request started before the current one is collected when one is already waiting, so
the GPU never idles between frames; with nothing waiting, each frame is collected at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from render.frames import FrameRequest, Generator

log = logging.getLogger(__name__)

# After this many failures in a row the primary generator is retired for the fallback.
MAX_CONSECUTIVE_ERRORS = 3


@dataclass(frozen=True)
class RenderedFrame:
    """One finished frame and the audio time it answers to."""

    index: int
    time: float  # audio clock (seconds) of the request this frame answers
    image: np.ndarray  # HxWx3 uint8 RGB
    render_ms: float
    error: str | None = None  # set when the generator failed and this is a stand-in
    engine: str = ""  # name of the generator that drew it


@dataclass(frozen=True)
class WorkerStats:
    """Counters since start; read them for the HUD, the log and the benchmarks."""

    rendered: int = 0
    dropped_requests: int = 0  # requests never rendered (superseded or flushed)
    dropped_frames: int = 0  # rendered frames the consumer never took
    errors: int = 0
    engine: str = ""
    last_error: str | None = None
    last_render_ms: float = 0.0


class RenderWorker:
    """Runs `generator.render` on its own thread.

    `submit()` and `get_frame()`/`latest_frame()` never block, so the audio side and the
    UI thread stay responsive whatever the generator does.
    """

    def __init__(
        self,
        generator: Generator,
        fallback: Generator | None = None,
        max_pending: int = 1,
        max_ready: int = 2,
        name: str = "render-worker",
    ) -> None:
        self.generator = generator
        self.fallback = fallback
        self._pending: deque[FrameRequest] = deque()
        self._max_pending = max(1, max_pending)
        self._ready: deque[RenderedFrame] = deque()
        self._max_ready = max(1, max_ready)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._last_good: np.ndarray | None = None
        self._last_prompt: str | None = None
        self._consecutive_errors = 0
        self._using_fallback = False
        self._counts = {"rendered": 0, "dropped_requests": 0, "dropped_frames": 0, "errors": 0}
        self._engine = getattr(generator, "name", "generator")
        self._last_error: str | None = None
        self._last_render_ms = 0.0

    # -- producer side -------------------------------------------------------------

    def start(self) -> RenderWorker:
        self._thread.start()
        return self

    def submit(self, request: FrameRequest) -> None:
        """Queue a request; drops stale ones instead of ever waiting."""
        with self._wake:
            prompt = request.cue.prompt
            if self._last_prompt is not None and prompt != self._last_prompt:
                self._drop_pending_locked()  # made for the old prompt: nobody wants them now
            self._last_prompt = prompt
            while len(self._pending) >= self._max_pending:
                self._pending.popleft()
                self._counts["dropped_requests"] += 1
            self._pending.append(request)
            self._wake.notify()

    def flush(self) -> None:
        """Forget every waiting request and unshown frame (e.g. on a style change)."""
        with self._wake:
            self._drop_pending_locked()
            self._ready.clear()

    # -- consumer side -------------------------------------------------------------

    def get_frame(self) -> RenderedFrame | None:
        """The oldest unshown frame, or None."""
        with self._lock:
            return self._ready.popleft() if self._ready else None

    def latest_frame(self) -> RenderedFrame | None:
        """The newest unshown frame, discarding older ones (they are late already)."""
        with self._lock:
            if not self._ready:
                return None
            frame = self._ready.pop()
            self._counts["dropped_frames"] += len(self._ready)
            self._ready.clear()
            return frame

    @property
    def stats(self) -> WorkerStats:
        with self._lock:
            return WorkerStats(
                **self._counts,
                engine=self._engine,
                last_error=self._last_error,
                last_render_ms=self._last_render_ms,
            )

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the frame in progress, then end the thread. Generators are not closed."""
        with self._wake:
            self._stopping = True
            self._pending.clear()
            self._wake.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> RenderWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the thread ----------------------------------------------------------------

    def _run(self) -> None:
        in_flight = None  # (request, started, generator, handle): a frame the GPU works on
        while True:
            with self._wake:
                while not self._pending and not self._stopping and in_flight is None:
                    self._wake.wait()
                if self._stopping:
                    return
                request = self._pending.popleft() if self._pending else None
            # With a second request waiting, start it before collecting the first: its
            # UNet runs while the first frame's copy to the host finishes.
            started = self._begin(request) if request is not None else None
            if in_flight is not None:
                self._publish(self._finish(in_flight))
            in_flight = None
            if started is None:
                continue
            if started[3] is None or not self._pipelined(started[2]):
                self._publish(self._finish(started))
            else:
                in_flight = started
                with self._lock:
                    waiting = bool(self._pending)
                if not waiting:  # nothing to overlap with: no extra latency
                    self._publish(self._finish(in_flight))
                    in_flight = None

    def _publish(self, frame: RenderedFrame) -> None:
        with self._lock:
            if len(self._ready) >= self._max_ready:
                self._ready.popleft()
                self._counts["dropped_frames"] += 1
            self._ready.append(frame)

    @staticmethod
    def _pipelined(generator: Generator) -> bool:
        return hasattr(generator, "submit") and hasattr(generator, "collect")

    def _begin(self, request: FrameRequest) -> tuple:
        """(request, start time, generator, handle or None, error or None)."""
        generator = self.fallback if self._using_fallback else self.generator
        started = time.perf_counter()
        if not self._pipelined(generator):
            return (request, started, generator, None, None)
        try:
            return (request, started, generator, generator.submit([request]), None)
        except Exception as exc:
            return (request, started, generator, None, exc)

    def _finish(self, state: tuple) -> RenderedFrame:
        request, started, generator, handle, error = state
        if error is not None:
            return self._stand_in(request, error, started)
        if handle is None:
            return self._render(request, generator, started)
        try:
            image = _as_rgb(generator.collect(handle)[0], generator)
        except Exception as exc:
            return self._stand_in(request, exc, started)
        return self._done(request, generator, image, started)

    def _render(self, request: FrameRequest, generator: Generator, started: float) -> RenderedFrame:
        try:
            image = _as_rgb(generator.render(request), generator)
        except Exception as exc:  # a show must go on whatever one frame does
            return self._stand_in(request, exc, started)
        return self._done(request, generator, image, started)

    def _done(
        self, request: FrameRequest, generator: Generator, image: np.ndarray, started: float
    ) -> RenderedFrame:
        self._consecutive_errors = 0
        self._last_good = image
        render_ms = (time.perf_counter() - started) * 1000
        with self._lock:
            self._counts["rendered"] += 1
            self._engine, self._last_render_ms = generator.name, render_ms
        return RenderedFrame(request.index, request.time, image, render_ms, None, generator.name)

    def _stand_in(self, request: FrameRequest, exc: Exception, started: float) -> RenderedFrame:
        note = _describe(exc)
        self._consecutive_errors += 1
        log.warning("frame %d: %s", request.index, note)
        retire = self.fallback is not None and not self._using_fallback
        if retire and (self._consecutive_errors >= MAX_CONSECUTIVE_ERRORS or _is_oom(exc)):
            self._using_fallback = True
            note = f"{note}; switched to {self.fallback.name}"
            log.warning("generator %s retired: %s", self.generator.name, note)
            self._release_gpu_memory()
        image, engine = self._last_good, "last good frame"
        if self.fallback is not None and (image is None or self._using_fallback):
            try:
                image, engine = (
                    _as_rgb(self.fallback.render(request), self.fallback),
                    self.fallback.name,
                )
            except Exception as fallback_exc:
                note = f"{note}; fallback failed too: {_describe(fallback_exc)}"
        if image is None:
            image, engine = (
                np.zeros((self.generator.height, self.generator.width, 3), np.uint8),
                "black",
            )
        render_ms = (time.perf_counter() - started) * 1000
        with self._lock:
            self._counts["errors"] += 1
            self._engine, self._last_error, self._last_render_ms = engine, note, render_ms
        return RenderedFrame(request.index, request.time, image, render_ms, note, engine)

    def _release_gpu_memory(self) -> None:
        try:
            self.generator.close()
        except Exception as exc:
            log.warning("closing %s failed: %s", self.generator.name, _describe(exc))

    def _drop_pending_locked(self) -> None:
        self._counts["dropped_requests"] += len(self._pending)
        self._pending.clear()


def _as_rgb(image: np.ndarray, generator: Generator) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{generator.name} returned {image.dtype} {image.shape}, not HxWx3 uint8")
    return np.ascontiguousarray(image)


def _is_oom(exc: Exception) -> bool:
    return "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError"


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__
