"""One output on its own thread: the newest frame wins, a failure reopens the sink.

The display hands each shown picture to `send()`, which only swaps a one-frame slot.
The thread sends it; if the sink raises (a receiver quit, a camera device vanished),
the worker says so once, closes it and tries to reopen it every few seconds, so the
output comes back by itself when its receiver or driver does. The show never waits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0


class OutputWorker:
    """Runs `open_sink()` and then `sink.send(frame)` for the newest frame, on a thread."""

    def __init__(
        self,
        name: str,
        open_sink: Callable[[], object],
        sink: object | None = None,
        notice: Callable[[str], None] | None = None,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.name = name
        self._open = open_sink
        self._sink = sink  # already open (opened at start-up so a missing extra fails early)
        self._notice = notice or log.warning
        self._retry = retry_seconds
        self._frame: np.ndarray | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.sent = 0
        self.failures = 0
        self.state = "on" if sink is not None else "opening"
        self._thread = threading.Thread(target=self._run, name=f"output-{name}", daemon=True)

    def start(self) -> OutputWorker:
        self._thread.start()
        return self

    def send(self, rgb: np.ndarray) -> None:
        """Hand over the picture now shown (not mutated afterwards); never blocks."""
        self._frame = rgb
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._sink is None and not self._reopen():
                self._stop.wait(self._retry)
                continue
            if not self._wake.wait(0.2):
                continue
            self._wake.clear()
            frame, self._frame = self._frame, None
            if frame is None:
                continue
            try:
                self._sink.send(frame)
                self.sent += 1
            except Exception as exc:  # the receiver went away: one notice, then retry
                self.failures += 1
                self.state = "lost, retrying"
                self._notice(f"output {self.name} lost ({_short(exc)}); retrying")
                self._close_sink()

    def _reopen(self) -> bool:
        try:
            self._sink = self._open()
        except Exception:
            return False
        if self.failures:
            self._notice(f"output {self.name} is back")
        self.state = "on"
        return True

    def _close_sink(self) -> None:
        sink, self._sink = self._sink, None
        try:
            sink.close()
        except Exception as exc:
            log.debug("closing output %s: %s", self.name, exc)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(3.0)
        if self._sink is not None:
            self._close_sink()
        self.state = "off"


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:100]
