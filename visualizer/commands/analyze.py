"""`visualize analyze SONG [--json OUT] [--plot OUT.png] [--explain OUT.json] [--online]`.

Prints what the audio analysis hears. Everything downstream of the analysis (the text, the
JSON extras, --explain and the picture) reads one report dict, so the offline and the
streaming (--online) analyzers are shown the same way.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from visualizer.errors import UserError

PLOT_MISSING = "--plot needs matplotlib: pip install 'visualize[plot]'"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="analyze a song: beats, tempo, meter, key, sections, mood, feature curves",
        description="Print a short summary of what the analysis found; --json writes all of it, "
        "--plot draws it over the spectrogram, --explain gives the evidence per section.",
    )
    parser.add_argument("song", type=Path, help="audio file (any format FFmpeg decodes)")
    parser.add_argument(
        "--json", type=Path, metavar="OUT", help="write everything to this JSON file"
    )
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="PNG",
        help="draw beats, sections, tempo, key and mood over the spectrogram (needs matplotlib)",
    )
    parser.add_argument(
        "--explain",
        type=Path,
        metavar="JSON",
        help="write the evidence behind each section's tempo, key and mood",
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="report what the streaming (live) analyzer would have seen instead",
    )
    parser.add_argument("--start", type=float, default=0.0, help="seconds to skip")
    parser.add_argument("--duration", type=float, default=None, help="seconds to analyze")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from audio.source import AudioError, load_audio

    outputs = [p for p in (args.json, args.plot, args.explain) if p is not None]
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise UserError(f"--plot writes a .png file, got {args.plot}")
    for path in outputs:  # fail before the analysis, not after it
        if not path.parent.is_dir():
            raise UserError(f"cannot write {_printable(str(path))}: no such folder")
    if args.song.exists() and any(p.resolve() == args.song.resolve() for p in outputs):
        raise UserError("an output would overwrite the input file")
    # Only the online replay and the plot's spectrogram need the audio itself; the offline
    # analysis streams the file, so an hour-long mix does not sit in memory.
    clip = None
    try:
        if args.online or args.plot:
            clip = load_audio(args.song, start=args.start, duration=args.duration)
        if args.online:
            report = online_report(clip)
        else:
            from audio.analysis import analyze, analyze_file
            from visualizer.plan import build_plan

            if clip is not None:
                analysis = analyze(clip)
            else:
                analysis = analyze_file(args.song, start=args.start, duration=args.duration)
    except AudioError as exc:
        raise UserError(str(exc)) from None
    if not args.online:
        report = offline_report(analysis)
        # The mood a render will draw for each section: the plan's, which pools repeats.
        planned = build_plan(analysis).sections
        for entry, section in zip(report["sections"], planned, strict=False):
            entry.setdefault("mood", section.look.mood)
    report["mode_of_analysis"] = "online" if args.online else "offline"
    report["source"] = str(args.song)
    complete(report)
    if args.json:
        _write_atomic(args.json, json.dumps(report).encode())
    if args.explain:
        _write_atomic(args.explain, json.dumps(explain(report), indent=1).encode())
    _print(summary(report))
    if args.plot:
        # After the JSON: a missing optional extra must not cost the user the analysis.
        try:
            from visualizer.plot import plot_png
        except ImportError as exc:
            if (exc.name or "").partition(".")[0] != "matplotlib":
                raise
            raise UserError(PLOT_MISSING) from None
        _write_atomic(args.plot, plot_png(report, clip.samples, clip.sample_rate))
        print(f"wrote {_printable(str(args.plot))}")
    return 0


def offline_report(analysis) -> dict:
    """`Analysis.to_dict()`, plus the meter, key confidence and section facts where it lacks them.

    `setdefault`: once to_dict carries a field, its value wins.
    """
    report = analysis.to_dict()
    report.setdefault("beats_per_bar", int(analysis.beats_per_bar))
    report.setdefault("key_confidence", round(float(analysis.key_confidence), 3))
    if analysis.beat_numbers is not None:
        report.setdefault("beat_numbers", [int(n) for n in analysis.beat_numbers])
    for entry, section in zip(report["sections"], analysis.sections, strict=True):
        if section.key:
            entry.setdefault("key", section.key)
            entry.setdefault("key_confidence", round(section.key_confidence, 3))
        if (section.arousal, section.valence) == (0.0, 0.5):
            # Section's defaults mean "not measured": complete() takes the curves' means.
            entry.pop("arousal", None)
            entry.pop("valence", None)
        else:
            entry.setdefault("arousal", round(section.arousal, 3))
            entry.setdefault("valence", round(section.valence, 3))
    return report


def complete(report: dict) -> dict:
    """Add meter, letters, bars, mood names and missing section means to the report, in place."""
    from visualizer.mood import nearest_mood

    beats = np.asarray(report["beats"], dtype=float)
    downbeats = np.asarray(report["downbeats"], dtype=float)
    per_bar = int(report.get("beats_per_bar") or 0) or _infer_beats_per_bar(beats, downbeats)
    report["beats_per_bar"] = per_bar
    report["meter"] = f"{per_bar}/4" if per_bar else ""
    curves = report.get("curves", {})
    times = np.asarray(curves.get("times", []), dtype=float)
    letters: dict[int, str] = {}
    for entry in report["sections"]:
        start, end = entry["start"], entry["end"]
        # Letters in order of first appearance, so the song reads A B A C whatever the ids.
        letter = letters.setdefault(entry["label"], _letter(len(letters)))
        entry.setdefault("letter", letter)
        inside = (times >= start) & (times < end)
        for name, empty in (("arousal", 0.0), ("valence", 0.5)):
            if name not in entry:
                values = np.asarray(curves.get(name, []), dtype=float)
                mean = float(values[inside].mean()) if inside.any() and len(values) else empty
                entry[name] = round(mean, 3)
        entry.setdefault("key", "")
        entry.setdefault("key_confidence", 0.0)
        entry.setdefault("bars", _bars(beats, downbeats, per_bar, start, end))
        entry.setdefault("mood", nearest_mood(entry["arousal"], entry["valence"]))
    return report


def summary(report: dict) -> str:
    """A few lines and a section table, readable in an 80-column terminal."""
    name = Path(report["source"]).name
    tempo = f"{report['tempo']:.1f} BPM" if report["beats"] else "no steady beat"
    lines = [
        f"{name}: {_clock(report['duration'])} ({report['duration']:.1f} s, "
        f"{report['mode_of_analysis']})",
        f"  tempo  {tempo}, meter {report['meter'] or 'unknown'}",
        f"  beats  {len(report['beats'])} beats, {len(report['downbeats'])} downbeats, "
        f"{len(report['onsets'])} onsets",
        f"  key    {_key_text(report['key'], report.get('key_confidence', 0.0))}",
        f"  {_count(len(report['sections']), 'section')}: "
        + " ".join(s["letter"] for s in report["sections"]),
        "       start-end        bars  key        mood        arousal  valence",
    ]
    for s in report["sections"]:
        span = f"{_clock(s['start'])}-{_clock(s['end'])}"
        bars = str(s["bars"]) if s["bars"] else "-"
        lines.append(
            f"    {s['letter']:<2} {span:<16} {bars:>4}  {s['key'] or '-':<10} {s['mood']:<11}"
            f" {s['arousal']:>7.2f}  {s['valence']:>7.2f}"
        )
    return "\n".join(lines)


def explain(report: dict) -> list[dict]:
    """Per section, the evidence behind its tempo, key and mood (render --explain's shape)."""
    from visualizer.mood import MOOD_CENTRES

    beats = np.asarray(report["beats"], dtype=float)
    onsets = np.asarray(report["onsets"], dtype=float)
    curves = report.get("curves", {})
    times = np.asarray(curves.get("times", []), dtype=float)
    energy = np.asarray(curves.get("energy", []), dtype=float)
    song_energy = float(energy.mean()) if len(energy) else 0.0
    song_tempo = float(report["tempo"]) if len(beats) else 0.0
    per_bar = report["beats_per_bar"]
    entries = []
    for s in report["sections"]:
        start, end = s["start"], s["end"]
        length = max(end - start, 1e-6)
        inside = beats[(beats >= start) & (beats < end)]
        local = 60.0 / np.diff(inside) if len(inside) >= 2 else np.zeros(0)
        tempo = float(np.median(local)) if len(local) else 0.0
        # The spread shows a stretch at another level that the median hides.
        low, high = (float(np.percentile(local, q)) for q in (10, 90)) if len(local) else (0, 0)
        level = _metrical_level(tempo, song_tempo)
        onset_rate = float(np.sum((onsets >= start) & (onsets < end)) / length)
        mask = (times >= start) & (times < end)
        loud = float(energy[mask].mean()) if mask.any() and len(energy) else 0.0
        # The same Euclidean distance nearest_mood ranks by, shown so the choice can be checked.
        distances = {
            mood: round(math.hypot(s["arousal"] - a, s["valence"] - v), 3)
            for mood, (a, v) in MOOD_CENTRES.items()
        }
        nearest, runner_up = sorted(distances, key=distances.get)[:2]
        if tempo:
            bar = f", bar {per_bar * 60 / tempo:.2f} s" if per_bar else ""
            spread = f" (80% within {low:.0f}-{high:.0f})" if high > 1.2 * low else ""
            per_beat = onset_rate * 60 / tempo
            rhythm = f"{tempo:.0f} BPM{spread}, {level}{bar}, {per_beat:.1f} onsets a beat"
        else:
            rhythm = "no steady beat"
        reason = (
            f"section {s['letter']} {_clock(start)}-{_clock(end)}: {rhythm}; "
            f"{onset_rate:.1f} onsets/s; energy {loud:.2f} (song {song_energy:.2f}); "
            f"key {_key_text(s['key'], s['key_confidence'])}; mood {s['mood']}: "
            f"arousal {s['arousal']:.2f}, valence {s['valence']:.2f} is nearest {nearest} "
            f"(distance {distances[nearest]:.2f}; next {runner_up} {distances[runner_up]:.2f})"
        )
        entries.append(
            {
                "time": start,
                "end": end,
                "event": "section",
                "reason": reason,
                "mood": s["mood"],
                "section": s["label"],
                "letter": s["letter"],
                "features": {
                    "tempo": round(tempo, 2),
                    "tempo_range": [round(low, 2), round(high, 2)],
                    "metrical_level": level,
                    "beats_per_bar": per_bar,
                    "onsets_per_second": round(onset_rate, 2),
                    "onsets_per_beat": round(onset_rate * 60 / tempo, 2) if tempo else 0.0,
                    "energy": round(loud, 3),
                    "song_energy": round(song_energy, 3),
                    "key": s["key"],
                    "key_confidence": s["key_confidence"],
                    "arousal": s["arousal"],
                    "valence": s["valence"],
                    "mood_distances": distances,
                },
            }
        )
    return entries


def online_report(clip) -> dict:
    """Run the streaming analyzer over the clip in 512-sample blocks, as a live input would."""
    from audio.streaming import StreamingAnalyzer

    analyzer = StreamingAnalyzer(clip.sample_rate)
    frames = []
    for start in range(0, len(clip.samples), 512):
        frames.extend(analyzer.push(clip.samples[start : start + 512]))
    times = [f.time for f in frames]
    last = frames[-1] if frames else None

    def events(flag: str) -> list[float]:
        return [round(f.time, 4) for f in frames if getattr(f, flag)]

    beats = events("is_beat")
    starts = [0.0] + events("is_section_start")
    labels = [frames[0].section if frames else 0] + [
        f.section for f in frames if f.is_section_start
    ]
    ends = starts[1:] + [round(clip.duration, 4)]
    tempo = float(np.median([f.tempo for f in frames if f.tempo > 0] or [0.0]))
    curve_names = ("energy", "bass", "mid", "treble", "brightness", "onset", "arousal", "valence")
    return {
        "duration": round(clip.duration, 4),
        "hop": round(times[1] - times[0], 6) if len(times) > 1 else 0.0,
        "tempo": round(tempo, 2),
        "key": last.key if last else "",
        "mode": last.mode if last else "",
        "key_confidence": round(float(getattr(last, "key_confidence", 0.0)), 3) if last else 0.0,
        "beats_per_bar": int(getattr(last, "beats_per_bar", 0)) if last else 0,
        "beats": beats,
        "downbeats": events("is_downbeat"),
        "onsets": events("is_onset"),
        "tempo_curve": {
            "times": [round(f.time, 3) for f in frames[::100]],
            "bpm": [round(f.tempo, 2) for f in frames[::100]],
        },
        "sections": [
            {"start": s, "end": e, "label": label}
            for s, e, label in zip(starts, ends, labels, strict=True)
        ],
        "curves": {
            "times": [round(t, 4) for t in times],
            **{name: [round(getattr(f, name), 3) for f in frames] for name in curve_names},
            "chroma": [[round(c, 3) for c in f.chroma] for f in frames],
        },
    }


def _infer_beats_per_bar(beats: np.ndarray, downbeats: np.ndarray) -> int:
    """Meter from the downbeat spacing, for analyses that do not state it (0 if unknown)."""
    if len(downbeats) < 2 or len(beats) < 2:
        return 0
    counts = np.diff(np.searchsorted(beats, downbeats - 1e-3))
    counts = counts[counts > 0]
    return int(np.median(counts)) if len(counts) else 0


def _bars(beats: np.ndarray, downbeats: np.ndarray, per_bar: int, start: float, end: float) -> int:
    """Downbeats inside [start, end), or beats / meter when no downbeats were found."""
    if len(downbeats):
        return int(np.sum((downbeats >= start) & (downbeats < end)))
    if per_bar:
        return int(np.sum((beats >= start) & (beats < end)) // per_bar)
    return 0


def _metrical_level(tempo: float, song_tempo: float) -> str:
    """How a section's beat relates to the song's: a 2:1 ratio means the tracker switched level."""
    if not tempo or not song_tempo:
        return "no beat level"
    ratio = tempo / song_tempo
    for name, target in (("beat level", 1.0), ("double time", 2.0), ("half time", 0.5)):
        if abs(ratio / target - 1.0) < 0.08:
            return name
    return f"{ratio:.2f}x the song tempo"


def _key_text(key: str, confidence: float) -> str:
    if not key:
        return "unknown"
    return f"{key} (confidence {confidence:.2f})" if confidence else f"{key} (confidence unknown)"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _letter(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else f"Z{index - 25}"


def _clock(seconds: float) -> str:
    """mm:ss.s"""
    minutes, rest = divmod(max(0.0, float(seconds)), 60.0)
    if round(rest, 1) >= 60.0:  # 59.96 s must not print as "0:60.0"
        minutes, rest = minutes + 1, 0.0
    return f"{int(minutes)}:{rest:04.1f}"


def _printable(text: str) -> str:
    """Text the terminal can take: undecodable file names must not crash the summary."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    return text.encode(encoding, errors="backslashreplace").decode(encoding)


def _print(text: str) -> None:
    print(_printable(text))


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename: a reader never sees half a file."""
    path = Path(path)
    try:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UserError(f"cannot write {_printable(str(path))}: {exc.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes 0600; give it a normal file's mode
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise UserError(f"cannot write {_printable(str(path))}: {exc.strerror}") from None
