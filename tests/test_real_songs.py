"""Real songs from ../shared (skipped without it): contrasting music is drawn differently.

These are end-to-end checks of what a user sees, not accuracy figures: those are in
scripts/bench_music.py. Each uses a one-minute excerpt to stay fast.
"""

from __future__ import annotations

import json

import pytest

from audio.analysis import analyze
from audio.source import load_audio
from tests.helpers import shared_music
from visualizer.mood import MOOD_CENTRES
from visualizer.plan import build_plan

pytestmark = pytest.mark.slow


def _plan(name: str):
    clip = load_audio(shared_music(name), start=30.0, duration=60.0)
    analysis = analyze(clip)
    return analysis, build_plan(analysis)


def _mean_point(plan) -> tuple[float, float]:
    seconds = [s.end - s.start for s in plan.sections]
    total = sum(seconds)
    arousal = sum(s.look.arousal * w for s, w in zip(plan.sections, seconds, strict=True))
    valence = sum(s.look.valence * w for s, w in zip(plan.sections, seconds, strict=True))
    return arousal / total, valence / total


def _main_mood(plan) -> str:
    """The mood drawn longest."""
    seconds: dict[str, float] = {}
    for s in plan.sections:
        seconds[s.look.mood] = seconds.get(s.look.mood, 0.0) + s.end - s.start
    return max(seconds, key=seconds.get)


def test_hip_hop_and_folk_land_in_different_mood_regions():
    _, hip_hop = _plan("Confession_-_Quesabe.mp3")
    _, folk = _plan("Fantasma_-_Los_Rombos.mp3")
    assert _main_mood(hip_hop) in ("energetic", "intense")
    assert _main_mood(hip_hop) != _main_mood(folk)
    assert _mean_point(hip_hop)[0] > _mean_point(folk)[0] + 0.1


def test_reggae_is_more_aroused_than_folk():
    _, reggae = _plan("Yuanan_-_Miedo_-_Yuanan.mp3")
    _, folk = _plan("Fantasma_-_Los_Rombos.mp3")
    assert _main_mood(reggae) in ("energetic", "intense")
    assert _mean_point(reggae)[0] > _mean_point(folk)[0] + 0.1


def test_the_waltz_is_in_three_and_the_hip_hop_in_four():
    folk, _ = _plan("Fantasma_-_Los_Rombos.mp3")
    hip_hop, _ = _plan("Confession_-_Quesabe.mp3")
    assert folk.beats_per_bar == 3
    assert hip_hop.beats_per_bar == 4


def test_analyze_explains_each_sections_mood(tmp_path, capsys):
    from visualizer.cli import main

    out = tmp_path / "why.json"
    path = shared_music("Confession_-_Quesabe.mp3")
    assert main(["analyze", str(path), "--duration", "60", "--explain", str(out)]) == 0
    entries = json.loads(out.read_text())
    assert entries and all(e["mood"] in MOOD_CENTRES for e in entries)
    assert all("arousal" in json.dumps(e) and e["reason"] for e in entries)
