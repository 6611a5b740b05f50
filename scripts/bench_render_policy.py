"""Offline render: which writer and which frame layout pay on this machine, and the whole
command on a fresh install and again.

    python scripts/bench_render_policy.py --out OUTDIR [--size 1920x1080] [--seconds 30] [--long 180]

1. `python -m visualizer SONG --out X.mp4` twice, as a user runs it: the first run on a
   fresh install compiles librosa's numba kernels (cached on disk), the second does not.
2. In one process, after a warm-up render: `render_file` with the four combinations of
   encoder writer (thread / child process) and frame layout (RGB converted by swscale /
   yuv420p converted on the GPU), twice each, interleaved.
Writes OUTDIR/render_policy.json. The policy in render/encoder_process.py and
render/embedded.py should follow what this measures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audio.synth import make_beat_track, write_wav  # noqa: E402


def whole_command(song: Path, out: Path, size: str) -> float:
    began = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "visualizer",
            str(song),
            "--out",
            str(out),
            "--size",
            size,
            "--fps",
            "30",
            "--engine",
            "embedded",
        ],  # fmt: skip
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - began
    print(f"  {wall:.1f} s wall: {done.stdout.strip().splitlines()[-1]}", flush=True)
    return wall


def combinations(song: Path, folder: Path, width: int, height: int, seconds: float) -> dict:
    import render.embedded as embedded
    import render.encoder_process as encoder_process
    from visualizer.pipeline import RenderSettings, render_file

    real_i420 = embedded.EmbeddedGenerator.render_i420

    def run(writer: str, layout: str) -> float:
        encoder_process.PROCESS_MIN_PIXELS = 1 if writer == "process" else 10**18
        encoder_process.PROCESS_MIN_CORES = 1
        if layout == "rgb":
            embedded.EmbeddedGenerator.render_i420 = lambda self, request: None
        else:  # the GPU conversion even on a software rasteriser, to compare
            embedded.EmbeddedGenerator.render_i420 = _forced_i420(real_i420)
        settings = RenderSettings(out=folder / "ab.mp4", fps=30.0, width=width, height=height,
                                  engine="embedded")  # fmt: skip
        result = render_file(song, settings, notice=lambda _: None)
        return round(seconds / result.seconds, 2)

    run("thread", "rgb")  # warm-up: imports, kernels, shaders
    rows: dict[str, list[float]] = {}
    for _ in range(2):
        for writer in ("thread", "process"):
            for layout in ("rgb", "i420"):
                rows.setdefault(f"{writer} + {layout}", []).append(run(writer, layout))
                print(writer, layout, rows[f"{writer} + {layout}"][-1], flush=True)
    embedded.EmbeddedGenerator.render_i420 = real_i420
    return rows


def _forced_i420(real):
    def forced(self, request):
        from render.scenes.gl import GLScenes

        software = GLScenes.software
        GLScenes.software = property(lambda _: False)
        try:
            return real(self, request)
        finally:
            GLScenes.software = software

    return forced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--long", type=float, default=0.0,
                        help="then the whole command once more on a song this long (warm)")  # fmt: skip
    parser.add_argument("--whole-only", action="store_true", help="skip the writer x layout runs")
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "cpu_cores": os.cpu_count(), "size": args.size, "song_seconds": args.seconds}  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        song = Path(folder) / "song.wav"
        track = make_beat_track(bpm=124.0, duration=args.seconds, seed=0)
        write_wav(song, track.samples, track.sample_rate)
        walls = [whole_command(song, Path(folder) / f"cli{i}.mp4", args.size) for i in range(2)]
        result["whole_command_x_realtime"] = {
            "first_run": round(args.seconds / walls[0], 2),
            "second_run": round(args.seconds / walls[1], 2),
        }
        print("whole command", result["whole_command_x_realtime"], flush=True)
        if not args.whole_only:
            result["render_x_realtime"] = combinations(song, Path(folder), width, height,
                                                       args.seconds)  # fmt: skip
        if args.long:
            long_song = Path(folder) / "long.wav"
            track = make_beat_track(bpm=124.0, duration=args.long, seed=1)
            write_wav(long_song, track.samples, track.sample_rate)
            wall = whole_command(long_song, Path(folder) / "long.mp4", args.size)
            result["long_song"] = {"seconds": args.long, "whole_command_x_realtime":
                                   round(args.long / wall, 2)}  # fmt: skip
            print("long song", result["long_song"], flush=True)
    (args.out / "render_policy.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
