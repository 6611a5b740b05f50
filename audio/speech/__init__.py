"""Speech to timed words: Silero VAD gates Whisper, live (SpeechWorker) or whole-file.

from audio.speech import transcribe_clip, content_words, SpeechWorker

words = content_words(transcribe_clip(clip))        # offline: all words, then content
worker = SpeechWorker(sample_rate=48000); worker.start()
worker.push(block, time)                            # from the audio path, never blocks
event = worker.words.get_nowait()                   # committed WordEvents, audio clock
"""

from audio.speech.models import SpeechUnavailable, load_transcriber
from audio.speech.offline import transcribe_clip
from audio.speech.streaming import LocalAgreement, SpeechWorker
from audio.speech.words import content_words
from audio.words import WordEvent

__all__ = [
    "LocalAgreement",
    "SpeechUnavailable",
    "SpeechWorker",
    "WordEvent",
    "content_words",
    "load_transcriber",
    "transcribe_clip",
]
