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


class UnsafeFileError(UserError):
    """A file tried to do more than hold data (for example a pickle that imports code)."""
