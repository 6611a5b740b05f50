"""Whole-file transcription for offline renders: VAD first, Whisper only where someone speaks."""

from __future__ import annotations

import numpy as np

from audio.source import AudioClip
from audio.speech.gate import mark_agreement
from audio.speech.models import load_transcriber
from audio.speech.resample import SPEECH_RATE, to_speech_rate
from audio.speech.transcriber import DEFAULT_GUARDS, Guards, Transcriber, guard_segments
from audio.speech.vad import SileroVad, merge_regions, speech_regions
from audio.words import WordEvent

# Speech regions closer than this are decoded together (more context for Whisper, which
# walks through long audio 30 s at a time by itself).
JOIN_GAP_SECONDS = 1.5
# Zeros around each chunk: tiny models misread a word that starts at the very first sample.
PAD_SECONDS = 0.3
# Beam search: slower than the live path's greedy decoding, clearly better on hard words.
OFFLINE_BEAM_SIZE = 5
# The second reading's extra lead-in: a quarter of a 0.5 s live step, a new mel framing.
SHIFT_SECONDS = 0.13


def transcribe_clip(
    clip: AudioClip, model: str = "auto", backend: str = "faster-whisper"
) -> list[WordEvent]:
    """Every believable word of `clip`, timed in seconds from the clip start (`model`: a
    size name, a folder or "auto", see catalog.py). `content_words` picks the pictures.

    Raises SpeechUnavailable (one line, names what to install) if the backend or model
    is missing.
    """
    return transcribe_samples(clip.samples, clip.sample_rate, load_transcriber(model, backend))


def transcribe_samples(
    samples: np.ndarray,
    sample_rate: int,
    transcriber: Transcriber,
    vad: SileroVad | None = None,
    guards: Guards = DEFAULT_GUARDS,
    second_reading: bool = True,
) -> list[WordEvent]:
    """`transcribe_clip` with its parts passed in (tests pass a fake transcriber).

    `second_reading`: decode each chunk again with SHIFT_SECONDS more silence in front (a
    different framing of the same audio, as successive live windows are); words both
    readings agree on carry passes=2 for the confidence gate (gate.py). Doubles the time.
    """
    audio = to_speech_rate(samples, sample_rate)
    vad = vad or SileroVad()
    vad.reset()
    regions = speech_regions(vad(audio))
    words: list[WordEvent] = []
    for start, end in merge_regions(regions, JOIN_GAP_SECONDS):
        first, last = int(start * SPEECH_RATE), int(end * SPEECH_RATE)
        pad = np.zeros(int(PAD_SECONDS * SPEECH_RATE), np.float32)
        chunk = np.concatenate([pad, audio[first:last], pad])
        segments = transcriber.transcribe(chunk, beam_size=OFFLINE_BEAM_SIZE)
        heard = guard_segments(segments, guards)
        if heard and second_reading:
            heard = mark_agreement(heard, _second_reading(chunk, transcriber, guards))
        for word in heard:
            word_start = min(max(start + word.start - PAD_SECONDS, start), end)
            word_end = min(max(start + word.end - PAD_SECONDS, word_start), end)
            words.append(WordEvent(word.text, word_start, word_end, word.probability, word.passes))
    return words


def _second_reading(chunk: np.ndarray, transcriber: Transcriber, guards: Guards) -> list[WordEvent]:
    """The chunk read again, shifted later by SHIFT_SECONDS; times put back on the chunk's."""
    shift = np.zeros(int(SHIFT_SECONDS * SPEECH_RATE), np.float32)
    segments = transcriber.transcribe(np.concatenate([shift, chunk]), beam_size=OFFLINE_BEAM_SIZE)
    return [
        WordEvent(w.text, w.start - SHIFT_SECONDS, w.end - SHIFT_SECONDS, w.probability)
        for w in guard_segments(segments, guards)
    ]
