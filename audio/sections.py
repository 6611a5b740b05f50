"""Section boundaries (novelty) and labels, for scene changes.

Each frame is summarised by a small level-timbre-harmony vector (absolute band levels,
brightness, chroma). Offline, vectors are pooled into half-second blocks and a checkerboard
kernel slides along the diagonal of their self-similarity matrix (Foote 2000): a peak
means "the last 8 s differ from the next 8 s". Live, the same question is asked causally:
the last 3 s against the 8 s before them. Sections shorter than MIN_SECTION_S are merged.
Labels: sections whose mean vectors are close get the same label, so a chorus that comes
back is recognised as the same scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audio.spectral import FRAME_RATE

BLOCK_S = 0.5
KERNEL_S = 8.0
MIN_SECTION_S = 8.0
NOVELTY_THRESHOLD = 0.1  # RMS distance between the two sides needed for a boundary
SAME_LABEL_DISTANCE = 0.07  # sections closer than this share a label
MAX_LABELS = 16
LEVEL_FLOOR_DB = -60.0


@dataclass(frozen=True)
class Section:
    """One part of a song; a repeated part (the chorus coming back) shares its label."""

    start: float
    end: float
    label: int
    key: str = ""  # key of this section ("A minor"), "" when unknown
    key_confidence: float = 0.0
    arousal: float = 0.0  # mean over the section, 0..1
    valence: float = 0.5


def section_vectors(
    rms_db: np.ndarray, band_db: np.ndarray, brightness: np.ndarray, chroma: np.ndarray
) -> np.ndarray:
    """Per-frame description (n, 17) for novelty.

    Levels are absolute (dB on a fixed 60 dB scale), not the auto-gained curves: the live
    gain lifts a quiet intro to full range until it hears the drop, but the drop is still
    a new section. Chroma is down-weighted so level and timbre changes dominate.
    """
    levels = np.column_stack([rms_db, band_db])
    levels = np.clip((levels - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB, 0.0, 1.0)
    return np.column_stack([levels, brightness, 0.25 * chroma])


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """RMS difference: a quiet verse and a loud chorus differ even when their shapes match."""
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def find_sections(vectors: np.ndarray, duration: float) -> list[Section]:
    """Offline sections over the whole file."""
    block = max(1, int(BLOCK_S * FRAME_RATE))
    n_blocks = len(vectors) // block
    if n_blocks < 4 or duration < 2 * MIN_SECTION_S:
        return [Section(0.0, duration, 0)]
    pooled = vectors[: n_blocks * block].reshape(n_blocks, block, -1).mean(axis=1)
    half = int(KERNEL_S / BLOCK_S)
    novelty = np.zeros(n_blocks)
    for i in range(1, n_blocks):
        left = pooled[max(0, i - half) : i].mean(axis=0)
        right = pooled[i : min(n_blocks, i + half)].mean(axis=0)
        novelty[i] = _distance(left, right)
    boundaries = _pick_boundaries(novelty, int(MIN_SECTION_S / BLOCK_S))
    edges = [0.0] + [b * BLOCK_S for b in boundaries] + [duration]
    means = [
        vectors[int(s * FRAME_RATE) : max(int(e * FRAME_RATE), int(s * FRAME_RATE) + 1)].mean(
            axis=0
        )
        for s, e in zip(edges[:-1], edges[1:], strict=True)
    ]
    labels = _label(means)
    return [
        Section(float(s), float(e), label)
        for s, e, label in zip(edges[:-1], edges[1:], labels, strict=True)
    ]


def _pick_boundaries(novelty: np.ndarray, min_gap: int) -> list[int]:
    """Greedy: strongest peaks above the threshold, at least `min_gap` blocks apart and from the ends."""
    order = np.argsort(novelty)[::-1]
    chosen: list[int] = []
    for i in order:
        if novelty[i] < NOVELTY_THRESHOLD:
            break
        if i < min_gap or i > len(novelty) - min_gap:
            continue
        if all(abs(int(i) - c) >= min_gap for c in chosen):
            chosen.append(int(i))
    return sorted(chosen)


def _label(means: list[np.ndarray]) -> list[int]:
    prototypes: list[np.ndarray] = []
    labels = []
    for mean in means:
        distances = [_distance(mean, p) for p in prototypes]
        if distances and min(distances) < SAME_LABEL_DISTANCE:
            labels.append(int(np.argmin(distances)))
        elif len(prototypes) < MAX_LABELS:
            prototypes.append(mean)
            labels.append(len(prototypes) - 1)
        else:
            labels.append(int(np.argmin(distances)))
    return labels


class SectionTracker:
    """Causal section boundaries: compares the last 3 s with the 8 s before them."""

    RECENT_S = 3.0

    def __init__(self) -> None:
        self._recent_n = int(self.RECENT_S * FRAME_RATE)
        self._past_n = int(KERNEL_S * FRAME_RATE)
        self._block = max(1, int(BLOCK_S * FRAME_RATE))
        self._blocks: list[np.ndarray] = []  # pooled half-second vectors, bounded
        self._accumulator: list[np.ndarray] = []
        self._since_boundary = 0.0
        self._section_sum: np.ndarray | None = None
        self._section_count = 0
        self._prototypes: list[np.ndarray] = []
        self.label = 0

    def push(self, vector: np.ndarray) -> bool:
        """Add one frame's vector; True when a new section starts at this frame."""
        self._since_boundary += 1.0 / FRAME_RATE
        self._section_sum = (
            vector.copy() if self._section_sum is None else self._section_sum + vector
        )
        self._section_count += 1
        self._accumulator.append(vector)
        if len(self._accumulator) < self._block:
            return False
        self._blocks.append(np.mean(self._accumulator, axis=0))
        self._accumulator = []
        recent_blocks = int(self.RECENT_S / BLOCK_S)
        past_blocks = int(KERNEL_S / BLOCK_S)
        del self._blocks[: max(0, len(self._blocks) - recent_blocks - past_blocks)]
        if len(self._blocks) < recent_blocks + past_blocks // 2:
            return False
        if self._since_boundary < MIN_SECTION_S:
            return False
        recent = np.mean(self._blocks[-recent_blocks:], axis=0)
        past = np.mean(self._blocks[:-recent_blocks], axis=0)
        if _distance(recent, past) < NOVELTY_THRESHOLD:
            return False
        self._start_section(recent)
        return True

    def _start_section(self, recent: np.ndarray) -> None:
        # Remember the section that just ended, then label the new one by what it sounds like.
        if self._section_sum is not None and self._section_count:
            self._remember(self._section_sum / self._section_count, self.label)
        distances = [_distance(recent, p) for p in self._prototypes]
        if distances and min(distances) < SAME_LABEL_DISTANCE:
            self.label = int(np.argmin(distances))
        elif len(self._prototypes) < MAX_LABELS:
            self.label = len(self._prototypes)
            self._prototypes.append(recent)
        else:
            self.label = int(np.argmin(distances))
        self._since_boundary = 0.0
        self._section_sum = None
        self._section_count = 0

    def _remember(self, mean: np.ndarray, label: int) -> None:
        if label < len(self._prototypes):
            self._prototypes[label] = 0.5 * (self._prototypes[label] + mean)
        elif len(self._prototypes) < MAX_LABELS:
            self._prototypes.append(mean)
