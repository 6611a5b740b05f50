"""Replay a clip through the live path at real-time pace (or faster) and time each word.

Used by `visualize transcribe --streaming` and scripts/bench_speech.py. A producer
pushes fixed blocks on a schedule like an audio callback would; a consumer records,
for each committed word, how much audio had been pushed when it arrived. Latency is
that audio time minus the word's end (both on the audio clock), so it stays meaningful
when replaying faster than real time.
"""

from __future__ import annotations

import threading
import time as clock
from dataclasses import dataclass, field

import numpy as np

from audio.speech.streaming import SpeechWorker
from audio.words import WordEvent


@dataclass
class ReplayResult:
    words: list[WordEvent] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, one per word
    late_blocks: int = 0  # pushes that missed their slot by more than one block
    max_push_lateness: float = 0.0  # seconds
    error: str | None = None
    passes: int = 0
    busy_seconds: float = 0.0
    dropped_blocks: int = 0


def replay(
    samples: np.ndarray,
    sample_rate: int,
    worker: SpeechWorker,
    speed: float = 1.0,
    block: int = 1024,
    tail_silence: float = 1.5,
    start_time: float = 0.0,
) -> ReplayResult:
    """Push `samples` (then `tail_silence` of quiet) into a started `worker`; stops it."""
    result = ReplayResult()
    samples = np.concatenate([samples, np.zeros(int(tail_silence * sample_rate), np.float32)])
    pushed_until = [start_time]
    done = threading.Event()

    def consume() -> None:
        while not done.is_set() or not worker.words.empty():
            try:
                word = worker.words.get(timeout=0.05)
            except Exception:
                continue
            result.words.append(word)
            result.latencies.append(max(0.0, pushed_until[0] - word.end))

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    block_seconds = block / sample_rate / speed
    began = clock.perf_counter()
    for index in range(0, len(samples), block):
        slot = began + index / sample_rate / speed
        wait = slot - clock.perf_counter()
        if wait > 0:
            clock.sleep(wait)
        lateness = clock.perf_counter() - slot
        result.max_push_lateness = max(result.max_push_lateness, lateness)
        if lateness > block_seconds:  # a real callback would have overflowed here
            result.late_blocks += 1
        worker.push(samples[index : index + block], start_time + index / sample_rate)
        pushed_until[0] = start_time + (index + block) / sample_rate
    clock.sleep(0.5)
    worker.stop()
    done.set()
    consumer.join()
    result.error = worker.error
    result.passes, result.busy_seconds = worker.passes, worker.busy_seconds
    result.dropped_blocks = worker.dropped_blocks
    return result


def replay_synchronously(
    samples: np.ndarray, sample_rate: int, worker: SpeechWorker, step: float = 0.5
) -> list[WordEvent]:
    """Feed `samples` to an unstarted `worker` in `step`-second batches, one worker step per
    batch, as if every Whisper pass took `step` seconds: the same words on every run,
    whatever else the machine is doing (real-time replays depend on its load)."""
    from audio.speech.vad import SileroVad

    if worker._transcriber is None:
        from audio.speech.models import load_transcriber

        worker._transcriber = load_transcriber(worker.model, worker.backend)
    worker._vad = SileroVad()
    batch = max(1, int(step * sample_rate))
    tail = np.zeros(int(1.5 * sample_rate), np.float32)
    audio = np.concatenate([np.asarray(samples, np.float32), tail])
    for start in range(0, len(audio), batch):
        worker._append(start / sample_rate, audio[start : start + batch])
        worker._advance()
    if worker._stream_start is not None and worker._heard_speech:
        worker._end_utterance()
    words = []
    while not worker.words.empty():
        words.append(worker.words.get_nowait())
    return words


def wait_until_ready(worker: SpeechWorker, timeout: float = 60.0) -> None:
    """Block until the worker has loaded its model (or failed to)."""
    deadline = clock.perf_counter() + timeout
    while clock.perf_counter() < deadline and worker.error is None and not worker.ready:
        clock.sleep(0.02)
