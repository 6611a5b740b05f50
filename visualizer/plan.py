"""The song plan: the whole Analysis in view, decided before the first frame is drawn.

Offline (and live from a file) the scheduler need not guess from the past: the plan
names each section's look from the section's mean arousal/valence/key, pools sections
that share a label so a repeat returns to the same look, snaps every boundary to the
nearest downbeat, and marks where a much louder section deserves a build-up over the
bar(s) before it. The scheduler follows it (see visualizer.scheduler); live input
without a file keeps the causal path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audio.analysis import Analysis
from audio.sections import Section
from visualizer.mood import DEFAULT_WEIGHTS, QUIET_MOOD, mood_evidence, nearest_mood, steer_values

BUILD_RISE = 0.2  # arousal step (0..1) between sections that earns a build-up
BUILD_BARS = (2, 1)  # build over this many bars, the first that fits
BUILD_MAX_SECONDS = 6.0  # a slow song builds over fewer bars
MIN_GAP_BEATS = 4  # a build starts at least this long after its section's own cut
DEFAULT_BEAT_SECONDS = 0.5


@dataclass(frozen=True)
class Look:
    """What a label looks like: named from the time-weighted means of all its sections."""

    label: int
    mood: str
    arousal: float  # the point on the mood plane (steered by the style's weights)
    valence: float
    brightness: float
    key: str
    key_confidence: float
    sections: int  # how many sections share this label
    why: str


@dataclass(frozen=True)
class PlannedSection:
    """One section as the plan sees it; `start` is where its cut lands."""

    index: int
    label: int
    start: float  # the boundary snapped to the beat grid
    end: float
    boundary: float  # the analysis' boundary before snapping
    snapped_to: str  # "downbeat", "beat" or "" (no grid near)
    arousal: float  # this section's own means (mood plane)
    valence: float
    key: str
    key_confidence: float
    inputs: dict  # the feature means that placed it: arousal, energy, tempo, valence, ...
    look: Look
    first: int  # index of the first section with this label (itself when new)
    build_from: float | None = None  # a build-up toward this section starts here

    @property
    def name(self) -> str:
        return label_name(self.label)

    def describe(self) -> str:
        """The look's evidence in one line: label means, key and why this mood."""
        look = self.look
        confidence = self.key_confidence
        sure = f"confidence {confidence:.2f}" if confidence > 0 else "confidence not measured"
        key = f"{self.key} ({sure})" if self.key else "key unknown"
        shared = f" over {look.sections} sections" if look.sections > 1 else ""
        return (
            f"mood {look.mood}: label {self.name} mean arousal {look.arousal:.2f}, "
            f"valence {look.valence:.2f}{shared}, {key}; {look.why}"
        )

    def evidence(self) -> dict:
        """The numbers that chose this section's look, for --explain."""
        look = self.look
        return {
            "section": self.index,
            "label": self.name,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "boundary": round(self.boundary, 3),
            "snapped_to": self.snapped_to,
            "arousal": round(self.arousal, 3),
            "valence": round(self.valence, 3),
            "key": self.key,
            "key_confidence": round(self.key_confidence, 3),
            "inputs": dict(self.inputs),
            "look": {
                "mood": look.mood,
                "arousal": round(look.arousal, 3),
                "valence": round(look.valence, 3),
                "sections": look.sections,
                "why": look.why,
            },
        }


@dataclass(frozen=True)
class PlannedEvent:
    time: float
    kind: str  # "start", "section", "drop" (a cut after a build) or "build"
    section: int  # the section it starts or builds toward
    until: float = 0.0  # a build: the cut it ramps toward
    intensity: float = 0.0  # a build: the intensity reached by the cut


@dataclass(frozen=True)
class SongPlan:
    sections: tuple[PlannedSection, ...]
    beat_seconds: float
    beats_per_bar: int

    def section_at(self, time: float) -> PlannedSection:
        """The section playing at `time` (planned starts, so a snapped cut counts)."""
        current = self.sections[0]
        for section in self.sections[1:]:
            if section.start > time:
                break
            current = section
        return current

    def opening(self, time: float = 0.0) -> PlannedEvent:
        """The first cue: the look of the section playing at `time` (0 for a whole song)."""
        return PlannedEvent(time, "start", self.section_at(time).index)

    def events(self) -> list[PlannedEvent]:
        """Every planned cue after the opening, in time order."""
        events = []
        for s in self.sections[1:]:
            if s.build_from is not None:
                build = PlannedEvent(s.build_from, "build", s.index, s.start, s.look.arousal)
                events.append(build)
            kind = "drop" if s.build_from is not None else "section"
            events.append(PlannedEvent(s.start, kind, s.index))
        return sorted(events, key=lambda e: e.time)

    def reason(self, event: PlannedEvent) -> str:
        """The reason line of a planned cue (the evidence follows from `describe`)."""
        section = self.sections[event.section]
        span = f"{_clock(section.start)}-{_clock(section.end)}"
        if event.kind == "build":
            before = self.sections[max(0, event.section - 1)]
            bars = (event.until - event.time) / (self.beats_per_bar * self.beat_seconds)
            return (
                f"build-up to section {section.name} over {bars:.0f} bar(s): arousal "
                f"{before.arousal:.2f} -> {section.arousal:.2f}"
            )
        if event.kind == "start":
            return f"opening: section {section.name} ({span}) from the song plan"
        where = f"on the {section.snapped_to}" if section.snapped_to else "on its boundary"
        head = (
            f"drop: section {section.name}" if event.kind == "drop" else f"section {section.name}"
        )
        if section.first != section.index:
            first = self.sections[section.first].start
            return f"{head} returns ({where}, {span}): look from {_clock(first)}"
        return f"{head} starts ({where}, {span})"


def label_name(label: int) -> str:
    """0 -> A, 1 -> B, ... 26 -> A2: how the explain output names a label."""
    letter = chr(ord("A") + label % 26)
    return letter if label < 26 else f"{letter}{label // 26 + 1}"


def build_plan(analysis: Analysis, weights: dict[str, float] | None = None) -> SongPlan:
    """Plan a whole song; `weights` are the style pack's feature weights."""
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    sections = list(analysis.sections) or [Section(0.0, analysis.duration, 0)]
    beat = 60.0 / analysis.tempo if analysis.tempo > 0 else DEFAULT_BEAT_SECONDS
    per_bar = analysis.beats_per_bar or 4
    means = [_section_means(analysis, s, weights) for s in sections]
    looks = _looks(sections, means)
    starts, grids = _snapped_starts(analysis, sections, beat * per_bar)
    first_of: dict[int, int] = {}
    planned: list[PlannedSection] = []
    for i, (section, m) in enumerate(zip(sections, means, strict=True)):
        end = starts[i + 1] if i + 1 < len(sections) else analysis.duration
        build = None
        if i > 0 and m["arousal"] - means[i - 1]["arousal"] >= BUILD_RISE:
            build = _build_start(analysis, starts[i - 1], starts[i], beat, per_bar)
        planned.append(
            PlannedSection(
                index=i,
                label=section.label,
                start=starts[i],
                end=end,
                boundary=section.start if i else 0.0,
                snapped_to=grids[i],
                arousal=m["arousal"],
                valence=m["valence"],
                key=m["key"],
                key_confidence=m["key_confidence"],
                inputs=m["inputs"],
                look=looks[section.label],
                first=first_of.setdefault(section.label, i),
                build_from=build,
            )
        )
    return SongPlan(tuple(planned), beat, per_bar)


# -- section means ---------------------------------------------------------------------


def _section_means(analysis: Analysis, section: Section, weights: dict[str, float]) -> dict:
    """A section's point on the mood plane from its means (sound only, silence left out)."""
    times = analysis.times
    inside = (times >= section.start) & (times < section.end)
    sound = inside & ~analysis.silent if analysis.silent is not None else inside
    mask = sound if np.any(sound) else inside
    heard = bool(np.any(sound))

    def mean(name: str, default: float) -> float:
        curve = analysis.curves.get(name)
        if curve is None or not np.any(mask):
            return default
        return float(np.mean(curve[mask]))

    arousal, valence, source = section.arousal, section.valence, "section"
    if arousal == 0.0 and valence == 0.5:  # the defaults: the analysis gave no section means
        arousal, valence, source = mean("arousal", 0.0), mean("valence", 0.5), "curves"
    key = section.key or analysis.key
    confidence = section.key_confidence if section.key else analysis.key_confidence
    inputs = {
        "arousal": arousal,
        "energy": mean("energy", 0.0),
        "tempo": _mean_tempo(analysis, section),
        "valence": valence,
        "brightness": mean("brightness", 0.5),
        "mode": key.split(" ", 1)[1] if " " in key else analysis.mode,
    }
    # 0 means "not measured" (older analyses): count the mode in full, as live does
    point = steer_values(weights, **inputs, mode_confidence=confidence if confidence > 0 else 1.0)
    inputs = {k: round(v, 3) if isinstance(v, float) else v for k, v in inputs.items()}
    return {
        "inputs": {**inputs, "arousal_valence_from": source},
        "arousal": point[0],
        "valence": point[1],
        "brightness": mean("brightness", 0.5),
        "key": key,
        "key_confidence": confidence,
        "heard": heard,
        "seconds": max(1e-6, section.end - section.start),
    }


def _mean_tempo(analysis: Analysis, section: Section) -> float:
    if len(analysis.beats) == 0 or len(analysis.tempo_times) == 0:
        return 0.0
    grid = np.linspace(section.start, section.end, 16)
    return float(np.mean(np.interp(grid, analysis.tempo_times, analysis.tempo_curve)))


def _looks(sections: list[Section], means: list[dict]) -> dict[int, Look]:
    """One look per label, from the time-weighted means of every section with it."""
    looks = {}
    for label in dict.fromkeys(s.label for s in sections):
        group = [m for s, m in zip(sections, means, strict=True) if s.label == label]
        heard = [m for m in group if m["heard"]] or group
        arousal, valence = _pooled(heard, "arousal"), _pooled(heard, "valence")
        mood, why = nearest_mood(arousal, valence), mood_evidence(arousal, valence)
        if not any(m["heard"] for m in group):
            mood, why = QUIET_MOOD, "silent throughout"
        longest = max(heard, key=lambda m: m["seconds"])  # its key colours the palette
        looks[label] = Look(
            label=label,
            mood=mood,
            arousal=arousal,
            valence=valence,
            brightness=_pooled(heard, "brightness"),
            key=longest["key"],
            key_confidence=longest["key_confidence"],
            sections=len(group),
            why=why,
        )
    return looks


def _pooled(group: list[dict], name: str) -> float:
    """Time-weighted mean: a long verse counts more than a short one."""
    return float(np.average([m[name] for m in group], weights=[m["seconds"] for m in group]))


# -- the beat grid ---------------------------------------------------------------------


def _snapped_starts(
    analysis: Analysis, sections: list[Section], bar: float
) -> tuple[list[float], list[str]]:
    """Each boundary moved to the nearest downbeat (within a bar), else beat, else kept."""
    starts, grids = [0.0], [""]  # the opening is t = 0, whatever the grid
    for section in sections[1:]:
        at, grid = _snap(section.start, analysis.downbeats, bar), "downbeat"
        if at is None:
            at, grid = _snap(section.start, analysis.beats, bar / 2), "beat"
        if at is None or at <= starts[-1]:
            at, grid = section.start, ""
        starts.append(at)
        grids.append(grid)
    return starts, grids


def _snap(time: float, grid: np.ndarray, reach: float) -> float | None:
    if len(grid) == 0:
        return None
    nearest = float(grid[np.argmin(np.abs(grid - time))])
    return nearest if abs(nearest - time) <= reach else None


def _build_start(
    analysis: Analysis, previous_start: float, cut: float, beat: float, per_bar: int
) -> float | None:
    """Where a build toward `cut` begins: a downbeat 2 (or 1) bars before it, if it fits."""
    earliest = previous_start + MIN_GAP_BEATS * beat
    before = analysis.downbeats[analysis.downbeats < cut - beat / 2]
    for bars in BUILD_BARS:
        if len(before) >= bars and cut - before[-bars] <= bars * per_bar * beat * 1.25:
            start = float(before[-bars])  # the real downbeat, tempo drift included
        else:
            start = cut - bars * per_bar * beat
        if cut - start <= BUILD_MAX_SECONDS and start >= earliest:
            return start
    return None


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"
