"""Benchmark: cost of Scheduler.update() per frame (it runs at up to 100 Hz in the live loop).

Writes docs/benchmarks/scheduler.json. Run: .venv/bin/python scripts/bench_scheduler.py
"""

from __future__ import annotations

import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audio.features import FeatureFrame  # noqa: E402
from visualizer.scheduler import Scheduler  # noqa: E402
from visualizer.styles import load_style  # noqa: E402


def frames(seconds: float, fps: int, bpm: float = 124.0) -> list[FeatureFrame]:
    beat, out = 60.0 / bpm, []
    for i in range(int(seconds * fps)):
        t = i / fps
        is_beat = (t % beat) < 1.0 / fps
        level = 0.3 + 0.6 * ((t // 20) % 2)  # louder every other 20 s: mood changes
        out.append(FeatureFrame(time=t, energy=level, arousal=level, valence=0.6, tempo=bpm,
                                is_beat=is_beat, is_downbeat=is_beat and int(t / beat) % 4 == 0,
                                section=int(t // 30) % 3, is_section_start=t % 30 < 1.0 / fps,
                                mode="major", key="D major", brightness=0.5, silent=False))  # fmt: skip
    return out


def main() -> None:
    results = {}
    for fps in (30, 100):
        sequence = frames(600, fps)
        best = float("inf")
        for _ in range(3):
            scheduler = Scheduler(load_style("default"), seed=0)
            start = time.perf_counter()
            for frame in sequence:
                scheduler.update(frame)
            best = min(best, time.perf_counter() - start)
        results[f"{fps}fps"] = {
            "frames": len(sequence),
            "cues": len(scheduler.explain()),
            "us_per_update": round(best / len(sequence) * 1e6, 2),
        }
    report = {
        "benchmark": "Scheduler.update() per frame, 10 min synthetic song, best of 3",
        "machine": "2-core CPU, 24 GiB (shared)",
        "python": platform.python_version(),
        "date": date.today().isoformat(),
        "command": ".venv/bin/python scripts/bench_scheduler.py",
        "results": results,
    }
    out = ROOT / "docs" / "benchmarks" / "scheduler.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
