"""`--resume`: a render written as closed segments that a later run can continue.

The video goes, SEGMENT_SECONDS at a time, into finished MP4 files (each its own encoder
run, so each starts on a keyframe) in a hidden work folder beside the output,
`.NAME.mp4.work/`. After each segment the manifest records it, with a pickled snapshot
of everything whose state carries from frame to frame (scheduler, drive follower, cue
tracker, generator, the words not yet due), so a later run restarts at the next segment
exactly where this one stood: the offline video is a deterministic function of the song
and the settings, and the resumed file equals an uninterrupted one. The manifest is
keyed by a hash of the input file's bytes and the settings; a folder made for another
song or other settings is not used. At the end the segments are joined without
re-encoding (`render.recorder.concat_segments`) and the folder is removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

SEGMENT_SECONDS = 30.0
FORMAT = 1  # bump when the layout or what a snapshot holds changes


def work_dir(out: Path) -> Path:
    return Path(out).absolute().with_name(f".{Path(out).name}.work")


def run_key(song: Path, settings, n_frames: int, segment_frames: int) -> str:
    """What must match for a resume: the song's bytes and every setting that shapes frames."""
    digest = hashlib.sha256()
    with open(song, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    shaping = {k: v for k, v in asdict(settings).items() if k not in ("out", "explain", "resume")}
    described = json.dumps([FORMAT, shaping, n_frames, segment_frames], sort_keys=True, default=str)
    digest.update(described.encode())
    return digest.hexdigest()


class WorkDir:
    """The segments, snapshots and manifest of one resumable render."""

    def __init__(self, out: Path, key: str) -> None:
        self.path = work_dir(out)
        self.key = key
        self.done = 0  # segments finished, in order from the first
        manifest = self._read()
        if manifest.get("key") == key:
            self.done = int(manifest.get("done", 0))
            while self.done and not self.segment(self.done - 1).exists():
                self.done -= 1  # a segment file went missing: redo from there
        elif self.path.exists():
            shutil.rmtree(self.path, ignore_errors=True)  # another song or other settings
        self.path.mkdir(exist_ok=True)

    def segment(self, index: int) -> Path:
        return self.path / f"segment-{index:05d}.mp4"

    def snapshot(self, index: int) -> Path:
        return self.path / f"state-{index:05d}.pickle"

    def finish_segment(self, index: int, state: Any) -> bool:
        """Record segment `index` as done, with the state to resume after it; False when
        the state cannot be pickled (a GPU engine): a resume then replays the frames."""
        saved = True
        try:
            data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - GL contexts, CUDA models, locks: not picklable
            saved = False
        if saved:
            _atomic_write(self.snapshot(index + 1), data)
        self.done = index + 1
        _atomic_write(
            self.path / "manifest.json",
            json.dumps({"key": self.key, "done": self.done, "format": FORMAT}).encode(),
        )
        return saved

    def latest_state(self, upto: int) -> tuple[int, Any]:
        """(segment, state) of the newest loadable snapshot at or before `upto` (0, None: none)."""
        for index in range(upto, 0, -1):
            try:
                return index, pickle.loads(self.snapshot(index).read_bytes())
            except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
                continue
        return 0, None

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def _read(self) -> dict:
        try:
            return json.loads((self.path / "manifest.json").read_text())
        except (OSError, ValueError):
            return {}


def after_interruption(out: Path) -> str:
    """Keep the work folder when a resume can use it, remove it otherwise; say which."""
    path = work_dir(out)
    if not path.exists():
        return ""
    try:
        done = int(json.loads((path / "manifest.json").read_text()).get("done", 0))
    except (OSError, ValueError):
        done = 0
    if done:
        plural = "s" if done > 1 else ""
        return f"kept {done} finished segment{plural} in {path} (run it again with --resume)"
    shutil.rmtree(path, ignore_errors=True)
    return f"removed {path}"


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
