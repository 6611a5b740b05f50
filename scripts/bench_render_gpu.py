"""The embedded engine on a GPU: every family at 1920x1080, encoders, a 1080p30 render.

    python scripts/bench_render_gpu.py --out OUTDIR     # on the device machine (headless EGL)
    python scripts/bench_render_gpu.py --quick --out /tmp/x   # a smoke run anywhere

Measures, on whatever OpenGL renderer EGL gives (the GPU's driver on the device machine):
- per family and per finish at 1920x1080: frames/s of `EmbeddedGenerator.render` (GL
  draw + read-back to a host RGB array: what the live window shows today) and of the
  draw alone, waited for but not read back (what a window drawing straight from the GL
  texture would pay);
- H.264 encoders on engine frames at 1920x1080: x264 presets using every core, NVENC
  where this GPU has an encoder;
- end to end: `render_file` (analysis, scheduler, engine, encoder "auto") on a synthetic
  song at 1920x1080, 30 fps: times real time, with and without the analysis.
Writes OUTDIR/render_gpu.json; docs/benchmarks/render_gpu.md is written from it by hand
with the machine and date.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_render import synthetic_drive  # noqa: E402  (scripts/ is on sys.path)
from benchjson import utc_now  # noqa: E402

from audio.synth import make_beat_track, write_wav  # noqa: E402
from render.embedded import EmbeddedGenerator  # noqa: E402
from render.encoders import nvenc_works  # noqa: E402
from render.frames import Cue, FrameRequest  # noqa: E402
from render.scenes import FAMILIES, FINISHES  # noqa: E402
from visualizer.pipeline import RenderSettings, render_file  # noqa: E402

SIZE = (1920, 1080)


def gpu_name() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return out.stdout.strip() or "no nvidia-smi output"
    except (OSError, subprocess.SubprocessError):
        return "no NVIDIA GPU"


def timed_frames(generator: EmbeddedGenerator, cue: Cue, frames: int, read: bool) -> float:
    """Frames/s over `frames` frames after a warm-up frame (shader build, first upload)."""
    rng = np.random.default_rng(0)

    def one(i: int) -> None:
        request = FrameRequest(i, i / 30, cue, synthetic_drive(i, 30, rng))
        if read:
            generator.render(request)
        else:  # the same uniforms render() would set, drawn without the read-back
            gl = generator._gl
            uniforms = generator._cue_uniforms(cue, generator._clock.advance(request))
            gl.draw(cue.family, uniforms, cue.palette, cue.finish, read=False)

    one(0)
    began = time.perf_counter()
    for i in range(1, frames + 1):
        one(i)
    return round(frames / (time.perf_counter() - began), 1)


def families(frames: int) -> dict:
    generator = EmbeddedGenerator(*SIZE, seed=0, notice=print)
    generator.render(
        FrameRequest(0, 0.0, Cue(0.0), synthetic_drive(0, 30, np.random.default_rng()))
    )
    if generator._gl is None:
        raise SystemExit("no GL context: this benchmark measures the GL path")
    rows = {"renderer": generator._gl.renderer, "family": {}, "finish_on_kaleido": {}}
    for family in FAMILIES:
        cue = Cue(0.0, family=family)
        rows["family"][family] = {
            "render_fps": timed_frames(generator, cue, frames, read=True),
            "draw_only_fps": timed_frames(generator, cue, frames, read=False),
        }
        print(family, rows["family"][family], flush=True)
    for finish in FINISHES[1:]:
        cue = Cue(0.0, family="kaleido", finish=finish)
        rows["finish_on_kaleido"][finish] = {
            "render_fps": timed_frames(generator, cue, frames, read=True),
            "draw_only_fps": timed_frames(generator, cue, frames, read=False),
        }
        print(finish, rows["finish_on_kaleido"][finish], flush=True)
    generator.close()
    return rows


def engine_frames(count: int, planar: bool = False) -> list[np.ndarray]:
    """Engine frames as RGB, or (planar) as the yuv420p planes the GPU converts them to."""
    generator = EmbeddedGenerator(*SIZE, seed=0, notice=lambda _: None)
    draw = generator.render_i420 if planar else generator.render
    rng = np.random.default_rng(1)
    out = []
    for i in range(count):
        cue = Cue(0.0, family=FAMILIES[(i // 15) % len(FAMILIES)])
        out.append(draw(FrameRequest(i, i / 30, cue, synthetic_drive(i, 30, rng))))
    generator.close()
    return out


def encoders(frames: list[np.ndarray], planes: list[np.ndarray]) -> dict:
    """Encoders fed RGB (converted by swscale on the CPU) and yuv420p planes from the GPU."""
    import av

    options = {
        "libx264 ultrafast": ("libx264", {"crf": "20", "preset": "ultrafast"}),
        "libx264 veryfast": ("libx264", {"crf": "20", "preset": "veryfast"}),
    }
    if nvenc_works():
        options["h264_nvenc p4"] = ("h264_nvenc", {"preset": "p4", "rc": "vbr", "cq": "23"})
    rows = {}
    runs = [(name, codec, opts, frames, "rgb24") for name, (codec, opts) in options.items()]
    if planes and planes[0] is not None:  # None: no GL here, so no GPU conversion
        codec, opts = options["libx264 ultrafast"]
        runs.append(("libx264 ultrafast, GPU yuv420p in", codec, opts, planes, "yuv420p"))
    for name, codec, opts, inputs, pixel_format in runs:
        buffer = io.BytesIO()
        with av.open(buffer, "w", format="mp4") as container:
            stream = container.add_stream(codec, rate=30)
            stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
            stream.options = opts
            began = time.perf_counter()
            for i, pixels in enumerate(inputs):
                frame = av.VideoFrame.from_ndarray(pixels, format=pixel_format)
                frame.pts = i
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
            wall = time.perf_counter() - began
        rows[name] = {
            "fps": round(len(inputs) / wall, 1),
            "mbit_per_s": round(len(buffer.getvalue()) * 8 / (len(inputs) / 30) / 1e6, 2),
        }
        print(name, rows[name], flush=True)
    return rows


def end_to_end(seconds: float, folder: Path) -> dict:
    song = folder / "song.wav"
    track = make_beat_track(bpm=124.0, duration=seconds, seed=0)
    write_wav(song, track.samples, track.sample_rate)
    out = folder / "bench-1080p.mp4"
    settings = RenderSettings(out=out, fps=30.0, width=SIZE[0], height=SIZE[1], engine="embedded")
    notices: list[str] = []
    began = time.perf_counter()
    result = render_file(song, settings, notice=notices.append)
    total = time.perf_counter() - began
    row = {
        "song_seconds": round(result.audio_seconds, 1),
        "frames": result.frames,
        "render_x_realtime": round(result.audio_seconds / result.seconds, 2),
        "x_realtime_incl_analysis": round(result.audio_seconds / total, 2),
        "encoder": "h264_nvenc" if any("h264_nvenc" in n for n in notices) else "libx264",
        "mbit_per_s": round(out.stat().st_size * 8 / result.audio_seconds / 1e6, 2),
        "notices": notices,
    }
    print("end to end", row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for render_gpu.json")
    parser.add_argument("--frames", type=int, default=240, help="frames per family and mode")
    parser.add_argument("--song", type=float, default=60.0, help="end-to-end song seconds")
    parser.add_argument("--quick", action="store_true", help="12 frames, 4 s song")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.song = 12, 4.0
    args.out.mkdir(parents=True, exist_ok=True)
    results = {
        "date": utc_now(),
        "gpu": gpu_name(),
        "cpu_cores": os.cpu_count(),
        "command": "python scripts/bench_render_gpu.py --out OUT",
        "size": f"{SIZE[0]}x{SIZE[1]}",
        "frames_per_row": args.frames,
    }
    results["scenes"] = families(args.frames)
    count = min(args.frames, 150)
    results["encoders_1080p"] = encoders(engine_frames(count), engine_frames(count, planar=True))
    with tempfile.TemporaryDirectory() as folder:
        results["end_to_end_1080p30"] = end_to_end(args.song, Path(folder))
    (args.out / "render_gpu.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
