"""Write a synthetic song (drums, bass, chords; known beats) for the demo and benchmarks.

python scripts/make_demo_song.py out/demo.wav --bpm 124 --duration 30
"""

from __future__ import annotations

import argparse
from pathlib import Path

from audio.synth import make_beat_track, write_wav


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--bpm", type=float, default=124.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    track = make_beat_track(bpm=args.bpm, duration=args.duration, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_wav(args.out, track.samples, track.sample_rate)
    print(f"wrote {args.out}: {track.duration:.1f} s at {args.bpm:g} BPM, {len(track.beats)} beats")


if __name__ == "__main__":
    main()
