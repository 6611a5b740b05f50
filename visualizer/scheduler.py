"""The scheduler: feature frames and spoken words in, a directed timeline of cues out.

Rules, in order of strength:
- a section start is a big cut (change 1.0, one-bar blend); a section heard before
  returns to its earlier look (same mood, seed, scene and prompt);
- a mood change (see visualizer.mood, with hysteresis) lands on a downbeat;
- new or fading spoken words land on the next beat as a small change;
- otherwise the prompt holds, and drifts (new elements, same seed) every 8-16 beats.
No two cues are closer than `min_change_beats` beats (at least MIN_CHANGE_SECONDS):
an event that comes too early waits for the first beat after the limit.

Without a plan (live) the scheduler only looks at the frames it was given, in time
order. With a SongPlan (offline, or live from a file) the plan decides the section
looks instead: the opening is the first section's look, each cut lands on its planned
downbeat whatever the min-change rule says, a much louder section is prepared by a
build-up cue, and words and drifts fill the time between (never just before a cut).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audio.features import FeatureFrame
from audio.words import WordEvent
from render.frames import Cue
from visualizer.looks import build_prompt, clock, join, mood_palette, motion_phrase, pick_family
from visualizer.looks import stable_int as _stable_int
from visualizer.mood import MoodTracker
from visualizer.styles import Style

if TYPE_CHECKING:  # the plan module pulls in the offline analysis; live needs none of it
    from visualizer.plan import PlannedEvent, PlannedSection, SongPlan

MIN_CHANGE_SECONDS = 0.5  # never cut faster than this, whatever the tempo
MAX_CHANGE_SECONDS = 8.0  # ... and never hold a change back longer than this
DEFAULT_BPM = 120.0  # until the analysis knows the tempo
WORD_SECONDS = 6.0  # a spoken word stays in the prompt this long after it arrives
MAX_WORDS = 3  # newest words kept in the prompt
BEATLESS_SECONDS = 2.0  # no beat for this long: changes may land on any frame
BEATLESS_DRIFT_SECONDS = 8.0

# How big each kind of change is (Cue.change) and how many beats it blends over.
CHANGES = {
    "start": (1.0, 4),
    "section": (1.0, 4),
    "mood": (0.6, 2),
    "words": (0.3, 1),
    "drift": (0.2, 1),
    "build": (0.35, 0),  # blends over the whole build-up instead (see _transition)
    "drop": (1.0, 0),  # after a build-up the new look lands on the downbeat: a hard cut
}
BUILD_MOTION = "gathering energy, rising tension, building momentum"


@dataclass
class _Look:
    """What a section looked like when it first started: restored when it repeats."""

    mood: str
    variant: int
    time: float


class Scheduler:
    """Turns FeatureFrames (+ WordEvents) into Cues. Call `update` once per frame."""

    def __init__(
        self,
        style: Style,
        seed: int = 0,
        min_change_beats: float = 4.0,
        plan: SongPlan | None = None,
        timeline_limit: int | None = None,
    ):
        self.style = style
        self.seed = seed
        self.min_change_beats = min_change_beats
        self.plan = plan
        self._planned: list[PlannedEvent] = plan.events() if plan is not None else []
        self._planned_section: PlannedSection | None = None
        self._building: PlannedEvent | None = None  # the build-up now running
        self._previous_time: float | None = None
        self._frame_seconds = 1.0 / 30
        self._mood = MoodTracker(dict(style.feature_weights))
        self._cue: Cue | None = None
        # The cue timeline behind `explain()`: whole for an offline render's --explain; a
        # live show passes a limit, or an hour-long set would keep every cue it ever had.
        self._timeline: deque[dict] = deque(maxlen=timeline_limit)
        self._beat_seconds = 60.0 / DEFAULT_BPM
        self._last_change = -math.inf
        self._last_beat = -math.inf
        self._last_downbeat = -math.inf
        self._section: int | None = None
        self._variant = 0
        self._looks: dict[int, _Look] = {}
        self._words: list[tuple[str, float]] = []  # (word, arrival time), oldest first
        self._pending_section: int | None = None
        self._pending_since = 0.0
        self._pending_mood = False
        self._pending_words = ""  # what happened to the words, for the reason line
        self._tempo = 0.0
        self._cue_mood = ""
        self._families: dict[tuple[int, str], str] = {}  # (section, mood) -> scene family

    # -- per frame ------------------------------------------------------------------

    def update(self, frame: FeatureFrame, new_words: Sequence[WordEvent] = ()) -> Cue:
        """Fold in one frame; return the active cue (the same object until it changes)."""
        self._observe(frame, new_words)
        if self.plan is not None:
            return self._update_planned(frame)
        now = frame.time
        if (frame.is_section_start and self._cue is not None) or (
            self._section is not None and frame.section != self._section
        ):
            if self._pending_section is None:
                self._pending_since = now
            self._pending_section = frame.section

        if self._cue is None:
            self._section = frame.section
            self._looks[frame.section] = _Look(self._mood.mood, 0, now)
            return self._emit("start", frame, f"start of section {frame.section}")
        event = self._due_event(frame)
        if event is not None:
            return self._emit(event, frame, self._event_reason(event, frame))
        return self._cue

    def _observe(self, frame: FeatureFrame, new_words: Sequence[WordEvent]) -> None:
        """Tempo, beat grid, mood and words: what both paths track on every frame."""
        now = frame.time
        if self._previous_time is not None and now > self._previous_time:
            self._frame_seconds = now - self._previous_time
        self._previous_time = now
        if frame.tempo > 0:
            self._tempo = frame.tempo
            self._beat_seconds = min(2.0, max(0.2, 60.0 / frame.tempo))
        if frame.is_beat or frame.is_downbeat:
            self._last_beat = now
        if frame.is_downbeat:
            self._last_downbeat = now
        if self._mood.update(frame) and self.plan is None:  # with a plan, the plan names moods
            self._pending_mood = True
        if new_words:
            self._add_words(new_words, now)
        if self._words and now - self._words[0][1] >= WORD_SECONDS:
            gone = [word for word, arrived in self._words if now - arrived >= WORD_SECONDS]
            self._words = [(w, t) for w, t in self._words if now - t < WORD_SECONDS]
            self._pending_words = f"'{', '.join(gone)}' fades"

    def _update_planned(self, frame: FeatureFrame) -> Cue:
        """The plan path: planned cues land on their frame; words and drifts fill the rest."""
        plan, now = self.plan, frame.time
        assert plan is not None
        due = None
        while self._planned and self._planned[0].time <= now + self._frame_seconds / 2:
            due = self._planned.pop(0)  # several due at once (a late frame): the newest wins
        if self._cue is None:
            self._planned_section = plan.section_at(now)
            return self._emit("start", frame, plan.reason(plan.opening(now)))
        if due is not None:
            if due.kind == "build":  # the current look, gathering energy toward the cut
                self._building = due
            else:
                self._planned_section = plan.sections[due.section]
            return self._emit(due.kind, frame, plan.reason(due))
        event = self._due_event(frame)
        if event is not None:
            return self._emit(event, frame, self._event_reason(event, frame))
        return self._cue

    def explain(self) -> list[dict]:
        """One entry per cue so far: what it shows and the feature values that chose it."""
        return list(self._timeline)

    @property
    def cue(self) -> Cue | None:
        return self._cue

    def min_change_seconds(self) -> float:
        """The shortest allowed time between two cues at the current tempo."""
        limit = self.min_change_beats * self._beat_seconds
        return min(MAX_CHANGE_SECONDS, max(MIN_CHANGE_SECONDS, limit))

    # -- deciding ---------------------------------------------------------------------

    def _due_event(self, frame: FeatureFrame) -> str | None:
        now = frame.time
        if now - self._last_change < self.min_change_seconds():
            return None
        if self.plan is not None and (
            self._building is not None
            or (self._planned and self._planned[0].time - now < self.min_change_seconds())
        ):
            return None  # the plan's next cue is near: keep the gap before it
        bar = 4 * self._beat_seconds
        beatless = now - self._last_beat > max(BEATLESS_SECONDS, 2 * self._beat_seconds)
        on_beat = frame.is_beat or frame.is_downbeat or beatless
        # Downbeats unknown (or long overdue): a beat will do.
        downbeats_missing = now - self._last_downbeat > 2 * bar
        on_downbeat = frame.is_downbeat or (on_beat and downbeats_missing)
        if self._pending_section is not None and (
            frame.is_section_start or on_downbeat or (on_beat and now - self._pending_since > bar)
        ):
            return "section"
        if self._pending_mood and self._mood.mood == self._cue_mood:
            self._pending_mood = False  # it came back before the cue changed
        if self._pending_mood and on_downbeat:
            return "mood"
        if self._pending_words and on_beat:
            return "words"
        if on_downbeat and not frame.silent and now - self._last_change >= self._drift_seconds():
            return "drift"
        return None

    def _drift_seconds(self) -> float:
        if self._tempo <= 0:
            return BEATLESS_DRIFT_SECONDS
        beats = 16 - 8 * self._arousal()  # energetic music drifts twice as often
        return beats * self._beat_seconds

    def _add_words(self, new_words: Sequence[WordEvent], now: float) -> None:
        added = []
        for event in new_words:
            word = "".join(ch for ch in event.text.lower() if ch.isalpha() or ch in "-'").strip(
                "-'"
            )
            if not word:
                continue
            self._words = [(w, t) for w, t in self._words if w != word]  # refresh a repeat
            self._words.append((word[:24], now))
            added.append(word[:24])
        self._words = self._words[-MAX_WORDS:]
        if added:
            self._pending_words = f"heard '{', '.join(added)}'"

    # -- building the cue ---------------------------------------------------------------

    def _emit(self, event: str, frame: FeatureFrame, reason: str) -> Cue:
        now = frame.time
        if self._planned_section is not None and event in ("start", "section", "drop"):
            # the label's look exactly as it first appeared
            self._section, self._variant, self._building = self._planned_section.label, 0, None
        elif event == "section":
            label = self._pending_section if self._pending_section is not None else frame.section
            look = self._looks.get(label)
            if look is not None:  # heard before: same mood and prompt family as then
                self._mood.force(look.mood)
                self._variant = look.variant
            else:
                self._looks[label] = _Look(self._mood.mood, 0, now)
                self._variant = 0
            self._section = label
        if event == "drift":
            self._variant += 1
        self._pending_section = None
        self._pending_mood = False
        self._pending_words = ""

        mood, section, key, brightness = self._shown(frame)
        change, _ = CHANGES[event]
        intensity = self._arousal()
        if event == "build" and self._building is not None:
            intensity = max(intensity, self._building.intensity)  # the blend is the ramp
        intensity = round(intensity, 3)
        words = tuple(word for word, _ in self._words)
        motion = BUILD_MOTION if event == "build" else motion_phrase(intensity)
        render = self.style.render
        cue = Cue(
            start=now,
            prompt=build_prompt(self.style, self.seed, mood, section, words, motion, self._variant),
            negative_prompt=join(
                self.style.negative_prompt, self.style.vocabularies[mood].negative
            ),
            seed=_stable_int(self.seed, "seed", section, mood) % 2**31,
            palette=mood_palette(self.style, mood, key, brightness),
            scene=_stable_int(self.seed, "scene", section, mood) % 1000,
            intensity=intensity,
            change=change,
            transition=self._transition(event, now),
            words=words,
            style=self.style.name,
            family=self._family(section, mood),
            finish=render.finish,
            motion=render.motion * (1.3 if event == "build" else 1.0),
            trails=render.trails,
            reason=f"{reason}; {self._detail()}",
        )
        self._cue = cue
        self._cue_mood = mood
        self._last_change = now
        self._timeline.append(self._explain_entry(cue, event, mood, frame))
        return cue

    def _shown(self, frame: FeatureFrame) -> tuple[str, int, str, float]:
        """(mood, section label, key, brightness) of the look on screen."""
        if self._planned_section is not None:
            look = self._planned_section.look
            return look.mood, look.label, look.key, look.brightness
        section = self._section if self._section is not None else frame.section
        return self._mood.mood, section, frame.key, self._mood.brightness

    def _arousal(self) -> float:
        """The energy the look shows: the planned label's mean, else the smoothed estimate."""
        if self._planned_section is not None:
            return self._planned_section.look.arousal
        return self._mood.arousal

    def _transition(self, event: str, now: float) -> float:
        if event == "build" and self._building is not None:
            return round(max(self._beat_seconds, self._building.until - now), 3)  # the ramp
        return round(CHANGES[event][1] * self._beat_seconds, 3)

    def _event_reason(self, event: str, frame: FeatureFrame) -> str:
        if frame.is_downbeat or frame.is_beat:
            where = "downbeat" if frame.is_downbeat else "beat"
        else:
            where = "section boundary" if frame.is_section_start else "no beat heard"
        if event == "section":
            label = self._pending_section
            look = self._looks.get(label) if label is not None else None
            held = "" if frame.is_section_start else ", held back to avoid flicker"
            if look is not None:
                return f"section {label} returns ({where}{held}): look from {clock(look.time)}"
            return f"section {label} starts ({where}{held})"
        if event == "mood":
            return f"mood {self._cue_mood} -> {self._mood.mood} ({where})"
        if event == "words":
            return f"words: {self._pending_words} ({where})"
        held = frame.time - self._last_change
        if self._tempo <= 0:
            return f"drift after {held:.0f} s ({where})"
        return f"drift after {held / self._beat_seconds:.0f} beats ({where})"

    def _detail(self) -> str:
        if self._planned_section is not None:
            return self._planned_section.describe()
        tempo = f"{self._tempo:.0f} BPM" if self._tempo > 0 else "tempo unknown"
        return (
            f"mood {self._mood.mood}: arousal {self._mood.arousal:.2f}, "
            f"valence {self._mood.valence:.2f}, {tempo}"
        )

    def _family(self, section: int, mood: str) -> str:
        """A section's family: chosen the first time its look appears, then kept, so a
        repeated section returns to it; a new look cuts away from the family on screen."""
        key = (section, mood)
        if key not in self._families:
            avoid = self._cue.family if self._cue is not None else ""
            self._families[key] = pick_family(self.style, self.seed, section, mood, avoid)
        return self._families[key]

    def _explain_entry(self, cue: Cue, event: str, mood: str, frame: FeatureFrame) -> dict:
        entry = {
            "time": round(cue.start, 3),
            "event": event,
            "reason": cue.reason,
            "prompt": cue.prompt,
            "negative_prompt": cue.negative_prompt,
            "seed": cue.seed,
            "scene": cue.scene,
            "family": cue.family,
            "palette": ["#{:02x}{:02x}{:02x}".format(*rgb) for rgb in cue.palette],
            "intensity": cue.intensity,
            "change": cue.change,
            "transition": cue.transition,
            "words": list(cue.words),
            "mood": mood,
            "section": self._section,
            "features": {
                "arousal": round(self._mood.arousal, 3),
                "valence": round(self._mood.valence, 3),
                "frame_arousal": round(frame.arousal, 3),
                "frame_valence": round(frame.valence, 3),
                "energy": round(frame.energy, 3),
                "brightness": round(frame.brightness, 3),
                "tempo": round(self._tempo, 1),
                "key": frame.key,
                "mode": frame.mode,
                "is_beat": frame.is_beat,
                "is_downbeat": frame.is_downbeat,
                "is_section_start": frame.is_section_start,
            },
        }
        if self._planned_section is not None and self.plan is not None:
            entry["plan"] = self._planned_section.evidence()
            if event == "build" and self._building is not None:
                entry["plan"]["building_to"] = self.plan.sections[self._building.section].evidence()
        return entry
