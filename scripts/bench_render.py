"""Render speed of the embedded engine: engine alone and the whole offline pipeline.

    python scripts/bench_render.py            # writes docs/benchmarks/render.{json,md}

For each size it renders a synthetic 124 BPM song at 24 fps and reports frames per
second and the ratio to real time (> 1 means faster than the music plays).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from audio.synth import make_beat_track, write_wav
from render.embedded import EmbeddedGenerator
from render.frames import Cue, Drive, FrameRequest
from visualizer.pipeline import RenderSettings, render_file

SIZES = ((512, 512), (1280, 720))
FPS = 24.0
OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"


def engine_only(width: int, height: int, frames: int) -> float:
    """Frames per second of EmbeddedGenerator.render alone, on a synthetic drive."""
    generator = EmbeddedGenerator(width, height, seed=0)
    rng = np.random.default_rng(0)
    cue = Cue(0.0)
    began = time.perf_counter()
    for i in range(frames):
        t = i / FPS
        phase = (t * 2.0) % 1.0
        drive = Drive(
            time=t,
            energy=0.6,
            bass=float(np.exp(-4 * phase)),
            onset=float(np.exp(-8 * phase)),
            beat=float(np.exp(-phase * 2.8)),
            beat_phase=phase,
            chroma=tuple(rng.random(12)),
        )
        generator.render(FrameRequest(i, t, cue, drive))
    return frames / (time.perf_counter() - began)


def whole_pipeline(song: Path, width: int, height: int, folder: Path) -> dict:
    settings = RenderSettings(
        out=folder / f"bench-{width}x{height}.mp4",
        fps=FPS,
        width=width,
        height=height,
        engine="embedded",
    )
    began = time.perf_counter()
    result = render_file(song, settings, notice=lambda _: None)
    total = time.perf_counter() - began
    return {
        "frames": result.frames,
        "audio_seconds": round(result.audio_seconds, 2),
        "render_fps": round(result.fps_achieved, 1),
        "render_x_realtime": round(result.audio_seconds / result.seconds, 2),
        "wall_seconds_incl_analysis": round(total, 2),
        "x_realtime_incl_analysis": round(result.audio_seconds / total, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="song length in seconds")
    args = parser.parse_args()
    results = {
        "machine": machine(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "fps_target": FPS,
        "command": "python scripts/bench_render.py",
        "sizes": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        song = Path(folder) / "song.wav"
        track = make_beat_track(bpm=124.0, duration=args.duration, seed=0)
        write_wav(song, track.samples, track.sample_rate)
        for width, height in SIZES:
            key = f"{width}x{height}"
            row = {"engine_only_fps": round(engine_only(width, height, 120), 1)}
            row |= whole_pipeline(song, width, height, Path(folder))
            results["sizes"][key] = row
            print(key, row)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "render.json").write_text(json.dumps(results, indent=2) + "\n")
    (OUT / "render.md").write_text(markdown(results))


def machine() -> str:
    return f"{os.cpu_count()}-core {platform.machine()} CPU, {platform.python_implementation()} {platform.python_version()}"


def markdown(results: dict) -> str:
    lines = [
        "# Embedded engine render speed",
        "",
        f"Machine: {results['machine']}. Date: {results['date']}. Command: `{results['command']}`.",
        "A synthetic 124 BPM song rendered at 24 fps; real time = 24 frames per second.",
        "Target: faster than real time at 512x512, 24 fps. 'whole render' includes H.264/AAC",
        "encoding on a background thread; 'incl. analysis' adds decoding and audio analysis.",
        "",
        "| size | engine only (fps) | whole render (fps) | x real time | x real time incl. analysis |",
        "|---|---|---|---|---|",
    ]
    for key, row in results["sizes"].items():
        lines.append(
            f"| {key} | {row['engine_only_fps']} | {row['render_fps']} | "
            f"{row['render_x_realtime']} | {row['x_realtime_incl_analysis']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
