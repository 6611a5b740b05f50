"""The exceptions the CLI turns into a one-line message and a distinct exit code.

Exit codes (README, "Bad input and exit codes"):
  0    done
  1    an error: bad or damaged input, an output that cannot be written, a missing model
  2    a bad command line
  74   the disk (or quota) filled up while writing (sysexits EX_IOERR)
  128+N  stopped by signal N: 130 SIGINT (Ctrl-C), 143 SIGTERM, 129 SIGHUP
"""

from __future__ import annotations

import signal

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DISK_FULL = 74


class UserError(Exception):
    """A problem the user can fix (bad file, bad option, missing model). Message: one line."""

    exit_code = EXIT_ERROR
    prefix = "error: "  # printed after "visualize: "

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class Stopped(BaseException):
    """A stop signal arrived. BaseException, like KeyboardInterrupt: `except Exception` in
    library code must not swallow it on its way out."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal_name(signum))

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class Interrupted(UserError):
    """How a `Stopped` is reported: 'visualize: interrupted by SIGTERM; ...', exit 128+N."""

    prefix = ""


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
