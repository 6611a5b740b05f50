"""The song plan: offline videos directed with the whole song in view (synthetic Analysis)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audio.analysis import Analysis
from audio.sections import Section
from visualizer.plan import build_plan
from visualizer.scheduler import Scheduler
from visualizer.styles import load_style

FPS = 30
QUIET_MAJOR = dict(level=0.15, valence=0.7, key="C major")  # calm
LOUD_MINOR = dict(level=0.95, valence=0.15, key="A minor")  # intense
LIVELY_MAJOR = dict(level=0.6, valence=0.85, key="G major")  # happy


def synthetic(
    parts: list[tuple[int, float, dict]],
    bpm: float = 120.0,
    lead_in: float = 0.0,
    lead_means: bool = False,
    boundary_offset: float = 0.0,
) -> Analysis:
    """Flat sections (label, seconds, sound) on a steady 4/4 grid; silence for `lead_in` s.

    `lead_means` fills Section.arousal/valence as the lead's analysis will; without it
    they are the defaults and the plan must average the curves itself.
    """
    hop = 0.01
    duration = sum(seconds for _, seconds, _ in parts)
    times = np.arange(0.0, duration, hop)
    level, valence = np.zeros(len(times)), np.zeros(len(times))
    sections, start = [], 0.0
    for label, seconds, sound in parts:
        inside = (times >= start) & (times < start + seconds)
        level[inside], valence[inside] = sound["level"], sound["valence"]
        means = dict(arousal=sound["level"], valence=sound["valence"]) if lead_means else {}
        boundary = start + boundary_offset if start else 0.0
        sections.append(Section(boundary, start + seconds, label, sound["key"], 0.8, **means))
        start += seconds
    silent = times < lead_in
    level[silent] = valence[silent] = 0.0
    beats = np.arange(0.0, duration, 60.0 / bpm)
    curves = {name: level for name in ("energy", "bass", "mid", "treble", "onset", "arousal")}
    curves.update(valence=valence, brightness=0.3 + 0.4 * level)
    return Analysis(
        duration=duration,
        hop=hop,
        times=times,
        curves=curves,
        chroma=np.zeros((len(times), 12)),
        beats=beats,
        downbeats=beats[::4],
        onsets=beats,
        tempo=bpm,
        tempo_times=beats,
        tempo_curve=np.full(len(beats), bpm),
        key="C major",
        mode="major",
        sections=sections,
        silent=silent,
        beats_per_bar=4,
        key_confidence=0.8,
    )


ABA = [(0, 16.0, QUIET_MAJOR), (1, 16.0, LOUD_MINOR), (0, 16.0, QUIET_MAJOR)]


def direct(analysis: Analysis, style: str = "default", seed: int = 1, plan: bool = True):
    """Run the scheduler over the analysis' frames; the timeline and the distinct cues."""
    weights = load_style(style).feature_weights
    scheduler = Scheduler(
        load_style(style), seed=seed, plan=build_plan(analysis, weights) if plan else None
    )
    cues = []
    for frame in analysis.frames(FPS):
        cue = scheduler.update(frame)
        if not cues or cue is not cues[-1]:
            cues.append(cue)
    return scheduler.explain(), cues


def at(timeline: list[dict], event: str) -> list[dict]:
    return [entry for entry in timeline if entry["event"] == event]


@pytest.mark.parametrize(
    ("sound", "mood"), [(LIVELY_MAJOR, "happy"), (LOUD_MINOR, "intense"), (QUIET_MAJOR, "calm")]
)
def test_opening_is_the_first_sections_look(sound, mood):
    # a second of silence first: the causal path opens on the quiet default ("calm")
    analysis = synthetic([(0, 16.0, sound), (1, 16.0, QUIET_MAJOR)], lead_in=1.0)
    timeline, cues = direct(analysis)
    assert timeline[0]["time"] == 0.0 and timeline[0]["event"] == "start"
    assert timeline[0]["mood"] == mood
    assert "opening: section A" in cues[0].reason
    live, _ = direct(analysis, plan=False)
    assert live[0]["mood"] == "calm"  # what users saw: the same opening for every song


def test_section_looks_come_from_section_means():
    timeline, _ = direct(synthetic(ABA))
    assert [(e["time"], e["mood"]) for e in timeline if e["event"] != "drift"][:1] == [
        (0.0, "calm")
    ]
    assert {e["mood"] for e in timeline if 16 <= e["time"] < 32} == {"intense"}
    assert {e["mood"] for e in timeline if e["time"] >= 32} == {"calm"}
    assert not at(timeline, "mood")  # no settling changes: the plan named the moods


def test_lead_section_means_win_over_the_curves():
    # the section says "loud, minor" while the curves say quiet: Section.arousal is the mean
    parts = [(0, 16.0, LOUD_MINOR), (1, 16.0, QUIET_MAJOR)]
    analysis = synthetic(parts, lead_means=True)
    quiet = dict(analysis.curves, arousal=np.full(len(analysis.times), 0.1))
    analysis = Analysis(**{**analysis.__dict__, "curves": quiet})
    assert build_plan(analysis).sections[0].look.mood == "intense"
    defaults = synthetic([(0, 16.0, LOUD_MINOR), (1, 16.0, QUIET_MAJOR)])
    assert build_plan(defaults).sections[0].look.mood == "intense"  # curve means: same call


@pytest.mark.parametrize("offset", [0.0, 0.4, -0.3])
def test_cut_lands_exactly_on_the_downbeat_at_the_section_start(offset):
    analysis = synthetic(ABA, boundary_offset=offset)  # boundaries off the grid by `offset`
    timeline, cues = direct(analysis)
    frames = analysis.frames(FPS)
    b_start = frames[round(16.0 * FPS)]
    assert b_start.is_downbeat
    cut = [c for c in cues if c.change == 1.0 and c.start > 0]
    assert [round(c.start * FPS) for c in cut] == [16 * FPS, 32 * FPS]
    assert cut[0].start == b_start.time
    entry = next(e for e in timeline if e["time"] == b_start.time)
    assert entry["plan"]["label"] == "B" and entry["plan"]["snapped_to"] == "downbeat"


def test_repeated_section_returns_to_the_same_look():
    timeline, cues = direct(synthetic(ABA))
    first_a = cues[0]
    second_a = next(c for c in cues if c.start == 32.0)
    b = next(c for c in cues if c.start == 16.0)
    look = ("seed", "scene", "prompt", "palette", "intensity")
    assert [getattr(second_a, k) for k in look] == [getattr(first_a, k) for k in look]
    assert b.seed != first_a.seed and b.palette != first_a.palette
    assert "returns" in second_a.reason and "look from 0:00.0" in second_a.reason


def test_a_build_up_prepares_a_much_louder_section():
    timeline, cues = direct(synthetic(ABA))
    builds = at(timeline, "build")
    assert len(builds) == 1  # before B only: the return to quiet A is no rise
    build = builds[0]
    assert build["time"] in (12.0, 14.0)  # a downbeat one or two bars before the drop
    assert build["plan"]["label"] == "A" and build["plan"]["building_to"]["label"] == "B"
    build_cue = next(c for c in cues if c.start == build["time"])
    drop = next(c for c in cues if c.start == 16.0)
    assert build_cue.seed == cues[0].seed  # still A's look, gathering energy
    assert cues[0].intensity < build_cue.intensity <= drop.intensity
    assert build_cue.transition == pytest.approx(16.0 - build["time"])  # ramps up to the drop
    assert at(timeline, "drop")[0]["time"] == 16.0 and drop.transition < 0.5
    between = [c for c in cues if build["time"] < c.start < 16.0]
    assert not between  # nothing interrupts the build


def test_no_build_before_a_small_rise():
    slightly = dict(QUIET_MAJOR, level=0.25)
    timeline, _ = direct(synthetic([(0, 16.0, QUIET_MAJOR), (1, 16.0, slightly)]))
    assert not at(timeline, "build") and at(timeline, "section")[0]["time"] == 16.0


def test_a_planned_cut_is_never_held_back():
    # B lasts 1 s, shorter than the min-change gap at 120 BPM (2 s): both cuts still land
    parts = [(0, 16.0, QUIET_MAJOR), (1, 1.0, LIVELY_MAJOR), (2, 15.0, QUIET_MAJOR)]
    timeline, _ = direct(synthetic(parts))
    cuts = [e["time"] for e in timeline if e["event"] in ("section", "drop")]
    assert cuts == [16.0, 17.0]


def test_fill_in_cues_keep_their_distance_from_planned_cuts():
    timeline, cues = direct(synthetic(ABA, bpm=150.0), seed=4)
    assert at(timeline, "drift")  # the plan still lets a section breathe
    gaps = [b.start - a.start for a, b in zip(cues, cues[1:], strict=False)]
    assert min(gaps) >= 4 * 60.0 / 150.0 - 1e-6


def test_explain_cites_the_evidence():
    timeline, cues = direct(synthetic(ABA))
    timeline = json.loads(json.dumps(timeline))
    for entry in timeline:
        plan = entry["plan"]
        assert {"label", "arousal", "valence", "key", "key_confidence", "look"} <= set(plan)
        assert plan["look"]["mood"] == entry["mood"]
        assert f"nearest {entry['mood']}" in plan["look"]["why"]
        assert f"label {plan['label']} mean arousal" in entry["reason"]
    b = next(e for e in timeline if e["time"] == 16.0)
    assert b["plan"]["key"] == "A minor" and b["plan"]["key_confidence"] == 0.8
    assert b["plan"]["arousal"] > 0.7 and b["plan"]["valence"] < 0.3


def test_plan_is_deterministic_and_follows_the_seed():
    a, _ = direct(synthetic(ABA), style="neon", seed=7)
    b, _ = direct(synthetic(ABA), style="neon", seed=7)
    c, _ = direct(synthetic(ABA), style="neon", seed=8)
    assert a == b and [e["seed"] for e in a] != [e["seed"] for e in c]


def test_render_and_live_from_a_file_share_the_planned_scheduler():
    from visualizer.pipeline import planned_scheduler

    scheduler = planned_scheduler("neon", 2, synthetic(ABA))
    assert scheduler.plan is not None and len(scheduler.plan.sections) == 3
    assert planned_scheduler("neon", 2, None).plan is None  # live from a microphone
