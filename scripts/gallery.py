"""Contact sheets of what the embedded engine draws: one across the scene families, one
per style pack, from a song whose licence allows it. Small PNGs into docs/gallery/.

    python scripts/gallery.py                     # Kevin MacLeod's Vibe Ace (CC BY 3.0)
    python scripts/gallery.py --song my.wav --out /tmp/gallery

Each style sheet is the real pipeline (analysis, song plan, scheduler, engine) sampled
at evenly spaced moments; each tile is labelled with its time and scene family.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from audio.analysis import analyze
from audio.source import load_audio
from render.embedded import EmbeddedGenerator
from render.frames import Cue, FrameRequest
from render.scenes import FAMILIES
from visualizer.drive import DriveFollower
from visualizer.pipeline import CueTracker, planned_scheduler
from visualizer.styles import list_styles

ROOT = Path(__file__).resolve().parents[1]
SONG = ROOT.parent / "shared" / "media" / "audio" / "Kevin_MacLeod_-_Vibe_Ace.ogg"
TILE = (256, 144)
FPS = 15.0
STYLE_TILES = 6
COLOURS = 256  # palette-quantised PNGs stay small


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--song", type=Path, default=SONG)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery")
    parser.add_argument("--duration", type=float, default=None, help="seconds of the song")
    args = parser.parse_args()
    clip = load_audio(args.song, duration=args.duration)
    analysis = analyze(clip)
    features = analysis.frames(FPS, max(1, round(clip.duration * FPS)))
    args.out.mkdir(parents=True, exist_ok=True)
    sheet(family_tiles(features, analysis), 3).save(args.out / "families.png", optimize=True)
    print("wrote", args.out / "families.png")
    for style in list_styles():
        if style.source is None or style.source.parent.name != "styles":
            continue
        tiles = style_tiles(style.name, features, analysis)
        sheet(tiles, 3).save(args.out / f"style-{style.name}.png", optimize=True)
        print("wrote", args.out / f"style-{style.name}.png")


def family_tiles(features, analysis) -> list[Image.Image]:
    """Every family with the default style's opening palette, at the same moment."""
    scheduler = planned_scheduler("default", 0, analysis)
    palette = scheduler.update(features[0]).palette
    moment = min(len(features) - 1, round(20 * FPS))  # 0:20, well into the groove
    tiles = []
    for family in FAMILIES:
        generator = EmbeddedGenerator(*TILE, seed=0)
        follower, cue = DriveFollower(), Cue(0.0, family=family, palette=palette)
        image = None
        for index in range(max(0, moment - round(3 * FPS)), moment + 1):  # warm the trails
            drive = follower.update(features[index])
            image = generator.render(FrameRequest(index, features[index].time, cue, drive))
        generator.close()
        tiles.append(label(image, family))
    return tiles


def style_tiles(style: str, features, analysis) -> list[Image.Image]:
    """The whole pipeline for one style; tiles at evenly spaced moments."""
    scheduler = planned_scheduler(style, 0, analysis)
    generator = EmbeddedGenerator(*TILE, seed=0)
    follower, cues = DriveFollower(), CueTracker()
    picks = set(np.linspace(len(features) * 0.08, len(features) - 1, STYLE_TILES).astype(int))
    tiles = []
    for index, feature in enumerate(features):
        cue = scheduler.update(feature)
        image = generator.render(cues.request(index, feature.time, cue, follower.update(feature)))
        if index in picks:
            minutes, seconds = divmod(int(feature.time), 60)
            tiles.append(label(image, f"{style} {minutes}:{seconds:02d} {cue.family}"))
    generator.close()
    return tiles


def label(image: np.ndarray, text: str) -> Image.Image:
    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    font = _font(13)
    draw.rectangle((0, 0, draw.textlength(text, font=font) + 8, 18), fill=(0, 0, 0))
    draw.text((4, 2), text, fill=(255, 255, 255), font=font)
    return picture


def sheet(tiles: list[Image.Image], columns: int) -> Image.Image:
    rows = -(-len(tiles) // columns)
    out = Image.new("RGB", (columns * TILE[0] + (columns - 1) * 2, rows * TILE[1] + (rows - 1) * 2))
    for i, tile in enumerate(tiles):
        out.paste(tile, ((i % columns) * (TILE[0] + 2), (i // columns) * (TILE[1] + 2)))
    pixels = np.asarray(out, np.int16)
    grey = np.abs(pixels - pixels.mean(axis=2, keepdims=True)).max() <= 2
    colours = 48 if grey else COLOURS  # noir's grain needs few greys, not 256
    return out.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def _font(size: int):
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


if __name__ == "__main__":
    main()
