"""A seeded, time-bounded fuzz over damaged audio files.

From short WAV/MP3/OGG files made here with PyAV: truncation at random points, random
bytes in the header and in the middle, absurd sample rates, channel counts and sizes in
the WAV header, and huge tags (a multi-MB ID3 tag, a multi-MB WAV LIST chunk). Each case
either renders what decodes or fails with one line and a non-zero exit, never a traceback,
within CASE_SECONDS. Renders run in this process (`cli.main`): an interpreter start per
case would cost more than all the cases together.
"""

from __future__ import annotations

import resource
import struct
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from visualizer import cli

SEED = 20240515
CASE_SECONDS = 8.0  # one case, on a busy 2-core box; a hang or a 10-minute decode fails
MAX_RSS_GB = 3.0
RENDER = ["--size", "64x64", "--fps", "4", "--engine", "embedded", "--duration", "2"]

Mutation = Callable[[bytes, np.random.Generator], bytes]


# -- test inputs ------------------------------------------------------------------------


def _music(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    clicks = (np.sin(2 * np.pi * 2 * t) > 0.95).astype(np.float32)
    mono = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.5 * clicks
    return np.stack([mono, 0.8 * mono]).astype(np.float32)  # (channels, n)


def _wav(rate: int = 22050) -> bytes:
    pcm = (_music(1.5, rate).T * 32767).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 2, rate, rate * 4, 4, 16)
    body = b"WAVE" + _chunk(b"fmt ", fmt) + _chunk(b"data", pcm)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _float_wav(rate: int = 44100) -> bytes:
    """Stereo float32 with NaN, inf and overs in it, the kind a broken plug-in writes."""
    music = _music(1.5, rate).T.copy()
    music[2000:2300], music[9000, 1], music[15000:15050] = np.nan, np.inf, 4.0
    pcm = music.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 2, rate, rate * 8, 8, 32)
    body = b"WAVE" + _chunk(b"fmt ", fmt) + _chunk(b"data", pcm)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)


def _encode(path: Path, codec: str, rate: int) -> bytes:
    """Encode 1.5 s of stereo with PyAV (no ffmpeg binary) and return the file's bytes."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "stereo"
        resampler = av.AudioResampler(format=stream.format.name, layout="stereo", rate=rate)
        music = _music(1.5, rate)
        for first in range(0, music.shape[1], 1024):
            block = np.ascontiguousarray(music[:, first : first + 1024].T).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="flt", layout="stereo")
            frame.sample_rate, frame.pts = rate, first
            for out in resampler.resample(frame):
                container.mux(stream.encode(out))
        container.mux(stream.encode(None))
    return path.read_bytes()


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("fuzz-originals")
    return {
        "wav": _wav(),
        "fwav": _float_wav(),
        "mp3": _encode(folder / "a.mp3", "libmp3lame", 44100),
        "ogg": _encode(folder / "a.ogg", "libopus", 48000),
    }


# -- damage -----------------------------------------------------------------------------


def truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(1, len(data)))]


def scramble_header(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 8))):
        out[int(rng.integers(0, min(64, len(out))))] = int(rng.integers(0, 256))
    return bytes(out)


def scramble_middle(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    start = int(rng.integers(len(out) // 4, len(out) // 2))
    span = int(rng.integers(16, 4096))
    noise = rng.integers(0, 256, len(out[start : start + span]), np.uint8).tobytes()
    out[start : start + span] = noise
    return bytes(out)


def wav_field(offset: int, fmt: str, value: int) -> Mutation:
    """Set one field of the canonical 44-byte WAV header (the fmt chunk starts at 20)."""

    def edit(data: bytes, _rng) -> bytes:
        out = bytearray(data)
        struct.pack_into(fmt, out, offset, value)
        return bytes(out)

    edit.__name__ = f"wav_field_{offset}_{value}"
    return edit


def huge_id3(data: bytes, _rng) -> bytes:
    """An ID3v2.3 tag of ~6 MB (one TXXX frame) before the MP3 frames."""
    frame_body = b"\x00note\x00" + b"x" * (6 << 20)
    frame = b"TXXX" + struct.pack(">I", len(frame_body)) + b"\0\0" + frame_body
    return b"ID3\x03\x00\x00" + _syncsafe(len(frame)) + frame + data


def lying_id3(data: bytes, _rng) -> bytes:
    """An ID3 header claiming a 256 MB tag on a small file."""
    return b"ID3\x03\x00\x00" + _syncsafe((1 << 28) - 1) + data


def _syncsafe(n: int) -> bytes:
    return bytes((n >> shift) & 0x7F for shift in (21, 14, 7, 0))


def huge_list_chunk(data: bytes, _rng) -> bytes:
    """A ~6 MB LIST chunk between the fmt and data chunks of the WAV."""
    listing = _chunk(b"LIST", b"INFO" + _chunk(b"ICMT", b"y" * (6 << 20)))
    out = data[:36] + listing + data[36:]
    return out[:4] + struct.pack("<I", len(out) - 8) + out[8:]


def lying_list_chunk(data: bytes, _rng) -> bytes:
    """A LIST chunk claiming 4 GB, right before the samples."""
    return data[:36] + b"LIST" + struct.pack("<I", 0xFFFFFFF0) + b"INFO" + data[36:]


WAV_FIELDS = [
    wav_field(22, "<H", 0),  # zero channels
    wav_field(22, "<H", 65535),  # 65535 channels
    wav_field(24, "<I", 0),  # sample rate 0
    wav_field(24, "<I", 1),  # 1 Hz: 1.5 s of audio would claim 18 hours
    wav_field(24, "<I", 1000),  # the slowest rate accepted: the song lasts 44x longer
    wav_field(24, "<I", 0xFFFFFFFF),  # 4 GHz
    wav_field(28, "<I", 0),  # byte rate 0
    wav_field(32, "<H", 0),  # block align 0
    wav_field(34, "<H", 0),  # 0 bits per sample
    wav_field(34, "<H", 7),
    wav_field(34, "<H", 64),
    wav_field(40, "<I", 0xFFFFFFFF),  # the data chunk claims 4 GB: an absurd duration
    wav_field(40, "<I", 0),  # the data chunk claims nothing
    wav_field(4, "<I", 0),  # RIFF size 0
    wav_field(20, "<H", 0xFFFE),  # WAVE_FORMAT_EXTENSIBLE without the extension
    wav_field(20, "<H", 3),  # int16 samples labelled as float
]


def cases(originals: dict[str, bytes]) -> list[tuple[str, str, bytes]]:
    rng = np.random.default_rng(SEED)
    found = []
    for kind, data in originals.items():
        for mutate in (truncate, truncate, truncate, scramble_header, scramble_header):
            found.append((f"{kind}-{mutate.__name__}", kind, mutate(data, rng)))
        for _ in range(3):
            found.append((f"{kind}-scramble_middle", kind, scramble_middle(data, rng)))
        found.append((f"{kind}-header-only", kind, data[:64]))
    found += [(m.__name__, "wav", m(originals["wav"], rng)) for m in WAV_FIELDS]
    found += [
        (m.__name__, "wav", m(originals["wav"], rng)) for m in (huge_list_chunk, lying_list_chunk)
    ]
    found += [(m.__name__, "mp3", m(originals["mp3"], rng)) for m in (huge_id3, lying_id3)]
    return found


# -- the test ---------------------------------------------------------------------------


@pytest.mark.slow
def test_damaged_audio_renders_or_fails_in_one_line(originals, tmp_path, capfd):
    failures, timings = [], []
    for index, (name, kind, data) in enumerate(cases(originals)):
        song = tmp_path / f"{index:02d}-{name}.{kind.removeprefix('f')}"
        song.write_bytes(data)
        out = tmp_path / f"{index:02d}.mp4"
        began = time.monotonic()
        try:
            code = cli.main([str(song), "--out", str(out), *RENDER])
        except BaseException as exc:  # what would have been a traceback
            code = f"raised {type(exc).__name__}: {exc}"
        seconds = time.monotonic() - began
        err = capfd.readouterr().err
        timings.append((seconds, name))
        problem = _judge(code, err, out, seconds)
        if problem:
            failures.append(f"{song.name}: {problem}\n    {err.strip()[-400:]}")
        song.unlink()
        out.unlink(missing_ok=True)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)
    slowest = ", ".join(f"{name} {s:.1f}s" for s, name in sorted(timings)[-3:])
    print(f"{len(timings)} cases, slowest: {slowest}; peak RSS {peak_gb:.2f} GB")
    assert not failures, "\n".join(failures)
    assert peak_gb < MAX_RSS_GB
    assert not list(tmp_path.glob(".*partial"))


def _judge(code, err: str, out: Path, seconds: float) -> str:
    """What is wrong with one case's outcome ('' when nothing)."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    if isinstance(code, str):
        return code
    if seconds > CASE_SECONDS:
        return f"took {seconds:.1f} s (limit {CASE_SECONDS} s)"
    if "Traceback" in err or any(not line.startswith("visualize: ") for line in lines):
        return "output that is not a visualize line"
    if code == 0:
        return "" if out.exists() else "exit 0 but no video"
    if len(lines) != 1 or not lines[0].startswith("visualize: error: "):
        return f"exit {code} without exactly one error line"
    if "unexpected" in lines[0]:
        return "an unexpected exception (a bug, not a damaged-file message)"
    return "a video was left behind" if out.exists() else ""
