"""Soak test for `visualize live`: run the whole live app for a long time on a synthetic
source and check that memory stays flat and no counter of lost audio keeps growing.

    QT_QPA_PLATFORM=offscreen nice -n 10 python scripts/soak_live.py --minutes 60 --speech

The source is a looped synthetic beat (kick + hat + chord at 120 BPM); with `--speech`
the LJ Speech clips of ../shared/media/speech are mixed over it and the streaming Whisper
worker (tiny.en) listens, as `visualize live --speech` does. The loop is played through
PortAudio when an output device exists (e.g. a PulseAudio null sink) and otherwise run
on its own clock. Every `--every` seconds it samples RSS, latency and the app's
counters; the result goes to docs/benchmarks/soak.json and soak.md.
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
from benchjson import utc_now, write_section  # scripts/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SPEECH = ROOT.parent / "shared" / "media" / "speech"
WARM_UP_S = 120.0  # start-up allocations (models, caches) are not growth
COUNTERS = (
    "fps",
    "latency_ms_p50",
    "latency_ms_p95",
    "rendered",
    "dropped_requests",
    "dropped_frames",
    "render_errors",
    "input_overflows",
    "output_underflows",
    "dropped_audio_blocks",
    "analysis_errors",
)


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


def speech_over_beat(sample_rate: int = 22050) -> np.ndarray:
    """The LJ clips one after another with 2 s gaps, over the beat (quieter) tiled to fit."""
    from audio.source import load_audio

    parts = []
    for path in sorted(SPEECH.glob("LJ*.wav")):
        parts += [load_audio(path).samples, np.zeros(2 * sample_rate, np.float32)]
    if not parts:
        raise SystemExit(f"--speech needs the LJ clips in {SPEECH}")
    voice = np.concatenate(parts)
    beat = synthetic_beat(sample_rate)
    bed = np.resize(beat, len(voice))  # whole beats: 8 s loops of 120 BPM
    return np.clip(0.35 * bed + 0.8 * voice, -1, 1).astype(np.float32)


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--speech", action="store_true", help="mix speech in; Whisper listens")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/benchmarks/soak.json")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from audio.capture import PlaybackSource
    from audio.source import AudioClip
    from render.embedded import EmbeddedGenerator
    from visualizer.live import LiveApp, LiveComponents, LiveOptions, _make_speech, make_analyzer
    from visualizer.scheduler import Scheduler
    from visualizer.styles import load_style

    qt = QApplication.instance() or QApplication(["soak"])
    clip = AudioClip(speech_over_beat() if args.speech else synthetic_beat(), 22050)
    source = PlaybackSource(clip, loop=True)
    speech = _make_speech(22050, print) if args.speech else None
    if args.speech and speech is None:
        raise SystemExit("speech was asked for but is not available")
    parts = LiveComponents(
        source=source,
        analyzer=make_analyzer(22050),
        make_scheduler=lambda name: Scheduler(load_style(name), seed=0, timeline_limit=256),
        generator=EmbeddedGenerator(640, 360, 0),
        speech=speech,
    )
    options = LiveOptions(loop=True, hud=True, speech=args.speech, duration=args.minutes * 60)
    app = LiveApp(options, parts)
    samples: list[dict] = []
    started = time.monotonic()

    def sample() -> None:
        stats = app.stats()
        worker = parts.speech
        samples.append(
            {
                "t_s": round(time.monotonic() - started, 1),
                "rss_mib": round(rss_mib(), 1),
                "load_1min": load_average()[0],
                **{k: stats[k] for k in COUNTERS},
                "words_heard": len(stats["words_heard"]),
                "speech_passes": getattr(worker, "passes", None),
                "speech_dropped_blocks": getattr(worker, "dropped_blocks", None),
                "speech_error": getattr(worker, "error", None),
            }
        )
        print(json.dumps(samples[-1]), flush=True)

    timer = QTimer()
    timer.timeout.connect(sample)
    timer.start(int(args.every * 1000))
    load_before = load_average()
    app.start()
    qt.exec()
    audio = source.stats  # before stop(), which closes the output stream
    sample()
    app.stop()
    warm = [s for s in samples if s["t_s"] >= WARM_UP_S] or samples
    first, last = warm[0], warm[-1]
    growth = last["rss_mib"] - first["rss_mib"]
    result = {
        "machine": f"{os.cpu_count()}-core CPU {platform.machine()}, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "load": "shared with other agents' jobs while measuring (load_1min per sample)",
        "load_avg_at_start": load_before,
        "load_avg_at_end": load_average(),
        "date": utc_now(),
        "command": "QT_QPA_PLATFORM=offscreen nice -n 10 python scripts/soak_live.py "
        f"--minutes {args.minutes:g} --every {args.every:g}" + (" --speech" if args.speech else ""),
        "python": platform.python_version(),
        "engine": "embedded 640x360",
        "speech": args.speech,
        "playback": audio.playback,
        "audio_status": audio.status,
        "minutes": args.minutes,
        "rss_mib_after_warm_up": first["rss_mib"],
        "rss_mib_end": last["rss_mib"],
        "rss_growth_pct_after_warm_up": round(100 * growth / first["rss_mib"], 2),
        "latency_ms_p50_end": last["latency_ms_p50"],
        "latency_ms_p95_end": last["latency_ms_p95"],
        "underflows_growth_after_warm_up": last["output_underflows"] - first["output_underflows"],
        "dropped_audio_blocks_end": last["dropped_audio_blocks"],
        "input_overflows_end": last["input_overflows"],
        "render_errors_end": last["render_errors"],
        "analysis_errors_end": last["analysis_errors"],
        "speech_dropped_blocks_end": last["speech_dropped_blocks"],
        "speech_error": last["speech_error"],
        "words_heard_end": last["words_heard"],
        "samples": samples,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_section(args.out, "soak", result)
    args.out.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {args.out}: RSS {first['rss_mib']} -> {last['rss_mib']} MiB")
    return 0


def markdown(r: dict) -> str:
    ok = (
        r["rss_growth_pct_after_warm_up"] <= 5
        and r["dropped_audio_blocks_end"] == 0
        and not r["render_errors_end"]
        and not r["analysis_errors_end"]
        and not r["speech_error"]
    )
    rows = "\n".join(
        f"| {s['t_s'] / 60:.1f} | {s['rss_mib']} | {s['latency_ms_p50']} | {s['latency_ms_p95']}"
        f" | {s['fps']} | {s['dropped_audio_blocks']} | {s['words_heard']} | {s['load_1min']} |"
        for s in r["samples"]
    )
    return f"""# Live soak

{r["minutes"]:g} minutes of `visualize live` ({r["engine"]}, speech {"on" if r["speech"] else "off"})
on a looped synthetic source, headless. {r["machine"]}, {r["date"]}, Python {r["python"]};
{r["load"]} (load average {r["load_avg_at_start"]} at the start, {r["load_avg_at_end"]} at the
end), so latency is conservative. Audio: {r["audio_status"] or "played"} (playback {r["playback"]}).
`{r["command"]}`

| measure | value | target |
|---|---|---|
| RSS after {WARM_UP_S / 60:g} min warm-up -> end | {r["rss_mib_after_warm_up"]} -> {r["rss_mib_end"]} MiB ({r["rss_growth_pct_after_warm_up"]:+.2f} %) | <= 5 % |
| dropped audio blocks | {r["dropped_audio_blocks_end"]} | 0 |
| output underflows after warm-up | {r["underflows_growth_after_warm_up"]} | - |
| render / analysis errors | {r["render_errors_end"]} / {r["analysis_errors_end"]} | 0 / 0 |
| speech: dropped blocks, error | {r["speech_dropped_blocks_end"]}, {r["speech_error"] or "none"} | -, none |
| words heard | {r["words_heard_end"]} | - |
| latency p50 / p95 at the end | {r["latency_ms_p50_end"]} / {r["latency_ms_p95_end"]} ms | - |

Verdict: {"all targets met" if ok else "NOT all targets met (see the table)"}.

| minute | RSS MiB | latency p50 ms | p95 ms | fps | dropped blocks | words | load |
|---|---|---|---|---|---|---|---|
{rows}
"""


if __name__ == "__main__":
    sys.exit(main())
