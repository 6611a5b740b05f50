"""The confidence gate and the pass counts it reads: which words may become pictures."""

from __future__ import annotations

import numpy as np
import pytest

from audio.speech import LocalAgreement, SpeechWorker, content_words
from audio.speech.gate import DEFAULT_GATE, ConfidenceGate
from audio.speech.resample import SPEECH_RATE
from audio.speech.streaming import StreamingConfig
from audio.speech.transcriber import Segment
from audio.speech.vad import WINDOW
from audio.words import WordEvent


def words(text: str, probability: float = 0.9, start: float = 0.0) -> list[WordEvent]:
    return [
        WordEvent(w, start + i * 0.3, start + (i + 1) * 0.3, probability)
        for i, w in enumerate(text.split())
    ]


def test_one_reading_needs_to_be_more_likely_right_than_wrong():
    assert DEFAULT_GATE.admits(WordEvent("moon", 0, 1, 0.5))
    assert not DEFAULT_GATE.admits(WordEvent("moon", 0, 1, 0.49))


def test_agreeing_passes_lower_the_bar_by_the_noisy_or_rule():
    assert DEFAULT_GATE.threshold(2) == pytest.approx(1 - 0.5**0.5)
    assert DEFAULT_GATE.admits(WordEvent("moon", 0, 1, 0.3, passes=2))
    assert not DEFAULT_GATE.admits(WordEvent("moon", 0, 1, 0.28, passes=2))
    assert DEFAULT_GATE.threshold(3) < DEFAULT_GATE.threshold(2) < DEFAULT_GATE.threshold(1)
    assert ConfidenceGate(confident=0.8).threshold(1) == 0.8


def test_content_words_apply_the_gate_unless_asked_not_to():
    heard = [WordEvent("ocean", 0, 1, 0.2), WordEvent("moon", 1, 2, 0.9)]
    assert [w.text for w in content_words(heard)] == ["moon"]
    assert [w.text for w in content_words(heard, gate=None)] == ["ocean", "moon"]


def test_agreed_words_carry_the_number_of_passes():
    agreement = LocalAgreement()
    first = agreement.update(words("a red ocean"))
    assert first == []
    committed = agreement.update(words("a red ocean under"))
    assert [(w.text, w.passes) for w in committed] == [("a", 2), ("red", 2), ("ocean", 2)]


def test_flushed_words_count_only_passes_that_agree_up_to_them():
    agreement = LocalAgreement()
    agreement.update(words("blue whales sing"))
    agreement.update(words("blue whales sing in"))  # commits blue whales sing
    agreement.update(words("blue whales sing in dark water"))  # commits "in"
    agreement.update(words("blue whales sing in cold water"))  # disagree on "dark/cold"
    flushed = agreement.flush()
    # "water" matches the pass before at its place, but after a changed word: one reading
    assert [(w.text, w.passes) for w in flushed] == [("cold", 1), ("water", 1)]


def test_words_committed_far_behind_without_agreement_are_single_readings():
    agreement = LocalAgreement()
    agreement.update(words("a red ocean"))
    committed = agreement.update(words("the red ocean under"), settled_before=0.7)
    assert [(w.text, w.passes) for w in committed] == [("the", 1), ("red", 1)]


class LoudnessVad:
    def reset(self):
        pass

    def __call__(self, samples):
        count = len(samples) // WINDOW
        windows = samples[: count * WINDOW].reshape(count, WINDOW)
        return (np.abs(windows).max(axis=1) > 0.1).astype(np.float32)


class ScriptedTranscriber:
    """Reads the same words every pass; one of them Whisper barely believes."""

    name = "scripted"

    def transcribe_window(self, audio, prompt=None, beam_size=1, encoder_tail=None):
        seconds = len(audio) / SPEECH_RATE
        heard = [
            WordEvent("golden", 0.1, 0.4, 0.95),
            WordEvent("cty", 0.5, 0.8, 0.1),  # a guess, even when read twice
            WordEvent("desert", 0.9, 1.2, 0.4),  # unsure alone, believable when repeated
        ]
        return [Segment(words=tuple(w for w in heard if w.end < seconds - 0.2))]


def test_the_live_worker_only_sends_words_the_gate_admits():
    config = StreamingConfig(step=0.5, max_wait=None, context=0.0, preroll=0.0)
    worker = SpeechWorker(SPEECH_RATE, transcriber=ScriptedTranscriber(), config=config,
                          content_only=True)  # fmt: skip
    worker._vad = LoudnessVad()
    audio = np.concatenate([np.full(int(3 * SPEECH_RATE), 0.5, np.float32),
                            np.zeros(SPEECH_RATE, np.float32)])  # fmt: skip
    step = SPEECH_RATE // 4
    for start in range(0, len(audio), step):
        worker._append(start / SPEECH_RATE, audio[start : start + step])
        worker._advance()
    sent = []
    while not worker.words.empty():
        sent.append(worker.words.get_nowait())
    assert [(w.text, w.passes) for w in sent] == [("golden", 2), ("desert", 2)]


def test_offline_second_reading_marks_the_words_both_readings_agree_on():
    from audio.speech.gate import mark_agreement

    first = words("a red ocean under the moon", probability=0.4)
    second = words("a bread ocean under the moon", probability=0.4, start=0.05)
    marked = mark_agreement(first, second)
    assert [w.passes for w in marked] == [2, 1, 2, 2, 2, 2]
    late = words("ocean", start=3.0)  # the same word elsewhere in the chunk is no agreement
    assert mark_agreement(words("ocean"), late)[0].passes == 1
    assert [w.text for w in content_words(marked)] == ["ocean", "moon"]
