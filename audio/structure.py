"""Song sections with repeat labels, offline: bar-synchronous Laplacian segmentation.

McFee & Ellis 2014, "Analyzing song structure with spectral clustering" (ISMIR), on bars:
1. Per frame (hop 512): tuning-aware CQT chroma (harmony) and MFCC (timbre; c0 is level),
   computed with the key's frames in one pass (audio.song_frames).
2. Averaged per bar, between downbeats. Without downbeats: per ~2 s group of beats, or per
   2 s block when there are no beats either, so every grid has units of about a bar.
3. A graph over bars: repetition links (mutual nearest neighbours, kept only where they
   continue along a diagonal for several bars - a repeated passage, not a chance match)
   plus sequence links between successive bars, strong where the timbre carries on.
4. The first k eigenvectors of its normalised Laplacian, clustered with seeded k-means,
   give each bar a section type; runs of one type are the sections, and a chorus that
   comes back falls in the same cluster, so it gets the same label.
5. Clean-up: runs shorter than four bars join the neighbour they sound closer to;
   neighbours whose spectral envelopes differ by less than ~1 dB merge (a drone or noise
   stays one section); without bar lines (speech, whale song, ambient) neighbours must
   also differ by a large effect size, so only big contrasts count and nothing churns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from audio.sections import Section

if TYPE_CHECKING:
    from audio.song_frames import SongFrames

RATE = 22050
HOP = 512  # ~23 ms frames: the CQT/MFCC resolution McFee & Ellis use
N_MFCC = 13
BLOCK_S = 2.0  # unit length without downbeats: about one bar at 120 BPM
MIN_BARS = 4  # shortest section: phrases in popular music are 4-16 bars
MIN_BEATLESS_S = 8.0  # shortest section without bar lines (four 2 s units)
MIN_SONG_S = 20.0  # shorter clips are one fragment, not a song with a form
SILENCE_RMS = 1e-4  # -80 dBFS: nothing to segment
REC_WIDTH = 2  # ignore repetition links to the neighbouring bar: that is continuity, not repetition
REC_SMOOTH = 5  # diagonal median over 5 bars keeps repeats of >= 3 bars (sections are >= 4)
EVEC_SMOOTH = 3  # median over 3 bars removes one-bar flickers in the embedding
KMEANS_STARTS = 10  # fixed seeds: the same answer every run
MAX_TYPES = 8  # section types in a song: intro/verse/pre/chorus/bridge/solo/outro and one spare
LONG_BARS = 16  # sections are usually 4-16 bars: a median beyond means the form was missed
LONG_BEATLESS_S = 32.0  # the same scale (16 bars of 2 s) without bar lines
N_MELS = 128
MIN_CHANGE_DB = 1.0  # spectral-envelope change below ~1 dB (level JND) is not a new section
MAX_UNITS = 600  # beyond (a mix over ~20 min at 120 BPM), units are groups of bars
MIN_EFFECT = 0.8  # without bars: neighbours must differ by Cohen's "large" effect (1988)
MIN_REPEAT_EFFECT = 0.2  # ... or by his "small" one where both parts recur elsewhere

Run = tuple[int, int, int]  # first unit, end unit (exclusive), section type


def find_song_sections(
    samples: np.ndarray,
    sample_rate: int,
    beats: np.ndarray,
    downbeats: np.ndarray,
    duration: float,
) -> list[Section]:
    """Sections of an in-memory signal (the offline analysis streams: `sections_from_frames`)."""
    y = np.nan_to_num(np.asarray(samples, dtype=np.float32).ravel())
    if float(duration) < MIN_SONG_S or len(y) < HOP * 8 or _rms(y) < SILENCE_RMS:
        return [Section(0.0, max(float(duration), 0.0), 0)]
    from audio.song_frames import song_frames

    frames = song_frames(_resample(y, sample_rate))
    return sections_from_frames(frames, beats, downbeats, duration, _rms(y))


def sections_from_frames(
    frames: SongFrames,
    beats: np.ndarray,
    downbeats: np.ndarray,
    duration: float,
    rms: float,
) -> list[Section]:
    """Sections over the whole song from its hop-512 frames; boundaries on downbeats if any.

    `rms` is the song's overall level (a silent file is one section).
    """
    duration = float(duration)
    whole = [Section(0.0, max(duration, 0.0), 0)]
    if duration < MIN_SONG_S or len(frames.chroma) < 9 or rms < SILENCE_RMS:
        return whole
    edges, on_bars = _unit_edges(np.asarray(beats, float), np.asarray(downbeats, float), duration)
    # A long mix (hours of bars) is segmented on groups of bars: the graph below is dense,
    # n^2 in the units, and sections of a DJ set last minutes anyway.
    group = max(1, -(-(len(edges) - 1) // MAX_UNITS))
    if group > 1:
        edges = np.append(edges[:-1:group], edges[-1])
    unit_s = float(np.median(np.diff(edges)))
    min_units = MIN_BARS if on_bars else max(2, int(np.ceil(MIN_BEATLESS_S / unit_s - 1e-6)))
    long_units = LONG_BARS if on_bars else LONG_BEATLESS_S / unit_s
    if group > 1 and on_bars:
        min_units, long_units = max(2, -(-MIN_BARS // group)), LONG_BARS / group
    if len(edges) - 1 < 2 * min_units:
        return whole
    times = frames.times
    n = min(len(frames.chroma), len(frames.mfcc), len(frames.harmony))
    harmony = frames.harmony if frames.harmony is not None else frames.chroma
    chroma, mfcc = harmony[:n].T, frames.mfcc[:n].T  # float32 views: _sync sums in float64
    chroma_u, mfcc_u = _sync(chroma, times[:n], edges), _sync(mfcc, times[:n], edges)
    x = np.hstack([_standardise(chroma_u), _standardise(mfcc_u)])
    evals, evecs = _embedding(x, _standardise(mfcc_u))
    runs = _segment(evecs, evals, x, min_units, long_units)
    runs = _merge_while(runs, lambda a, b: _envelope_change_db(mfcc_u[a], mfcc_u[b]), MIN_CHANGE_DB)
    if not on_bars:
        runs = _merge_while(runs, lambda a, b: effect_size(x[a], x[b]), MIN_EFFECT)
    labels = _first_appearance([label for _, _, label in runs])
    return [
        Section(float(edges[a]), float(edges[b]), label)
        for (a, b, _), label in zip(runs, labels, strict=True)
    ]


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0


def _resample(y: np.ndarray, sample_rate: int) -> np.ndarray:
    if int(sample_rate) == RATE:
        return y
    import librosa

    return librosa.resample(y, orig_sr=int(sample_rate), target_sr=RATE).astype(np.float32)


def _unit_edges(
    beats: np.ndarray, downbeats: np.ndarray, duration: float
) -> tuple[np.ndarray, bool]:
    """Unit boundaries from 0 to duration on the best grid there is; True when units are bars."""
    downbeats = np.unique(downbeats[(downbeats > 0) & (downbeats < duration)])
    beats = np.unique(beats[(beats > 0) & (beats < duration)])
    if len(downbeats) >= 2:
        grid = downbeats
    elif len(beats) >= 2:
        # About a bar's worth of beats per unit, so the constants mean the same on every grid.
        grid = beats[:: max(1, round(BLOCK_S / float(np.median(np.diff(beats)))))]
    else:
        grid = np.arange(BLOCK_S, duration, BLOCK_S)
    unit = float(np.median(np.diff(grid))) if len(grid) >= 2 else BLOCK_S
    # A pickup or tail shorter than half a unit joins its neighbour: no sliver units.
    grid = grid[(grid >= 0.5 * unit) & (grid <= duration - 0.5 * unit)]
    return np.concatenate([[0.0], grid, [duration]]), len(downbeats) >= 2


def _sync(features: np.ndarray, times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of the frames inside each unit -> (units, dims)."""
    starts = np.searchsorted(times, edges[:-1])
    starts = np.minimum(starts, len(times) - 1)
    starts = np.maximum.accumulate(starts)
    sums = np.add.reduceat(features, starts, axis=1, dtype=np.float64)
    counts = np.diff(np.append(starts, len(times)))
    out = sums / np.maximum(counts, 1)
    # A unit with no frame of its own (only if units were shorter than a hop) copies the next.
    empty = np.flatnonzero(counts == 0)
    for i in empty[::-1]:
        out[:, i] = out[:, min(i + 1, out.shape[1] - 1)]
    return out.T


def _standardise(x: np.ndarray) -> np.ndarray:
    """z-score per dimension, then scale the group to unit total variance (groups weigh alike)."""
    z = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-8)
    return z / np.sqrt(x.shape[1])


def _embedding(repeat: np.ndarray, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvectors of the normalised Laplacian of the bar graph (McFee & Ellis 2014, eq. 2-10)."""
    import librosa
    import scipy.ndimage
    import scipy.sparse.csgraph

    # sqrt(n) mutual neighbours (librosa's default is twice that): with bars, not beats, as
    # vertices, more would tie a part heard only once to the rest through chance matches.
    recurrence = librosa.segment.recurrence_matrix(
        repeat.T,
        k=int(np.ceil(np.sqrt(len(repeat)))),
        width=REC_WIDTH,
        metric="cosine",
        mode="affinity",
        sym=True,
    )
    enhance = librosa.segment.timelag_filter(scipy.ndimage.median_filter)
    recurrence = enhance(recurrence, size=(1, REC_SMOOTH))
    recurrence = 0.5 * (recurrence + recurrence.T)  # the lag-domain filter is not symmetric
    step = np.sum(np.diff(local, axis=0) ** 2, axis=1)
    path = np.exp(-step / (np.median(step) + 1e-12))
    sequence = np.diag(path, k=1) + np.diag(path, k=-1)
    # Balance the two so a bar's random walk is as likely to jump to a repeat as to step on.
    deg_seq, deg_rec = sequence.sum(axis=1), recurrence.sum(axis=1)
    mu = deg_seq.dot(deg_seq + deg_rec) / (np.sum((deg_seq + deg_rec) ** 2) + 1e-12)
    mu = mu if recurrence.any() else 0.0  # nothing repeats: the sequence alone
    affinity = mu * recurrence + (1 - mu) * sequence
    laplacian = scipy.sparse.csgraph.laplacian(affinity, normed=True)
    evals, evecs = np.linalg.eigh(laplacian)
    return evals, scipy.ndimage.median_filter(evecs, size=(EVEC_SMOOTH, 1))


def _segment(
    evecs: np.ndarray, evals: np.ndarray, x: np.ndarray, min_units: int, long_units: float
) -> list[Run]:
    """Runs of section types: k-means on the first k eigenvectors, short runs absorbed.

    k is the eigengap (von Luxburg 2007): the number of weakly linked groups of bars the
    graph shows. When that leaves the median section longer than 16 bars (the long end of
    the usual 4-16), one dominant split (an intro against the rest) may hide the finer form:
    k grows until the sections reach that scale, but a boundary only the finer k adds must
    separate sound that differs by a large effect size, or it is dropped again.
    """
    top = min(MAX_TYPES, len(x) // min_units)
    if top < 2:
        return [(0, len(x), 0)]
    k = int(np.argmax(np.diff(evals[1 : top + 1]))) + 2
    base = _absorb_short(_runs(_cluster(evecs, k)), x, min_units)
    kept = {b for _, b, _ in base}
    for finer in range(k + 1, top + 1):
        if _median_length(base) <= long_units:
            break
        runs = _absorb_short(_runs(_cluster(evecs, finer)), x, min_units)
        runs = _merge_while(runs, _finer_contrast(runs, x, kept), MIN_EFFECT)
        if _median_length(runs) < _median_length(base):
            base = runs
    return base


def _finer_contrast(
    runs: list[Run], x: np.ndarray, kept: set[int]
) -> Callable[[slice, slice], float]:
    """How clearly a boundary that only a finer k adds separates its two neighbours, in units
    of MIN_EFFECT (boundaries of the coarser k always stay).

    A boundary between two parts that both come back elsewhere in the song (verse, chorus,
    verse, chorus) is backed by the repetition itself, so a small effect size will do; any
    other needs a large one. Over a steady loop (much hip-hop and electronic music) verse
    and chorus differ only a little in their average sound, but they alternate."""
    types = [t for _, _, t in runs]
    recurring = {t for t in types if types.count(t) >= 2}
    type_before = {b: t for _, b, t in runs}
    type_after = {a: t for a, _, t in runs}

    def contrast(a: slice, b: slice) -> float:
        if a.stop in kept:
            return np.inf
        size = effect_size(x[a], x[b])
        backed = type_before[a.stop] in recurring and type_after[b.start] in recurring
        return size * MIN_EFFECT / MIN_REPEAT_EFFECT if backed else size

    return contrast


def _median_length(runs: list[Run]) -> float:
    return float(np.median([b - a for a, b, _ in runs]))


def _cluster(evecs: np.ndarray, k: int) -> np.ndarray:
    """k-means on the first k eigenvectors, rows normalised (eq. 11); best of 10 seeded starts."""
    from scipy.cluster.vq import kmeans2

    norm = np.sqrt(np.cumsum(evecs**2, axis=1))
    x = evecs[:, :k] / (norm[:, k - 1 : k] + 1e-5)
    best, best_cost = np.zeros(len(x), dtype=int), np.inf
    for seed in range(KMEANS_STARTS):
        centres, labels = kmeans2(x, k, minit="++", seed=seed)
        cost = float(np.sum((x - centres[labels]) ** 2))
        if cost < best_cost:
            best, best_cost = labels, cost
    return best


def _runs(types: np.ndarray) -> list[Run]:
    cuts = np.flatnonzero(np.diff(types)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(types)]])
    return [(int(a), int(b), int(types[a])) for a, b in zip(starts, ends, strict=True)]


def _join(runs: list[Run], i: int, keep: int) -> list[Run]:
    """Merge runs i and i+1, keeping the type of run `keep` (i or i+1); fuse equal neighbours."""
    merged = (runs[i][0], runs[i + 1][1], runs[keep][2])
    out = runs[:i] + [merged] + runs[i + 2 :]
    fused: list[Run] = []
    for run in out:
        if fused and fused[-1][2] == run[2]:
            fused[-1] = (fused[-1][0], run[1], run[2])
        else:
            fused.append(run)
    return fused


def _absorb_short(runs: list[Run], x: np.ndarray, min_units: int) -> list[Run]:
    """The shortest run under `min_units` joins the neighbour it sounds closer to, until none is left."""
    while len(runs) > 1:
        lengths = [b - a for a, b, _ in runs]
        i = int(np.argmin(lengths))
        if lengths[i] >= min_units:
            break
        mean = x[runs[i][0] : runs[i][1]].mean(axis=0)
        options = [j for j in (i - 1, i + 1) if 0 <= j < len(runs)]
        j = min(
            options, key=lambda j: np.linalg.norm(x[runs[j][0] : runs[j][1]].mean(axis=0) - mean)
        )
        runs = _join(runs, min(i, j), keep=j)
    return runs


def effect_size(a: np.ndarray, b: np.ndarray) -> float:
    """Standardised distance between two sets of unit vectors (a multivariate Cohen's d).

    Squared mean difference minus what sampling noise alone would give, over the pooled
    within-section variance; ~0 for two halves of one steady sound however long they are.
    """
    if len(a) < 2 or len(b) < 2:
        return 0.0
    va, vb = a.var(axis=0, ddof=1).sum(), b.var(axis=0, ddof=1).sum()
    diff = float(np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2)) - va / len(a) - vb / len(b)
    return float(np.sqrt(max(diff, 0.0) / ((va + vb) / 2 + 1e-12)))


def _merge_while(
    runs: list[Run], distance: Callable[[slice, slice], float], floor: float
) -> list[Run]:
    """Merge the least different neighbours while their difference is below `floor`."""
    while len(runs) > 1:
        sizes = [
            distance(slice(*runs[i][:2]), slice(*runs[i + 1][:2])) for i in range(len(runs) - 1)
        ]
        i = int(np.argmin(sizes))
        if sizes[i] >= floor:
            break
        longer = i if runs[i][1] - runs[i][0] >= runs[i + 1][1] - runs[i + 1][0] else i + 1
        runs = _join(runs, i, keep=longer)
    return runs


def _envelope_change_db(a: np.ndarray, b: np.ndarray) -> float:
    """RMS difference in dB between the typical spectral envelopes of two runs of bars.

    The orthonormal DCT keeps distances, so |MFCC difference| / sqrt(n_mels) is the RMS over
    mel bands of the (cepstrally smoothed) log-spectrum difference. Medians over bars, so a
    short fill absorbed into a run does not make it sound different from its neighbour.
    """
    return float(np.linalg.norm(np.median(a, axis=0) - np.median(b, axis=0)) / np.sqrt(N_MELS))


def _first_appearance(labels: list[int]) -> list[int]:
    order: dict[int, int] = {}
    return [order.setdefault(label, len(order)) for label in labels]
