"""Which Whisper model to use on this machine, and fetching a better one.

`--model auto` (the default) takes the best model that is already on disk for the
hardware: on a CUDA GPU large-v3-turbo, then distil-large-v3, small.en, base.en; on a
CPU with 8 or more cores small.en, then base.en; otherwise tiny.en, whose live passes
fit one core of a small CPU (docs/benchmarks/speech.md). Nothing is downloaded while
choosing: `visualize models pull NAME` is the one thing that talks to the hub.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from audio.speech.errors import SPEECH_INSTALL, SpeechUnavailable
from audio.speech.locate import pick_device, resolve_faster_whisper_model

AUTO = "auto"
FALLBACK = "tiny.en"  # ships in the speech-offline extra, so it is always the last resort

# faster-whisper (CTranslate2) models: name -> (approximate download in GB, what it is).
SPEECH_MODELS: dict[str, tuple[float, str]] = {
    "tiny.en": (0.08, "fastest; live on one core of a small CPU"),
    "base.en": (0.15, "a little better, twice tiny's cost"),
    "small.en": (0.5, "clearly better; a fast CPU (8+ cores) or a GPU"),
    "distil-large-v3": (1.5, "large-v3 quality at a fraction of its cost; GPU"),
    "large-v3-turbo": (1.6, "best quality per cost; GPU"),
}
GPU_ORDER = ("large-v3-turbo", "distil-large-v3", "small.en", "base.en", "tiny.en")
FAST_CPU_ORDER = ("small.en", "base.en", "tiny.en")
CPU_ORDER = ("tiny.en",)
FAST_CPU_CORES = 8


@dataclass(frozen=True)
class Hardware:
    cuda: bool
    cpu_cores: int


def detect_hardware() -> Hardware:
    return Hardware(cuda=pick_device() == "cuda", cpu_cores=os.cpu_count() or 1)


def preference(hardware: Hardware) -> tuple[str, ...]:
    """Models worth running on `hardware`, best first."""
    if hardware.cuda:
        return GPU_ORDER
    if hardware.cpu_cores >= FAST_CPU_CORES:
        return FAST_CPU_ORDER
    return CPU_ORDER


def choose_model(
    model: str = AUTO,
    hardware: Hardware | None = None,
    available: Callable[[str], bool] | None = None,
) -> str:
    """`model` itself unless it is "auto"; then the best model on disk for the hardware."""
    if model != AUTO:
        return model
    hardware = hardware or detect_hardware()
    available = available or is_on_disk
    for name in preference(hardware):
        if available(name):
            return name
    return FALLBACK


def recommended(hardware: Hardware | None = None) -> str:
    """The model to pull for this machine (the first in its preference order)."""
    return preference(hardware or detect_hardware())[0]


def is_on_disk(model: str) -> bool:
    """True when `model` loads without a download (bundled, a folder, or the hub cache)."""
    try:
        resolve_faster_whisper_model(model, download=False)
        return True
    except SpeechUnavailable:
        return False


def is_speech_model(name: str) -> bool:
    return name in SPEECH_MODELS or name.startswith("whisper:")


def pull(name: str, download: Callable[[str], str] | None = None) -> str:
    """Download a faster-whisper model into the Hugging Face cache; returns its folder.

    `name`: a SPEECH_MODELS name, optionally written "whisper:NAME", or any faster-whisper
    size or CTranslate2 Hub id after "whisper:". Raises SpeechUnavailable in one line.
    """
    model = name.removeprefix("whisper:")
    if download is None:
        try:
            from faster_whisper.utils import download_model as download
        except ImportError:
            raise SpeechUnavailable(f"faster-whisper is not installed: {SPEECH_INSTALL}") from None
    try:
        path = download(model)
    except ValueError as exc:  # faster-whisper's "Invalid model size"
        raise SpeechUnavailable(f"unknown speech model '{model}': {str(exc)[:120]}") from None
    except Exception as exc:  # no network, no hub, disk full
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise SpeechUnavailable(f"cannot download speech model '{model}': {reason}") from None
    return str(path)


def listing(hardware: Hardware | None = None) -> list[str]:
    """One line per speech model for `visualize models`."""
    hardware = hardware or detect_hardware()
    chosen = choose_model(AUTO, hardware)
    lines = []
    for name, (size, what) in SPEECH_MODELS.items():
        where = "offline ok" if is_on_disk(name) else f"not here: visualize models pull {name}"
        mark = "  <- auto" if name == chosen else ""
        lines.append(f"whisper:{name:16} {size:5.2f} GB  {what}; {where}{mark}")
    return lines
