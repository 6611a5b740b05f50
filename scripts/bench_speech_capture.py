"""Speech benchmark, part two: the real PortAudio input callback while Whisper transcribes.

    .venv/bin/python scripts/bench_speech.py --capture     # adds this row to speech.json

Plays a clip into a private PulseAudio null sink and captures its monitor through
audio/capture.py, feeding SpeechWorker and the live analyzer as the live app does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


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


def capture_while_transcribing(samples: np.ndarray, rate: int) -> dict:
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
        "text": " ".join(w.text for w in words),
        "error": worker.error,
    }
