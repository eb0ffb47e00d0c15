"""Solidity contract ABI: selectors, event topics, and the encoding of arguments and results.

What a device needs to call a contract (the MeterRegistry that stores its readings) and what a
host needs to read call data, return data and event data back. The layout is the one of the
Solidity ABI specification (docs.soliditylang.org, "Contract ABI Specification"): a head of
32-byte words, one per static value or one offset per dynamic value, then the dynamic values'
tails in order.

Types: uint8..uint256, int8..int256, address (20 bytes), bool, bytes1..bytes32, bytes,
string, and arrays of these, T[k] and T[] (nested too). Tuples and fixed-point types raise
Unsupported. Type names must be canonical ("uint256", never "uint"), as in a selector.

The hash is the crypto suite's: keccak256 on an ecdsa chain, SM3 on an SM chain, whose
compiler takes selectors and event topics from SM3 (so get() is 0x299f7f9d there, not
0x6d4ce63c). Pass it as hash_fn, e.g. suite.get("sm").hash.

Decoding is in chain/abidecode.py (a device only encodes; each module it imports stays in its
RAM when loaded from .mpy): strict, it accepts exactly what encode() produces.

Values: uintN/intN are int, address is 20 bytes, bool is bool, bytesN is n bytes, bytes is
bytes, string is str, arrays are lists (tuples are accepted when encoding).
"""

from lightmeter.errors import Malformed, Unsupported

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# Parsed types are tuples (kind, size, element): size is the bit width of uintN/intN, n of
# bytesN, k of T[k] or -1 for T[]; element is the parsed T of an array, else None.
# Private compiler constants (docs/architecture.md); chain/abidecode.py repeats the kinds.
_UINT = const(0)
_INT = const(1)
_ADDRESS = const(2)
_BOOL = const(3)
_FBYTES = const(4)  # bytes1..bytes32
_BYTES = const(5)
_STRING = const(6)
_ARRAY = const(7)

_SIMPLE = {"address": (_ADDRESS, 160, None), "bool": (_BOOL, 1, None),
           "bytes": (_BYTES, 0, None), "string": (_STRING, 0, None)}
# bytes: names are checked byte by byte, as chain/fields.py checks digits (no character interned)
_IDENT_START = const(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$")
_IDENT = const(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$0123456789")
_TWO256 = const(1 << 256)


# --- types and signatures --------------------------------------------------------------

def _number(text, what):
    """A positive canonical decimal (digits only, no leading zero) in a type name, or Malformed."""
    raw = text.encode()
    if not raw or raw[0] == 48 or len(raw) > 5:  # empty, a leading "0", or too long
        raise Malformed("type: bad %s %r" % (what, text))
    for c in raw:
        if c < 48 or c > 57:  # "0".."9"
            raise Malformed("type: bad %s %r" % (what, text))
    return int(text)


def parse_type(name):
    """The parsed form of a canonical type name; Malformed or Unsupported otherwise."""
    if not isinstance(name, str):
        raise Malformed("type: expected a string")
    if name.endswith("]"):
        i = name.rfind("[")
        if i <= 0:
            raise Malformed("type: bad array %r" % name)
        elem = parse_type(name[:i])
        if i == len(name) - 2:
            return (_ARRAY, -1, elem)
        return (_ARRAY, _number(name[i + 1:-1], "array length"), elem)
    t = _SIMPLE.get(name)
    if t is not None:
        return t
    for prefix, kind in (("uint", _UINT), ("int", _INT)):
        if name.startswith(prefix):
            if name == prefix:
                raise Malformed("type: %r is not canonical, write %s256" % (name, name))
            bits = _number(name[len(prefix):], "width")
            if bits % 8 or bits > 256:
                raise Malformed("type: bad width in %r" % name)
            return (kind, bits, None)
    if name.startswith("bytes"):
        n = _number(name[5:], "size")
        if n > 32:
            raise Malformed("type: bad size in %r" % name)
        return (_FBYTES, n, None)
    if name.startswith("(") or name.startswith("tuple") or name.startswith("fixed") \
            or name.startswith("ufixed") or name == "function":
        raise Unsupported("type: %r is not supported" % name)
    raise Malformed("type: unknown %r" % name)


def parse_signature(signature):
    """(name, [type, ...]) of a canonical signature such as "record(uint64,bytes)".

    No spaces, no parameter names, canonical type names: the text a selector hashes.
    """
    if not isinstance(signature, str):
        raise Malformed("signature: expected a string")
    i = signature.find("(")
    if i <= 0 or not signature.endswith(")"):
        raise Malformed("signature: expected name(type,...), got %r" % signature)
    name = signature[:i]
    raw = name.encode()
    if raw[0] not in _IDENT_START:
        raise Malformed("signature: bad name %r" % name)
    for c in raw:
        if c not in _IDENT:
            raise Malformed("signature: bad name %r" % name)
    inner = signature[i + 1:-1]
    types = inner.split(",") if inner else []
    for t in types:
        parse_type(t)
    return name, types


def selector(signature, hash_fn):
    """The 4-byte function (or error) selector: the first 4 bytes of hash_fn(signature)."""
    parse_signature(signature)
    return hash_fn(signature.encode())[:4]


def event_topic(signature, hash_fn):
    """The 32-byte topic 0 of a non-anonymous event: hash_fn(signature)."""
    parse_signature(signature)
    return hash_fn(signature.encode())


def _parse_all(types):
    if not isinstance(types, (list, tuple)):
        raise Malformed("types: expected a list of type names")
    return [parse_type(t) for t in types]


def _dynamic(t):
    kind = t[0]
    if kind == _BYTES or kind == _STRING:
        return True
    if kind == _ARRAY:
        return t[1] < 0 or _dynamic(t[2])
    return False


def _head_size(t):
    """Bytes a value of type t takes in the head of its sequence."""
    if t[0] == _ARRAY and not _dynamic(t):
        return t[1] * _head_size(t[2])
    return 32


# --- encoding --------------------------------------------------------------------------

def _word(n):
    return n.to_bytes(32, "big")


def _padded(b):
    """b followed by zero bytes up to a multiple of 32."""
    return b + bytes(-len(b) % 32)


def _as_bytes(v, what):
    if not isinstance(v, (bytes, bytearray)):
        raise Malformed("%s: expected bytes" % what)
    return bytes(v)


def _as_int(v, what):
    if not isinstance(v, int) or isinstance(v, bool):
        raise Malformed("%s: expected an integer" % what)
    return v


def _encode_seq(ts, values):
    if not isinstance(values, (list, tuple)):
        raise Malformed("encode: expected a list of values")
    if len(values) != len(ts):
        raise Malformed("encode: %d types but %d values" % (len(ts), len(values)))
    heads = []
    tails = []
    offset = 0
    for t in ts:
        offset += _head_size(t)
    for i in range(len(ts)):
        t = ts[i]
        enc = _encode_one(t, values[i])
        if _dynamic(t):
            heads.append(_word(offset))
            tails.append(enc)
            offset += len(enc)
        else:
            heads.append(enc)
    return b"".join(heads) + b"".join(tails)


def _encode_one(t, v):
    kind, size, elem = t
    if kind == _UINT:
        v = _as_int(v, "uint%d" % size)
        if v < 0 or v >> size:
            raise Malformed("uint%d: %d out of range" % (size, v))
        return _word(v)
    if kind == _INT:
        v = _as_int(v, "int%d" % size)
        half = 1 << (size - 1)
        if v < -half or v >= half:
            raise Malformed("int%d: %d out of range" % (size, v))
        return _word(v % _TWO256)  # two's complement, sign-extended to 256 bits
    if kind == _ADDRESS:
        v = _as_bytes(v, "address")
        if len(v) != 20:
            raise Malformed("address: expected 20 bytes, got %d" % len(v))
        return bytes(12) + v
    if kind == _BOOL:
        if v is not True and v is not False:
            raise Malformed("bool: expected True or False")
        return _word(1 if v else 0)
    if kind == _FBYTES:
        v = _as_bytes(v, "bytes%d" % size)
        if len(v) != size:
            raise Malformed("bytes%d: expected %d bytes, got %d" % (size, size, len(v)))
        return _padded(v)
    if kind == _BYTES or kind == _STRING:
        if kind == _STRING:
            if not isinstance(v, str):
                raise Malformed("string: expected str")
            v = v.encode()
        else:
            v = _as_bytes(v, "bytes")
        return _word(len(v)) + _padded(v)
    # an array
    if not isinstance(v, (list, tuple)):
        raise Malformed("array: expected a list")
    if size < 0:
        return _word(len(v)) + _encode_seq([elem] * len(v), v)
    if len(v) != size:
        raise Malformed("array: expected %d items, got %d" % (size, len(v)))
    return _encode_seq([elem] * size, v)


def encode(types, values):
    """The ABI encoding of values (a list) as the tuple of types (a list of type names)."""
    return _encode_seq(_parse_all(types), values)


def encode_call(signature, values, hash_fn):
    """Call data: the selector of signature, then its arguments encoded."""
    _, types = parse_signature(signature)
    return hash_fn(signature.encode())[:4] + encode(types, values)
