"""Helpers for the firmware tests, which run both under pytest (CPython) and on MicroPython.

Firmware tests use only what MicroPython has: plain `test_*` functions, `assert`,
and the helpers below. No pytest, no hypothesis (those live in tests/host/).
"""

import json

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
VECTORS = _HERE + "/../vectors/"


def load_vector(name):
    """Parsed JSON of tests/vectors/NAME."""
    with open(VECTORS + name) as f:
        return json.load(f)


def raises(exc_type, fn, *args, **kwargs):
    """Call fn and return the exception it raised; fail unless it is an exc_type."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("%s not raised by %s" % (exc_type.__name__, getattr(fn, "__name__", fn)))


def unhex(s):
    """bytes from hex text, with or without 0x."""
    if s[:2] in ("0x", "0X"):
        s = s[2:]
    return bytes.fromhex(s)


def put(obj, key, value):
    """obj[key] = value as an expression (MicroPython lists have no __setitem__ attribute)."""
    obj[key] = value


def crc16_a001_bitwise(data, crc):
    """CRC-16 with the reflected polynomial 0xA001, one bit at a time from the definition, starting
    from crc: the test reference for CRC-16/ARC (0) and CRC-16/MODBUS (0xFFFF), written apart from
    the firmware's own."""
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc
