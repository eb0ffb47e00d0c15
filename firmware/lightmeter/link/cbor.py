"""Canonical CBOR for the device link: RFC 8949 §4.2.1 core deterministic encoding only.

dumps writes null, booleans, integers of major types 0/1 (up to 64-bit arguments),
byte strings, UTF-8 text, arrays and maps; map entries are sorted by the bytes of
their encoded keys (bytewise lexicographic, RFC 8949 §4.2.1 — not the length-first
order of RFC 7049 §3.9). No floats, no tags, no indefinite lengths.

loads accepts exactly what dumps writes and refuses everything else with
Malformed: non-shortest arguments, indefinite lengths, map keys that are not
strictly increasing in encoded bytes (so no duplicates), keys that are not an
integer, text or byte string, invalid UTF-8 (checked here: MicroPython's decode
lets surrogates and overlong forms through), floats, tags, simple values other
than false/true/null, bytes after the item, and input deeper, longer or with
more items than the caller allows. Byte strings come back as bytes, arrays as
lists, maps as dicts. The decoder keeps its own stack, so nesting never costs
interpreter recursion.
"""

from lightmeter.chain import fields
from lightmeter.errors import Malformed, Unsupported

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


_U64_END = const(1 << 64)
_ENCODE_DEPTH = const(32)  # dumps refuses deeper Python structures (and cycles) with Unsupported


def _head(out, major, n):
    # The shortest head of a major type with argument n (RFC 8949 §4.2.1, first rule).
    mt = major << 5
    if n < 24:
        out.append(mt | n)
    elif n < 0x100:
        out.append(mt | 24)
        out.append(n)
    elif n < 0x10000:
        out.append(mt | 25)
        out.extend(n.to_bytes(2, "big"))
    elif n < 0x100000000:
        out.append(mt | 26)
        out.extend(n.to_bytes(4, "big"))
    elif n < _U64_END:
        out.append(mt | 27)
        out.extend(n.to_bytes(8, "big"))
    else:
        raise Unsupported("CBOR: integer or length beyond 64 bits")


def _key(obj):
    # A map key: only integers, text and byte strings (what loads accepts as keys).
    if obj is True or obj is False or not isinstance(obj, (int, str, bytes)):
        raise Unsupported("CBOR: map keys must be integers, text or byte strings")
    out = bytearray()
    _encode(out, obj, 0)
    return bytes(out)


def _encode(out, obj, depth):
    if obj is None:
        out.append(0xF6)
    elif obj is False:
        out.append(0xF4)
    elif obj is True:
        out.append(0xF5)
    elif isinstance(obj, int):
        if obj >= 0:
            _head(out, 0, obj)
        else:
            _head(out, 1, -1 - obj)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        if not isinstance(obj, bytes):
            obj = bytes(obj)
        _head(out, 2, len(obj))
        out.extend(obj)
    elif isinstance(obj, str):
        try:
            b = obj.encode("utf-8")
        except UnicodeError:
            raise Unsupported("CBOR: text that is not valid Unicode")
        _head(out, 3, len(b))
        out.extend(b)
    elif isinstance(obj, (list, tuple)):
        if depth >= _ENCODE_DEPTH:
            raise Unsupported("CBOR: nested deeper than %d" % _ENCODE_DEPTH)
        _head(out, 4, len(obj))
        for x in obj:
            _encode(out, x, depth + 1)
    elif isinstance(obj, dict):
        if depth >= _ENCODE_DEPTH:
            raise Unsupported("CBOR: nested deeper than %d" % _ENCODE_DEPTH)
        entries = [(_key(k), k) for k in obj]
        entries.sort()  # encoded keys are distinct, so only the bytes are ever compared
        _head(out, 5, len(entries))
        for kb, k in entries:
            out.extend(kb)
            _encode(out, obj[k], depth + 1)
    elif isinstance(obj, float):
        raise Unsupported("CBOR: floats are not part of the link encoding")
    else:
        raise Unsupported("CBOR: cannot encode %s" % type(obj).__name__)


def dumps(obj):
    """Canonical CBOR bytes of obj (None, bool, int, bytes-like, str, list/tuple, dict)."""
    out = bytearray()
    _encode(out, obj, 0)
    return bytes(out)


class _Pieces:
    # An encoder's output kept in pieces: byte strings of at least `big` bytes are taken as they
    # are (references, not copies), everything else gathered into small bytearrays between them.

    def __init__(self, big):
        self.parts = []
        self.cur = bytearray()
        self.big = big

    def append(self, b):
        self.cur.append(b)

    def extend(self, b):
        if len(b) >= self.big and isinstance(b, bytes):
            if self.cur:
                self.parts.append(self.cur)
                self.cur = bytearray()
            self.parts.append(b)
        else:
            self.cur.extend(b)


def dump_pieces(obj, big=32):
    """dumps(obj) as a list of pieces whose concatenation is those bytes, the byte strings of
    at least big bytes among them not copied: a value of many keys (a checkpoint of 21 sealers)
    is written to a file piece by piece without one block of its whole size."""
    out = _Pieces(big)
    _encode(out, obj, 0)
    if out.cur:
        out.parts.append(out.cur)
    return out.parts


def loads(data, max_depth=16, max_items=4096, max_len=16384):
    """The one item encoded canonically in data, or Malformed.

    max_depth bounds nested arrays and maps, max_items the number of data items
    in all (every element, key and value, and the top item), max_len the bytes
    of any one byte or text string. data may be bytes, a bytearray or a memoryview
    (a link frame's body, link/frame.py): it is read in place, and the byte and
    text strings it holds come back as copies, never as views of it.
    """
    if not isinstance(data, bytes):
        if not isinstance(data, (bytearray, memoryview)):
            raise Malformed("CBOR: expected bytes")
    n = len(data)
    pos = 0
    items = 1
    # One frame per open container: [container, items still to come, start of the
    # current map key (-1 for an array), bytes of the previous key, current key].
    stack = []
    while True:
        if pos >= n:
            raise Malformed("CBOR at offset %d: truncated" % pos)
        start = pos
        ib = data[pos]
        pos += 1
        major = ib >> 5
        ai = ib & 31
        if major == 7:
            if ai == 20:
                val = False
            elif ai == 21:
                val = True
            elif ai == 22:
                val = None
            elif 25 <= ai <= 27:
                raise Malformed("CBOR at offset %d: floats are not allowed" % start)
            elif ai == 31:
                raise Malformed("CBOR at offset %d: break outside an indefinite-length item" % start)
            else:
                raise Malformed("CBOR at offset %d: simple values other than false, true, null are not "
                                "allowed" % start)
        elif major == 6:
            raise Malformed("CBOR at offset %d: tags are not allowed" % start)
        else:
            if ai < 24:
                arg = ai
            elif ai < 28:
                k = 1 << (ai - 24)
                if pos + k > n:
                    raise Malformed("CBOR at offset %d: truncated" % start)
                if k == 1:
                    arg = data[pos]
                    if arg < 24:
                        raise Malformed("CBOR at offset %d: argument not in shortest form" % start)
                else:
                    arg = int.from_bytes(data[pos:pos + k], "big")
                    if arg < (1 << (4 * k)):
                        raise Malformed("CBOR at offset %d: argument not in shortest form" % start)
                pos += k
            elif ai == 31:
                raise Malformed("CBOR at offset %d: indefinite lengths are not allowed" % start)
            else:
                raise Malformed("CBOR at offset %d: reserved additional information %d" % (start, ai))
            if major == 0:
                val = arg
            elif major == 1:
                val = -1 - arg
            elif major < 4:
                if arg > max_len:
                    raise Malformed("CBOR at offset %d: string of %d bytes, limit %d" % (start, arg, max_len))
                end = pos + arg
                if end > n:
                    raise Malformed("CBOR at offset %d: truncated" % start)
                val = bytes(data[pos:end])  # a copy out of a view; bytes' own slice as it is
                if major == 3:
                    if arg and max(val) >= 0x80:
                        bad = fields.utf8_error(val)
                        if bad >= 0:
                            raise Malformed("CBOR at offset %d: invalid UTF-8" % (pos + bad))
                    try:
                        val = val.decode("utf-8")
                    except UnicodeError:  # not reached: checked above
                        raise Malformed("CBOR at offset %d: invalid UTF-8" % pos)
                pos = end
            else:
                count = arg if major == 4 else 2 * arg
                if len(stack) >= max_depth:
                    raise Malformed("CBOR at offset %d: nested deeper than %d" % (start, max_depth))
                items += count
                if items > max_items:
                    raise Malformed("CBOR at offset %d: more than %d items" % (start, max_items))
                if count > n - pos:
                    raise Malformed("CBOR at offset %d: truncated" % start)
                if count:
                    if major == 4:
                        stack.append([[], count, -1, None, None])
                    else:
                        stack.append([{}, count, pos, None, None])
                    continue
                val = [] if major == 4 else {}
        # Put the finished item into its container; close every container it completes.
        while stack:
            fr = stack[-1]
            c = fr[0]
            if fr[2] < 0:
                c.append(val)
            elif fr[1] & 1 == 0:  # a key
                t = type(val)
                if t is not int and t is not str and t is not bytes:
                    raise Malformed("CBOR at offset %d: map keys must be integers, text or byte "
                                    "strings" % fr[2])
                kb = bytes(data[fr[2]:pos])
                prev = fr[3]
                if prev is not None and kb <= prev:
                    if kb == prev:
                        raise Malformed("CBOR at offset %d: duplicate map key" % fr[2])
                    raise Malformed("CBOR at offset %d: map keys not in canonical order" % fr[2])
                fr[3] = kb
                fr[4] = val
            else:
                c[fr[4]] = val
                fr[2] = pos
            fr[1] -= 1
            if fr[1]:
                break
            stack.pop()
            val = c
        else:
            if pos != n:
                raise Malformed("CBOR at offset %d: %d bytes after the item" % (pos, n - pos))
            return val
