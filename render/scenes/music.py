"""The music as shader uniforms: drive levels plus the memory pictures need.

A `Drive` is one instant; motion needs a clock that runs faster when the music is busy,
ripples need the ages of the last few beats, and a bar needs to know where its downbeat
was. `MusicClock` keeps that state (in time order, like the generator) and hands the
renderer one plain dict of uniforms per frame. No wall-clock time anywhere: the same
requests give the same uniforms.
"""

from __future__ import annotations

import math

from render.frames import Drive, FrameRequest

RIPPLES = 4
BEAT_DECAY_SECONDS = 0.18  # the drive's beat pulse: exp(-age / this)
NO_BEAT_AGE = 30.0  # an empty ripple slot: long faded


class MusicClock:
    def __init__(self) -> None:
        self.phase = 0.0
        self._last_time: float | None = None
        self._beats: list[float] = []  # times of the latest beats, newest last
        self._last_downbeat = -math.inf
        self._beats_since_downbeat = 0
        self._prev_beat = 0.0
        self._smooth = {"bass": 0.0, "mid": 0.0, "treble": 0.0, "energy": 0.0}

    def advance(self, request: FrameRequest) -> dict:
        """Fold in one frame; return its uniforms (see shaders/common.glsl)."""
        drive, cue, t = request.drive, request.cue, request.time
        dt = 1 / 30 if self._last_time is None else max(0.0, min(0.25, t - self._last_time))
        self._last_time = t
        self.phase += dt * (0.35 + 1.6 * drive.energy + 0.8 * drive.beat) * max(0.0, cue.motion)
        self._track_beats(drive, t)
        levels = self._smoothed(drive, dt)
        ripple = [t - b for b in reversed(self._beats)]
        ripple += [NO_BEAT_AGE] * (RIPPLES - len(ripple))
        since_down = t - self._last_downbeat
        beat_seconds = 60.0 / max(30.0, drive.tempo)
        bar_phase = ((self._beats_since_downbeat + drive.beat_phase) / 4.0) % 1.0
        chroma = list(drive.chroma)[:12] + [0.0] * max(0, 12 - len(drive.chroma))
        top = max(chroma) if max(chroma) > 0 else 1.0
        return {
            "u_time": float(t),
            "u_phase": self.phase,
            "u_energy": levels["energy"],
            "u_bass": levels["bass"],
            "u_mid": levels["mid"],
            "u_treble": levels["treble"],
            "u_bright": drive.brightness,
            "u_beat": drive.beat,
            "u_onset": drive.onset,
            "u_beat_phase": drive.beat_phase,
            "u_bar_phase": bar_phase,
            "u_down": math.exp(-since_down / beat_seconds) if math.isfinite(since_down) else 0.0,
            "u_section": cue.intensity,
            "u_trails": min(1.0, max(0.0, cue.trails)),
            "u_ripple": tuple(ripple[:RIPPLES]),
            "u_chroma": tuple(c / top for c in chroma),
            "u_frame": float(request.index),
            "u_exposure": exposure(drive),
        }

    def _track_beats(self, drive: Drive, t: float) -> None:
        # A beat is where the decaying pulse jumps back up.
        if drive.beat > 0.9 and drive.beat > self._prev_beat + 0.05:
            age = -BEAT_DECAY_SECONDS * math.log(max(drive.beat, 1e-6))
            self._beats = (self._beats + [t - age])[-RIPPLES:]
            self._beats_since_downbeat += 1
        if drive.downbeat:
            self._last_downbeat = t
            self._beats_since_downbeat = 0
        self._prev_beat = drive.beat

    def _smoothed(self, drive: Drive, dt: float) -> dict[str, float]:
        """Fast attack, slower release: shapes follow hits without jitter."""
        for name in self._smooth:
            target = getattr(drive, name)
            rate = 25.0 if target > self._smooth[name] else 5.0
            k = 1.0 - math.exp(-rate * dt) if dt > 0 else 1.0
            self._smooth[name] += (target - self._smooth[name]) * k
        return dict(self._smooth)


def exposure(drive: Drive) -> float:
    """Brightness follows loudness, with a brief flash on the beat."""
    return 0.7 + 1.3 * drive.energy + 0.8 * drive.beat
