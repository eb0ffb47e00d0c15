"""Strict readers for the JSON values a FISCO BCOS node returns.

Every reader takes the value and the field's name (for the error message) and
either returns the decoded value or raises Malformed. Widths, ranges and
character sets are pinned here so that no verifier ever sees a value of an
unexpected shape.
"""

from lightmeter.errors import Malformed

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# The checks below walk a text's UTF-8 bytes, never its characters: on MicroPython each character
# taken out of a str is interned (a qstr kept in RAM for good), so the device's names would grow
# with every digit its data happens to hold (docs/architecture.md).
_HEX = const(b"0123456789abcdefABCDEF")
INT32_MAX = 0x7FFFFFFF
_INT64_MAX = const(0x7FFFFFFFFFFFFFFF)


def unwrap(obj):
    """The `result` of a JSON-RPC response, or obj itself if it is already a result."""
    if not isinstance(obj, dict):
        raise Malformed("expected a JSON object")
    if "error" in obj and "result" not in obj:
        err = obj["error"]
        msg = err.get("message", err) if isinstance(err, dict) else err
        raise Malformed("the node answered with an error: %s" % (msg,))
    if "result" in obj and "jsonrpc" in obj:
        obj = obj["result"]
        if not isinstance(obj, dict):
            raise Malformed("expected the result to be a JSON object")
    return obj


def get(obj, name):
    """obj[name], or Malformed naming the missing field."""
    try:
        return obj[name]
    except (KeyError, TypeError):
        raise Malformed("missing field %r" % name)


def hexbytes(value, name, size=None, prefix=None):
    """bytes from hex text; size pins the byte length, prefix=True/False requires/forbids 0x.

    A byte string (what binary link frames carry) is taken as it is, with the same size rule.
    """
    if isinstance(value, (bytes, bytearray)):
        if size is not None and len(value) != size:
            raise Malformed("%s: expected %d bytes, got %d" % (name, size, len(value)))
        return bytes(value)
    if not isinstance(value, str):
        raise Malformed("%s: expected a hex string" % name)
    has = value[:2] in ("0x", "0X")
    if prefix is True and not has:
        raise Malformed("%s: expected a 0x prefix" % name)
    if prefix is False and has:
        raise Malformed("%s: unexpected 0x prefix" % name)
    text = value[2:] if has else value
    if len(text) % 2:
        raise Malformed("%s: odd number of hex digits" % name)
    for c in text.encode():
        if c not in _HEX:
            raise Malformed("%s: not hex" % name)
    if size is not None and len(text) != 2 * size:
        raise Malformed("%s: expected %d bytes, got %d" % (name, size, len(text) // 2))
    return bytes.fromhex(text)


def integer(value, name, lo=0, hi=_INT64_MAX):
    """A JSON integer (not a bool, not a float) within [lo, hi]."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed("%s: expected an integer" % name)
    if value < lo or value > hi:
        raise Malformed("%s: %d out of range [%d, %d]" % (name, value, lo, hi))
    return value


def decimal(value, name):
    """ASCII bytes of a canonical decimal string: digits only, no sign, no leading zero."""
    if not isinstance(value, str) or not value:
        raise Malformed("%s: expected a decimal string" % name)
    raw = value.encode()
    for c in raw:
        if c < 48 or c > 57:  # "0".."9"
            raise Malformed("%s: decimal digits only" % name)
    if len(raw) > 1 and raw[0] == 48:
        raise Malformed("%s: leading zero" % name)
    if len(raw) > 78:  # a u256 has at most 78 digits
        raise Malformed("%s: too long for a u256" % name)
    return raw


def text(value, name, limit=1 << 16):
    """UTF-8 bytes of a JSON string, bounded in length."""
    if not isinstance(value, str):
        raise Malformed("%s: expected a string" % name)
    b = value.encode()
    if len(b) > limit:
        raise Malformed("%s: longer than %d bytes" % (name, limit))
    return b


def array(value, name, limit):
    """A JSON array of at most limit items."""
    if not isinstance(value, list):
        raise Malformed("%s: expected an array" % name)
    if len(value) > limit:
        raise Malformed("%s: more than %d items" % (name, limit))
    return value


def int_be(value, width):
    """Fixed-width big-endian bytes, as FISCO feeds integers into its hashes."""
    return value.to_bytes(width, "big")


def hex0x(b):
    """0x-prefixed lowercase hex of b (MicroPython's b"".hex() gives b"", hence the guard)."""
    return "0x" + b.hex() if b else "0x"


def utf8_error(b):
    """Index of the first byte of b that breaks UTF-8 (RFC 3629 §4), or -1 if b is valid."""
    i = 0
    n = len(b)
    while i < n:
        c = b[i]
        if c < 0x80:
            i += 1
            continue
        if c < 0xC2:  # a continuation byte, or an overlong two-byte lead
            return i
        if c < 0xE0:
            k, lo, hi = 1, 0x80, 0xBF
        elif c < 0xF0:  # E0: no overlong forms; ED: no surrogates
            k, lo, hi = 2, (0xA0 if c == 0xE0 else 0x80), (0x9F if c == 0xED else 0xBF)
        elif c < 0xF5:  # F0: no overlong forms; F4: nothing above U+10FFFF
            k, lo, hi = 3, (0x90 if c == 0xF0 else 0x80), (0x8F if c == 0xF4 else 0xBF)
        else:
            return i
        if i + k >= n:
            return i
        d = b[i + 1]
        if d < lo or d > hi:
            return i
        for j in range(i + 2, i + k + 1):
            if b[j] & 0xC0 != 0x80:
                return i
        i += k + 1
    return -1
