"""Prompts longer than CLIP's 77 tokens, embedded whole (chunked, as Compel does).

CLIP text encoders see 77 positions: a start token, 75 prompt tokens and an end token.
The scheduler's prompts run to ~170 tokens with the style words last, so a plain
encode drops exactly the words that set the look. Here a prompt is split into windows
of at most 75 tokens at word boundaries (CLIP's BPE never merges across whitespace, so
a word's tokens are the same alone as in the sentence), each window is encoded by the
pipeline's own `encode_prompt` (its start/end tokens, padding, hidden layer and, for
SDXL, both encoders), and the windows' token embeddings are concatenated along the
sequence. The pooled vector (SDXL) comes from the first window. A prompt that fits one
window is encoded exactly as diffusers encodes it.

Chunk counts change the conditioning's shape, so each count is one compiled graph;
`pad_sequence` pads a shorter conditioning with the empty prompt's windows (Compel's
padding) when two cues of different lengths are cross-faded.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

CLIP_WINDOW = 75  # prompt tokens per CLIP window (77 minus the start and end tokens)
MAX_CHUNKS = 4  # 300 prompt tokens; the scheduler's prompts run to ~170
T5_BUDGETS = (256, 512)  # T5 sequence lengths the DiT pipelines accept (SD3, Flux)


def word_chunks(tokenizer: Any, prompt: str, window: int = CLIP_WINDOW) -> list[str]:
    """`prompt` split at spaces into pieces of at most `window` tokens each, in order.

    A single word longer than a window (never seen in practice) is kept whole in its own
    chunk; its encoder then truncates it, as it would anyway.
    """
    chunks: list[list[str]] = [[]]
    used = 0
    for word in prompt.split():
        count = len(tokenizer(word, add_special_tokens=False).input_ids)
        if chunks[-1] and used + count > window:
            chunks.append([])
            used = 0
        chunks[-1].append(word)
        used += count
    return [" ".join(words) for words in chunks] or [""]


def token_count(tokenizer: Any, prompt: str) -> int:
    """Prompt tokens, without the start and end tokens."""
    return len(tokenizer(prompt, add_special_tokens=False).input_ids)


def encode_long(encode: Any, tokenizer: Any, prompt: str, negative: str, use_cfg: bool) -> tuple:
    """(embeds, negative_embeds, *pooled) for a prompt of any length, window by window.

    `encode(chunk, negative_chunk)` is a family's single-window encoder returning a tuple
    whose first entry is the positive token embeddings (batch, 77, width), second the
    negative's (or None), and further entries pooled vectors, taken from the first window.
    """
    import torch

    positive = _capped(word_chunks(tokenizer, prompt))
    negatives = _capped(word_chunks(tokenizer, negative)) if negative else [""]
    count = max(len(positive), len(negatives) if use_cfg else 1)
    positive += [""] * (count - len(positive))
    negatives += [""] * (count - len(negatives))
    outputs = [encode(p, n or None) for p, n in zip(positive, negatives, strict=True)]
    embeds = torch.cat([out[0] for out in outputs], dim=1)
    negative_embeds = None
    if outputs[0][1] is not None:
        negative_embeds = torch.cat([out[1] for out in outputs], dim=1)
    return (embeds, negative_embeds, *outputs[0][2:])


def _capped(chunks: list[str]) -> list[str]:
    if len(chunks) > MAX_CHUNKS:
        dropped = " ".join(chunks[MAX_CHUNKS:])
        log.warning("prompt longer than %d CLIP windows: dropped %r", MAX_CHUNKS, dropped[:80])
    return chunks[:MAX_CHUNKS]


def t5_budget(tokenizer: Any, prompt: str, default: int) -> int:
    """The smallest T5 sequence length (of `T5_BUDGETS`, at least `default`) that holds
    the whole prompt and its end token; the largest when nothing does."""
    needed = token_count(tokenizer, prompt) + 1
    for budget in T5_BUDGETS:
        if budget >= default and budget >= needed:
            return budget
    return max(T5_BUDGETS[-1], default)


def pad_sequence(cond: tuple, filler: Any, length: int) -> tuple:
    """Token embeddings (entry 0) padded to `length` positions with `filler`'s positions
    (cycled; the empty prompt's window for CLIP, as Compel pads); pooled entries stay."""
    import torch

    embeds = cond[0]
    missing = length - embeds.shape[1]
    if missing <= 0:
        return cond
    reps = -(-missing // filler.shape[1])
    pad = torch.cat([filler] * reps, dim=1)[:, :missing].to(embeds.dtype)
    return (torch.cat([embeds, pad.expand(embeds.shape[0], -1, -1)], dim=1), *cond[1:])
