"""The learned beat activation beside the rest of the analysis, in a child process.

Offline, the beat network (audio.activation) is the largest single cost of the analysis
(about a third of it: its LSTM steps frame by frame, holding the GIL) and needs nothing
the other features compute, so on a machine with a spare core it runs in a fresh Python
child while this process computes the spectral, chroma and timbre features: the audio
blocks go down a pipe and the activation rows come back at the end. Short songs stay in
process (starting a child costs about 0.3 s); a child that fails is not fatal: the rows
are then computed here from a replay of the same blocks.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterable

import numpy as np

from audio.activation import BeatActivation
from audio.child_process import child_connection, start_child

PARALLEL_MIN_SECONDS = 60.0  # below this the child's start-up eats what it saves
# On this project's 2-vCPU machine the child made a 169 s song's analysis slower (9.1 s
# against 8.4 s, 2026-12-03): the two processes share what is one core's worth of time.
PARALLEL_MIN_CORES = 4
PIECE = 22050  # samples sent at a time
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}

Replay = Callable[[], Iterable[np.ndarray]]


class CollectedActivation:
    """BeatActivation that keeps its rows: push blocks, `finish()` returns them all."""

    def __init__(self) -> None:
        self._activation = BeatActivation()
        self._rows: list[np.ndarray] = []

    def push(self, samples: np.ndarray) -> None:
        self._rows.append(self._activation.push(samples))

    def finish(self, replay: Replay | None = None) -> np.ndarray:
        self._rows.append(self._activation.finish())
        return np.concatenate(self._rows)


class ActivationProcess:
    """The same calls as CollectedActivation, computed in a child process."""

    def __init__(self) -> None:
        # One BLAS thread: the network's matrices are small, and OpenBLAS threads that
        # spin beside this process's own would take the core it is meant to leave free.
        self._process, self._conn = start_child(
            "audio.activation_process", "child_main", env=ONE_THREAD
        )
        self._failed = False

    def push(self, samples: np.ndarray) -> None:
        if self._failed:
            return
        data = np.asarray(samples, dtype=np.float32)
        try:  # in pieces of about a second: the child starts on a block's first second
            for start in range(0, max(len(data), 1), PIECE):
                self._conn.send(data[start : start + PIECE])
        except OSError:  # the child is gone: finish() computes the rows here instead
            self._failed = True

    def finish(self, replay: Replay | None = None) -> np.ndarray:
        """The rows; where the child failed, computed here from `replay()` (the same blocks)."""
        try:
            if not self._failed:
                self._conn.send(None)
                kind, rows = self._conn.recv()
                if kind == "rows":
                    return rows
        except (OSError, EOFError):
            pass
        finally:
            self.close()
        if replay is None:
            raise RuntimeError("the beat activation process failed")
        local = CollectedActivation()
        for block in replay():
            local.push(block)
        return local.finish()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.close()
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()


def open_activation(seconds: float) -> CollectedActivation | ActivationProcess:
    """A child process for a long song on a machine with a spare core, else in process."""
    if seconds >= PARALLEL_MIN_SECONDS and (os.cpu_count() or 1) >= PARALLEL_MIN_CORES:
        try:
            return ActivationProcess()
        except OSError:
            pass
    return CollectedActivation()


def child_main() -> None:
    """The child: activation rows for every block until None, then all of them back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    conn = child_connection()
    activation = CollectedActivation()
    try:
        while (block := conn.recv()) is not None:
            activation.push(block)
        conn.send(("rows", activation.finish()))
    except (EOFError, OSError):  # the parent is gone
        pass
    except Exception as exc:  # noqa: BLE001 - the parent falls back to its own copy
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
