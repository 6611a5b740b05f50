"""Shared by the benchmark scripts: update one section of a results JSON file."""

from __future__ import annotations

import json
from pathlib import Path


def write_section(path: Path, key: str, result: dict) -> None:
    """Several scripts share one JSON file (e.g. live.json: latency and soak); replace only `key`."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        document = {}
    document[key] = result
    path.write_text(json.dumps(document, indent=1))


def utc_now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def machine_name(device: str) -> str:
    """The GPU (and torch) for CUDA runs, else the CPU: every result names its machine."""
    import os
    import platform

    if device == "cuda":
        import torch

        return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"
    return f"{os.cpu_count()}-core CPU {platform.machine()}"
