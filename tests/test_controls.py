"""The control surface and the tempo sources: pure logic, no Qt, no sockets."""

from __future__ import annotations

import numpy as np
import pytest

from render.frames import Cue, Drive, FrameRequest
from visualizer.controls import (
    ACTION_NAMES,
    PARAM_NAMES,
    ControlState,
    MotionClock,
    crossfade,
    fade_picture,
    help_lines,
    shift_palette,
    steer_cue,
    steer_request,
)
from visualizer.live.tempo import MidiClock, TapTempo, TempoReading, TempoSources


def test_every_action_and_parameter_is_named_once_and_listed_in_help():
    assert {"style/next", "quit", "tap", "blackout", "preset/1", "preset/9"} <= ACTION_NAMES
    assert PARAM_NAMES == ("intensity", "motion", "palette", "crossfade", "fade", "feedback")
    text = "\n".join(help_lines())
    assert all(name in text for name in PARAM_NAMES) and "style/next" in text


def test_control_state_clamps_and_rejects():
    state = ControlState().with_param("intensity", 1.7)
    assert state.intensity == 1.0 and ControlState().intensity == 0.5  # a new snapshot
    with pytest.raises(KeyError):
        state.with_param("volume", 0.5)
    with pytest.raises(ValueError):
        state.with_param("fade", float("nan"))


def test_intensity_and_palette_steer_the_cue_and_neutral_leaves_it_alone():
    cue = Cue(0.0, intensity=0.4, palette=((255, 0, 0), (0, 0, 255)))
    assert steer_cue(cue, ControlState()) is cue
    assert steer_cue(cue, ControlState(intensity=0.0)).intensity == 0.0
    assert steer_cue(cue, ControlState(intensity=0.75)).intensity == pytest.approx(0.6)
    assert steer_cue(cue, ControlState(intensity=1.0)).intensity == 1.0
    assert steer_cue(
        Cue(0.0, intensity=0.1), ControlState(intensity=0.9)
    ).intensity == pytest.approx(0.8)
    shifted = steer_cue(cue, ControlState(palette=1 / 3)).palette
    assert shifted[0] == (0, 255, 0)  # red turned a third of the wheel is green
    assert shift_palette(cue.palette, 1.0) == cue.palette


def test_fade_is_exactly_black_at_one_and_untouched_at_zero():
    image = np.full((4, 4, 3), 200, np.uint8)
    assert fade_picture(image, 0.0) is image
    assert not fade_picture(image, 1.0).any()
    assert 95 <= int(fade_picture(image, 0.5)[0, 0, 0]) <= 105


def test_motion_clock_scales_time_and_survives_a_loop_restart():
    clock = MotionClock()
    assert clock.advance(10.0, 1.0) == 10.0
    assert clock.advance(11.0, 2.0) == pytest.approx(12.0)
    assert clock.advance(11.5, 0.0) == pytest.approx(12.0)  # motion 0: still
    assert clock.advance(0.2, 1.0) == pytest.approx(12.0)  # the file looped: no jump back


def test_steered_request_keeps_real_time_out_of_the_engine_only():
    request = FrameRequest(3, 5.0, Cue(0.0), Drive(time=5.0, onset=0.4, beat=0.4))
    steered = steer_request(request, ControlState(feedback=1.0), time=7.0, feedback=True)
    assert steered.time == 7.0 and steered.drive.time == 7.0 and steered.index == 3
    assert steered.drive.onset == pytest.approx(0.8)
    unfed = steer_request(request, ControlState(feedback=1.0), time=7.0, feedback=False)
    assert unfed.drive.onset == 0.4  # feedback only reaches the diffusion loop


def test_crossfade_blends_toward_the_other_styles_cue():
    request = FrameRequest(0, 1.0, Cue(0.0, style="noir"), Drive())
    target = Cue(0.0, style="neon")
    assert crossfade(request, target, 0.0) is request
    faded = crossfade(request, target, 0.25)
    assert faded.cue.style == "neon" and faded.previous_cue.style == "noir" and faded.blend == 0.25


def test_tempo_priority_link_then_midi_clock_then_tap_then_analysis():
    sources = TempoSources()
    assert sources.choose(0.0) is None  # nothing outside: the analysis drives
    sources.update(TempoReading("tap", 100.0, 0.0, 0.0))
    assert sources.choose(50.0).source == "tap"  # a tap tempo stays until replaced
    sources.update(TempoReading("midi clock", 128.0, 10.0, 10.0))
    assert sources.choose(10.5).source == "midi clock"
    sources.update(TempoReading("link", 124.0, 10.0, 10.0))
    assert sources.choose(10.5).source == "link"
    assert sources.choose(12.5).source == "tap"  # link and clock went quiet
    assert TempoReading("tap", 120.0, 0.0, 0.0).phase(0.25) == pytest.approx(0.5)


def test_midi_clock_24_ppqn_gives_the_bpm_on_each_beat():
    clock = MidiClock()
    tick = 60.0 / 125.0 / 24  # 125 BPM
    readings = [clock.tick(i * tick) for i in range(24 * 3 + 1)]
    beats = [r for r in readings if r is not None]
    assert len(beats) == 3  # beats 2, 3, 4 (the first has no interval yet)
    assert all(r.bpm == pytest.approx(125.0) and r.source == "midi clock" for r in beats)
    assert beats[-1].beat_time == pytest.approx(72 * tick)
    clock.stop()
    assert clock.tick(100.0) is None
    clock.start()
    assert clock.count == 0


def test_tap_tempo_median_and_reset():
    tap = TapTempo()
    for beat in range(4):
        tap.tap(10 + beat * 0.5)
    assert tap.bpm == pytest.approx(120)
    assert tap.tap(20.0) is None  # a long pause starts a new count


def test_ableton_link_peers_share_tempo_and_become_the_tempo_source():
    """Two Link peers in this process find each other over the loopback network."""
    import time

    pytest.importorskip("aalink")
    from visualizer.live.tempo import LinkTempo

    ours, theirs = LinkTempo(120.0), LinkTempo(120.0)
    try:
        deadline = time.monotonic() + 5
        while 0 in (ours.peers, theirs.peers) and time.monotonic() < deadline:
            time.sleep(0.05)
        if 0 in (ours.peers, theirs.peers):
            pytest.skip("Link peers cannot see each other here (no multicast on loopback)")
        ours._link.tempo = 133.0  # a DJ changes the tempo: the other peer follows
        reading = theirs.read(time.monotonic())
        while (
            reading is None or abs(reading.bpm - 133.0) > 0.1
        ) and time.monotonic() < deadline + 5:
            time.sleep(0.05)
            reading = theirs.read(time.monotonic())
        assert reading.source == "link" and reading.bpm == pytest.approx(133.0, abs=0.1)
        sources = TempoSources()
        sources.update(reading)
        assert sources.choose(reading.at).source == "link"
    finally:
        ours.close()
        theirs.close()


def test_hud_lines_name_the_tempo_source_outputs_and_changed_params_only():
    from visualizer.live.features import MusicState
    from visualizer.live.hud import HudSnapshot, bar_meter, hud_lines

    music = MusicState(
        bpm=124.0, tempo_source="midi clock", bar_phase=0.5, section=2, mood="euphoric"
    )
    hud = HudSnapshot("embedded", 59.6, 12.0, 48.0, music, "neon", prompt="neon rain",
                      outputs=(("ndi", "on"), ("vcam", "lost, retrying")),
                      controls=ControlState(intensity=0.8), states=("BLACKOUT",))  # fmt: skip
    text = "\n".join(hud_lines(hud))
    assert text.startswith("BLACKOUT\nembedded  60 fps  render 12 ms  latency 48 ms")
    assert "124 BPM (midi clock)" in text and "section C" in text and "mood euphoric" in text
    assert "intensity 0.80" in text and "motion" not in text  # only what is off its default
    assert "io: ndi on  vcam lost, retrying" in text
    assert "prompt" not in text and "heard" not in text  # embedded: no prompt; no --speech
    assert bar_meter(0.5) == "#####---" and bar_meter(0.0) == "#-------"
