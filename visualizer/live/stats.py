"""`--stats FILE.json`: the counters of a live run, for soak tests and benchmarks."""

from __future__ import annotations

from typing import Any

import numpy as np


def live_stats(app) -> dict[str, Any]:
    worker, source = app.worker.stats, app.parts.source.stats
    latencies = np.asarray(app.latencies) * 1000 if app.latencies else np.zeros(0)

    def percentile(q: float):
        return round(float(np.percentile(latencies, q)), 1) if latencies.size else None

    return {
        "fps": round(app.fps(), 2),
        "frames_shown": app.window.frames_shown,
        "latency_ms_p50": percentile(50),
        "latency_ms_p95": percentile(95),
        "render_ms": round(worker.last_render_ms, 1),
        "rendered": worker.rendered,
        "dropped_requests": worker.dropped_requests,  # normal: superseded by newer ones
        "dropped_frames": worker.dropped_frames,
        "render_errors": worker.errors,
        "engine": worker.engine,
        "analysis_errors": app.features.errors,
        "audio_blocks": source.blocks,
        "input_overflows": source.overflows,
        "output_underflows": source.underflows,
        "dropped_audio_blocks": source.dropped_blocks,
        "silence_filled_s": round(app.features.gaps.filled_seconds, 2),  # for dropped blocks
        "reconnects": source.reconnects,
        "audio_status": source.status,
        "playback": source.playback,
        "style": app.features.style,
        "tempo_source": app.features.music.tempo_source,
        "controls": app.controls.as_dict(),
        "outputs": dict(app.surfaces.states()),
        "words_heard": list(app.features.words_heard),
        "recordings": [str(p) for p in app.recordings],
        "quit_reason": app.quit_reason,
    }
