import numpy as np
import pytest

from render.embedded import EmbeddedGenerator, palette_lut
from render.frames import Cue, Drive, FrameRequest

FPS = 24


def _drive(t, bpm=120.0, energy=0.6):
    phase = (t * bpm / 60) % 1
    return Drive(
        time=t,
        energy=energy,
        bass=energy * np.exp(-4 * phase),
        mid=0.4 * energy,
        treble=0.3 * energy,
        brightness=0.5,
        onset=float(np.exp(-8 * phase)),
        beat=float(np.exp(-phase * 60 / bpm / 0.18)),
        beat_phase=phase,
        tempo=bpm,
    )


def _render(generator, n, cue=None, **drive_args):
    cue = cue or Cue(0.0)
    return [
        generator.render(FrameRequest(i, i / FPS, cue, _drive(i / FPS, **drive_args)))
        for i in range(n)
    ]


@pytest.mark.parametrize("size", [(512, 512), (1280, 720), (64, 48)])
def test_frames_have_the_requested_size(size):
    frame = _render(EmbeddedGenerator(*size), 2)[-1]
    assert frame.shape == (size[1], size[0], 3) and frame.dtype == np.uint8
    assert frame.flags["C_CONTIGUOUS"]


def test_same_seed_same_frames_other_seed_other_frames():
    a = _render(EmbeddedGenerator(96, 64, seed=5), 12)
    b = _render(EmbeddedGenerator(96, 64, seed=5), 12)
    c = _render(EmbeddedGenerator(96, 64, seed=6), 12)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[-1], c[-1])


def test_a_beat_changes_the_picture_and_the_pulse_fades():
    def last(beat_at):
        generator = EmbeddedGenerator(128, 128, seed=1)
        frames = []
        for i in range(42):
            d = _drive(i / FPS)
            if i >= beat_at:  # a hit at `beat_at`, fading after it
                age = (i - beat_at) / FPS
                d = Drive(
                    **{
                        **d.__dict__,
                        "beat": float(np.exp(-age / 0.18)),
                        "onset": float(np.exp(-age / 0.1)),
                        "bass": 0.2,
                    }
                )
            else:
                d = Drive(**{**d.__dict__, "beat": 0.0, "onset": 0.0, "bass": 0.2})
            frames.append(generator.render(FrameRequest(i, i / FPS, Cue(0.0), d)))
        return frames

    none, hit = last(99), last(10)
    change = [np.abs(a.astype(int) - b).mean() for a, b in zip(none, hit, strict=True)]
    assert max(change[:10]) == 0 and change[10] > 5  # identical until the hit, then not
    flash = [b.mean() - a.mean() for a, b in zip(none, hit, strict=True)]
    assert max(flash[10:13]) > 3 and flash[41] < 0.4 * max(flash[10:13])  # a pulse that fades


def test_quiet_music_is_darker_than_loud_music():
    quiet = _render(EmbeddedGenerator(96, 96), 30, energy=0.05)[-1]
    loud = _render(EmbeddedGenerator(96, 96), 30, energy=0.9)[-1]
    assert quiet.mean() < 0.8 * loud.mean()


def test_palette_sets_the_colours():
    reds = Cue(0.0, palette=((60, 0, 0), (200, 20, 10), (255, 80, 40)))
    frame = _render(EmbeddedGenerator(96, 96), 20, cue=reds)[-1].reshape(-1, 3).mean(axis=0)
    assert frame[0] > 1.5 * frame[1] and frame[0] > 1.5 * frame[2]


def test_spoken_words_appear_as_text():
    plain, worded = Cue(0.0), Cue(0.0, words=("ocean", "moon"))
    a = _render(EmbeddedGenerator(256, 192, seed=2), 12, cue=plain)[-1]
    b = _render(EmbeddedGenerator(256, 192, seed=2), 12, cue=worded)[-1]
    diff = np.abs(a.astype(int) - b).sum(axis=2)
    rows = np.flatnonzero(diff.max(axis=1) > 60)
    assert rows.size and rows.min() > 192 * 0.6  # the text sits in the lower part


def test_palette_ramp_is_cyclic_and_in_range():
    lut = palette_lut(((0, 0, 0), (255, 255, 255)))
    assert lut.shape == (256, 3) and lut.min() >= 0 and lut.max() <= 1
    assert np.allclose(lut[0], 0) and lut[128].mean() > 0.9
