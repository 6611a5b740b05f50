"""Memory of the live speech path: what a long show keeps stays bounded.

An hour-long soak grew by ~300 MiB with speech on: every pass asked the encoder for a new
input length, and oneDNN (inside CTranslate2) caches a convolution per shape. The fast
tests bound the shapes and the worker's own buffers; the slow one measures the heap.
"""

from __future__ import annotations

import ctypes
import math
from pathlib import Path

import numpy as np
import pytest

from audio.speech import SpeechWorker
from audio.speech.resample import SPEECH_RATE
from audio.speech.streaming import StreamingConfig
from audio.speech.transcriber import WHISPER_FRAMES, Segment, encoder_frames
from audio.speech.vad import WINDOW
from audio.words import WordEvent
from tests.speech_fakes import LoudnessVad

SPEECH = Path(__file__).resolve().parents[2] / "shared" / "media" / "speech"


def test_encoder_lengths_come_in_a_few_sizes_that_cover_audio_and_tail():
    lengths = set()
    for samples in range(0, 10 * SPEECH_RATE, 37):  # every buffer length up to 10 s
        frames = encoder_frames(samples, tail=2.0)
        assert frames >= math.ceil((samples / SPEECH_RATE + 2.0) * 100)
        assert frames % 2 == 0  # the encoder's first convolution has stride 2
        lengths.add(frames)
    assert len(lengths) <= 25  # one per 20 ms would be ~500 cached convolutions
    assert encoder_frames(29 * SPEECH_RATE, tail=2.0) == WHISPER_FRAMES


class WordPerTenthTranscriber:
    """One word per loud 0.1 s, named by the pass count so hypotheses keep changing."""

    name = "fake"

    def __init__(self):
        self.passes = 0
        self.frames: set[int] = set()
        self.longest = 0

    def transcribe_window(self, audio, prompt=None, beam_size=1, encoder_tail=None):
        self.passes += 1
        self.frames.add(encoder_frames(len(audio), encoder_tail))
        self.longest = max(self.longest, len(audio))
        hop = SPEECH_RATE // 10
        words = tuple(
            WordEvent(
                "word" + chr(97 + (start // hop + self.passes % 3) % 26),
                start / hop / 10,
                (start / hop + 1) / 10,
                0.9,
            )
            for start in range(0, len(audio) - hop + 1, hop)
            if np.abs(audio[start : start + hop]).min() > 0.1
        )
        return [Segment(words=words)] if words else []


def talk_show(minutes: float, seed: int = 0) -> np.ndarray:
    """Phrases of 0.5-9 s (some longer than the buffer) with gaps of 0.2-3 s."""
    rng = np.random.default_rng(seed)
    parts, total = [], 0
    while total < minutes * 60 * SPEECH_RATE:
        phrase = np.full(
            int(rng.uniform(0.5, 9.0) * SPEECH_RATE), rng.uniform(0.2, 0.6), np.float32
        )
        gap = np.zeros(int(rng.uniform(0.2, 3.0) * SPEECH_RATE), np.float32)
        parts += [phrase, gap]
        total += len(phrase) + len(gap)
    return np.concatenate(parts)


def test_a_long_show_keeps_the_workers_buffers_and_histories_bounded():
    config = StreamingConfig()
    fake = WordPerTenthTranscriber()
    worker = SpeechWorker(SPEECH_RATE, transcriber=fake, config=config, content_only=True)
    worker._vad = LoudnessVad()
    audio = talk_show(minutes=20)
    batch = int(0.5 * SPEECH_RATE)
    heard = 0
    longest_buffer = 0
    for start in range(0, len(audio), batch):
        worker._append(start / SPEECH_RATE, audio[start : start + batch])
        worker._advance()
        longest_buffer = max(longest_buffer, len(worker._buffer))
        while not worker.words.empty():  # the live app drains the queue every frame
            worker.words.get_nowait()
            heard += 1
    assert fake.passes > 1000 and heard > 0
    # one batch on top of the longest re-read stretch, whatever the show's length
    limit = (config.max_buffer + 2 * config.step + config.preroll) * SPEECH_RATE
    assert longest_buffer <= limit and fake.longest <= limit
    assert len(worker._agreement._recent) <= 30
    assert len(worker._agreement._history) <= config.agreement
    assert len(worker._said) <= 2
    assert len(worker._vad._pending) < WINDOW
    assert len(fake.frames) <= 25  # encoder shapes: a few, not one per pass


def _heap_in_use() -> int:
    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
        ]

    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        pytest.skip("needs glibc >= 2.33 (mallinfo2)")
    mallinfo2.restype = MallInfo2
    info = mallinfo2()
    return info.uordblks + info.hblkhd


@pytest.mark.slow
def test_whisper_passes_of_every_length_do_not_grow_the_heap():
    from audio.source import load_audio
    from audio.speech.models import load_transcriber

    clips = sorted(SPEECH.glob("LJ*.wav"))[:3]
    if not clips:
        pytest.skip(f"no LJ Speech clips in {SPEECH}")
    try:
        transcriber = load_transcriber("tiny.en")
    except Exception as exc:
        pytest.skip(f"tiny.en not available: {exc}")
    speech = np.concatenate([load_audio(p, SPEECH_RATE).samples for p in clips]).astype(np.float32)
    for seconds in np.arange(0.5, 8.01, 0.5):  # warm-up: every encoder length a live pass uses
        transcriber.transcribe_window(speech[: int(seconds * SPEECH_RATE)], encoder_tail=2.0)
    before = _heap_in_use()
    rng = np.random.default_rng(1)
    for _ in range(30):  # buffers of any length, as the live path re-reads them
        start = int(rng.integers(0, len(speech) - 8 * SPEECH_RATE))
        length = int(rng.uniform(0.5, 8.0) * SPEECH_RATE)
        transcriber.transcribe_window(speech[start : start + length], encoder_tail=2.0)
    grown = (_heap_in_use() - before) / 2**20
    assert grown < 6.0, f"heap grew {grown:.1f} MiB over 30 passes"  # unbucketed: ~0.8 per pass
