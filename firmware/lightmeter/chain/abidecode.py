"""Solidity ABI decoding: call data, return data and event data read back (chain/abi.py encodes).

Apart from abi.py because a device only encodes (its MeterRegistry call) and, loaded from .mpy,
every module it imports stays in RAM (bench/RESULTS.md): the light client imports this module only
when it reads a sealer-set change (client/transition.py), hosts whenever they read contract data.

Strict: it accepts exactly what abi.encode() produces, so encode(decode(x)) == x for every x it
accepts. Short data, offsets other than the canonical ones, lengths that overrun the data, dirty
high bits in uint/int/address/bool/bytesN words, non-zero padding, strings that are not UTF-8
(RFC 3629) and trailing bytes all raise Malformed.
"""

from lightmeter.chain import fields
from lightmeter.chain.abi import _dynamic, _head_size, _parse_all, parse_signature
from lightmeter.errors import Malformed

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# The kinds of abi.parse_type's tuples, repeated: abi.py's are compiler constants that leave no
# name to import on a device (the round trips over every type in tests/firmware/test_abi.py fail
# if the two disagree).
_UINT = const(0)
_INT = const(1)
_ADDRESS = const(2)
_BOOL = const(3)
_BYTES = const(5)
_STRING = const(6)
_ARRAY = const(7)
_TWO256 = const(1 << 256)

_ZERO32 = bytes(32)


def _read(data, pos, n):
    if pos + n > len(data):
        raise Malformed("abi: data too short (need %d bytes at %d, have %d)" % (n, pos, len(data)))
    return data[pos:pos + n]


def _uint_at(data, pos):
    return int.from_bytes(_read(data, pos, 32), "big")


def _check_zero(b, what):
    if b != bytes(len(b)):
        raise Malformed("abi: non-zero %s" % what)


def _decode_seq(ts, data, pos):
    """Values of the sequence of types ts encoded at pos, and the position just after it.

    Tails must follow the head in order with no gap, so each offset has one valid value.
    """
    head = 0
    for t in ts:
        head += _head_size(t)
    if pos + head > len(data):
        raise Malformed("abi: data too short (%d bytes of head at %d, have %d)" % (head, pos, len(data)))
    out = []
    h = pos
    tail = pos + head
    for t in ts:
        if _dynamic(t):
            off = _uint_at(data, h)
            if off != tail - pos:
                raise Malformed("abi: offset %d at %d, expected %d" % (off, h, tail - pos))
            v, tail = _decode_one(t, data, tail)
            h += 32
        else:
            v, h = _decode_one(t, data, h)
        out.append(v)
    return out, tail


def _decode_one(t, data, pos):
    kind, size, elem = t
    if kind == _ARRAY:
        if size >= 0:
            if pos + size * _head_size(elem) > len(data):  # before building a list of size
                raise Malformed("abi: data too short for %s items" % size)
            return _decode_seq([elem] * size, data, pos)
        n = _uint_at(data, pos)
        # every item takes at least one 32-byte word, so n is bounded by what is left
        if n > (len(data) - pos - 32) // 32:
            raise Malformed("abi: array length %d overruns the data" % n)
        return _decode_seq([elem] * n, data, pos + 32)
    if kind == _BYTES or kind == _STRING:
        n = _uint_at(data, pos)
        if n > len(data) - pos - 32:
            raise Malformed("abi: length %d overruns the data" % n)
        padded = n + (-n % 32)
        body = _read(data, pos + 32, padded)
        _check_zero(body[n:], "padding after bytes")
        v = body[:n]
        if kind == _STRING:
            if fields.utf8_error(v) >= 0:
                raise Malformed("string: not UTF-8")
            v = v.decode()
        return v, pos + 32 + padded
    w = _read(data, pos, 32)
    if kind == _UINT:
        v = int.from_bytes(w, "big")
        if v >> size:
            raise Malformed("abi: uint%d with high bits set" % size)
    elif kind == _INT:
        v = int.from_bytes(w, "big")
        if v >> 255:
            v -= _TWO256
        half = 1 << (size - 1)
        if v < -half or v >= half:
            raise Malformed("abi: int%d not sign-extended" % size)
    elif kind == _ADDRESS:
        _check_zero(w[:12], "high bytes of address")
        v = w[12:]
    elif kind == _BOOL:
        if w[:31] != _ZERO32[:31] or w[31] > 1:
            raise Malformed("abi: bool not 0 or 1")
        v = w[31] == 1
    else:  # bytesN
        _check_zero(w[size:], "padding after bytes%d" % size)
        v = w[:size]
    return v, pos + 32


def decode(types, data):
    """The list of values that data encodes as the tuple of types; Malformed unless canonical."""
    ts = _parse_all(types)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise Malformed("abi: expected bytes")
    data = bytes(data)
    values, end = _decode_seq(ts, data, 0)
    if end != len(data):
        raise Malformed("abi: %d trailing bytes" % (len(data) - end))
    return values


def decode_call(signature, data, hash_fn):
    """The arguments of call data for signature; Malformed if the selector is another one."""
    _, types = parse_signature(signature)
    if len(data) < 4:
        raise Malformed("abi: call data shorter than a selector")
    if bytes(data[:4]) != hash_fn(signature.encode())[:4]:
        raise Malformed("abi: call data is not a call of %s" % signature)
    return decode(types, data[4:])
