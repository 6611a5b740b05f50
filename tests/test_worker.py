"""The generator thread: bounded, drops late work, survives generator faults."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from render.frames import Cue, Drive, FrameRequest
from render.worker import MAX_CONSECUTIVE_ERRORS, RenderWorker


class FakeGenerator:
    """Paints every frame with its request index; can be gated, slowed or made to fail."""

    def __init__(self, name: str = "fake", width: int = 8, height: int = 6) -> None:
        self.name, self.width, self.height = name, width, height
        self.rendered: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail: Exception | None = None
        self.closed = False

    def render(self, request: FrameRequest) -> np.ndarray:
        self.gate.wait(5)
        if self.fail is not None:
            raise self.fail
        self.rendered.append(request.index)
        return np.full((self.height, self.width, 3), request.index % 256, np.uint8)

    def close(self) -> None:
        self.closed = True


def request(index: int, prompt: str = "calm sea") -> FrameRequest:
    return FrameRequest(index, index / 30, Cue(0.0, prompt=prompt), Drive(time=index / 30))


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.002)


def test_frames_carry_the_audio_time_they_answer():
    generator = FakeGenerator()
    with RenderWorker(generator) as worker:
        worker.submit(request(7))
        wait_for(lambda: worker.stats.rendered == 1)
        frame = worker.get_frame()
    assert frame.index == 7 and frame.time == pytest.approx(7 / 30)
    assert frame.image.shape == (6, 8, 3) and int(frame.image[0, 0, 0]) == 7
    assert frame.error is None and frame.engine == "fake" and frame.render_ms >= 0


def test_a_slow_generator_renders_the_newest_request_not_a_backlog():
    generator = FakeGenerator()
    generator.gate.clear()
    with RenderWorker(generator, max_pending=1) as worker:
        worker.submit(request(0))
        wait_for(lambda: not worker._pending)  # the thread holds request 0 inside render
        for index in range(1, 10):
            worker.submit(request(index))
        generator.gate.set()
        wait_for(lambda: worker.stats.rendered == 2)
        assert generator.rendered == [0, 9]
        assert worker.stats.dropped_requests == 8


def test_a_prompt_change_flushes_requests_for_the_old_prompt():
    generator = FakeGenerator()
    generator.gate.clear()
    with RenderWorker(generator, max_pending=8) as worker:
        worker.submit(request(0))
        wait_for(lambda: not worker._pending)
        for index in range(1, 5):
            worker.submit(request(index, "calm sea"))
        worker.submit(request(5, "burning city"))
        generator.gate.set()
        wait_for(lambda: worker.stats.rendered == 2)
    assert generator.rendered == [0, 5]
    assert worker.stats.dropped_requests == 4


def test_a_consumer_that_falls_behind_loses_the_oldest_frames():
    with RenderWorker(FakeGenerator(), max_pending=16, max_ready=2) as worker:
        for index in range(5):
            worker.submit(request(index))
        wait_for(lambda: worker.stats.rendered == 5)
        assert [worker.get_frame().index for _ in range(2)] == [3, 4]
        assert worker.get_frame() is None
        assert worker.stats.dropped_frames == 3


def test_latest_frame_skips_frames_that_are_already_late():
    with RenderWorker(FakeGenerator(), max_pending=16, max_ready=4) as worker:
        for index in range(3):
            worker.submit(request(index))
        wait_for(lambda: worker.stats.rendered == 3)
        assert worker.latest_frame().index == 2
        assert worker.latest_frame() is None
        assert worker.stats.dropped_frames == 2


def test_a_failing_generator_yields_the_last_good_frame_with_a_note():
    generator = FakeGenerator()
    with RenderWorker(generator) as worker:
        worker.submit(request(3))
        wait_for(lambda: worker.stats.rendered == 1)
        worker.get_frame()
        generator.fail = RuntimeError("shader exploded")
        worker.submit(request(4))
        wait_for(lambda: worker.stats.errors == 1)
        frame = worker.get_frame()
        assert worker.alive
    assert frame.index == 4 and "shader exploded" in frame.error
    assert int(frame.image[0, 0, 0]) == 3  # the last good image, not black


def test_repeated_failures_hand_over_to_the_fallback_generator():
    primary, fallback = FakeGenerator("diffusion"), FakeGenerator("embedded")
    primary.fail = RuntimeError("boom")
    with RenderWorker(primary, fallback, max_pending=16, max_ready=16) as worker:
        for index in range(MAX_CONSECUTIVE_ERRORS + 2):
            worker.submit(request(index))
            wait_for(lambda i=index: worker.stats.rendered + worker.stats.errors > i)
        frames = [worker.get_frame() for _ in range(MAX_CONSECUTIVE_ERRORS + 2)]
    assert primary.closed
    assert "switched to embedded" in frames[MAX_CONSECUTIVE_ERRORS - 1].error
    assert frames[-1].error is None and frames[-1].engine == "embedded"
    assert worker.stats.engine == "embedded"


def test_out_of_memory_switches_to_the_fallback_at_once():
    primary, fallback = FakeGenerator("diffusion"), FakeGenerator("embedded")
    primary.fail = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    with RenderWorker(primary, fallback) as worker:
        worker.submit(request(0))
        wait_for(lambda: worker.stats.errors == 1)
        frame = worker.get_frame()
    assert frame.engine == "embedded" and "out of memory" in frame.error
    assert fallback.rendered == [0]


def test_a_wrong_image_shape_is_an_error_not_a_crash():
    class Broken(FakeGenerator):
        def render(self, request):
            return np.zeros((4, 4), np.float32)

    with RenderWorker(Broken()) as worker:
        worker.submit(request(0))
        wait_for(lambda: worker.stats.errors == 1)
        frame = worker.get_frame()
    assert "not HxWx3 uint8" in frame.error and frame.image.shape == (6, 8, 3)


def test_stop_ends_the_thread_and_drops_waiting_work():
    generator = FakeGenerator()
    worker = RenderWorker(generator).start()
    worker.stop(timeout=2)
    assert not worker.alive
    worker.submit(request(1))  # after stop: accepted, never rendered, never blocks
    assert generator.rendered == []
