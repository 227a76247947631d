"""Errors a user can cause.

Every mistake a user can make (a bad recipe, a missing file, a malformed dataset) raises a
subclass of :class:`UserError` with a one-line message that names the problem and what would be
accepted. The command line prints that line and exits with status 2; it never shows a traceback
for these.
"""

import contextlib


def did_you_mean(word: str, names, cutoff: float = 0.6) -> str:
    """`` (did you mean 'train'?)``: the nearest of ``names`` to a mistyped ``word`` (difflib's
    ratio at least ``cutoff``) for an error message, or '' where none is near."""
    import difflib

    near = difflib.get_close_matches(word, list(names), n=1, cutoff=cutoff)
    return f" (did you mean '{near[0]}'?)" if near else ""


class UserError(Exception):
    """A mistake in what the user asked for; the message is shown as-is, on one line: whitespace
    (a newline in a file name) becomes a space and other control characters (an ANSI escape a value
    quoted from the command line carried) are escaped, so it can neither break the line nor rewrite
    the terminal, whichever value a message quotes."""

    exit_code = 2

    def __init__(self, message: str):
        text = " ".join(str(message).split())
        if not text.isprintable():
            text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
        super().__init__(text)


class ConfigError(UserError):
    """A recipe key is unknown, has the wrong type, or a value outside what is accepted."""


class DataError(UserError):
    """A dataset name, file or folder cannot be used as asked."""


class RunError(UserError):
    """A run directory is missing, incomplete, or does not fit the command."""


class StorageError(UserError):
    """A file cannot be written: the disk is full, the folder read-only or not the user's to write."""


class UnsafeFileError(DataError):
    """A file tried to do more than hold data (for example a pickle that imports code).

    A DataError too: every refusal of a data file is one, whatever the reason."""


def excerpt(value, limit: int = 40) -> str:
    """``value`` (text, bytes or anything else) as a short, escaped excerpt for an error message.

    Messages may quote user data, but only this way: at most ``limit`` characters, control
    characters and newlines escaped (a message stays one line and cannot rewrite the terminal).
    File contents are never quoted at all, whatever their length: a dataset named in a run's
    ``config.yaml`` may be any file on the machine (``csv:/etc/passwd``)."""
    if isinstance(value, (bytes, bytearray)):
        escaped = repr(bytes(value[:limit]))[2:-1]
        return escaped + "..." if len(value) > limit else escaped
    text = value if isinstance(value, str) else str(value)
    escaped = repr(text[:limit])[1:-1]
    return escaped + "..." if len(text) > limit else escaped


def shown(value, limit: int = 60) -> str:
    """``value`` as a message names a recipe value: like ``repr`` (text in quotes), at most ``limit``
    characters, escaped by :func:`excerpt` (a 100 KB ``--set`` value is named, not printed back whole)."""
    return f"'{excerpt(value, limit)}'" if isinstance(value, str) else excerpt(repr(value), limit)


def file_excerpt(path, value, limit: int = 40) -> str | None:
    """:func:`excerpt` of ``value``, read from the file ``path``, or None where it may not be quoted.

    On the command line, content of a file may appear in a message only where the user named
    that file among the arguments (``--set data.name=csv:my.csv``, ``nnforge predict RUN
    rows.csv``): then it is their own data, shown back to them. A file named only inside a
    recipe or a run's ``config.yaml`` may be anything on the machine (``csv:/etc/passwd``), and
    its content is never quoted. Called from Python, outside the command line, the caller
    passed the path itself and is shown its content."""
    return excerpt(value, limit) if named_on_command_line(path) else None


_command_line: list[str] | None = None  # the running command's arguments, while the CLI runs one


@contextlib.contextmanager
def command_line(argv: list[str]):
    """While the CLI runs a command: the arguments :func:`named_on_command_line` looks in."""
    global _command_line
    previous, _command_line = _command_line, list(argv)
    try:
        yield
    finally:
        _command_line = previous


def named_on_command_line(path) -> bool:
    """Whether ``path`` is one of the running command's arguments, alone or after ``=`` or ``:``
    (always true outside the command line)."""
    if _command_line is None:
        return True
    name = str(path)
    return bool(name) and any(arg == name or arg.endswith(("=" + name, ":" + name)) for arg in _command_line)
