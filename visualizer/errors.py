"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class UserError(Exception):
    """A problem the user can fix (bad file, bad option, missing model). Message: one line."""

    exit_code = 1
