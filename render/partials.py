"""Unfinished output files: never leave half a video under the final name.

An offline recording is written to a hidden `.NAME.partial` beside the target and renamed
when finished. Every partial file open in this process is registered here, so a stop that
never reached `abort()` (a signal between opening and `with`, a forced exit) can still
remove it with `discard_unfinished()` / `discard_all()`. Also the writability check done
before any work, and OS write failures as one-line `RecorderError`s (`DiskFullError`).
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)

_unfinished: dict[Path, None] = {}  # partial files open now (insertion-ordered)
_removed: set[Path] = set()  # partial files removed by abort() or a discard, not yet asked about


class RecorderError(Exception):
    """The output cannot be written; the message is one line for the user."""


class DiskFullError(RecorderError):
    """The disk (or quota) filled up while writing."""


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def discard_unfinished(path: str | Path) -> Path | None:
    """Remove the partial file of an offline recording of `path` if it is still open.

    Returns that partial's name when it was removed, now or by `abort()` (None when no
    writer got as far as opening it), so the caller can say so.
    """
    target = partial_name(Path(path).absolute())
    if target in _unfinished:
        remove_partial(target)
    if target in _removed:
        _removed.discard(target)
        return target
    return None


def discard_all() -> list[Path]:
    """Remove every partial file this process has open (a forced exit)."""
    removed = list(_unfinished)
    for target in removed:
        remove_partial(target, report=False)
    return removed


def register_partial(target: Path) -> None:
    """`target` is now being written: remove it if the process stops before it is finished."""
    _removed.discard(target)  # an earlier render's news is not this one's
    _unfinished[target] = None


def mark_finished(target: Path) -> None:
    """`target` was renamed to its final name: no longer ours to remove."""
    _unfinished.pop(target, None)


def remove_partial(path: Path, report: bool = True) -> None:
    """Unlink `path`; it counts as removed if it was registered (x264's lookahead may not
    have let the first bytes reach the disk yet, but the unfinished video is gone either way)."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
    if _unfinished.pop(path, False) is None and report:
        _removed.add(path)


@contextlib.contextmanager
def write_errors(path: Path):
    """An OS-level write failure (FFmpeg's too) as one RecorderError line."""
    try:
        yield
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"disk full while writing {path.name} ({path.parent})") from None
        raise RecorderError(f"cannot write {path}: {exc.strerror or exc}") from None


class FinishOrAbort:
    """`with writer:` closes the file on success and throws it away on any exception."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def check_writable(path: Path) -> None:
    """Fail early, with one line, when `path` cannot be created."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise RecorderError(f"output path is a directory: {path}")
    if not parent.is_dir():
        raise RecorderError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise RecorderError(f"output path is not writable: {path}")


def partial_name(path: Path) -> Path:
    """Where an offline recording of `path` is written until it is finished."""
    return path.with_name(f".{path.name}.partial")
