"""A fresh Python child with a two-way message pipe, for work that should not share the GIL
(the video encoder: render.encoder_process).

A plain subprocess, not multiprocessing's spawn: spawn re-runs the caller's main module,
which breaks any script that works at its top level. The child runs `module.function()`
and finds its end of the pipe with `child_connection()`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path

FD_VARIABLE = "VISUALIZE_CHILD_FD"
ROOT = Path(__file__).resolve().parents[1]


def start_child(module: str, function: str) -> tuple[subprocess.Popen, Connection]:
    """Start `python -c "import module; module.function()"`; return it and our end of the pipe."""
    parent_end, child_end = socket.socketpair()
    connection = Connection(os.dup(parent_end.fileno()))
    parent_end.close()
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import {module} as m; m.{function}()"
    child_env = {**os.environ, FD_VARIABLE: str(child_end.fileno())}
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", code], pass_fds=[child_end.fileno()], env=child_env
        )
    except BaseException:
        connection.close()
        raise
    finally:
        child_end.close()
    return process, connection


def child_connection() -> Connection:
    """In the child: the pipe to the parent."""
    return Connection(int(os.environ.pop(FD_VARIABLE)))
