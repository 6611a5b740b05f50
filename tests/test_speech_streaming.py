"""Fast tests for the live speech path's buffer and encoder logic, with fakes for Whisper and VAD."""

from __future__ import annotations

import numpy as np
import pytest

from audio.speech import SpeechWorker
from audio.speech.resample import SPEECH_RATE
from audio.speech.streaming import StreamingConfig
from audio.speech.transcriber import WHISPER_FRAMES, Segment, encoder_frames, guard_segments
from audio.speech.vad import WINDOW
from audio.words import WordEvent
from tests.speech_fakes import LoudnessVad


class RecordingTranscriber:
    name = "recording"

    def __init__(self):
        self.buffers: list[np.ndarray] = []
        self.tails: list[float | None] = []

    def transcribe_window(self, audio, prompt=None, beam_size=1, encoder_tail=None):
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
    assert encoder_frames(3 * SPEECH_RATE, tail=None) == WHISPER_FRAMES  # the full 30 s
    assert encoder_frames(25 * SPEECH_RATE, tail=8.0) == WHISPER_FRAMES  # never past 30 s


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


class EchoTranscriber(RecordingTranscriber):
    """Reads each loud 0.1 s of the buffer as a word named by its loudness (context included).

    `misses_last`: like Whisper at a buffer's end, every pass leaves out its last word.
    """

    def __init__(self, misses_last: bool = False):
        super().__init__()
        self.misses_last = misses_last

    def transcribe_window(self, audio, prompt=None, beam_size=1, encoder_tail=None):
        super().transcribe_window(audio, prompt, beam_size, encoder_tail)
        hop = int(0.1 * SPEECH_RATE)
        words = []
        for start in range(0, len(audio) - hop + 1, hop):
            level = float(np.abs(audio[start : start + hop]).min())
            if level > 0.1:
                name = "word" + chr(ord("a") + round(level * 100) - 20)
                words.append(WordEvent(name, start / SPEECH_RATE, (start + hop) / SPEECH_RATE, 0.9))
        if self.misses_last:
            words = words[:-1]
        return [Segment(words=tuple(words))] if words else []


def speech_gaps(*parts: tuple[float, float]) -> np.ndarray:
    """Quiet / loud stretches: each part is (quiet seconds, loud seconds)."""
    return np.concatenate([quiet_then_loud(quiet, loud) for quiet, loud in parts])


def test_whisper_rereads_recent_speech_before_a_new_utterance():
    config = StreamingConfig(context=4.0, preroll=0.3, step=0.5, end_silence=0.5)
    worker, fake = synchronous_worker(config)
    feed(worker, speech_gaps((0.5, 1.5), (1.0, 1.5), (0.0, 0.0)), batch_seconds=0.1)
    last = fake.buffers[-1]  # read during the second utterance
    assert len(last) / SPEECH_RATE > 3.0  # the first utterance is in front of it
    assert np.abs(last[: int(0.5 * SPEECH_RATE)]).max() > 0.1


def test_no_context_is_kept_across_a_long_quiet():
    config = StreamingConfig(context=4.0, preroll=0.3, step=0.5, end_silence=0.5)
    worker, fake = synchronous_worker(config)
    feed(worker, speech_gaps((0.5, 1.0), (6.0, 1.5)), batch_seconds=0.1)
    last = fake.buffers[-1]
    quiet_samples = int(np.argmax(np.abs(last) > 0.1))
    assert quiet_samples == pytest.approx(0.3 * SPEECH_RATE, abs=WINDOW)


def stepped_speech(quiet: float, words: int, first_level: float) -> np.ndarray:
    """`quiet` seconds, then `words` stretches of 0.1 s, each 0.01 louder than the last."""
    levels = first_level + 0.01 * np.arange(words)
    loud = np.repeat(levels, int(0.1 * SPEECH_RATE)).astype(np.float32)
    return np.concatenate([np.zeros(int(quiet * SPEECH_RATE), np.float32), loud])


def test_words_reread_in_the_context_are_not_sent_again():
    config = StreamingConfig(context=4.0, preroll=0.3, step=0.5, end_silence=0.5)
    worker = SpeechWorker(SPEECH_RATE, transcriber=EchoTranscriber(), config=config)
    worker._vad = LoudnessVad()
    audio = np.concatenate(
        [stepped_speech(0.5, 8, 0.2), stepped_speech(1.0, 8, 0.3), np.zeros(SPEECH_RATE)]
    )
    feed(worker, audio.astype(np.float32), batch_seconds=0.1)
    sent = []
    while not worker.words.empty():
        sent.append(worker.words.get().text)
    assert worker._transcriber.buffers[-1].size > 2.5 * SPEECH_RATE  # context was re-read
    assert sent == ["word" + chr(ord("a") + k) for k in [*range(8), *range(10, 18)]]


def test_a_word_the_last_pass_missed_is_committed_when_the_context_is_reread():
    config = StreamingConfig(context=4.0, preroll=0.3, step=0.5, end_silence=0.5)
    worker = SpeechWorker(SPEECH_RATE, transcriber=EchoTranscriber(misses_last=True), config=config)
    worker._vad = LoudnessVad()
    audio = np.concatenate(
        [stepped_speech(0.5, 8, 0.2), stepped_speech(1.0, 8, 0.3), np.zeros(SPEECH_RATE)]
    )
    feed(worker, audio.astype(np.float32), batch_seconds=0.1)
    sent = [worker.words.get().text for _ in range(worker.words.qsize())]
    # "wordh" ends the first utterance and no pass of it read that word; the second
    # utterance's passes re-read it in their context. Only the very last word is lost.
    assert sent == ["word" + chr(ord("a") + k) for k in [*range(8), *range(10, 17)]]


def test_stopping_hears_the_queued_audio_and_commits_it():
    worker = SpeechWorker(SPEECH_RATE, transcriber=EchoTranscriber(), config=StreamingConfig())
    worker._vad = LoudnessVad()
    audio = stepped_speech(0.5, 6, 0.2)
    worker.push(audio, 0.0)  # queued, never taken by a running loop
    worker._stopping.set()
    worker._finish()
    sent = [worker.words.get().text for _ in range(worker.words.qsize())]
    assert sent == ["word" + chr(ord("a") + k) for k in range(6)]
