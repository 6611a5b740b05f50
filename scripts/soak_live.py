"""Soak test for `visualize live`: run the whole live app for a long time on a synthetic
source and check that memory stays flat and no counter of lost audio keeps growing.

    QT_QPA_PLATFORM=offscreen python scripts/soak_live.py --minutes 10

The source is a looped synthetic beat (kick + hat + chord at 120 BPM), played through
PortAudio when an output device exists (e.g. a PulseAudio null sink) and otherwise run
on its own clock. Every 10 s it samples RSS and the app's counters; the result goes to the
"soak" section of docs/benchmarks/live.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
from benchjson import write_section  # scripts/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic_beat(
    sample_rate: int = 22050, seconds: float = 8.0, bpm: float = 120.0
) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    beat = 60.0 / bpm
    phase = t % beat
    kick = np.sin(2 * np.pi * 55 * t) * np.exp(-phase / 0.08)
    hat_phase = (t + beat / 2) % beat
    hat = np.random.default_rng(0).standard_normal(len(t)) * np.exp(-hat_phase / 0.02) * 0.3
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220, 277, 330)) * 0.1
    return (0.5 * (kick + hat + chord)).astype(np.float32)


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/benchmarks/live.json")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from audio.capture import PlaybackSource
    from audio.source import AudioClip
    from render.embedded import EmbeddedGenerator
    from visualizer.live import LiveApp, LiveComponents, LiveOptions, make_analyzer
    from visualizer.scheduler import Scheduler
    from visualizer.styles import load_style

    qt = QApplication.instance() or QApplication(["soak"])
    clip = AudioClip(synthetic_beat(), 22050)
    source = PlaybackSource(clip, loop=True)
    parts = LiveComponents(
        source=source,
        analyzer=make_analyzer(22050),
        make_scheduler=lambda name: Scheduler(load_style(name), seed=0),
        generator=EmbeddedGenerator(640, 360, 0),
    )
    app = LiveApp(LiveOptions(loop=True, hud=True, duration=args.minutes * 60), parts)
    samples: list[dict] = []
    started = time.monotonic()

    def sample() -> None:
        stats = app.stats()
        samples.append(
            {
                "t_s": round(time.monotonic() - started, 1),
                "rss_mib": round(rss_mib(), 1),
                **{
                    k: stats[k]
                    for k in (
                        "fps",
                        "latency_ms_p50",
                        "rendered",
                        "dropped_requests",
                        "dropped_frames",
                        "render_errors",
                        "input_overflows",
                        "output_underflows",
                        "dropped_audio_blocks",
                        "analysis_errors",
                    )
                },
            }
        )
        print(json.dumps(samples[-1]), flush=True)

    timer = QTimer()
    timer.timeout.connect(sample)
    timer.start(10_000)
    app.start()
    qt.exec()
    audio = source.stats  # before stop(), which closes the output stream
    app.stop()
    sample()
    warm = [s for s in samples if s["t_s"] >= 120] or samples  # after start-up allocations
    first, last = warm[0], warm[-1]
    result = {
        "machine": "2-core CPU, 24 GiB (shared with other jobs)",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": f"QT_QPA_PLATFORM=offscreen python scripts/soak_live.py --minutes {args.minutes:g}",
        "python": platform.python_version(),
        "playback": audio.playback,
        "audio_status": audio.status,
        "minutes": args.minutes,
        "rss_mib_after_2min": first["rss_mib"],
        "rss_mib_end": last["rss_mib"],
        "rss_growth_mib_after_2min": round(last["rss_mib"] - first["rss_mib"], 1),
        "underflows_growth_after_2min": last["output_underflows"] - first["output_underflows"],
        "dropped_audio_blocks_end": last["dropped_audio_blocks"],
        "render_errors_end": last["render_errors"],
        "analysis_errors_end": last["analysis_errors"],
        "samples": samples,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_section(args.out, "soak", result)
    print(f"wrote {args.out}: RSS {first['rss_mib']} -> {last['rss_mib']} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
