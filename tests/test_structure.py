"""Song sections with repeat labels (audio.structure) on synthetic songs with a known form."""

from __future__ import annotations

import numpy as np
import pytest

from audio.sections import Section
from audio.structure import effect_size, find_song_sections

RATE = 22050
BEAT = 0.5  # 120 BPM, 4/4: a bar is 2 s
BARS_PER_SECTION = 8

# Each part has its own chord progression (one chord a bar, MIDI notes) and its own sound.
PROGRESSIONS = {
    "A": ((57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62)),  # Am F C G
    "B": ((50, 53, 57), (52, 55, 59), (53, 57, 60), (52, 55, 59)),  # Dm Em F Em
    "C": ((54, 58, 61), (51, 54, 58), (56, 59, 63), (49, 53, 56)),  # F# D#m G#m C#: far key
}
HARMONICS = {
    "A": (1.0, 0.3),  # mellow
    "B": (1.0, 0.7, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15),  # bright, saw-like
    "C": (1.0, 0.0, 0.33, 0.0, 0.2, 0.0, 0.14),  # hollow, square-like
}


def _tone(notes: tuple[int, ...], harmonics: tuple[float, ...], seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for note in notes:
        f0 = 440.0 * 2 ** ((note - 69) / 12)
        for h, level in enumerate(harmonics, start=1):
            if level and f0 * h < RATE / 2:
                out += level * np.sin(2 * np.pi * f0 * h * t)
    envelope = np.minimum(1.0, np.minimum(t / 0.02, (seconds - t) / 0.05))
    return out * envelope / len(notes)


def _drums(part: str, bar_s: float, rng: np.random.Generator) -> np.ndarray:
    """Kick on every beat in A, off-beat hats in B, nothing in C: timbre differs too."""
    out = np.zeros(int(bar_s * RATE))
    n = int(0.08 * RATE)
    t = np.arange(n) / RATE
    for beat in range(4):
        at = int(beat * BEAT * RATE)
        if part == "A":
            out[at : at + n] += 0.8 * np.sin(2 * np.pi * 60 * t) * np.exp(-t / 0.03)
        elif part == "B":
            at += int(BEAT / 2 * RATE)
            out[at : at + n] += 0.2 * rng.standard_normal(n) * np.exp(-t / 0.01)
    return out


def make_song(
    form: str, pickup: float = 0.0, seed: int = 0, bars: tuple[int, ...] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Render `form` (e.g. "ABABCA"), 8 bars a part unless `bars`; returns (samples, downbeats)."""
    rng = np.random.default_rng(seed)
    bar_s = 4 * BEAT
    bars = bars or (BARS_PER_SECTION,) * len(form)
    pieces = [np.zeros(int(pickup * RATE))]
    for part, n_bars in zip(form, bars, strict=True):
        for bar in range(n_bars):
            chord = PROGRESSIONS[part][bar % 4]
            pieces.append(_tone(chord, HARMONICS[part], bar_s) + _drums(part, bar_s, rng))
    y = np.concatenate(pieces)
    y += 0.003 * rng.standard_normal(len(y))  # a noise floor, as in any recording
    downbeats = pickup + bar_s * np.arange(sum(bars))
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32), downbeats


def _beats(downbeats: np.ndarray) -> np.ndarray:
    return (downbeats[:, None] + BEAT * np.arange(4)).ravel()


def _labels_by_form(form: str) -> list[int]:
    order: dict[str, int] = {}
    return [order.setdefault(part, len(order)) for part in form]


@pytest.fixture(scope="module")
def song() -> tuple[np.ndarray, np.ndarray, list[Section]]:
    y, downbeats = make_song("ABABCA", pickup=0.5)
    sections = find_song_sections(y, RATE, _beats(downbeats), downbeats, len(y) / RATE)
    return y, downbeats, sections


def test_form_boundaries_within_a_bar_and_on_downbeats(song) -> None:
    y, downbeats, sections = song
    truth = downbeats[BARS_PER_SECTION::BARS_PER_SECTION]  # a new part every 8 bars
    found = np.array([s.start for s in sections[1:]])
    assert len(found) == len(truth), [(s.start, s.label) for s in sections]
    assert np.all(np.abs(found - truth) <= 2.0 + 1e-6)  # one bar
    assert all(np.min(np.abs(downbeats - t)) < 1e-9 for t in found)


def test_form_repeats_share_labels(song) -> None:
    _, _, sections = song
    assert [s.label for s in sections] == _labels_by_form("ABABCA")  # [0, 1, 0, 1, 2, 0]


def test_sections_tile_the_file(song) -> None:
    y, _, sections = song
    assert sections[0].start == 0.0
    assert sections[-1].end == pytest.approx(len(y) / RATE)
    assert all(a.end == b.start for a, b in zip(sections, sections[1:], strict=False))
    assert all(a.label != b.label for a, b in zip(sections, sections[1:], strict=False))


def test_other_rate_and_repeat_give_the_same_answer() -> None:
    y, downbeats = make_song("AABBA", seed=1)
    beats = _beats(downbeats)
    first = find_song_sections(y, RATE, beats, downbeats, len(y) / RATE)
    again = find_song_sections(y, RATE, beats, downbeats, len(y) / RATE)
    assert first == again  # deterministic
    assert [s.label for s in first] == [0, 1, 0]  # A A | B B | A: same-part neighbours join
    assert [s.start for s in first] == pytest.approx([0.0, 32.0, 64.0])
    y44 = np.repeat(y, 2)  # the same music at 44.1 kHz
    at44 = find_song_sections(y44, 2 * RATE, beats, downbeats, len(y) / RATE)
    assert [(s.start, s.label) for s in at44] == [(s.start, s.label) for s in first]


def test_no_section_shorter_than_four_bars() -> None:
    """Two-bar fills are changes, but too short to be sections: A with fills stays one part."""
    y, downbeats = make_song("ABABA", seed=7, bars=(8, 2, 8, 2, 8))
    sections = find_song_sections(y, RATE, _beats(downbeats), downbeats, len(y) / RATE)
    assert sections == [Section(0.0, 56.0, 0)]


def test_short_fill_between_parts_keeps_the_parts() -> None:
    y, downbeats = make_song("ABCBA", seed=7, bars=(8, 8, 2, 8, 8))  # parts at 0 16 32 36 52 s
    sections = find_song_sections(y, RATE, _beats(downbeats), downbeats, len(y) / RATE)
    assert min(s.end - s.start for s in sections) >= 4 * 2.0 - 1e-6
    assert [s.label for s in sections] == [0, 1, 0]  # A | B fill B | A
    assert [s.start for s in sections[1:]] == pytest.approx([16.0, 52.0], abs=2.0)


def test_beatless_song_still_finds_big_changes() -> None:
    """No beats at all: 2 s blocks; the parts differ strongly, so they still count."""
    y, downbeats = make_song("ABA", seed=2)
    sections = find_song_sections(y, RATE, np.array([]), np.array([]), len(y) / RATE)
    assert [s.label for s in sections] == [0, 1, 0]
    assert [s.start for s in sections[1:]] == pytest.approx([16.0, 32.0], abs=2.0)


def _drone(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(4)
    y = _tone((45, 52, 57, 64), (1.0, 0.5, 0.3), seconds) + 0.01 * rng.standard_normal(
        int(seconds * RATE)
    )
    return (0.3 * y).astype(np.float32)


@pytest.mark.parametrize("with_beats", [False, True])
def test_steady_drone_is_one_section(with_beats: bool) -> None:
    y = _drone(90.0)
    downbeats = np.arange(0.0, 90.0, 2.0) if with_beats else np.array([])
    beats = _beats(downbeats) if with_beats else np.array([])
    assert find_song_sections(y, RATE, beats, downbeats, 90.0) == [Section(0.0, 90.0, 0)]


def test_white_noise_is_one_section() -> None:
    y = (0.1 * np.random.default_rng(5).standard_normal(60 * RATE)).astype(np.float32)
    assert find_song_sections(y, RATE, np.array([]), np.array([]), 60.0) == [Section(0.0, 60.0, 0)]


@pytest.mark.parametrize(
    "samples, duration",
    [
        (np.zeros(0, np.float32), 0.0),  # empty
        (np.zeros(40 * RATE, np.float32), 40.0),  # silent
        (make_song("AB")[0][: 12 * RATE], 12.0),  # a short clip, even with a change inside
    ],
)
def test_degenerate_input_is_one_section(samples: np.ndarray, duration: float) -> None:
    beats = np.arange(0.0, duration, BEAT)
    downbeats = beats[::4]
    assert find_song_sections(samples, RATE, beats, downbeats, duration) == [
        Section(0.0, duration, 0)
    ]


def test_effect_size_separates_shift_from_noise() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((8, 10)), rng.standard_normal((8, 10))
    assert effect_size(a, b) < 0.5  # same distribution: no effect
    assert effect_size(a, b + 1.5) > 1.0  # shifted by 1.5 sd in every dimension


def test_boundaries_between_recurring_parts_need_only_a_small_effect():
    from audio import structure

    rng = np.random.default_rng(0)
    # Verse and chorus that differ by a small-to-medium effect (~0.4 standard deviations).
    verse, chorus = np.zeros(6), np.full(6, 0.4 / np.sqrt(6))
    means = [verse, chorus, verse, chorus]
    x = np.vstack([m + rng.normal(0, 1.0 / np.sqrt(6), (40, 6)) for m in means])
    alternating = [(0, 40, 0), (40, 80, 1), (80, 120, 0), (120, 160, 1)]
    through = [(0, 40, 0), (40, 80, 1), (80, 120, 2), (120, 160, 3)]  # nothing comes back
    merged = structure._merge_while(
        alternating, structure._finer_contrast(alternating, x, set()), structure.MIN_EFFECT
    )
    assert [a for a, _, _ in merged] == [0, 40, 80, 120]
    merged = structure._merge_while(
        through, structure._finer_contrast(through, x, set()), structure.MIN_EFFECT
    )
    assert len(merged) == 1
