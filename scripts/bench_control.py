"""Control latency for `visualize live`: an OSC message in to the changed picture out.

    python scripts/bench_control.py            # headless, embedded engine, 640x360

The whole live app runs headless (QCoreApplication, no window) on a synthetic song with
an OSC server on 127.0.0.1. A sender thread fires UDP messages at random moments and
notes when each left; the display tick's picture hook notes when the change appears:

- fade:    /visualize/param/fade 1 then 0 - the first picture handed to the display
           (and recorder and outputs) that is black, or no longer black. The fade is
           applied on the Qt main thread, which each OSC message wakes at once.
- palette: /visualize/param/palette x - the first shown frame that the engine drew with
           the new palette. This crosses the render worker, so it adds up to one render
           of the frame already being drawn plus the render of the new one.

The target (issue 14): p50 <= one display frame (1/60 s) plus the render time. What a
monitor adds after the picture is handed over (scan-out, compositor) is not included.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

import numpy as np
from benchjson import utc_now, write_section  # scripts/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "benchmarks"


class PaletteProbe:
    """A Generator around the real one that notes which palette drew each frame index."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.width, self.height = (
            inner,
            inner.name,
            inner.width,
            inner.height,
        )
        self.palette_of: dict[int, tuple] = {}
        self.started: dict[int, float] = {}

    def render(self, request):
        self.palette_of[request.index] = request.cue.palette[0]
        self.started[request.index] = time.perf_counter()
        return self.inner.render(request)

    def close(self) -> None:
        self.inner.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--trials", type=int, default=40, help="messages per kind")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from PyQt6.QtCore import QCoreApplication, QTimer
    from pythonosc.udp_client import SimpleUDPClient

    from audio.capture import PlaybackSource
    from audio.source import AudioClip
    from audio.synth import make_beat_track
    from render.embedded import EmbeddedGenerator
    from visualizer.controls import shift_palette
    from visualizer.live import LiveApp, LiveComponents, LiveOptions, make_analyzer, parse_size
    from visualizer.scheduler import Scheduler
    from visualizer.styles import load_style

    width, height = parse_size(args.size)
    qt = QCoreApplication([])
    track = make_beat_track(bpm=124.0, duration=30.0, seed=args.seed)
    probe = PaletteProbe(EmbeddedGenerator(width, height, args.seed))
    parts = LiveComponents(
        PlaybackSource(AudioClip(track.samples, track.sample_rate), loop=True, play=False),
        make_analyzer(track.sample_rate),
        lambda name: Scheduler(load_style(name), timeline_limit=256),
        probe,
    )
    port = _free_port()
    app = LiveApp(LiveOptions(loop=True, window=False, osc_port=port, osc_out=None), parts)

    sent: list[tuple[str, float, float]] = []  # (kind, value, perf_counter at send)
    seen: dict[int, float] = {}  # trial -> perf_counter when the change was shown
    render_ms: list[float] = []

    def on_frame(frame) -> None:
        render_ms.append(frame.render_ms)
        if not sent or sent[-1][0] != "palette" or len(sent) - 1 in seen:
            return
        colour = probe.palette_of.get(frame.index)
        if colour is not None and colour == target_colour.get(len(sent) - 1):
            seen[len(sent) - 1] = time.perf_counter()
            render_started[len(sent) - 1] = probe.started[frame.index]

    target_colour: dict[int, tuple] = {}
    render_started: dict[int, float] = {}  # palette trials: when the new frame's render began

    def on_picture(picture) -> None:
        if not sent or sent[-1][0] != "fade" or len(sent) - 1 in seen:
            return
        black = not picture.any()
        if black == (sent[-1][1] == 1.0):
            seen[len(sent) - 1] = time.perf_counter()

    app.on_frame.append(on_frame)
    app.on_picture.append(on_picture)
    client = SimpleUDPClient("127.0.0.1", port)
    rng = random.Random(args.seed)
    done = threading.Event()

    def sender() -> None:
        time.sleep(3.0)  # let the analysis and the first cue settle
        plan = [("fade", 1.0), ("fade", 0.0)] * (args.trials // 2)
        plan += [("palette", (i % 4 + 1) / 5) for i in range(args.trials)]
        for kind, value in plan:
            time.sleep(rng.uniform(0.25, 0.45))
            if kind == "palette":  # the colour the engine will be handed for this value
                cue = app.features.cue
                base = cue.palette if cue is not None else None
                if base is None:
                    continue
                target_colour[len(sent)] = shift_palette(base, value)[0]
            sent.append((kind, value, time.perf_counter()))
            client.send_message(f"/visualize/param/{kind}", value)
            deadline = time.monotonic() + 2.0
            while len(sent) - 1 not in seen and time.monotonic() < deadline:
                time.sleep(0.002)
        done.set()

    threading.Thread(target=sender, daemon=True).start()
    poll = QTimer()
    poll.timeout.connect(lambda: done.is_set() and qt.quit())
    poll.start(50)
    app.start()
    qt.exec()
    app.stop()

    result = {"date": utc_now(), "machine": _machine(), "load": os.getloadavg(), "size": args.size,
              "engine": "embedded", "display_frame_ms": round(1000 / 60, 1),
              "render_ms_p50": round(float(np.median(render_ms)), 1) if render_ms else None,
              "command": "python scripts/bench_control.py"}  # fmt: skip
    for kind in ("fade", "palette"):
        latencies = [
            (seen[i] - t) * 1000 for i, (k, _, t) in enumerate(sent) if k == kind and i in seen
        ]
        missed = sum(1 for i, (k, _, _) in enumerate(sent) if k == kind and i not in seen)
        result[kind] = {
            "trials": len(latencies),
            "missed": missed,
            "p50_ms": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
            "p90_ms": round(float(np.percentile(latencies, 90)), 1) if latencies else None,
        }
    waits = [(render_started[i] - sent[i][2]) * 1000 for i in render_started]
    result["palette"]["to_render_start_p50_ms"] = (
        round(float(np.median(waits)), 1) if waits else None
    )
    target = result["display_frame_ms"] + (result["render_ms_p50"] or 0)
    result["target_ms"] = round(target, 1)
    OUT.mkdir(parents=True, exist_ok=True)
    write_section(OUT / "control.json", "osc", result)
    (OUT / "control.md").write_text(_markdown(result))
    print(json.dumps(result, indent=1))
    return 0


def _markdown(r: dict) -> str:
    fade, palette = r["fade"], r["palette"]
    return f"""## Control latency (OSC in -> changed picture out)

`{r["command"]}` - {r["date"]}, {r["machine"]}, load {", ".join(f"{x:.1f}" for x in r["load"])}
(shared machine: timings are pessimistic). Headless live app, embedded engine at {r["size"]},
UDP on 127.0.0.1; render p50 {r["render_ms_p50"]} ms, display tick {r["display_frame_ms"]} ms,
so the target (one display frame + render) is {r["target_ms"]} ms.

| message | path | trials | p50 | p90 | missed |
|---|---|---|---|---|---|
| `/visualize/param/fade` | OSC -> inbox -> main thread, woken at once | {fade["trials"]} | {fade["p50_ms"]} ms | {fade["p90_ms"]} ms | {fade["missed"]} |
| `/visualize/param/palette` | OSC -> inbox -> render worker -> display | {palette["trials"]} | {palette["p50_ms"]} ms | {palette["p90_ms"]} ms | {palette["missed"]} |

Of the palette figure, p50 {palette["to_render_start_p50_ms"]} ms pass before the render of the
first frame with the new palette begins (the frame being drawn is finished first); the rest is
that render plus the wait for the display to take it.

The picture is "out" when the display tick hands it to the window, recorder and outputs;
a monitor's scan-out is not included.
"""


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _machine() -> str:
    from benchjson import machine_name

    return machine_name("cpu")


if __name__ == "__main__":
    sys.exit(main())
