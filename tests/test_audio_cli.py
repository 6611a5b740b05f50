"""`visualize analyze` end to end, and the analyzers on real recordings (skipped when absent)."""

from __future__ import annotations

import json

import mir_eval
import numpy as np
import pytest

from tests.helpers import shared_audio
from visualizer.cli import main


@pytest.mark.parametrize("online", [False, True])
def test_analyze_writes_json_and_summary(beat_song, tmp_path, capsys, online):
    path, track = beat_song
    out = tmp_path / "analysis.json"
    argv = ["analyze", str(path), "--json", str(out)] + (["--online"] if online else [])
    assert main(argv) == 0
    summary = capsys.readouterr().out
    assert "BPM" in summary and "beats" in summary
    data = json.loads(out.read_text())
    assert abs(data["tempo"] - track.bpm) < 0.04 * track.bpm
    beats = np.array(data["beats"])
    skip = 4.0 if online else 1.0
    ref = track.beats[track.beats >= skip]
    assert mir_eval.beat.f_measure(ref, beats[beats >= skip]) >= 0.85
    assert len(data["curves"]["energy"]) == len(data["curves"]["times"])
    assert {"start", "end", "label"} <= set(data["sections"][0])


def test_analyze_bad_file_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "not_audio.mp3"
    bad.write_text("hello")
    assert main(["analyze", str(bad)]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("visualize: error:") and "\n" not in err


def test_whale_song_has_no_offline_beat():
    from audio.analysis import analyze
    from audio.source import load_audio

    result = analyze(load_audio(shared_audio("glacier-bay-humpback.ogg"), duration=30.0))
    assert len(result.beats) == 0
    assert all(np.all(np.isfinite(c)) for c in result.curves.values())


def test_pop_song_has_a_steady_beat():
    from audio.analysis import analyze
    from audio.source import load_audio

    result = analyze(load_audio(shared_audio("Karissa_Hobbs_-_Lets_Go_Fishin.ogg"), duration=30.0))
    assert 60 <= result.tempo <= 200
    intervals = np.diff(result.beats)
    # A steady song: beat intervals agree with the tempo within 10% almost everywhere.
    assert np.mean(np.abs(intervals - 60 / result.tempo) < 0.1 * 60 / result.tempo) > 0.9
