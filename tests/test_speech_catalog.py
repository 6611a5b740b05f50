"""Model choice by hardware and `visualize models pull` for Whisper, without a hub."""

from __future__ import annotations

import pytest

from audio.speech import catalog
from audio.speech.catalog import Hardware, choose_model
from audio.speech.models import SpeechUnavailable

GPU, FAST_CPU, SMALL_CPU = Hardware(True, 16), Hardware(False, 16), Hardware(False, 2)


def on_disk(*names):
    return lambda name: name in names


def test_a_named_model_is_used_as_given():
    assert choose_model("base.en", SMALL_CPU, on_disk()) == "base.en"
    assert choose_model("/models/my-whisper", GPU, on_disk()) == "/models/my-whisper"


@pytest.mark.parametrize(
    ("hardware", "present", "expected"),
    [
        (GPU, ("tiny.en", "small.en", "large-v3-turbo"), "large-v3-turbo"),
        (GPU, ("tiny.en", "distil-large-v3", "small.en"), "distil-large-v3"),
        (GPU, ("tiny.en", "small.en"), "small.en"),
        (GPU, ("tiny.en",), "tiny.en"),
        (FAST_CPU, ("tiny.en", "small.en", "large-v3-turbo"), "small.en"),
        (SMALL_CPU, ("tiny.en", "small.en", "large-v3-turbo"), "tiny.en"),
        (SMALL_CPU, (), "tiny.en"),
    ],
)
def test_auto_takes_the_best_model_on_disk_for_the_hardware(hardware, present, expected):
    assert choose_model("auto", hardware, on_disk(*present)) == expected


def test_the_model_to_pull_depends_on_the_hardware():
    assert catalog.recommended(GPU) == "large-v3-turbo"
    assert catalog.recommended(FAST_CPU) == "small.en"
    assert catalog.recommended(SMALL_CPU) == "tiny.en"


def test_looking_for_a_model_on_disk_never_downloads(monkeypatch):
    import faster_whisper.utils

    calls = []

    def fake_download(name, local_files_only=False, **_):
        calls.append(local_files_only)
        raise OSError("not cached")

    monkeypatch.setattr(faster_whisper.utils, "download_model", fake_download)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert catalog.is_on_disk("small.en") is False
    assert calls == [True]


def test_pull_downloads_by_name_and_reports_failures_in_one_line(tmp_path):
    asked = []
    path = catalog.pull("whisper:small.en", download=lambda name: asked.append(name) or tmp_path)
    assert path == str(tmp_path) and asked == ["small.en"]

    def offline(name):
        raise ConnectionError("Max retries exceeded with url\nlong trace")

    with pytest.raises(SpeechUnavailable) as info:
        catalog.pull("large-v3-turbo", download=offline)
    assert "large-v3-turbo" in str(info.value) and "\n" not in str(info.value)

    def unknown(name):
        raise ValueError(f"Invalid model size '{name}'")

    with pytest.raises(SpeechUnavailable, match="unknown speech model"):
        catalog.pull("whisper:nope", download=unknown)


def test_models_pull_routes_whisper_names_to_the_speech_catalog(monkeypatch, tmp_path, capsys):
    import faster_whisper.utils

    from visualizer.cli import main

    monkeypatch.setattr(faster_whisper.utils, "download_model", lambda name: str(tmp_path))
    assert main(["models", "pull", "small.en"]) == 0
    assert f"small.en: ready at {tmp_path}" in capsys.readouterr().out
    assert catalog.is_speech_model("whisper:distil-large-v3")
    assert not catalog.is_speech_model("sd-turbo")


def test_transcribe_help_states_the_default_model(capsys):
    from visualizer.cli import main

    with pytest.raises(SystemExit):
        main(["transcribe", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "auto (default)" in text and "tiny.en" in text
