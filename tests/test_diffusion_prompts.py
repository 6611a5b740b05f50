"""Prompts survive the text encoders: CLIP windows, T5 budgets (models/prompts.py), and the
worker keeping a second frame in flight for generators that can (render/worker.py)."""

from __future__ import annotations

import re
import threading
import time
from types import SimpleNamespace

import numpy as np

from models.prompts import CLIP_WINDOW, MAX_CHUNKS, t5_budget, token_count, word_chunks
from render.frames import Cue, Drive, FrameRequest
from render.worker import RenderWorker

VERSE = (
    "we were dancing under silver rain until the morning came and every light in the city "
    "turned to gold while the river kept on singing softly through the night and we "
    "never wanted to go home again"
)


class WordTokenizer:
    """CLIP-like counts without vocabulary files: one token per word piece or mark."""

    def __call__(self, text, add_special_tokens=True):
        return SimpleNamespace(input_ids=re.findall(r"[a-z0-9]+|[^a-z0-9\s]", text.lower()))


def scheduler_prompts():
    """The scheduler's prompts for every style and mood (visualizer.looks.build_prompt)."""
    from visualizer.looks import build_prompt
    from visualizer.styles import list_styles

    prompts = []
    for style in list_styles():
        for mood in style.vocabularies:
            prompts.append(build_prompt(style, 0, mood, 0, ("river", "light"), "slow drifting", 0))
            # A verse of sung words in the prompt, as speech cues add them: past 77 tokens.
            verse = tuple(VERSE.split())
            prompts.append(build_prompt(style, 0, mood, 1, verse, "slow drifting", 1))
    return prompts


def test_every_scheduler_prompt_fits_the_clip_windows_whole():
    tokenizer = WordTokenizer()
    prompts = scheduler_prompts()
    assert prompts and max(token_count(tokenizer, p) for p in prompts) > 77  # the issue
    for prompt in prompts:
        chunks = word_chunks(tokenizer, prompt)
        assert len(chunks) <= MAX_CHUNKS, prompt
        assert " ".join(chunks).split() == prompt.split()  # no word lost, order kept
        assert all(token_count(tokenizer, c) <= CLIP_WINDOW for c in chunks)


def test_t5_budget_grows_only_when_the_prompt_needs_it():
    tokenizer = WordTokenizer()
    assert t5_budget(tokenizer, "violet nebula", 256) == 256
    assert t5_budget(tokenizer, " ".join(["word"] * 300), 256) == 512
    assert t5_budget(tokenizer, "violet nebula", 512) == 512


class TwoStageGenerator:
    """submit()/collect() like the GPU diffusion engine; records the call order."""

    name, width, height = "two-stage", 4, 4

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def submit(self, requests):
        with self.lock:
            self.calls.append(("submit", requests[0].index))
        return requests[0].index

    def collect(self, handle):
        time.sleep(0.002)
        with self.lock:
            self.calls.append(("collect", handle))
        return [np.full((4, 4, 3), handle % 256, np.uint8)]

    def render(self, request):
        return self.collect(self.submit([request]))[0]

    def close(self):
        pass


def test_worker_starts_the_next_frame_before_collecting_when_one_waits():
    generator = TwoStageGenerator()
    worker = RenderWorker(generator, max_pending=8, max_ready=8)
    cue = Cue(start=0.0)
    for index in range(4):  # queued before the thread starts: a backlog
        worker.submit(FrameRequest(index, index / 30, cue, Drive()))
    frames = []
    with worker:
        deadline = time.monotonic() + 5
        while len(frames) < 4 and time.monotonic() < deadline:
            frame = worker.get_frame()
            frames.append(frame) if frame else time.sleep(0.001)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert all(int(f.image[0, 0, 0]) == f.index and f.error is None for f in frames)
    calls = generator.calls
    assert calls.index(("submit", 1)) < calls.index(("collect", 0))  # overlapped
    # Idle: a lone request is collected straight away, nothing waits behind it.
    with RenderWorker(generator) as idle:
        idle.submit(FrameRequest(9, 1.0, cue, Drive()))
        deadline = time.monotonic() + 5
        while idle.stats.rendered < 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert idle.get_frame().index == 9
