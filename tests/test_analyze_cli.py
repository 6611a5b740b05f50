"""`visualize analyze`: the text summary, --json extras, --plot PNG and --explain evidence."""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from audio.analysis import CURVE_NAMES, Analysis
from audio.sections import Section
from audio.synth import write_wav
from visualizer.cli import main
from visualizer.commands.analyze import complete, explain, offline_report, summary
from visualizer.mood import MOODS, nearest_mood


@pytest.fixture(scope="module")
def analyzed(beat_song, tmp_path_factory):
    """One CLI run with every output on the 6 s, 120 BPM synthetic song: (stdout, folder)."""
    path, _ = beat_song
    folder = tmp_path_factory.mktemp("analyze")
    out = io.StringIO()
    argv = ["analyze", str(path), "--json", str(folder / "a.json")]
    argv += ["--plot", str(folder / "a.png"), "--explain", str(folder / "why.json")]
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return out.getvalue(), folder


def test_text_shows_tempo_meter_key_and_sections(analyzed):
    text, _ = analyzed
    assert "BPM" in text and "meter 4/4" in text
    key_line = next(line for line in text.splitlines() if line.strip().startswith("key"))
    assert "(confidence" in key_line and "unknown (" not in key_line
    assert "1 section: A" in text
    row = next(line for line in text.splitlines() if line.startswith("    A ")).split()
    assert row[0] == "A" and row[1] == "0:00.0-0:06.0"
    assert row[2] == "3"  # 6 s of 4/4 at 120 BPM: three bars
    assert any(mood in row for mood in MOODS)


def test_json_has_meter_and_section_moods(analyzed):
    _, folder = analyzed
    data = json.loads((folder / "a.json").read_text())
    assert data["meter"] == "4/4" and data["beats_per_bar"] == 4
    assert abs(data["tempo"] - 120.0) < 3.0
    assert {"beats", "downbeats", "onsets", "tempo_curve", "curves", "key"} <= set(data)
    section = data["sections"][0]
    assert {"letter", "bars", "key", "key_confidence", "arousal", "valence", "mood"} <= set(section)
    assert section["mood"] == nearest_mood(section["arousal"], section["valence"])
    downbeats = np.array(data["downbeats"])
    inside = (downbeats >= section["start"]) & (downbeats < section["end"])
    assert section["bars"] == int(inside.sum()) > 0


def test_plot_is_a_real_png_without_leftovers(analyzed):
    _, folder = analyzed
    with Image.open(folder / "a.png") as image:
        assert image.format == "PNG" and image.size == (1400, 600)
        pixels = np.asarray(image.convert("RGB")).astype(np.int64)
    assert pixels.std() > 30  # not a blank canvas
    colours = np.unique(pixels[..., 0] << 16 | pixels[..., 1] << 8 | pixels[..., 2])
    assert len(colours) > 500  # a spectrogram, not a few boxes
    assert sorted(p.name for p in folder.iterdir()) == ["a.json", "a.png", "why.json"]


def test_explain_gives_evidence_per_section(analyzed):
    _, folder = analyzed
    entries = json.loads((folder / "why.json").read_text())
    sections = json.loads((folder / "a.json").read_text())["sections"]
    assert len(entries) == len(sections)
    entry = entries[0]
    assert entry["event"] == "section" and entry["mood"] == sections[0]["mood"]
    features = entry["features"]
    assert abs(features["tempo"] - 120.0) < 3.0 and features["metrical_level"] == "beat level"
    assert features["onsets_per_second"] > 1.0 and 0.0 < features["energy"] <= 1.0
    assert min(features["mood_distances"], key=features["mood_distances"].get) == entry["mood"]
    assert f"mood {entry['mood']}" in entry["reason"] and "BPM" in entry["reason"]


def test_without_matplotlib_one_line_but_json_still_written(
    beat_song, tmp_path, capsys, monkeypatch
):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "visualizer.plot", raising=False)  # import it afresh
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    path, _ = beat_song
    json_out, png_out = tmp_path / "a.json", tmp_path / "a.png"
    code = main(["analyze", str(path), "--json", str(json_out), "--plot", str(png_out)])
    captured = capsys.readouterr()
    assert code != 0
    assert (
        captured.err == "visualize: error: --plot needs matplotlib: pip install 'visualize[plot]'\n"
    )
    assert "BPM" in captured.out
    assert json.loads(json_out.read_text())["meter"] == "4/4"
    assert not png_out.exists()


def test_non_ascii_paths(beat_song, tmp_path, capsys):
    folder = tmp_path / "Lieder ä 音楽"
    folder.mkdir()
    song = folder / "Veränderung – ß.wav"
    shutil.copy(beat_song[0], song)
    png, data = folder / "Bild ü.png", folder / "Daten é.json"
    assert main(["analyze", str(song), "--plot", str(png), "--json", str(data)]) == 0
    assert "Veränderung – ß.wav" in capsys.readouterr().out
    assert json.loads(data.read_text(encoding="utf-8"))["source"] == str(song)
    with Image.open(png) as image:
        assert image.size == (1400, 600)


def test_no_beat_is_said_plainly_and_still_plotted(tmp_path, capsys):
    rng = np.random.default_rng(0)
    hum = 0.2 * np.sin(2 * np.pi * 220 * np.arange(3 * 22050) / 22050) + 0.01 * rng.standard_normal(
        3 * 22050
    )
    song = write_wav(tmp_path / "hum.wav", hum.astype(np.float32), 22050)
    png = tmp_path / "hum.png"
    assert main(["analyze", str(song), "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "no steady beat" in text and "meter unknown" in text
    with Image.open(png) as image:
        assert np.asarray(image.convert("L"), dtype=float).std() > 20


def test_bad_plot_target_is_one_line_error(beat_song, tmp_path, capsys):
    path, _ = beat_song
    assert main(["analyze", str(path), "--plot", str(tmp_path / "a.jpg")]) != 0
    assert ".png" in capsys.readouterr().err
    missing = tmp_path / "no such folder" / "a.png"
    assert main(["analyze", str(path), "--plot", str(missing)]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("visualize: error: cannot write") and "\n" not in err


# -- the report from an Analysis, with the lead's new fields filled in or not ------------------


def _analysis(filled: bool) -> Analysis:
    """18 s of 3/4 at 120 BPM, sections A B A; `filled` sets meter, key confidence, section facts."""
    times = np.arange(0, 18.0, 0.01)
    arousal = np.where(times < 6.0, 0.8, 0.3)
    curves = {name: np.full(len(times), 0.5) for name in CURVE_NAMES}
    curves["arousal"], curves["valence"] = arousal, np.full(len(times), 0.25)
    beats = np.arange(0, 18.0, 0.5)
    extra = [("A minor", 0.62, 0.85, 0.2), ("C major", 0.7, 0.6, 0.8), ("A minor", 0.6, 0.2, 0.2)]
    spans = [(0.0, 6.0, 3), (6.0, 12.0, 7), (12.0, 18.0, 3)]  # label ids need not start at 0
    sections = [
        Section(s, e, label, *facts) if filled else Section(s, e, label)
        for (s, e, label), facts in zip(spans, extra, strict=True)
    ]
    return Analysis(
        duration=18.0,
        hop=0.01,
        times=times,
        curves=curves,
        chroma=np.zeros((len(times), 12)),
        beats=beats,
        downbeats=beats[::3],
        onsets=beats,
        tempo=120.0,
        tempo_times=np.array([0.0, 18.0]),
        tempo_curve=np.array([120.0, 120.0]),
        key="A minor",
        mode="minor",
        sections=sections,
        beats_per_bar=3 if filled else 0,
        beat_numbers=np.tile([1, 2, 3], 12) if filled else None,
        key_confidence=0.62 if filled else 0.0,
    )


def _report(filled: bool) -> dict:
    report = offline_report(_analysis(filled))
    report.update(mode_of_analysis="offline", source="song.mp3")
    return complete(report)


def test_report_uses_the_analysis_fields_when_filled():
    report = _report(filled=True)
    text = summary(report)
    assert "meter 3/4" in text and "A minor (confidence 0.62)" in text
    assert "3 sections: A B A" in text
    assert report["beat_numbers"][:4] == [1, 2, 3, 1]
    moods = [s["mood"] for s in report["sections"]]
    assert moods == [nearest_mood(0.85, 0.2), nearest_mood(0.6, 0.8), nearest_mood(0.2, 0.2)]
    assert moods == ["intense", "happy", "sad"]
    assert [s["bars"] for s in report["sections"]] == [4, 4, 4]
    assert [s["key"] for s in report["sections"]] == ["A minor", "C major", "A minor"]
    rows = text.splitlines()[-3:]
    assert rows[1].split()[:5] == ["B", "0:06.0-0:12.0", "4", "C", "major"]


def test_report_falls_back_to_curves_and_downbeats_when_empty():
    report = _report(filled=False)
    assert report["meter"] == "3/4"  # from the downbeat spacing
    assert "A minor (confidence unknown)" in summary(report)
    first, second = report["sections"][:2]
    assert (first["arousal"], first["valence"]) == (0.8, 0.25)  # the curves' section means
    assert first["mood"] == nearest_mood(0.8, 0.25) and second["mood"] == nearest_mood(0.3, 0.25)
    assert first["key"] == ""
    entries = explain(report)
    assert [e["letter"] for e in entries] == ["A", "B", "A"]
    assert entries[1]["features"]["onsets_per_beat"] == 1.0
