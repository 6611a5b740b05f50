"""Streaming analysis: blocks of any size give the whole-file result, the hop-512 frames
equal librosa's whole-signal transforms, and the render reads features lazily."""

from __future__ import annotations

import numpy as np
import pytest

from audio import chunks
from audio.analysis import analyze, analyze_file
from audio.chunks import Blocks, Feed, array_source, file_source, frames_of
from audio.source import AudioClip, load_audio
from audio.synth import make_beat_track, write_wav

RATE = 22050


@pytest.fixture(scope="module")
def track():
    return make_beat_track(bpm=118.0, duration=45.0, seed=3).samples


def test_blocks_keep_every_frame_of_the_whole_signal_once():
    hop, signal = 512, np.arange(100_003, dtype=np.float32)
    cut = Blocks(hop, size_frames=37, context=3000)
    blocks = [b for piece in np.array_split(signal, 7) for b in cut.push(piece)]
    blocks += list(cut.finish())
    kept = np.concatenate([np.arange(b.first, b.stop) for b in blocks])
    np.testing.assert_array_equal(kept, np.arange(1 + len(signal) // hop))
    for block in blocks:  # each block holds its frames' samples, where the stream has them
        np.testing.assert_array_equal(
            block.samples, signal[block.start : block.start + len(block.samples)]
        )
        assert block.start <= max(block.first * hop - 3000, 0)
        assert block.last or block.start + len(block.samples) >= (block.stop - 1) * hop + 3000


def test_block_by_block_cqt_chroma_and_tuning_equal_the_whole_signal(track):
    import librosa

    from audio.key import KEY_HOP
    from audio.song_frames import FramesPass, TuningPass

    y = track[: 30 * RATE]
    tuning = TuningPass()
    for piece in np.array_split(y, 5):
        tuning.push(piece)
    estimate = tuning.finish()
    assert estimate == pytest.approx(librosa.estimate_tuning(y=y, sr=RATE), abs=0.011)
    frames = FramesPass(estimate)
    for piece in np.array_split(y, 5):
        frames.push(piece)
    song = frames.finish()
    whole = librosa.feature.chroma_cqt(
        y=y,
        sr=RATE,
        hop_length=KEY_HOP,
        tuning=estimate,
        n_octaves=7,
        bins_per_octave=36,
        norm=None,
    ).T
    peak = whole.max(axis=1, keepdims=True)
    sounding = peak[:, 0] > 1e-6
    assert len(song.chroma) == len(whole)
    np.testing.assert_allclose(song.chroma[sounding], (whole / peak)[sounding], atol=1e-4)
    mfcc = librosa.feature.mfcc(
        S=librosa.power_to_db(
            librosa.feature.melspectrogram(
                S=np.abs(librosa.stft(y, n_fft=2048, hop_length=KEY_HOP)) ** 2, sr=RATE, n_mels=128
            ),
            ref=1.0,
            top_db=None,
        ),
        n_mfcc=13,
    ).T
    np.testing.assert_allclose(song.mfcc, mfcc, atol=1e-3)


@pytest.mark.slow
def test_analysis_in_small_blocks_equals_one_block(track, monkeypatch):
    clip = AudioClip(track, RATE)
    monkeypatch.setattr(chunks, "ARRAY_CHUNK", len(track) + 1)  # the whole song at once
    whole = analyze(clip)
    monkeypatch.setattr(chunks, "ARRAY_CHUNK", 20_011)  # ~0.9 s blocks, off any hop grid
    small = analyze_stream_in_blocks(track, 20_011)
    assert small.key == whole.key and small.mode == whole.mode
    assert small.key_confidence == pytest.approx(whole.key_confidence, abs=1e-4)
    assert small.tempo == pytest.approx(whole.tempo, abs=1e-6)
    np.testing.assert_allclose(small.beats, whole.beats, atol=1e-9)
    np.testing.assert_allclose(small.downbeats, whole.downbeats, atol=1e-9)
    np.testing.assert_allclose(small.onsets, whole.onsets, atol=1e-9)
    assert [(s.start, s.label, s.key) for s in small.sections] == [
        (s.start, s.label, s.key) for s in whole.sections
    ]
    for name, curve in whole.curves.items():
        np.testing.assert_allclose(small.curves[name], curve, atol=1e-4, err_msg=name)
    np.testing.assert_allclose(small.chroma, whole.chroma, atol=1e-4)
    assert small.to_dict()["beats"] == whole.to_dict()["beats"]


def analyze_stream_in_blocks(samples: np.ndarray, size: int):
    from audio.analysis import analyze_stream

    return analyze_stream(array_source(samples, size))


def test_a_file_window_streams_the_samples_load_audio_cuts(tmp_path, track):
    path = write_wav(tmp_path / "song.wav", track, RATE)
    clip = load_audio(path, start=3.3, duration=20.0)
    streamed = np.concatenate(list(file_source(path, 3.3, 20.0)()))
    np.testing.assert_array_equal(streamed, clip.samples)
    feed = Feed(file_source(path, 3.3, 20.0))
    pieces = [feed.take(1000), feed.take(12345)]
    pieces += list(feed.rest())
    np.testing.assert_array_equal(np.concatenate(pieces), clip.samples)
    assert feed.take(10) is None


@pytest.mark.slow
def test_the_file_analysis_equals_the_clip_analysis(tmp_path, track):
    path = write_wav(tmp_path / "song.wav", track, RATE)
    streamed = analyze_file(path)
    loaded = analyze(load_audio(path))
    assert streamed.to_dict() == loaded.to_dict()


def test_lazy_frames_equal_the_list(track):
    analysis = analyze(AudioClip(track[: 12 * RATE], RATE))
    listed = analysis.frames(24)
    lazy = list(analysis.iter_frames(24, block=50))
    assert lazy == listed
    assert list(analysis.iter_frames(24, first=100, block=7)) == listed[100:]


def test_frames_of_picks_the_kept_frames():
    block = chunks.Block(start=1024, samples=np.zeros(4096), first=4, stop=6, last=False)
    values = np.arange(20)[None, :]
    np.testing.assert_array_equal(frames_of(block, values, 512), [[2, 3]])
