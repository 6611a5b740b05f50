"""The live app, one idea per module:

options   - LiveOptions: what `visualize live` was asked for
tempo     - tap tempo, MIDI clock, Ableton Link and their priority
features  - the feature thread (analysis -> scheduler -> render requests)
steer     - the control parameters applied where frames are drawn
recorder  - the recorder thread (what is shown + the sound -> MP4)
surfaces  - OSC, MIDI, Link and the outputs, opened from the options
hud       - the HUD's wording
headless  - --no-window and the display check
app       - LiveApp: the Qt main thread that wires it all together
build/run - the real components, and the run loop
"""

from visualizer.live.app import LiveApp
from visualizer.live.build import LiveComponents, build_components, make_analyzer, make_speech
from visualizer.live.features import FeatureLoop, MusicState, TempoLock
from visualizer.live.options import LiveOptions, parse_size
from visualizer.live.recorder import LiveRecorder
from visualizer.live.run import run_live
from visualizer.live.tempo import MidiClock, TapTempo, TempoReading, TempoSources

_make_speech = make_speech  # the name scripts/soak_live.py imports

__all__ = [
    "FeatureLoop",
    "LiveApp",
    "LiveComponents",
    "LiveOptions",
    "LiveRecorder",
    "MidiClock",
    "MusicState",
    "TapTempo",
    "TempoLock",
    "TempoReading",
    "TempoSources",
    "build_components",
    "make_analyzer",
    "make_speech",
    "parse_size",
    "run_live",
]
