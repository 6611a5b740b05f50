"""The one error type of the outputs, with a one-line message meant for the performer."""


class OutputError(RuntimeError):
    pass


def missing(name: str, extra: str, package: str, licence: str) -> OutputError:
    return OutputError(
        f"--output {name} needs {package}: pip install 'visualize[{extra}]' ({licence})"
    )
