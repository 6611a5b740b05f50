"""`visualize analyze SONG [--json OUT] [--online]`: what the audio analysis hears."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from visualizer.errors import UserError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="analyze a song: beats, tempo, key, sections, feature curves",
        description="Print a short summary of what the analysis found; --json writes all of it.",
    )
    parser.add_argument("song", help="audio file (any format FFmpeg decodes)")
    parser.add_argument("--json", metavar="OUT", help="write beats, curves etc. to this JSON file")
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

    try:
        clip = load_audio(args.song, start=args.start, duration=args.duration)
    except AudioError as exc:
        raise UserError(str(exc)) from None
    if args.online:
        report = online_report(clip)
    else:
        from audio.analysis import analyze

        report = analyze(clip).to_dict()
    report["mode_of_analysis"] = "online" if args.online else "offline"
    report["source"] = str(args.song)
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(report))
        except OSError as exc:
            raise UserError(f"cannot write {args.json}: {exc.strerror}") from None
    print(summary(report))
    return 0


def online_report(clip) -> dict:
    """Run the streaming analyzer over the clip in 512-sample blocks, as a live input would."""
    import numpy as np

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


def summary(report: dict) -> str:
    sections = report["sections"]
    labels = "".join(chr(ord("A") + min(s["label"], 25)) for s in sections)
    return "\n".join(
        [
            f"{report['source']}: {report['duration']:.1f} s ({report['mode_of_analysis']})",
            f"  tempo {report['tempo']:.1f} BPM, {len(report['beats'])} beats, "
            f"{len(report['downbeats'])} downbeats, {len(report['onsets'])} onsets",
            f"  key {report['key'] or 'unknown'}",
            f"  {len(sections)} sections: {labels}",
            f"  curves every {report['hop'] * 1000:.1f} ms",
        ]
    )
