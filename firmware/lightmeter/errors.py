"""Typed errors shared by every decoder and verifier.

Callers tell apart input that cannot be parsed (Malformed), input that parses
but fails a check (Invalid) and input we do not handle (Unsupported).
"""


class LightmeterError(ValueError):
    """Base of every error raised on purpose by lightmeter.

    A ValueError, since each one is about a value we were given; a single base
    because MicroPython cannot combine two native exception bases.
    """


class Malformed(LightmeterError):
    """Input does not have the shape the format requires (width, count, type)."""


class Invalid(LightmeterError):
    """Input is well formed but a cryptographic or consensus check fails."""


class Unsupported(LightmeterError):
    """Input is well formed but uses a feature this implementation does not handle."""
