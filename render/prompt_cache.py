"""The diffusion generator's prompt embeddings: cached per (prompt, negative), since
cues repeat a lot, and padded to one token length when two are cross-faded.

Torch is imported lazily, inside functions.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class PromptCache:
    """`encode(prompt, negative)` results, the least recently used dropped past `size`."""

    def __init__(
        self, encode: Callable[[str, str], tuple], clip_windows: bool, size: int = 64
    ) -> None:
        self._encode: Callable[[str, str], tuple] | None = encode
        self._clip_windows = clip_windows  # sd/sdxl: pad with the empty prompt's window
        self._size = size
        self._embeddings: OrderedDict[tuple[str, str], Any] = OrderedDict()

    def get(self, prompt: str, negative: str) -> tuple:
        """The conditioning of one prompt, encoded on first use."""
        import torch

        key = (prompt, negative)
        if key in self._embeddings:
            self._embeddings.move_to_end(key)
            return self._embeddings[key]
        with torch.inference_mode():
            self._embeddings[key] = self._encode(prompt, negative)
        while len(self._embeddings) > self._size:
            self._embeddings.popitem(last=False)
        return self._embeddings[key]

    def same_length(self, first: tuple, second: tuple) -> tuple[tuple, tuple]:
        """Two conditionings padded to one token length for a cross-fade: CLIP windows
        with the empty prompt's window (as Compel pads), T5 tokens with the last one."""
        from models.prompts import pad_sequence

        length = max(first[0].shape[1], second[0].shape[1])
        if first[0].shape[1] == second[0].shape[1]:
            return first, second

        def pad(cond: tuple) -> tuple:
            if self._clip_windows:
                filler = self.get("", "")[0]
            else:
                filler = cond[0][:, -1:]
            return pad_sequence(cond, filler, length)

        return pad(first), pad(second)

    def close(self) -> None:
        """Drop the embeddings and the encoder, so the model can be freed."""
        self._embeddings.clear()
        self._encode = None
