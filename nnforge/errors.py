"""Errors a user can cause.

Every mistake a user can make (a bad recipe, a missing file, a malformed dataset) raises a
subclass of :class:`UserError` with a one-line message that names the problem and what would be
accepted. The command line prints that line and exits with status 2; it never shows a traceback
for these.
"""


class UserError(Exception):
    """A mistake in what the user asked for; the message is shown as-is, on one line."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class ConfigError(UserError):
    """A recipe key is unknown, has the wrong type, or a value outside what is accepted."""


class DataError(UserError):
    """A dataset name, file or folder cannot be used as asked."""


class RunError(UserError):
    """A run directory is missing, incomplete, or does not fit the command."""


class StorageError(UserError):
    """A file cannot be written: the disk is full, the folder read-only or not the user's to write."""


class UnsafeFileError(DataError):
    """A file tried to do more than hold data (for example a pickle that imports code)."""


def excerpt(value, limit: int = 40) -> str:
    """``value`` (text, bytes or anything else) as a short, escaped excerpt for an error message.

    Messages may quote user data, but only this way: at most ``limit`` characters, control
    characters and newlines escaped (a message stays one line and cannot rewrite the terminal).
    File contents are never quoted at all, whatever their length: a dataset named in a run's
    ``config.yaml`` may be any file on the machine (``csv:/etc/passwd``)."""
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value[: limit + 1]).decode("utf-8", "backslashreplace")
    else:
        text = value if isinstance(value, str) else str(value)
    cut = len(text) > limit
    escaped = repr(text[:limit])[1:-1]
    return escaped + "..." if cut else escaped
