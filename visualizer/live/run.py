"""`run_live`: check the display, build the show, run the Qt loop, report at the end."""

from __future__ import annotations

import json
import logging
import signal

from visualizer.errors import UserError
from visualizer.live.app import LiveApp
from visualizer.live.build import LiveComponents
from visualizer.live.options import LiveOptions
from visualizer.live.surfaces import check_surfaces

log = logging.getLogger(__name__)


def run_live(options: LiveOptions, parts: LiveComponents | None = None) -> int:
    """Run until quit, end of input, --duration, SIGINT or SIGTERM."""
    from audio.capture import CaptureError
    from visualizer.live.headless import display_problem

    logging.basicConfig(level=logging.WARNING, format="visualize: %(message)s")
    for ours in ("visualizer", "render", "audio"):  # our news, not every library's chatter
        logging.getLogger(ours).setLevel(logging.INFO)
    if options.record is not None and options.record.suffix.lower() != ".mp4":
        raise UserError(f"--record needs an .mp4 path, got {options.record}")
    if options.window:  # Qt aborts the process without a display: look before it does
        problem = display_problem()
        if problem:
            raise UserError(problem)
    check_surfaces(options)  # a missing extra fails now, not after the song is analysed
    parts = parts or _build(options)
    qt_app = _qt_application(options.window)
    app = LiveApp(options, parts)
    previous = {sig: signal.signal(sig, app.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            app.start()
        except CaptureError as exc:
            app.stop()
            raise UserError(str(exc)) from None
        status = parts.source.stats.status
        if status:
            log.info("%s", status)
        qt_app.exec()
    finally:
        outputs = dict(app.surfaces.states())
        app.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        app.window.close()
    stats = {**app.stats(), "outputs": outputs}
    log.info(
        "stopped (%s): %s fps, latency p50 %s ms",
        app.quit_reason or "window closed",
        stats["fps"],
        stats["latency_ms_p50"],
    )
    for path in app.recordings:
        log.info("recording: %s", path)
    if options.stats is not None:
        options.stats.write_text(json.dumps(stats, indent=1))
    return 0


def _build(options: LiveOptions) -> LiveComponents:
    from visualizer.live.build import build_components

    return build_components(options)


def _qt_application(window: bool):
    """A QApplication for the window; a display-free QCoreApplication for --no-window."""
    from PyQt6.QtCore import QCoreApplication

    existing = QCoreApplication.instance()
    if existing is not None:
        return existing
    if window:
        from PyQt6.QtWidgets import QApplication

        return QApplication(["visualize"])
    return QCoreApplication(["visualize"])
