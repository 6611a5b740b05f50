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
