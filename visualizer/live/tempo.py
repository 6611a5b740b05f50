"""Tempo sources and their priority: Ableton Link > MIDI clock > tap tempo > the analysis.

Each outside source hands in `TempoReading`s (BPM and the monotonic time of a beat); the
one with the highest priority that is still fresh wins, and the feature thread locks the
drive's tempo and beat phase to it. With none fresh, the analysis' own beat tracking
drives the picture. The HUD shows which source is in charge.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

TAP_RESET_SECONDS = 2.0
PRIORITY = ("link", "midi clock", "tap")  # highest first; "analysis" is what is left
STALE_SECONDS = {"link": 2.0, "midi clock": 1.0, "tap": float("inf")}
MIDI_PPQN = 24  # MIDI clock: 24 ticks per quarter note


@dataclass(frozen=True)
class TempoReading:
    source: str  # one of PRIORITY
    bpm: float
    beat_time: float  # time.monotonic() of a beat (phase 0)
    at: float  # time.monotonic() when it was read, for staleness

    def phase(self, now: float) -> float:
        return ((now - self.beat_time) * self.bpm / 60.0) % 1.0


class TempoSources:
    """Keeps the newest reading of each source and picks the one in charge."""

    def __init__(self) -> None:
        self._readings: dict[str, TempoReading] = {}

    def update(self, reading: TempoReading) -> None:
        if reading.source not in PRIORITY:
            raise ValueError(f"unknown tempo source {reading.source!r}")
        if 20.0 <= reading.bpm <= 400.0:
            self._readings[reading.source] = reading

    def clear(self, source: str) -> None:
        self._readings.pop(source, None)

    def choose(self, now: float) -> TempoReading | None:
        for source in PRIORITY:
            reading = self._readings.get(source)
            if reading is not None and now - reading.at <= STALE_SECONDS[source]:
                return reading
        return None


class TapTempo:
    """Tempo from key taps: the median interval of the recent taps, reset after a pause."""

    def __init__(self) -> None:
        self.taps: deque[float] = deque(maxlen=8)

    def tap(self, now: float) -> float | None:
        if self.taps and now - self.taps[-1] > TAP_RESET_SECONDS:
            self.taps.clear()
        self.taps.append(now)
        return self.bpm

    @property
    def bpm(self) -> float | None:
        if len(self.taps) < 4:
            return None
        intervals = np.diff(np.asarray(self.taps))
        return float(60.0 / np.median(intervals))

    def phase(self, now: float) -> float:
        """Position inside the tapped beat, 0..1 (0 on a tap)."""
        bpm = self.bpm
        if bpm is None:
            return 0.0
        return ((now - self.taps[-1]) * bpm / 60.0) % 1.0


class MidiClock:
    """BPM and beat times from MIDI clock ticks (24 per quarter note), start and stop.

    Fed on the MIDI thread with each tick's arrival time; `tick` returns a reading on
    every beat (every 24th tick), from the median tick interval of the last beat or two,
    so one late USB packet does not swing the tempo.
    """

    def __init__(self) -> None:
        self._ticks: deque[float] = deque(maxlen=2 * MIDI_PPQN + 1)
        self.count = 0  # ticks since start (or since the first tick seen)
        self.running = True

    def start(self) -> None:
        self._ticks.clear()
        self.count, self.running = 0, True

    def stop(self) -> None:
        self.running = False

    def tick(self, now: float) -> TempoReading | None:
        if not self.running:
            return None
        self._ticks.append(now)
        on_beat = self.count % MIDI_PPQN == 0
        self.count += 1
        if not on_beat or len(self._ticks) < MIDI_PPQN // 2:
            return None
        interval = float(np.median(np.diff(np.asarray(self._ticks))))
        if interval <= 0:
            return None
        return TempoReading("midi clock", 60.0 / (interval * MIDI_PPQN), now, now)


class LinkTempo:
    """Ableton Link through aalink (GPL-3.0, an optional extra): tempo and beat phase."""

    def __init__(self, bpm: float = 120.0, quantum: float = 4.0) -> None:
        try:
            import asyncio

            from aalink import Link
        except ImportError:
            from visualizer.errors import UserError

            raise UserError(
                "--link needs aalink: pip install 'visualize[link]' (GPL-3.0)"
            ) from None
        import warnings

        self._loop = asyncio.new_event_loop()  # aalink wants one; we only read its clock
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._link = Link(bpm, self._loop)
        self._link.quantum = quantum
        self._link.enabled = True

    @property
    def peers(self) -> int:
        return int(self._link.num_peers)

    def read(self, now: float) -> TempoReading | None:
        """The session's tempo and the time of its last beat; None while alone."""
        if self.peers == 0:
            return None
        bpm = float(self._link.tempo)
        beat = float(self._link.beat)
        return TempoReading("link", bpm, now - (beat % 1.0) * 60.0 / bpm, now)

    def close(self) -> None:
        self._link.enabled = False
        self._loop.close()
