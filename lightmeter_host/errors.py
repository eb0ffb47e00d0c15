"""Errors that end a `lightmeter` command. Each carries its exit status: cli.main prints
"lightmeter: <message>" on stderr and exits with it, whatever the verb.
"""


class CommandError(Exception):
    """The command cannot go on: message in one line, exit status `status` (2: usage or error)."""

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


class UsageError(CommandError):
    """Bad arguments or unreadable files: reported in one line, exit status 2."""


class BoardError(CommandError):
    """A board cannot be used as asked: a profile that is missing or breaks the schema (the
    message names the file and field), or a virtual board that cannot do what was asked
    (already running, not started...). Exit status 2."""
