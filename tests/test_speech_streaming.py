"""Fast tests for the live speech path's buffer and encoder logic, with fakes for Whisper and VAD."""

from __future__ import annotations

import numpy as np
import pytest

from audio.speech import SpeechWorker
from audio.speech.resample import SPEECH_RATE
from audio.speech.streaming import StreamingConfig
from audio.speech.transcriber import Segment, encoder_frames, guard_segments
from audio.speech.vad import WINDOW
from audio.words import WordEvent


class LoudnessVad:
    """Stands in for Silero: a 32 ms window is speech when it is loud."""

    def __init__(self):
        self._pending = np.zeros(0, np.float32)

    def reset(self):
        self._pending = np.zeros(0, np.float32)

    def __call__(self, samples):
        samples = np.concatenate([self._pending, samples])
        count = len(samples) // WINDOW
        self._pending = samples[count * WINDOW :]
        windows = samples[: count * WINDOW].reshape(count, WINDOW)
        return (np.abs(windows).max(axis=1) > 0.1).astype(np.float32)


class RecordingTranscriber:
    name = "recording"

    def __init__(self):
        self.buffers: list[np.ndarray] = []
        self.tails: list[float | None] = []

    def transcribe(self, audio, prompt=None, beam_size=1, encoder_tail=None):
        self.buffers.append(audio.copy())
        self.tails.append(encoder_tail)
        return []


def quiet_then_loud(quiet: float, loud: float) -> np.ndarray:
    audio = np.zeros(int((quiet + loud) * SPEECH_RATE), np.float32)
    audio[int(quiet * SPEECH_RATE) :] = 0.5
    return audio


def feed(worker: SpeechWorker, audio: np.ndarray, batch_seconds: float) -> None:
    """Push `audio` in batches, one worker step per batch (a worker busy for `batch_seconds`)."""
    batch = int(batch_seconds * SPEECH_RATE)
    for start in range(0, len(audio), batch):
        worker._append(start / SPEECH_RATE, audio[start : start + batch])
        worker._advance()


def synchronous_worker(config: StreamingConfig) -> tuple[SpeechWorker, RecordingTranscriber]:
    fake = RecordingTranscriber()
    worker = SpeechWorker(SPEECH_RATE, transcriber=fake, config=config)
    worker._vad = LoudnessVad()
    return worker, fake


def test_whisper_hears_the_preroll_before_an_onset_not_the_silence_before_it():
    # One long batch: onset at 1.5 s arrives together with the quiet in front of it, as when
    # the worker was busy; the buffer must still start `preroll` before the onset.
    config = StreamingConfig(preroll=0.3, step=0.5)
    worker, fake = synchronous_worker(config)
    feed(worker, quiet_then_loud(quiet=1.5, loud=1.0), batch_seconds=2.0)
    assert fake.buffers, "speech was heard: Whisper must run"
    first = fake.buffers[0]
    quiet_samples = int(np.argmax(np.abs(first) > 0.1))
    assert quiet_samples == pytest.approx(0.3 * SPEECH_RATE, abs=WINDOW)


def test_the_live_path_asks_for_a_short_encoder_window():
    worker, fake = synchronous_worker(StreamingConfig(encoder_tail=8.0))
    feed(worker, quiet_then_loud(quiet=0.5, loud=1.5), batch_seconds=0.6)
    assert fake.tails and set(fake.tails) == {8.0}


def test_encoder_frames_cover_the_audio_plus_tail_and_stay_even():
    assert encoder_frames(3 * SPEECH_RATE, tail=8.0) == 1100
    assert encoder_frames(int(2.005 * SPEECH_RATE), tail=1.0) % 2 == 0
    assert encoder_frames(3 * SPEECH_RATE, tail=None) is None  # Whisper's full window
    assert encoder_frames(25 * SPEECH_RATE, tail=8.0) is None  # longer than 30 s: no cut


def test_short_context_model_hands_the_encoder_only_the_frames_asked_for(monkeypatch):
    pytest.importorskip("faster_whisper")
    from faster_whisper import WhisperModel

    from audio.speech.transcriber import _short_context_whisper

    monkeypatch.setattr(WhisperModel, "encode", lambda self, features: features.shape)
    model = object.__new__(_short_context_whisper())
    features = np.zeros((80, 3000), np.float32)
    assert model.encode(features) == (80, 3000)
    model.encoder_frames = 1100
    assert model.encode(features) == (80, 1100)


def timed(text: str, start: float, step: float = 0.3) -> tuple[WordEvent, ...]:
    return tuple(
        WordEvent(w, start + i * step, start + (i + 1) * step, 0.9)
        for i, w in enumerate(text.split())
    )


def test_guards_cut_a_sentence_looped_into_no_time():
    real = timed("white horses run across the open field", 0.5)
    looped = tuple(WordEvent(w.text, 2.6, 2.6, 0.9) for w in real)
    kept = guard_segments([Segment(words=real + looped)])
    assert [w.text for w in kept] == [w.text for w in real]


def test_guards_keep_one_copy_of_a_sentence_repeated_in_one_pass():
    first = Segment(words=timed("Blue whale.", 0.0))
    again = Segment(words=timed("blue whale", 0.7))
    later = Segment(words=timed("cold dark water", 1.4))
    kept = guard_segments([first, again, later])
    assert [w.text for w in kept] == ["Blue", "whale.", "cold", "dark", "water"]
