"""Paths and small helpers shared by the tests (import as `tests.helpers`)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_AUDIO = REPO.parent / "shared" / "media" / "audio"
SHARED_MUSIC = REPO.parent / "shared" / "media" / "music"
ARTIFACTS = REPO / "test-artifacts"


def shared_audio(name: str) -> Path:
    """A file from ../shared/media/audio, or skip when this checkout has no shared folder."""
    path = SHARED_AUDIO / name
    if not path.exists():
        pytest.skip(f"shared media not present: {path}")
    return path


def shared_music(name: str) -> Path:
    """A full song from ../shared/media/music, or skip when it is not here."""
    path = SHARED_MUSIC / name
    if not path.exists():
        pytest.skip(f"shared media not present: {path}")
    return path
