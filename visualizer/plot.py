"""The picture behind `visualize analyze --plot`: the analysis drawn over the spectrogram.

Three rows sharing one time axis: a band of sections (coloured by repeat letter, with mood
and key), a log-frequency spectrogram with beat ticks, downbeat lines and section
boundaries, and the tempo curve with the arousal/valence curves that name the mood.
It draws from the report dict of `visualizer.commands.analyze`, so offline and online
analyses (and a saved --json) look the same. matplotlib is an optional extra; importing
this module raises ImportError without it. Only the Agg canvas is used: no window, no
pyplot global state, safe on a headless box.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

FIGSIZE = (14.0, 6.0)
DPI = 100
FMIN_HZ = 30.0
LOG_BINS = 192
DYNAMIC_RANGE_DB = 70.0
# Qualitative colours (matplotlib's tab10), one per repeat letter.
LETTER_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
AXIS_PX = 0.88 * FIGSIZE[0] * DPI  # about how wide the time axis is, for fitting labels
CHAR_PX = 7.5  # a bold 10 pt character, roughly
FREQ_TICKS_HZ = (50, 100, 200, 500, 1000, 2000, 5000, 10000)


def plot_png(report: dict, samples: np.ndarray, sample_rate: int) -> bytes:
    """The figure as PNG bytes (the caller writes them; see analyze's atomic write)."""
    fig = draw(report, samples, sample_rate)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def draw(report: dict, samples: np.ndarray, sample_rate: int) -> Figure:
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    band, ticks, spec, tempo, mood = fig.subplots(
        5, 1, sharex=True, gridspec_kw={"height_ratios": [0.7, 0.28, 3.0, 1.0, 0.9]}
    )
    duration = float(report["duration"]) or len(samples) / max(sample_rate, 1)
    fig.suptitle(_title(report), fontsize=12, fontweight="bold")
    _draw_sections(band, report)
    _draw_beats(ticks, report)
    _draw_spectrogram(spec, samples, sample_rate, len(samples) / max(sample_rate, 1))
    _draw_downbeat_lines(spec, report)
    _draw_tempo(tempo, report)
    _draw_mood(mood, report)
    mood.set_xlim(0.0, duration)
    mood.xaxis.set_major_formatter(FuncFormatter(lambda t, _: _clock(t)))
    mood.set_xlabel("time (m:ss)")
    return fig


def log_spectrogram(
    samples: np.ndarray, sample_rate: int, n_fft: int = 2048, max_columns: int = 4000
) -> tuple[np.ndarray, np.ndarray, float]:
    """(dB array (LOG_BINS, columns), log2 band edges in Hz, seconds per column).

    Power is summed into log-spaced bands through the cumulative spectrum, so a band
    narrower than one FFT bin (the low end) still gets its interpolated share.
    """
    from scipy.signal import stft

    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    hop = max(256, int(np.ceil(len(x) / max_columns)))
    _, _, z = stft(x, fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop, boundary=None)
    power = (np.abs(z) ** 2).astype(np.float64)
    nyquist = sample_rate / 2.0
    fmax = min(16000.0, 0.98 * nyquist)
    edges = np.geomspace(FMIN_HZ, fmax, LOG_BINS + 1)
    cumulative = np.vstack([np.zeros(power.shape[1]), np.cumsum(power, axis=0)])
    # Row k of `cumulative` is the power below bin k's upper edge, (k + 0.5) * df.
    df = sample_rate / n_fft
    position = np.clip(edges / df + 0.5, 0, power.shape[0])
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, power.shape[0])
    weight = (position - low)[:, None]
    at_edge = cumulative[low] * (1 - weight) + cumulative[high] * weight
    bands = np.maximum(np.diff(at_edge, axis=0), 0.0) / np.diff(position)[:, None]
    db = 10.0 * np.log10(bands + 1e-12)
    return db, np.log2(edges), hop / sample_rate


def _draw_spectrogram(ax, samples: np.ndarray, sample_rate: int, duration: float) -> None:
    db, log_edges, _ = log_spectrogram(samples, sample_rate)
    top = np.percentile(db, 99.8) if db.size else 0.0
    ax.imshow(
        db,
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=top - DYNAMIC_RANGE_DB,
        vmax=top,
        extent=(0.0, duration, log_edges[0], log_edges[-1]),
        interpolation="antialiased",
    )
    ticks = [f for f in FREQ_TICKS_HZ if 2 ** log_edges[0] <= f <= 2 ** log_edges[-1]]
    ax.set_yticks(np.log2(ticks))
    ax.set_yticklabels([f"{f // 1000}k" if f >= 1000 else str(f) for f in ticks])
    ax.set_ylim(log_edges[0], log_edges[-1])
    ax.set_ylabel("frequency (Hz)")


def _draw_beats(ax, report: dict) -> None:
    """A strip above the spectrogram: beats as thin ticks, downbeats as full strong lines."""
    beats, downbeats = report.get("beats", []), report.get("downbeats", [])
    if beats:
        ax.vlines(beats, 0.0, 0.45, colors="#555555", linewidths=0.7)
    if downbeats:
        ax.vlines(downbeats, 0.0, 1.0, colors="black", linewidths=1.6)
    label = "beats" if not report.get("meter") else f"beats ({report['meter']})"
    if not beats:
        label = "no beat"
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([])
    ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)


def _draw_downbeat_lines(ax, report: dict) -> None:
    """Bar lines and section edges through the spectrogram, faint enough to read it behind."""
    low, high = ax.get_ylim()
    downbeats = report.get("downbeats", [])
    if downbeats:
        ax.vlines(downbeats, low, high, colors="white", linewidths=0.6, alpha=0.3)
    for section in report["sections"][1:]:
        ax.axvline(section["start"], color="white", linewidth=1.6, linestyle=(0, (5, 3)))


def _draw_sections(ax, report: dict) -> None:
    """Coloured bands, one per section: repeat letter and mood, then key, when there is room."""
    letters = sorted({s["letter"] for s in report["sections"]})
    colour = {letter: LETTER_COLOURS[i % len(LETTER_COLOURS)] for i, letter in enumerate(letters)}
    duration = float(report["duration"]) or 1.0
    for s in report["sections"]:
        start, end = s["start"], s["end"]
        ax.add_patch(
            Rectangle(
                (start, 0.0), end - start, 1.0, facecolor=colour[s["letter"]], edgecolor="white"
            )
        )
        text = _fit_label(s, (end - start) / duration * AXIS_PX)
        if not text:
            continue
        ax.text(
            (start + end) / 2,
            0.5,
            text,
            ha="center",
            va="center",
            color="white",
            fontsize=10,
            fontweight="bold",
            clip_on=True,
        )
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([])
    ax.set_ylabel("sections", rotation=0, ha="right", va="center")


def _draw_tempo(ax, report: dict) -> None:
    curve = report.get("tempo_curve", {})
    times, bpm = np.asarray(curve.get("times", [])), np.asarray(curve.get("bpm", []))
    beats = np.asarray(report.get("beats", []), dtype=float)
    if len(beats) < 2:
        ax.text(0.01, 0.5, "no tempo (no steady beat)", transform=ax.transAxes, va="center")
        ax.set_yticks([])
        ax.set_ylabel("tempo")
        return
    # The tempo the beats actually follow, beat by beat, behind the smoothed curve.
    ax.plot(beats[1:], 60.0 / np.diff(beats), ".", color="#6baed6", markersize=2.5)
    if len(times):
        ax.plot(times, bpm, color="#08519c", linewidth=1.6, label="tempo curve")
    ax.axhline(report["tempo"], color="#08519c", linewidth=0.8, linestyle="--")
    values = np.concatenate([bpm[bpm > 0], [report["tempo"]]])
    # Room for half and double time around the song tempo, not for a curve fading out to 0.
    middle = float(np.median(values))
    ax.set_ylim(max(values.min() * 0.85, 0.45 * middle), min(values.max() * 1.15, 2.2 * middle))
    ax.set_ylabel("tempo\n(BPM)")
    ax.grid(axis="y", alpha=0.3)
    ax.text(
        0.005,
        0.06,
        f"dots: beat to beat, line: tempo curve, dashed: {report['tempo']:.1f} BPM",
        transform=ax.transAxes,
        va="bottom",
        fontsize=8,
        color="#08519c",
    )


def _draw_mood(ax, report: dict) -> None:
    """Arousal and valence curves, and the section means that the mood names come from."""
    curves = report.get("curves", {})
    t = np.asarray(curves.get("times", []))
    step = max(1, len(t) // 3000)  # no need for more points than pixels
    for name, colour in (("arousal", "#e6550d"), ("valence", "#31a354")):
        values = np.asarray(curves.get(name, []))
        if len(t) and len(values) == len(t):
            ax.plot(t[::step], values[::step], color=colour, linewidth=0.9, alpha=0.6)
        for s in report["sections"]:
            ax.hlines(s[name], s["start"], s["end"], colors=colour, linewidths=2.6)
        ax.plot([], [], color=colour, linewidth=2.6, label=f"{name} (thick: section mean)")
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([0.0, 0.5, 1.0])
    ax.set_ylabel("mood")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.8, ncol=2)


def _fit_label(section: dict, width_px: float) -> str:
    """The longest of letter+mood+key, letter+mood, letter alone that fits the band."""
    letter, mood, key = section["letter"], section["mood"], section["key"]
    candidates = [
        f"{letter}  {mood}\n{key}" if key else "",
        f"{letter}  {mood}",
        f"{letter}\n{mood}",
    ]
    for text in [c for c in candidates if c] + [letter]:
        if max(len(line) for line in text.split("\n")) * CHAR_PX + 8 <= width_px:
            return text
    return ""


def _title(report: dict) -> str:
    name = Path(report.get("source", "")).name
    parts = [f"{name}  {_clock(report['duration'])}"]
    if report.get("beats"):
        parts.append(f"{report['tempo']:.1f} BPM")
    if report.get("meter"):
        parts.append(report["meter"])
    if report.get("key"):
        confidence = report.get("key_confidence") or 0.0
        parts.append(
            f"{report['key']} (confidence {confidence:.2f})" if confidence else report["key"]
        )
    if report.get("mode_of_analysis") == "online":
        parts.append("online analysis")
    # A file name the font cannot encode (undecodable bytes) must not stop the drawing.
    return "  |  ".join(parts).encode("utf-8", errors="backslashreplace").decode("utf-8")


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, float(seconds)), 60.0)
    return f"{int(minutes)}:{int(rest):02d}"
