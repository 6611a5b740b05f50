"""Live speech: a worker thread beside the audio thread turns pushed blocks into words.

The audio path calls `SpeechWorker.push(block, time)`, which copies the block into a
bounded queue and returns. The worker resamples to 16 kHz, runs Silero VAD on every
32 ms window and, only while someone is speaking, re-transcribes the current utterance
every `step` seconds. Whisper's newest guess changes its last words as more audio comes
in, so a word is committed only when the last `agreement` passes agree on it
(LocalAgreement-n, after Machacek et al., "Turning Whisper into Real-Time Transcription
System", 2023), and the last agreed word also waits for the word after it (agreement.py:
at the buffer's edge a word may be half heard). When the VAD hears `end_silence` of quiet, the utterance is over and
everything left is committed at once, which keeps the last word of a phrase fast.

Whisper reads a phrase far better with the speech before it in front of it (tiny.en on
isolated espeak sentences: ~27% WER; with the earlier sentences in the window: ~14%), so
the buffer keeps up to `context` seconds of recent speech ahead of the current utterance.
Every pass re-reads that context; words committed before are skipped, and a word the
previous utterance's last pass missed (Whisper often drops the last word at a buffer's
end) is committed when its context is re-read. A pass is one encoder run and one decode
(`Transcriber.transcribe_window`), which keeps a few seconds of context affordable.
A buffer past `max_buffer` is cut back to about `context` seconds, in a gap between two
committed words (`_cut_point`), so a long utterance never loses all its context at once.
"""

from __future__ import annotations

import os
import queue
import threading
import time as clock
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from audio.speech.agreement import LocalAgreement
from audio.speech.blocklist import Blocklist
from audio.speech.gate import DEFAULT_GATE, ConfidenceGate
from audio.speech.models import load_transcriber
from audio.speech.resample import SPEECH_RATE, StreamResampler
from audio.speech.transcriber import DEFAULT_GUARDS, Guards, Transcriber, guard_segments
from audio.speech.vad import WINDOW, WINDOW_SECONDS, SileroVad
from audio.speech.words import content_words
from audio.words import WordEvent


@dataclass(frozen=True)
class StreamingConfig:
    """Timing of the live path (seconds). Smaller steps: lower latency, more CPU."""

    step: float = 0.5  # new audio between Whisper passes
    agreement: int = 2  # passes that must agree before a word is committed
    hold: int = 1  # agreed words that wait for an agreed word after them (agreement.py)
    # A word this far behind the buffer's end is committed even without agreement: the p90
    # latency budget (2.5 s). Sooner (1.5 s) committed single readings that a later pass
    # corrected: tiny.en, synchronous replay, LJ Speech 7.6% -> 6.1% WER, espeak dev set
    # (not the benchmark's sentences) 8.9% -> 7.3%.
    max_wait: float | None = 2.5
    end_silence: float = 0.5  # VAD quiet that ends an utterance and commits everything
    context: float = 6.0  # recent speech Whisper re-reads in front of the current utterance
    max_buffer: float = 8.0  # longest stretch Whisper re-reads; older audio is trimmed
    preroll: float = 0.3  # audio kept in front of a speech onset
    vad_threshold: float = 0.5
    max_gap: float = 0.2  # a jump in push times larger than this starts a new stream
    inbox_blocks: int = 1024  # bounded queue between push() and the worker
    beam_size: int = 5  # beam search costs little next to the encoder, reads hard words better
    encoder_tail: float | None = 2.0  # encoder window = buffer + this (None: Whisper's 30 s)


class SpeechWorker(threading.Thread):
    """Streaming speech recognition in its own thread; see the module docstring."""

    def __init__(
        self,
        sample_rate: int,
        model: str = "auto",
        backend: str = "faster-whisper",
        *,
        content_only: bool = False,
        blocklist: Iterable[str] | Blocklist = (),
        gate: ConfidenceGate = DEFAULT_GATE,
        config: StreamingConfig = StreamingConfig(),
        transcriber: Transcriber | None = None,
        guards: Guards = DEFAULT_GUARDS,
    ):
        """`model`: a Whisper size name, a model folder or "auto" (catalog.py). With
        `content_only`, only content words that pass `blocklist` (added to the default
        list) and the confidence `gate` reach `words`; otherwise every committed word."""
        super().__init__(name="speech-worker", daemon=True)
        self.sample_rate = int(sample_rate)
        self.model, self.backend = model, backend
        self.content_only, self.gate = content_only, gate
        self.blocklist = blocklist if isinstance(blocklist, Blocklist) else tuple(blocklist)
        self.config, self.guards = config, guards
        self._said: list[WordEvent] = []  # the last committed words, for split blocked words
        self.words: queue.Queue[WordEvent] = queue.Queue()
        self.error: str | None = None
        self.dropped_blocks = 0  # blocks push() could not queue (worker far behind)
        self.passes = 0  # Whisper runs so far
        self.busy_seconds = 0.0  # wall time spent inside Whisper
        self._transcriber = transcriber
        self._inbox: queue.Queue[tuple[float, np.ndarray]] = queue.Queue(config.inbox_blocks)
        self._stopping = threading.Event()
        self._agreement = LocalAgreement(config.agreement, config.hold)
        self._stream_start: float | None = None
        self.ready = False  # model loaded, listening

    # -- called from the audio path -------------------------------------------------------

    def push(self, samples: np.ndarray, time: float) -> None:
        """Queue a copy of `samples` (mono, or frames x channels) starting at `time`; never blocks."""
        try:
            block = np.array(samples, dtype=np.float32, copy=True)
            if block.ndim == 2:
                block = block.mean(axis=1)
            self._inbox.put_nowait((float(time), block.reshape(-1)))
        except queue.Full:
            self.dropped_blocks += 1
        except Exception:  # a bad block must never reach the audio callback
            self.dropped_blocks += 1

    # -- lifecycle ------------------------------------------------------------------------

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        _lower_priority()  # the audio thread and the renderer come first
        try:
            if self._transcriber is None:
                self._transcriber = load_transcriber(self.model, self.backend)
            self._vad = SileroVad()
            self.ready = True
        except Exception as exc:  # SpeechUnavailable or a broken install: idle, don't crash
            self.error = _one_line(exc)
            self._idle()
            return
        while not self._stopping.is_set():
            try:
                for time, block in self._take_blocks(timeout=0.05):
                    self._append(time, block)
                if self._stream_start is not None:
                    self._advance()
            except Exception as exc:  # one bad pass must not end live speech
                self.error = _one_line(exc)
                self._stream_start = None
        self._finish()

    def _finish(self) -> None:
        """Stopping: blocks already queued are still heard, and what was heard stands."""
        try:
            for time, block in self._take_blocks(timeout=0.01):
                self._append(time, block)
            if self._stream_start is not None and self._heard_speech:
                self._end_utterance()
        except Exception as exc:
            self.error = _one_line(exc)

    def _idle(self) -> None:
        while not self._stopping.is_set():
            self._take_blocks(timeout=0.2)

    def _take_blocks(self, timeout: float) -> list[tuple[float, np.ndarray]]:
        try:
            blocks = [self._inbox.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                blocks.append(self._inbox.get_nowait())
            except queue.Empty:
                return blocks

    # -- the stream -----------------------------------------------------------------------

    def _start_stream(self, time: float) -> None:
        self._stream_start = time
        self._resampler = StreamResampler(self.sample_rate)
        self._vad.reset()
        self._vad_windows = 0
        self._buffer = np.zeros(0, np.float32)
        self._buffer_first = 0  # stream index (16 kHz) of the buffer's first sample
        self._heard_speech = False
        self._speech_onset = time
        self._last_speech_end = float("-inf")
        self._context_start = float("inf")  # onset of the first utterance of recent speech
        self._transcribed_until = time
        self._agreement.reset()

    def _time_at(self, sample_index: int) -> float:
        return self._stream_start + sample_index / SPEECH_RATE

    @property
    def _buffer_start(self) -> float:
        return self._time_at(self._buffer_first)

    @property
    def _buffer_end(self) -> float:
        return self._time_at(self._buffer_first + len(self._buffer))

    def _append(self, time: float, block: np.ndarray) -> None:
        if self._stream_start is None or abs(time - self._expected_time) > self.config.max_gap:
            if self._stream_start is not None:
                self._emit(self._agreement.flush())  # a gap: what was heard stands
            self._start_stream(time)
        self._expected_time = time + len(block) / self.sample_rate
        audio = self._resampler(block)
        for probability in self._vad(audio):
            self._vad_windows += 1
            if probability >= self.config.vad_threshold:
                if not self._heard_speech:  # an onset: the utterance starts a pre-roll before it
                    self._speech_onset = self._time_at((self._vad_windows - 1) * WINDOW)
                    if self._speech_onset - self._last_speech_end > self.config.context:
                        self._context_start = self._speech_onset  # no recent speech to keep
                self._heard_speech = True
                self._last_speech_end = self._time_at(self._vad_windows * WINDOW)
        self._buffer = np.concatenate([self._buffer, audio])

    def _advance(self) -> None:
        config = self.config
        self._trim_to(self._keep_from())
        if not self._heard_speech:
            return
        if self._buffer_end - self._last_speech_end >= config.end_silence:
            self._end_utterance()
            self._trim_to(self._keep_from())
        elif self._buffer_end - self._transcribed_until >= config.step:
            settled = self._buffer_end - config.max_wait if config.max_wait else float("-inf")
            self._emit(self._agreement.update(self._hypothesis(), settled))
            if self._buffer_end - self._buffer_start > config.max_buffer:
                self._trim_to(self._cut_point())

    def _cut_point(self) -> float:
        """Where a too-long buffer is cut: `context` seconds back, at the first gap between
        two committed words after that. Whisper's word end times are off by a phoneme or
        two, so a cut at the newest committed word's end clipped the next word ("wood | cutters"
        lost its "c") and left no context; a gap inside text already committed keeps the
        speech before the words still open, and the words there are skipped as re-read."""
        cut = self._agreement.cut_point(after=self._buffer_end - self.config.context)
        return cut if cut is not None else self._buffer_end - self.config.max_buffer

    def _end_utterance(self) -> None:
        """Read the audio heard since the last pass, then commit everything still open."""
        if self._buffer_end - self._transcribed_until > WINDOW_SECONDS:
            self._emit(self._agreement.update(self._hypothesis()))
        self._emit(self._agreement.flush())
        self._heard_speech = False

    def _keep_from(self) -> float:
        """Where the buffer may start: a pre-roll before the current (or next) utterance,
        reaching back over up to `context` seconds of recent speech, never into long quiet."""
        onset = self._speech_onset if self._heard_speech else self._buffer_end
        recent_speech = max(self._context_start, self._buffer_end - self.config.context)
        return min(onset, recent_speech) - self.config.preroll

    def _hypothesis(self) -> list[WordEvent]:
        """Whisper's current reading of the buffer, guarded, in absolute times."""
        started = clock.perf_counter()
        segments = self._transcriber.transcribe_window(
            self._buffer,
            prompt=self._agreement.recent_text(before=self._buffer_start),
            beam_size=self.config.beam_size,
            encoder_tail=self.config.encoder_tail,
        )
        self.busy_seconds += clock.perf_counter() - started
        self.passes += 1
        self._transcribed_until = self._buffer_end
        offset = self._buffer_start
        # Nothing after the VAD's last speech is believed. Words in the context are kept:
        # LocalAgreement skips what it committed before, and commits what the last pass of
        # an earlier utterance missed (Whisper often drops the last word at a buffer's end).
        latest = self._last_speech_end + 0.3
        return [
            WordEvent(w.text, offset + w.start, offset + w.end, w.probability)
            for w in guard_segments(segments, self.guards)
            if offset + w.start < latest
        ]

    def _trim_to(self, time: float) -> None:
        drop = int(round((time - self._buffer_start) * SPEECH_RATE))
        if drop > 0:
            drop = min(drop, len(self._buffer))
            self._buffer = self._buffer[drop:]
            self._buffer_first += drop

    def _emit(self, words: list[WordEvent]) -> None:
        if self.content_only:
            said, self._said = self._said, (self._said + words)[-2:]
            words = content_words(words, self.blocklist, self.gate, before=said)
        for word in words:
            self.words.put(word)


def _lower_priority() -> None:
    """Nice this thread (Linux: per thread; Whisper's compute threads started here inherit it)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed: run at normal priority


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
