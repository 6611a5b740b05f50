"""Render speed of the embedded engine: each scene family, encoding, the whole pipeline.

    python scripts/bench_render.py            # writes docs/benchmarks/render.{json,md}
    python scripts/bench_render.py --quick    # shorter song, fewer frames (a smoke run)

Three measurements:
- per family: frames per second of EmbeddedGenerator.render (GL draw + read-back) at
  1280x720 and 512x512, and the same in CPU milliseconds per frame;
- encoding: x264 presets on real engine frames at 1280x720 (CPU ms per frame, bitrate),
  the cost in file size of the preset the recorder uses;
- end to end: `render_file` on a synthetic 124 BPM song (analysis, scheduler, engine,
  H.264/AAC) at the README demo size (1280x720, 30 fps) and at 512x512, 24 fps.
The machine is shared: wall-clock figures fall with load, so the load average is
recorded, and CPU time per frame (which load barely changes) gives the real-time factor
a quiet machine of the same core count would reach: cores x (1000 / fps) / cpu_ms.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from audio.synth import make_beat_track, write_wav
from render.embedded import EmbeddedGenerator
from render.frames import Cue, Drive, FrameRequest
from render.scenes import FAMILIES
from visualizer.pipeline import RenderSettings, render_file

OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"
FAMILY_SIZES = ((1280, 720), (512, 512))
END_TO_END = (((1280, 720), 30.0, "default"), ((512, 512), 24.0, "default"))
PRESETS = ("ultrafast", "superfast", "veryfast")
DEMO_RUNS = 3


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def load() -> float:
    return round(os.getloadavg()[0], 2)


def synthetic_drive(i: int, fps: float, rng: np.random.Generator) -> Drive:
    t = i / fps
    phase = (t * 124 / 60) % 1.0
    return Drive(
        time=t,
        energy=0.6,
        bass=float(np.exp(-4 * phase)),
        mid=0.4,
        treble=0.3,
        onset=float(np.exp(-8 * phase)),
        beat=float(np.exp(-phase * 2.8)),
        beat_phase=phase,
        chroma=tuple(rng.random(12)),
    )


def family_speed(family: str, width: int, height: int, frames: int) -> dict:
    """`render` (the window's full-size RGB) and `render_for_encoder` (what the MP4 writer
    gets: on a software rasteriser the frame at its drawing budget, scaled by the writer)."""
    row: dict = {}
    for name in ("render", "render_for_encoder"):
        generator = EmbeddedGenerator(width, height, seed=0, notice=lambda _: None)
        draw = getattr(generator, name)
        cue = Cue(0.0, family=family)
        rng = np.random.default_rng(0)
        shape = draw(FrameRequest(0, 0.0, cue, synthetic_drive(0, 30, rng))).shape  # compile
        began, cpu = time.perf_counter(), cpu_seconds()
        for i in range(1, frames + 1):
            draw(FrameRequest(i, i / 30, cue, synthetic_drive(i, 30, rng)))
        wall, used = time.perf_counter() - began, cpu_seconds() - cpu
        prefix = "" if name == "render" else "encoder_"
        row[f"{prefix}fps"] = round(frames / wall, 1)
        row[f"{prefix}cpu_ms_per_frame"] = round(used / frames * 1000, 1)
        row[f"{prefix}shape"] = list(shape)
        row["backend"] = generator.backend
        generator.close()
    return row


def engine_frames(width: int, height: int, count: int) -> list[np.ndarray]:
    generator = EmbeddedGenerator(width, height, seed=0, notice=lambda _: None)
    rng = np.random.default_rng(1)
    frames = []
    for i in range(count):
        cue = Cue(0.0, family=FAMILIES[(i // 10) % len(FAMILIES)])
        frames.append(generator.render(FrameRequest(i, i / 30, cue, synthetic_drive(i, 30, rng))))
    generator.close()
    return frames


def encoder_cost(frames: list[np.ndarray], fps: float) -> dict:
    import av

    height, width = frames[0].shape[:2]
    rows = {}
    for preset in PRESETS:
        buffer = io.BytesIO()
        container = av.open(buffer, "w", format="mp4")
        stream = container.add_stream("libx264", rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "20", "preset": preset}
        began, cpu = time.perf_counter(), cpu_seconds()
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        container.close()
        wall, used = time.perf_counter() - began, cpu_seconds() - cpu
        seconds = len(frames) / fps
        rows[preset] = {
            "fps": round(len(frames) / wall, 1),
            "cpu_ms_per_frame": round(used / len(frames) * 1000, 1),
            "mbit_per_s": round(len(buffer.getvalue()) * 8 / seconds / 1e6, 2),
        }
    base = rows["veryfast"]["mbit_per_s"]
    for row in rows.values():
        row["size_vs_veryfast"] = round(row["mbit_per_s"] / base, 2)
    return rows


def end_to_end(song: Path, size: tuple[int, int], fps: float, style: str, folder: Path) -> dict:
    width, height = size
    out = folder / f"bench-{width}x{height}.mp4"
    settings = RenderSettings(
        out=out, fps=fps, width=width, height=height, engine="embedded", style=style
    )
    before = load()
    began, cpu = time.perf_counter(), cpu_seconds()
    result = render_file(song, settings, notice=lambda _: None)
    total, used = time.perf_counter() - began, cpu_seconds() - cpu
    cores = os.cpu_count() or 1
    cpu_ms = used / result.frames * 1000
    return {
        "fps_target": fps,
        "frames": result.frames,
        "audio_seconds": round(result.audio_seconds, 2),
        "render_fps": round(result.fps_achieved, 1),
        "render_x_realtime": round(result.audio_seconds / result.seconds, 2),
        "x_realtime_incl_analysis": round(result.audio_seconds / total, 2),
        "cpu_ms_per_frame_incl_analysis": round(cpu_ms, 1),
        "quiet_machine_x_realtime_estimate": round(cores * 1000 / fps / cpu_ms, 2),
        "mbit_per_s": round(out.stat().st_size * 8 / result.audio_seconds / 1e6, 2),
        "load_before": before,
        "load_after": load(),
    }


def readme_demo(folder: Path) -> dict:
    """The README's main command as a user runs it (a fresh interpreter, the CLI, the
    analysis, the render and the encoder) on the 30 s demo song scripts/demo.sh makes."""
    root = Path(__file__).resolve().parents[1]
    song, out = folder / "demo.wav", folder / "demo.mp4"
    python = sys.executable
    subprocess.run([python, str(root / "scripts" / "make_demo_song.py"), str(song),
                    "--bpm", "124", "--duration", "30"], check=True, capture_output=True)  # fmt: skip
    command = [python, "-m", "visualizer", str(song), "--out", str(out),
               "--size", "1280x720", "--fps", "30"]  # fmt: skip
    before = load()
    walls = []
    for _ in range(DEMO_RUNS):  # the shared machine's speed drifts: several runs, the median
        began = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=root)
        walls.append(round(time.perf_counter() - began, 2))
    wall = float(np.median(walls))
    return {
        "command": "visualize out/demo.wav --out out/demo.mp4 --size 1280x720 --fps 30",
        "audio_seconds": 30.0,
        "wall_seconds_runs": walls,
        "wall_seconds": round(wall, 2),
        "x_realtime": round(30.0 / wall, 2),
        "x_realtime_runs": [round(30.0 / w, 2) for w in walls],
        "mbit_per_s": round(out.stat().st_size * 8 / 30.0 / 1e6, 2),
        "load_before": before,
        "load_after": load(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="song length in seconds")
    parser.add_argument("--frames", type=int, default=30, help="frames per family and size")
    parser.add_argument("--quick", action="store_true", help="5 s song, 8 frames per family")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.frames = 5.0, 8
    probe = EmbeddedGenerator(64, 64, notice=lambda _: None)
    probe.render(FrameRequest(0, 0.0, Cue(0.0), Drive()))
    renderer = probe._gl.renderer if probe._gl is not None else "CPU fallback"
    probe.close()
    results = {
        "machine": machine(),
        "renderer": renderer,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python scripts/bench_render.py",
        "load_at_start": load(),
        "families": {},
        "encoder_1280x720": {},
        "end_to_end": {},
    }
    for width, height in FAMILY_SIZES:
        key = f"{width}x{height}"
        results["families"][key] = {
            f: family_speed(f, width, height, args.frames) for f in FAMILIES
        }
        print(key, results["families"][key])
    results["encoder_1280x720"] = encoder_cost(engine_frames(1280, 720, 90), 30.0)
    print("encoder", results["encoder_1280x720"])
    with tempfile.TemporaryDirectory() as folder:
        song = Path(folder) / "song.wav"
        track = make_beat_track(bpm=124.0, duration=args.duration, seed=0)
        write_wav(song, track.samples, track.sample_rate)
        for size, fps, style in END_TO_END:
            key = f"{size[0]}x{size[1]}@{fps:g}"
            results["end_to_end"][key] = end_to_end(song, size, fps, style, Path(folder))
            print(key, results["end_to_end"][key])
        results["readme_demo"] = readme_demo(Path(folder))
        print("readme demo", results["readme_demo"])
    results["load_at_end"] = load()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "render.json").write_text(json.dumps(results, indent=2) + "\n")
    (OUT / "render.md").write_text(markdown(results))


def machine() -> str:
    return (
        f"{os.cpu_count()}-core {platform.machine()} CPU, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def markdown(results: dict) -> str:
    lines = [
        "# Embedded engine render speed",
        "",
        f"Machine: {results['machine']}, OpenGL renderer: {results['renderer']}. "
        f"Date: {results['date']}. Command: `{results['command']}`. Load average "
        f"{results['load_at_start']} at start, {results['load_at_end']} at the end (the "
        "machine is shared: wall-clock figures fall with load; the quiet-machine estimate "
        "is cores x frame time / CPU time per frame, which assumes every core stays busy: "
        "an estimate, to be confirmed by a run on a quiet machine).",
        "",
        "## Scene families (GL draw + read-back)",
        "",
        "`render` is the full-size RGB frame the live window shows; `encoder` is",
        "`render_for_encoder`, what the MP4 writer gets: on a software rasteriser the frame",
        "at the drawing budget (960x540 at most), which the writer's bicubic scaler takes to",
        "the output size.",
        "",
        "| family | "
        + " | ".join(
            f"{k} render fps (CPU ms) | {k} encoder fps (CPU ms)" for k in results["families"]
        )
        + " |",
        "|---|" + "---|---|" * len(results["families"]),
    ]
    for family in FAMILIES:
        cells = []
        for rows in results["families"].values():
            row = rows[family]
            cells.append(f"{row['fps']} ({row['cpu_ms_per_frame']})")
            cells.append(
                f"{row.get('encoder_fps', '-')} ({row.get('encoder_cpu_ms_per_frame', '-')})"
            )
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## H.264 encoding at 1280x720, 30 fps, CRF 20 (engine frames)",
        "",
        "| x264 preset | fps | CPU ms/frame | Mbit/s | size vs veryfast |",
        "|---|---|---|---|---|",
    ]
    for preset, row in results["encoder_1280x720"].items():
        lines.append(
            f"| {preset} | {row['fps']} | {row['cpu_ms_per_frame']} | {row['mbit_per_s']} | "
            f"{row['size_vs_veryfast']}x |"
        )
    lines += [
        "",
        "The recorder uses `ultrafast` (render/recorder.py): on two cores the engine needs",
        "most of the CPU, and `veryfast` alone cannot encode 720p at 30 fps here.",
        "",
        "## End to end (`render_file`: analysis, scheduler, engine, H.264/AAC)",
        "",
        "| size @ fps | x real time | incl. analysis | CPU ms/frame | quiet-machine estimate | Mbit/s | load |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, row in results["end_to_end"].items():
        lines.append(
            f"| {key} | {row['render_x_realtime']} | {row['x_realtime_incl_analysis']} | "
            f"{row['cpu_ms_per_frame_incl_analysis']} | {row['quiet_machine_x_realtime_estimate']} | "
            f"{row['mbit_per_s']} | {row['load_before']} -> {row['load_after']} |"
        )
    demo = results.get("readme_demo")
    if demo:
        lines += [
            "",
            "## The README's main command (a fresh process, 30 s demo song, 1280x720, 30 fps)",
            "",
            f"`{demo['command']}`, {len(demo.get('wall_seconds_runs', [0]))} runs: median "
            f"{demo['wall_seconds']} s wall for {demo['audio_seconds']} s of music, "
            f"**{demo['x_realtime']}x real time** end to end (start-up, analysis, render, "
            f"H.264/AAC; runs: {', '.join(f'{x}x' for x in demo.get('x_realtime_runs', []))}), "
            f"{demo['mbit_per_s']} Mbit/s; load {demo['load_before']} -> {demo['load_after']}.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
