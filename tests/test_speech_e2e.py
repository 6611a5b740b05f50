"""End-to-end speech: espeak-ng sentences (known text) and real music through tiny.en."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from audio.source import load_audio
from audio.speech import SpeechWorker, content_words
from audio.speech.replay import replay, wait_until_ready

MEDIA = Path(__file__).parents[1].parent / "shared" / "media" / "audio"
needs_espeak = pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng not installed")


def _has_tiny_en() -> bool:
    try:
        from audio.speech.models import resolve_faster_whisper_model

        resolve_faster_whisper_model("tiny.en")
        return True
    except Exception:
        return False


needs_model = pytest.mark.skipif(not _has_tiny_en(), reason="tiny.en model not installed")


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    """'a red ocean under the moon' spoken by espeak-ng, as a wav path."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng not installed")
    path = tmp_path_factory.mktemp("speech") / "red_ocean.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "a red ocean under the moon"], check=True)
    return path


class CountingTranscriber:
    """Stands in for Whisper where the test is about gating, not recognition."""

    name = "counting"

    def __init__(self):
        self.calls = 0

    def transcribe_window(self, audio, prompt=None, beam_size=1, encoder_tail=None):
        self.calls += 1
        return []


def test_worker_never_runs_whisper_on_silence_and_push_never_raises():
    fake = CountingTranscriber()
    worker = SpeechWorker(22050, transcriber=fake)
    worker.start()
    wait_until_ready(worker, timeout=10)
    rate, block = 22050, 1024
    for i in range(0, 3 * rate, block):
        worker.push(np.zeros(block, np.float32), 5.0 + i / rate)
    worker.push(np.array([[0.0, 1.0]] * 8), 99.0)  # stereo frames, a time jump: no exception
    worker.push("not audio", 0.0)  # rubbish from a broken caller is counted, not raised
    time.sleep(0.5)
    worker.stop()
    assert worker.error is None
    assert fake.calls == 0 and worker.words.empty()
    assert worker.dropped_blocks == 1


def test_worker_with_missing_model_reports_error_and_idles(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    worker = SpeechWorker(48000, model="no-such-model-size")
    worker.start()
    wait_until_ready(worker, timeout=10)
    worker.push(np.zeros(480, np.float32), 0.0)  # still safe to call
    worker.stop()
    assert worker.error and "pip install" in worker.error
    assert not worker.is_alive()


@needs_model
@needs_espeak
def test_transcribe_clip_hears_the_picture_words(spoken):
    from audio.speech import transcribe_clip

    clip = load_audio(spoken)
    heard = transcribe_clip(clip)
    assert {"red", "ocean", "moon"} <= {w.text for w in content_words(heard)}
    assert all(0 <= w.start <= w.end <= clip.duration + 0.05 for w in heard)
    assert [w.start for w in heard] == sorted(w.start for w in heard)


class CountingDecoder:
    """Wraps the CTranslate2 model: counts decodes, passes everything else through."""

    def __init__(self, model):
        self._model, self.max_new_tokens = model, []

    def generate(self, encoded, prompts, **options):
        self.max_new_tokens.append(options["max_length"] - len(prompts[0]))
        return self._model.generate(encoded, prompts, **options)

    def __getattr__(self, name):
        return getattr(self._model, name)


@needs_model
def test_a_live_pass_is_one_decode_with_timed_words(spoken, monkeypatch):
    from audio.speech.models import load_transcriber
    from audio.speech.resample import to_speech_rate

    clip = load_audio(spoken)
    audio = to_speech_rate(clip.samples, clip.sample_rate)
    transcriber = load_transcriber("tiny.en")
    decoder = CountingDecoder(transcriber.model.model)
    monkeypatch.setattr(transcriber.model, "model", decoder)  # the transcriber is cached
    segments = transcriber.transcribe_window(audio, beam_size=5, encoder_tail=2.0)
    # faster-whisper's own loop would decode the unfinished end again in a second window
    assert len(decoder.max_new_tokens) == 1
    assert decoder.max_new_tokens[0] < 40  # a loop cannot run on to Whisper's 448 tokens
    heard = [w for s in segments for w in s.words]
    # one pass is one reading: what it heard, before the confidence gate (test_speech_gate)
    assert {"red", "ocean", "moon"} <= {w.text for w in content_words(heard, gate=None)}
    assert all(0 <= w.start <= w.end <= len(audio) / 16000 + 0.05 for w in heard)


@needs_model
@pytest.mark.skipif(not (MEDIA / "Kevin_MacLeod_-_Vibe_Ace.ogg").exists(), reason="no media")
def test_instrumental_music_invents_no_words():
    from audio.speech import transcribe_clip

    clip = load_audio(MEDIA / "Kevin_MacLeod_-_Vibe_Ace.ogg", start=20.0, duration=10.0)
    assert transcribe_clip(clip) == []


@pytest.mark.slow
@needs_model
def test_streaming_worker_commits_words_on_the_callers_clock(spoken):
    clip = load_audio(spoken)
    lead_in = np.zeros(clip.sample_rate // 2, np.float32)
    samples = np.concatenate([lead_in, clip.samples])
    worker = SpeechWorker(clip.sample_rate)
    worker.start()
    wait_until_ready(worker)
    result = replay(samples, clip.sample_rate, worker, start_time=1000.0)
    assert result.error is None
    heard = {w.text for w in content_words(result.words)}
    assert len(heard & {"red", "ocean", "moon"}) >= 2
    for word in result.words:  # timestamps on the audio clock passed in, inside the speech
        assert 1000.0 <= word.start <= word.end <= 1000.0 + len(samples) / clip.sample_rate


@needs_model
def test_cli_transcribe_prints_words_and_writes_json(spoken, tmp_path, capsys):
    from visualizer.cli import main

    out = tmp_path / "words.json"
    assert main(["transcribe", str(spoken), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["words"] and data["text"].split()[0] in printed
    moon = [w for w in data["words"] if "moon" in w["text"].lower()]
    assert moon and moon[0]["content"] and moon[0]["start"] < moon[0]["end"]


def test_cli_transcribe_bad_input_is_one_line(tmp_path, capsys, monkeypatch):
    from visualizer.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["transcribe", str(tmp_path / "missing.wav")]) == 1
    assert "no such file" in capsys.readouterr().err
    wav = tmp_path / "tone.wav"
    subprocess.run(
        ["sox", "-n", "-r", "16000", str(wav), "synth", "0.5", "sine", "440"], check=False
    )
    if wav.exists():
        assert main(["transcribe", str(wav), "--model", "no-such-size"]) == 1
        error = capsys.readouterr().err.strip()
        assert error.startswith("visualize: error:") and "\n" not in error


@needs_model
def test_a_real_voice_puts_only_said_words_in_the_picture():
    """LJ Speech LJ001-0002, exact transcript "in being comparatively modern."."""
    from audio.speech import transcribe_clip

    path = MEDIA.parent / "speech" / "LJ001-0002.wav"
    if not path.exists():
        pytest.skip(f"shared media not present: {path}")
    picked = {w.text for w in content_words(transcribe_clip(load_audio(path)))}
    assert "modern" in picked and picked <= {"comparatively", "modern"}
