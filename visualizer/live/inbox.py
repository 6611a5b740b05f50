"""The app's inbox: how other threads (OSC, MIDI, outputs) reach the Qt main thread.

A plain queue, plus a queued Qt signal on every put, so the main thread acts on a
control the moment it arrives instead of at the next display tick.
"""

from __future__ import annotations

import queue
from collections.abc import Callable


class Inbox(queue.SimpleQueue):
    """The app's queue from other threads; each put also wakes the main thread at once
    (through a queued Qt signal), so a control waits for no display tick."""

    wake: Callable[[], None] | None = None

    def put(self, item, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        if self.wake is not None:
            self.wake()


def make_waker(slot: Callable[[], None]):
    from PyQt6.QtCore import QObject, pyqtSignal

    class Waker(QObject):
        wake = pyqtSignal()

    waker = Waker()
    waker.wake.connect(slot)  # emitted on other threads: delivered queued, on this one
    return waker
