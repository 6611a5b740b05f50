"""Learned beat and downbeat activation: BeatNet's causal CRNN, run in NumPy.

The best beat trackers read a learned activation (how likely a beat or a downbeat is in
each frame) rather than a hand-made onset curve; real music's syncopation, ties and
vocals fool onset curves. BeatNet (Heydari, Cwitkowitz, Duan, ISMIR 2021) is such a
network, causal (a unidirectional LSTM), so the live path and the offline path read the
same activation, frame for frame. Its weights are CC BY 4.0 (audio/models/BEATNET-LICENSE.md)
and ship with the project as plain arrays; the network is small enough for NumPy
(~0.3 ms per 20 ms frame for the three models together).

Input features follow BeatNet's training front end (madmom's): 22.05 kHz mono, a 64 ms
Hann window every 20 ms (frame i centred on sample i * HOP), magnitude spectrum through a
24-bands-per-octave triangular filterbank (30 Hz - 17 kHz, each filter normalised to unit
area), log10(1 + x), and the positive difference to the previous frame stacked beside it.
The three published models (trained with a different data set held out) are averaged.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.special import expit

RATE = 22050
HOP = 441  # 20 ms
FRAME = 1411  # 64 ms
FPS = RATE / HOP  # 50 activation frames per second
WEIGHTS = Path(__file__).with_name("models") / "beatnet.npz"
_BINS = FRAME >> 1  # madmom keeps the first frame_size // 2 FFT bins
BASS_HZ = 150.0  # kick drum and bass: where popular music puts its beat
# Columns of what BeatActivation returns.
BEAT, DOWNBEAT, BASS_ONSET = 0, 1, 2


@lru_cache(maxsize=1)
def filterbank() -> np.ndarray:
    """(705, 136) log-spaced triangular filters, as madmom's LogarithmicFilterbank builds them."""
    bin_hz = np.fft.fftfreq(_BINS * 2, 1.0 / RATE)[:_BINS]
    bands, low, high, ref = 24, 30.0, 17000.0, 440.0
    left = np.floor(np.log2(low / ref) * bands)
    right = np.ceil(np.log2(high / ref) * bands)
    centres = ref * 2.0 ** (np.arange(left, right) / bands)
    centres = centres[np.searchsorted(centres, low) :]
    centres = centres[: np.searchsorted(centres, high, "right")]
    index = np.clip(bin_hz.searchsorted(centres), 1, _BINS - 1)
    index -= (centres - bin_hz[index - 1]) < (bin_hz[index] - centres)
    index = np.unique(index)
    bank = np.zeros((_BINS, len(index) - 2), dtype=np.float32)
    for band, (start, centre, stop) in enumerate(zip(index, index[1:], index[2:], strict=False)):
        if stop - start < 2:
            centre, stop = start, start + 1
        shape = np.concatenate(
            [
                np.linspace(0, 1, centre - start, endpoint=False),
                np.linspace(1, 0, stop - centre, endpoint=False),
            ]
        )
        bank[start:stop, band] = shape / shape.sum()
    return bank


@lru_cache(maxsize=1)
def _bass_bands() -> np.ndarray:
    bin_hz = np.fft.fftfreq(_BINS * 2, 1.0 / RATE)[:_BINS]
    bank = filterbank()
    return (bin_hz @ bank) < BASS_HZ  # each filter's centre of mass


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return np.hanning(FRAME).astype(np.float32)


def spectral_features(frames: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """(n, FRAME) windows -> (n, 272) log-filtered spectra and their positive differences."""
    spectrum = np.abs(np.fft.rfft(frames * _window(), FRAME)[:, :_BINS]).astype(np.float32)
    logspec = np.log10(1.0 + spectrum @ filterbank())
    before = np.vstack([logspec[:1] if previous is None else previous[None], logspec[:-1]])
    diff = np.maximum(logspec - before, 0.0)
    if previous is None:
        diff[0] = 0.0  # madmom's first difference is zero
    return np.hstack([logspec, diff])


class _Crnn:
    """The three BeatNet CRNNs side by side: conv1d -> max-pool -> linear -> 2-layer LSTM -> 3."""

    def __init__(self, path: Path = WEIGHTS) -> None:
        with np.load(path) as data:
            w = {k: data[k] for k in data.files}

        def stack(name: str) -> np.ndarray:
            return np.stack([w[f"model{m}.{name}"] for m in (1, 2, 3)])

        self.conv_w = stack("conv1.weight")[:, :, 0, :]  # (3, 2 channels, 10 taps)
        self.conv_b = stack("conv1.bias")  # (3, 2)
        # Weights stored transposed and contiguous, so each matmul reads them in place.
        self.lin0_w_t = np.ascontiguousarray(stack("linear0.weight").transpose(0, 2, 1))
        self.lin0_b = stack("linear0.bias")
        self.lstm = []
        for layer in (0, 1):
            w_ih_t = stack(f"lstm.weight_ih_l{layer}").transpose(0, 2, 1)
            w_hh_t = stack(f"lstm.weight_hh_l{layer}").transpose(0, 2, 1)
            bias = stack(f"lstm.bias_ih_l{layer}") + stack(f"lstm.bias_hh_l{layer}")
            # [x, h] @ [W_ih; W_hh]: one matmul per step when frames arrive one at a time.
            fused = np.ascontiguousarray(np.concatenate([w_ih_t, w_hh_t], axis=1))
            self.lstm.append(
                (np.ascontiguousarray(w_ih_t), np.ascontiguousarray(w_hh_t), fused, bias)
            )
        self.out_w, self.out_b = stack("linear.weight"), stack("linear.bias")
        self.hidden = self.lstm[0][1].shape[1]

    def embed(self, features: np.ndarray) -> np.ndarray:
        """(n, 272) -> (3, n, 150): the per-frame layers, all frames at once."""
        taps = self.conv_w.shape[-1]
        windows = np.lib.stride_tricks.sliding_window_view(features, taps, axis=1)  # (n, 263, 10)
        conv = np.einsum("nlt,mct->mncl", windows, self.conv_w) + self.conv_b[:, None, :, None]
        conv = np.maximum(conv, 0.0)
        pooled_len = conv.shape[-1] // 2
        pooled = conv[..., : 2 * pooled_len].reshape(*conv.shape[:-1], pooled_len, 2).max(-1)
        flat = pooled.reshape(pooled.shape[0], pooled.shape[1], -1)  # (3, n, 262) channel-major
        return np.matmul(flat, self.lin0_w_t) + self.lin0_b[:, None, :]

    def run_lstm(self, x: np.ndarray, state: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """(3, n, 150) through both LSTM layers, carrying (h, c) per layer in `state`."""
        live = x.shape[1] == 1
        for layer, (w_ih_t, w_hh_t, fused, bias) in enumerate(self.lstm):
            if not live:  # a whole file: the input side of every step in one matmul
                gates_in = np.matmul(x, w_ih_t) + bias[:, None, :]
            h, c = state[layer]
            out = np.empty((x.shape[0], x.shape[1], self.hidden), dtype=np.float32)
            size = self.hidden
            for t in range(x.shape[1]):
                if live:
                    both = np.concatenate([x[:, t], h], axis=1)[:, None, :]
                    gates = np.matmul(both, fused)[:, 0] + bias
                else:
                    gates = gates_in[:, t] + np.matmul(h[:, None, :], w_hh_t)[:, 0]
                act = expit(gates)  # one call for the i, f, o gates (g's slice is unused)
                g = np.tanh(gates[:, 2 * size : 3 * size])
                c = act[:, size : 2 * size] * c + act[:, :size] * g
                h = act[:, 3 * size :] * np.tanh(c)
                out[:, t] = h
            state[layer] = (h, c)
            x = out
        return x

    def classify(self, hidden: np.ndarray) -> np.ndarray:
        """(3, n, 150) -> (n, 2) beat and downbeat probabilities, averaged over the models."""
        logits = np.einsum("mnh,mch->mnc", hidden, self.out_w) + self.out_b[:, None, :]
        logits -= logits.max(axis=-1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=-1, keepdims=True)
        return probs.mean(axis=0)[:, :2]

    def zero_state(self) -> list[tuple[np.ndarray, np.ndarray]]:
        zeros = np.zeros((3, self.hidden), dtype=np.float32)
        return [(zeros, zeros), (zeros, zeros)]


@lru_cache(maxsize=1)
def _model() -> _Crnn:
    return _Crnn()


class BeatActivation:
    """Streaming activation: push mono samples at RATE, get (n, 3) rows back.

    Columns: BEAT and DOWNBEAT probabilities (the network's), and BASS_ONSET, the positive
    log-spectral change below BASS_HZ (kick and bass), which the trackers use as a second,
    independent opinion on where the beat and the bar start are.

    Frame i is centred on sample i * HOP, so it is known once sample i * HOP + FRAME // 2
    has arrived: the activation lags the audio by 32 ms, which the trackers predict across.
    Pushing a whole file at once gives exactly the same rows as pushing it block by block.
    """

    def __init__(self) -> None:
        self._model = _model()
        self._state = self._model.zero_state()
        self._buffer = np.zeros(FRAME // 2, dtype=np.float32)  # zeros before sample 0
        self._buffer_start = -(FRAME // 2)  # sample index of _buffer[0]
        self._next_frame = 0
        self._previous: np.ndarray | None = None

    @property
    def frames_done(self) -> int:
        return self._next_frame

    def push(self, samples: np.ndarray) -> np.ndarray:
        data = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._buffer = np.concatenate([self._buffer, data])
        end = self._buffer_start + len(self._buffer)  # one past the last sample we have
        last = (end - (FRAME - FRAME // 2)) // HOP  # last frame whose window is complete
        return self._frames_until(last)

    def finish(self) -> np.ndarray:
        """Zero-pad the end (as madmom does) and return the remaining frames."""
        end = self._buffer_start + len(self._buffer)
        count = int(np.ceil(max(end, 0) / HOP))  # madmom: ceil(n / hop) frames in all
        self._buffer = np.concatenate([self._buffer, np.zeros(FRAME, np.float32)])
        return self._frames_until(count - 1)

    def _frames_until(self, last: int) -> np.ndarray:
        if last < self._next_frame:
            return np.zeros((0, 3), dtype=np.float32)
        index = np.arange(self._next_frame, last + 1)
        starts = index * HOP - FRAME // 2 - self._buffer_start
        frames = self._buffer[starts[:, None] + np.arange(FRAME)]
        features = spectral_features(frames, self._previous)
        self._previous = features[-1, : features.shape[1] // 2].copy()
        model = self._model
        out = model.classify(model.run_lstm(model.embed(features), self._state))
        half = features.shape[1] // 2
        bass = features[:, half:][:, _bass_bands()].sum(axis=1, keepdims=True)
        out = np.hstack([out, bass])
        self._next_frame = last + 1
        keep_from = self._next_frame * HOP - FRAME // 2
        self._buffer = self._buffer[keep_from - self._buffer_start :]
        self._buffer_start = keep_from
        return out.astype(np.float32)


def beat_activation(samples: np.ndarray) -> np.ndarray:
    """Whole-file activation (n, 3) at FPS for mono samples at RATE; row i is time i / FPS."""
    tracker = BeatActivation()
    rows = [tracker.push(samples), tracker.finish()]
    return np.concatenate(rows)
