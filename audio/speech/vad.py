"""Silero VAD on onnxruntime: is someone speaking in this 32 ms window?

The ONNX model ships inside faster-whisper (assets/silero_vad_v6.onnx) and inside the
silero-vad package (data/silero_vad.onnx); we read whichever is installed with plain
onnxruntime and numpy, so no torch is needed. The two files differ only in how they
carry the LSTM state, which `_Session` hides. The VAD runs on the CPU provider even
where onnxruntime-gpu is installed: one 512-sample window is far too small to be
worth a trip to the GPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audio.speech.errors import SPEECH_INSTALL, SpeechUnavailable
from audio.speech.resample import SPEECH_RATE

WINDOW = 512  # samples at 16 kHz = 32 ms, the model's fixed input
CONTEXT = 64  # samples of the previous window the model sees in front of each window
WINDOW_SECONDS = WINDOW / SPEECH_RATE


def find_vad_model() -> Path:
    """Path of an installed Silero VAD ONNX file."""
    candidates = []
    try:
        import faster_whisper.utils

        candidates.append(Path(faster_whisper.utils.get_assets_path()) / "silero_vad_v6.onnx")
    except ImportError:
        pass
    try:
        import importlib.util

        spec = importlib.util.find_spec("silero_vad")
        if spec is not None and spec.origin:
            candidates.append(Path(spec.origin).parent / "data" / "silero_vad.onnx")
    except ImportError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise SpeechUnavailable(f"no Silero VAD model found (needs faster-whisper): {SPEECH_INSTALL}")


class SileroVad:
    """Streaming speech probability per 32 ms window; feed any number of samples at a time."""

    def __init__(self, model_path: str | Path | None = None):
        self._session = _Session(Path(model_path) if model_path else find_vad_model())
        self.reset()

    def reset(self) -> None:
        self._session.reset()
        self._context = np.zeros(CONTEXT, np.float32)
        self._pending = np.zeros(0, np.float32)

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        """Speech probabilities for each complete window now available (16 kHz input)."""
        samples = np.concatenate([self._pending, np.asarray(samples, np.float32).reshape(-1)])
        count = len(samples) // WINDOW
        self._pending = samples[count * WINDOW :]
        probabilities = np.empty(count, np.float32)
        for i in range(count):
            window = samples[i * WINDOW : (i + 1) * WINDOW]
            probabilities[i] = self._session.run(np.concatenate([self._context, window]))
            self._context = window[-CONTEXT:]
        return probabilities


def speech_regions(
    probabilities: np.ndarray,
    threshold: float = 0.5,
    min_silence: float = 0.5,
    min_speech: float = 0.2,
    pad: float = 0.3,
) -> list[tuple[float, float]]:
    """(start, end) seconds of speech from per-window probabilities, with hysteresis.

    A region opens when the probability reaches `threshold` and closes after
    `min_silence` below `threshold - 0.15`; regions shorter than `min_speech` are
    dropped, and each is padded by `pad` so word edges are not clipped.
    """
    low = max(threshold - 0.15, 0.01)
    regions: list[tuple[float, float]] = []
    start = None
    last_speech = 0.0
    for index, probability in enumerate(probabilities):
        time = index * WINDOW_SECONDS
        if probability >= threshold:
            if start is None:
                start = time
            last_speech = time + WINDOW_SECONDS
        elif start is not None and probability < low and time - last_speech >= min_silence:
            regions.append((start, last_speech))
            start = None
    if start is not None:
        regions.append((start, last_speech))
    total = len(probabilities) * WINDOW_SECONDS
    padded = [(max(0.0, a - pad), min(total, b + pad)) for a, b in regions if b - a >= min_speech]
    return merge_regions(padded, gap=0.0)


def merge_regions(
    regions: list[tuple[float, float]], gap: float, max_length: float = float("inf")
) -> list[tuple[float, float]]:
    """Join regions closer than `gap` seconds, keeping each under `max_length`."""
    merged: list[tuple[float, float]] = []
    for start, end in regions:
        if merged and start - merged[-1][1] <= gap and end - merged[-1][0] <= max_length:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


class _Session:
    """One onnxruntime session plus the LSTM state of either Silero ONNX layout."""

    def __init__(self, path: Path):
        try:
            import onnxruntime
        except ImportError:
            raise SpeechUnavailable(f"onnxruntime is not installed: {SPEECH_INSTALL}") from None
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self.session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.reset()

    def reset(self) -> None:
        if "state" in self.inputs:  # silero-vad package layout: one (2, 1, 128) state
            self.state = np.zeros((2, 1, 128), np.float32)
        else:  # faster-whisper layout: separate h and c
            self.h = np.zeros((1, 1, 128), np.float32)
            self.c = np.zeros((1, 1, 128), np.float32)

    def run(self, window_with_context: np.ndarray) -> float:
        x = window_with_context[None, :]
        if "state" in self.inputs:
            out, self.state = self.session.run(
                None, {"input": x, "state": self.state, "sr": np.array(SPEECH_RATE, np.int64)}
            )
        else:
            out, self.h, self.c = self.session.run(None, {"input": x, "h": self.h, "c": self.c})
        return float(np.asarray(out).reshape(-1)[0])
