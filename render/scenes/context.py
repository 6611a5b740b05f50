"""A headless OpenGL 3.3 context: EGL first (no display needed), then the default backend.

Any failure is `GLUnavailable` with a one-line reason, so the engine can fall back to
the CPU path. `VISUALIZE_GL=0` forces the fallback (tests, broken drivers).
"""

from __future__ import annotations

import os


class GLUnavailable(RuntimeError):
    """No usable OpenGL 3.3 context (no driver, no libEGL, a shader that fails to build)."""


def gl_disabled() -> bool:
    return os.environ.get("VISUALIZE_GL", "").strip().lower() in ("0", "off", "no", "false")


def create_context():
    """A standalone moderngl context, or GLUnavailable saying why not."""
    if gl_disabled():
        raise GLUnavailable("OpenGL disabled by VISUALIZE_GL=0")
    try:
        import moderngl
    except ImportError as exc:
        raise GLUnavailable(f"moderngl not installed ({exc})") from None
    errors = []
    for backend in ("egl", None):
        try:
            if backend is None:
                return moderngl.create_standalone_context(require=330)
            return moderngl.create_standalone_context(require=330, backend=backend)
        except Exception as exc:  # glcontext raises plain Exceptions with driver text
            errors.append(f"{backend or 'default'}: {_first_line(exc)}")
    raise GLUnavailable("no OpenGL 3.3 context (" + "; ".join(errors) + ")")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__
