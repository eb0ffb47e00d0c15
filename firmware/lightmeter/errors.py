"""Typed errors shared by every decoder and verifier.

Callers tell apart input that cannot be parsed (Malformed), input that parses
but fails a check (Invalid) and input we do not handle (Unsupported).

On a board the firmware's messages are numbers: compiled for it, `Malformed("text %d" % n)`
becomes `Malformed(N, n)` and the texts are kept in a file beside this module, line N the
message N (lightmeter_host/runtimes/messages.py; docs/architecture.md, "Error messages on a
board"). The error is the same type with the same values; its text is read and formatted only
when it is shown, so the messages take no RAM while the modules are loaded.
"""

_FILE = "messages.txt"


def _text(args):
    """The message of a coded error (args: N, then the values of its % if it had one)."""
    try:
        with open(__file__.rsplit("/", 1)[0] + "/" + _FILE) as f:
            for i, line in enumerate(f):
                if i == args[0]:
                    text = line.rstrip("\n")
                    return text % args[1] if len(args) > 1 else text
    except Exception:  # noqa: BLE001 (no table on this board, or no heap for it: say what is known)
        pass
    return "message %d %r" % (args[0], args[1:])


class LightmeterError(ValueError):
    """Base of every error raised on purpose by lightmeter.

    A ValueError, since each one is about a value we were given; a single base
    because MicroPython cannot combine two native exception bases.
    """

    def __str__(self):
        a = self.args
        if a and type(a[0]) is int:  # a coded message (above)
            return _text(a)
        return str(a[0]) if len(a) == 1 else str(a) if a else ""


class Malformed(LightmeterError):
    """Input does not have the shape the format requires (width, count, type)."""


class Invalid(LightmeterError):
    """Input is well formed but a cryptographic or consensus check fails."""


class Unsupported(LightmeterError):
    """Input is well formed but uses a feature this implementation does not handle."""
