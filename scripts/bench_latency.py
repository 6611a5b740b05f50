"""Latency benchmark for `visualize live`: audio onset to changed pixels in the window.

    QT_QPA_PLATFORM=offscreen python scripts/bench_latency.py

A click track (one click a second on silence, at jittered times) runs through the whole
live app - source, analysis, scheduler, render worker, window - with the embedded
engine. After every frame the window shows, the window's own pixels are grabbed; the
first grab after a click whose pixels differ from the quiet frames before it by more
than the quiet frames differ among themselves marks the reaction. Latency = the audio
clock at that grab minus the click's time. The source runs on the file's clock (what a
listener would hear at that instant); the sound card's own input/output buffering
(typically 10-40 ms, device dependent) is not in this figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from benchjson import write_section  # scripts/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RATE = 22050


def click_track(count: int, seed: int = 0) -> tuple[np.ndarray, list[float]]:
    rng = np.random.default_rng(seed)
    clicks = [1.5 + i * 1.0 + float(rng.uniform(0, 0.2)) for i in range(count)]
    audio = np.zeros(int((clicks[-1] + 1.5) * RATE), np.float32)
    burst = (
        0.9 * np.sin(np.arange(2000) * 2 * np.pi * 150 / RATE) * np.exp(-np.arange(2000) / 800)
    ).astype(np.float32)
    for at in clicks:
        start = int(at * RATE)
        audio[start : start + len(burst)] += burst
    return audio, clicks


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/benchmarks/live.json")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PyQt6.QtWidgets import QApplication

    from audio.capture import PlaybackSource
    from audio.source import AudioClip
    from render.embedded import EmbeddedGenerator
    from visualizer.live import LiveApp, LiveComponents, LiveOptions, make_analyzer, parse_size
    from visualizer.scheduler import Scheduler
    from visualizer.styles import load_style

    width, height = parse_size(args.size)
    qt = QApplication.instance() or QApplication(["bench"])
    audio, clicks = click_track(args.clicks)
    source = PlaybackSource(AudioClip(audio, RATE), play=False)
    parts = LiveComponents(
        source=source,
        analyzer=make_analyzer(RATE),
        make_scheduler=lambda name: Scheduler(load_style(name), seed=0, timeline_limit=256),
        generator=EmbeddedGenerator(width, height, 0),
    )
    app = LiveApp(LiveOptions(), parts)
    app.window.resize(width, height)
    grabs: list[tuple[float, np.ndarray]] = []

    def grab_window(_frame) -> None:
        app.window.repaint()  # paint now, so the grab is what the screen gets this tick
        image = (
            app.window.grab()
            .toImage()
            .convertToFormat(app.window.grab().toImage().Format.Format_Grayscale8)
        )
        pixels = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
        grabs.append(
            (
                source.clock(),
                pixels.reshape(image.height(), -1)[:, : image.width()].astype(np.int16),
            )
        )

    app.on_frame.append(grab_window)
    app.start()
    qt.exec()
    app.stop()

    latencies, missed = [], 0
    for at in clicks:
        before = [g for t, g in grabs if at - 0.35 <= t < at]
        after = [(t, g) for t, g in grabs if at <= t < at + 0.5]
        if len(before) < 3 or not after:
            missed += 1
            continue
        quiet = max(float(np.abs(b - a).mean()) for a, b in zip(before, before[1:], strict=False))
        reference = before[-1]
        hit = next(
            (t for t, g in after if float(np.abs(g - reference).mean()) > 2 * quiet + 1.0), None
        )
        if hit is None:
            missed += 1
        else:
            latencies.append((hit - at) * 1000)
    values = np.asarray(latencies)
    stats = app.stats()
    result = {
        "what": "audio onset -> changed pixels in the live window (embedded engine)",
        "machine": "2-core CPU, 24 GiB (shared with other jobs)",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "QT_QPA_PLATFORM=offscreen python scripts/bench_latency.py",
        "python": platform.python_version(),
        "size": f"{width}x{height}",
        "clicks": len(clicks),
        "detected": len(latencies),
        "missed": missed,
        "latency_ms_p50": round(float(np.percentile(values, 50)), 1) if values.size else None,
        "latency_ms_p90": round(float(np.percentile(values, 90)), 1) if values.size else None,
        "latency_ms_max": round(float(values.max()), 1) if values.size else None,
        "latency_ms_all": [round(v, 1) for v in latencies],
        "display_fps": stats["fps"],
        "render_ms_last": stats["render_ms"],
        "frame_latency_ms_p50": stats["latency_ms_p50"],
        "target_ms_p50": 100,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_section(args.out, "latency", result)
    print(json.dumps({k: v for k, v in result.items() if k != "latency_ms_all"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
