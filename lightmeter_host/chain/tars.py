"""Tars binary encoding (TarsCpp / tars2cpp wire format), host side.

FISCO BCOS 3.x ships transactions over JSON-RPC as Tars-encoded `bcostars::Transaction`
(see txcodec.py). This module is the generic layer: a Writer that produces what TarsCpp's
TarsOutputStream produces, and a strict Reader that raises TarsError on malformed input.

Wire format (TarsCloud/TarsCpp servant/tup/Tars.h):
- every value starts with a head byte (tag << 4) | type; tags 15..255 are written as
  0xF0 | type followed by the tag byte;
- integers are big-endian and written in the narrowest width that holds them; 0 is the
  ZERO type with no payload; a reader accepts any width up to its declared kind;
- string1 has a 1-byte length, string4 a 4-byte length (writers switch at > 255 bytes);
- vector<byte> is a simple list: head, the byte 0x00 (an int8 head with tag 0), the
  length as an integer with tag 0, then the bytes;
- list: head, count (integer, tag 0), then each element with tag 0; map: head, count,
  then key (tag 0) and value (tag 1) per entry;
- a nested struct is STRUCT_BEGIN, its fields, then STRUCT_END (0x0B); the top-level
  struct has no begin/end marker, its fields simply run to the end of the buffer;
- a struct's fields are written in ascending tag order (tarsparse sorts members by tag).

Integers of any width up to the field's kind and string4 for short strings are read, as
TarsCpp reads them. Where TarsCpp's reader is lenient and no writer goes (duplicate or
out-of-order tags, which it silently drops; a tag on STRUCT_END or on the simple-list inner
head; long-form heads for tags below 15; vector<byte> sent as a list; bytes it cannot parse,
at which it stops quietly) this reader raises, so nothing here reads a transaction
differently from a node.
"""

from lightmeter.errors import Malformed

# Head types.
INT8 = 0
INT16 = 1
INT32 = 2
INT64 = 3
FLOAT = 4
DOUBLE = 5
STRING1 = 6
STRING4 = 7
MAP = 8
LIST = 9
STRUCT_BEGIN = 10
STRUCT_END = 11
ZERO = 12
SIMPLE_LIST = 13

MAX_TAG = 255
MAX_STRING = 100 * 1024 * 1024  # TARS_MAX_STRING_LENGTH in TarsType.h
MAX_DEPTH = 16                  # nested structs/lists/maps; FISCO's transaction uses 1

# Integer head types a field of each width accepts (TarsInputStream::read(Char/Short/Int32/Int64)).
_INT_TYPES = {
    8: (ZERO, INT8),
    16: (ZERO, INT8, INT16),
    32: (ZERO, INT8, INT16, INT32),
    64: (ZERO, INT8, INT16, INT32, INT64),
}
_INT_SIZE = {INT8: 1, INT16: 2, INT32: 4, INT64: 8}
_FIXED_SIZE = {INT8: 1, INT16: 2, INT32: 4, INT64: 8, FLOAT: 4, DOUBLE: 8, ZERO: 0}


class TarsError(Malformed):
    """Bytes that are not a well-formed Tars encoding, or a value a Tars field cannot hold."""


def _check_tag(tag):
    if not 0 <= tag <= MAX_TAG:
        raise TarsError("tag %d out of range 0..%d" % (tag, MAX_TAG))


class Writer:
    """Builds a Tars encoding field by field; getvalue() returns the bytes."""

    def __init__(self):
        self._out = bytearray()

    def getvalue(self):
        return bytes(self._out)

    def _head(self, tag, type_):
        _check_tag(tag)
        if tag < 15:
            self._out.append((tag << 4) | type_)
        else:
            self._out.append(0xF0 | type_)
            self._out.append(tag)

    def write_int(self, tag, value, bits=64):
        """Signed integer of a `bits`-wide Tars field, in the narrowest width that holds it."""
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("tag %d: integer expected, got %r" % (tag, type(value).__name__))
        limit = 1 << (bits - 1)
        if not -limit <= value < limit:
            raise TarsError("tag %d: %d does not fit int%d" % (tag, value, bits))
        if value == 0:
            self._head(tag, ZERO)
            return
        for type_, size in ((INT8, 1), (INT16, 2), (INT32, 4), (INT64, 8)):
            if -(1 << (8 * size - 1)) <= value < (1 << (8 * size - 1)):
                self._head(tag, type_)
                self._out += value.to_bytes(size, "big", signed=True)
                return

    def write_string(self, tag, value):
        """Tars string: raw bytes (str is UTF-8 encoded); string4 above 255 bytes."""
        if isinstance(value, str):
            value = value.encode()
        value = bytes(value)
        if len(value) > MAX_STRING:
            raise TarsError("tag %d: string of %d bytes exceeds %d" % (tag, len(value), MAX_STRING))
        if len(value) > 255:
            self._head(tag, STRING4)
            self._out += len(value).to_bytes(4, "big")
        else:
            self._head(tag, STRING1)
            self._out.append(len(value))
        self._out += value

    def write_bytes(self, tag, value):
        """vector<byte> as a simple list."""
        value = bytes(value)
        self._head(tag, SIMPLE_LIST)
        self._head(0, INT8)
        self.write_int(0, len(value), 32)
        self._out += value

    def write_struct(self, tag, write_fields):
        """Nested struct; write_fields(writer) writes its fields in ascending tag order."""
        self._head(tag, STRUCT_BEGIN)
        write_fields(self)
        self._head(0, STRUCT_END)

    def write_list(self, tag, items, write_item):
        """vector<T>; write_item(writer, item) writes one element with tag 0."""
        items = list(items)
        self._head(tag, LIST)
        self.write_int(0, len(items), 32)
        for item in items:
            write_item(self, item)

    def write_map(self, tag, pairs, write_key, write_value):
        """map<K, V> from (key, value) pairs; keys are written with tag 0, values with tag 1."""
        pairs = list(pairs)
        self._head(tag, MAP)
        self.write_int(0, len(pairs), 32)
        for key, value in pairs:
            write_key(self, key)
            write_value(self, value)


class Reader:
    """Strict reader over one Tars encoding whose top level is a struct body.

    Read fields in ascending tag order with read_*(tag); an absent field gives the
    default. Fields with tags not asked for are skipped after being checked, or
    refused when the reader is made with unknown_fields=False. Call
    finish() after the last field: it checks the rest of the buffer and that nothing
    follows it.
    """

    def __init__(self, data, max_depth=MAX_DEPTH, unknown_fields=True):
        self._unknown_ok = unknown_fields  # False: a field nobody asked for is an error
        self._buf = bytes(data)
        self._pos = 0
        self._max_depth = max_depth
        self._depth = 0
        self._last = -1     # last tag consumed in the current struct or element
        self._item = False  # inside a list/map element: the next head must be the asked tag

    # -- raw bytes ---------------------------------------------------------------

    def _take(self, n):
        end = self._pos + n
        if end > len(self._buf):
            raise TarsError("truncated: need %d bytes at offset %d, have %d"
                            % (n, self._pos, len(self._buf) - self._pos))
        chunk = self._buf[self._pos:end]
        self._pos = end
        return chunk

    def _peek_head(self):
        """(tag, type, head length) of the head at the cursor, without consuming it."""
        if self._pos >= len(self._buf):
            raise TarsError("truncated: head expected at offset %d" % self._pos)
        byte = self._buf[self._pos]
        type_, tag, size = byte & 0x0F, byte >> 4, 1
        if type_ > SIMPLE_LIST:
            raise TarsError("unknown type code %d at offset %d" % (type_, self._pos))
        if tag == 15:
            if self._pos + 1 >= len(self._buf):
                raise TarsError("truncated: tag byte expected at offset %d" % (self._pos + 1))
            tag, size = self._buf[self._pos + 1], 2
            if tag < 15:
                # No Tars writer uses the long form for a small tag.
                raise TarsError("non-canonical head for tag %d at offset %d" % (tag, self._pos))
        return tag, type_, size

    def _inner_head(self, tag, what):
        """Consume a head that must carry `tag` (counts, element heads); return its type."""
        htag, type_, size = self._peek_head()
        if htag != tag:
            raise TarsError("%s: expected tag %d, got tag %d at offset %d" % (what, tag, htag, self._pos))
        self._pos += size
        return type_

    # -- scopes ------------------------------------------------------------------

    def _enter(self, item):
        if self._depth >= self._max_depth:
            raise TarsError("nesting deeper than %d" % self._max_depth)
        saved = (self._last, self._item)
        self._depth += 1
        self._last, self._item = -1, item
        return saved

    def _leave(self, saved):
        self._depth -= 1
        self._last, self._item = saved

    def _find(self, tag):
        """Move to field `tag` of the current scope; return its type, or None if absent."""
        _check_tag(tag)
        while True:
            if self._pos == len(self._buf) and self._depth == 0:
                return None
            htag, type_, size = self._peek_head()
            if self._item:
                # List and map elements carry exactly tags 0 (key/element) and 1 (value).
                if type_ == STRUCT_END or htag != tag or htag <= self._last:
                    raise TarsError("element: expected tag %d, got tag %d type %d at offset %d"
                                    % (tag, htag, type_, self._pos))
            elif type_ == STRUCT_END:
                if self._depth == 0:
                    raise TarsError("struct end outside a struct at offset %d" % self._pos)
                return None
            elif htag <= self._last:
                raise TarsError("tag %d after tag %d at offset %d (duplicate or out of order)"
                                % (htag, self._last, self._pos))
            if htag > tag:
                return None
            self._pos += size
            self._last = htag
            if htag == tag:
                return type_
            self._unknown(htag)
            self._skip_value(type_)

    def _unknown(self, tag):
        if not self._unknown_ok:
            raise TarsError("unknown field tag %d at offset %d (not in the schema)" % (tag, self._pos))

    def _skip_rest(self):
        """Skip the unread fields of the current struct; consume its STRUCT_END if nested."""
        while not (self._depth == 0 and self._pos == len(self._buf)):
            htag, type_, size = self._peek_head()
            if type_ == STRUCT_END:
                if self._depth == 0:
                    raise TarsError("struct end outside a struct at offset %d" % self._pos)
                if htag != 0:
                    raise TarsError("struct end with tag %d at offset %d" % (htag, self._pos))
                self._pos += 1
                return
            if htag <= self._last:
                raise TarsError("tag %d after tag %d at offset %d (duplicate or out of order)"
                                % (htag, self._last, self._pos))
            self._unknown(htag)
            self._pos += size
            self._last = htag
            self._skip_value(type_)

    # -- values ------------------------------------------------------------------

    def _int_value(self, type_, bits, what):
        if type_ not in _INT_TYPES[bits]:
            raise TarsError("%s: int%d expected, got type %d" % (what, bits, type_))
        if type_ == ZERO:
            return 0
        return int.from_bytes(self._take(_INT_SIZE[type_]), "big", signed=True)

    def _count(self, what):
        """Length or element count: an integer with tag 0, not negative, not past the end."""
        n = self._int_value(self._inner_head(0, what), 64, what)
        if n < 0:
            raise TarsError("%s: negative length %d" % (what, n))
        if n > len(self._buf) - self._pos:
            raise TarsError("%s: length %d overruns the buffer" % (what, n))
        return n

    def _string_value(self, type_, what):
        if type_ == STRING1:
            n = self._take(1)[0]
        elif type_ == STRING4:
            n = int.from_bytes(self._take(4), "big")
            if n > MAX_STRING:
                raise TarsError("%s: string length %d exceeds %d" % (what, n, MAX_STRING))
        else:
            raise TarsError("%s: string expected, got type %d" % (what, type_))
        return self._take(n)

    def _bytes_value(self, type_, what):
        if type_ != SIMPLE_LIST:
            raise TarsError("%s: vector<byte> expected, got type %d" % (what, type_))
        # tars2cpp writes the element head as the single byte 0x00 (int8, tag 0).
        if self._take(1) != b"\x00":
            raise TarsError("%s: simple list element head is not 0x00" % what)
        return self._take(self._count(what))

    def _skip_value(self, type_):
        if type_ in _FIXED_SIZE:
            self._take(_FIXED_SIZE[type_])
        elif type_ in (STRING1, STRING4):
            self._string_value(type_, "skipped field")
        elif type_ == SIMPLE_LIST:
            self._bytes_value(type_, "skipped field")
        elif type_ == STRUCT_BEGIN:
            saved = self._enter(False)
            self._skip_rest()
            self._leave(saved)
        elif type_ == STRUCT_END:
            raise TarsError("unexpected struct end at offset %d" % (self._pos - 1))
        else:  # LIST or MAP
            tags = (0,) if type_ == LIST else (0, 1)
            n = self._count("skipped field")
            saved = self._enter(True)
            for _ in range(n):
                for tag in tags:
                    self._skip_value(self._inner_head(tag, "skipped element"))
            self._leave(saved)

    # -- fields ------------------------------------------------------------------

    def read_int(self, tag, bits=64, default=0):
        """Integer field of a `bits`-wide kind (8, 16, 32, 64); accepts any narrower width."""
        type_ = self._find(tag)
        return default if type_ is None else self._int_value(type_, bits, "tag %d" % tag)

    def read_string(self, tag, default=b""):
        """String field as raw bytes (string1 or string4)."""
        type_ = self._find(tag)
        return default if type_ is None else self._string_value(type_, "tag %d" % tag)

    def read_bytes(self, tag, default=b""):
        """vector<byte> field (simple list)."""
        type_ = self._find(tag)
        return default if type_ is None else self._bytes_value(type_, "tag %d" % tag)

    def read_struct(self, tag, read_fields, default=None):
        """Nested struct field: returns read_fields(reader), which reads its fields."""
        type_ = self._find(tag)
        if type_ is None:
            return default
        if type_ != STRUCT_BEGIN:
            raise TarsError("tag %d: struct expected, got type %d" % (tag, type_))
        saved = self._enter(False)
        value = read_fields(self)
        self._skip_rest()
        self._leave(saved)
        return value

    def read_list(self, tag, read_item, default=()):
        """vector<T> field: a list of read_item(reader), each reading one element with tag 0."""
        type_ = self._find(tag)
        if type_ is None:
            return list(default)
        if type_ != LIST:
            raise TarsError("tag %d: list expected, got type %d" % (tag, type_))
        return self._entries(self._count("tag %d" % tag), 1, read_item)

    def read_map(self, tag, read_key, read_value, default=()):
        """map<K, V> field as a list of (key, value); keys read with tag 0, values with tag 1."""
        type_ = self._find(tag)
        if type_ is None:
            return list(default)
        if type_ != MAP:
            raise TarsError("tag %d: map expected, got type %d" % (tag, type_))
        return self._entries(self._count("tag %d" % tag), 2,
                             lambda r: (read_key(r), read_value(r)))

    def _entries(self, n, tags, read_entry):
        out = []
        saved = self._enter(True)
        for _ in range(n):
            self._last = -1
            out.append(read_entry(self))
            if self._last != tags - 1:
                raise TarsError("element reader consumed tags up to %d, expected %d"
                                % (self._last, tags - 1))
        self._leave(saved)
        return out

    def finish(self):
        """End of the top-level struct: skip unread fields, which must run exactly to the end."""
        if self._depth != 0:
            raise TarsError("finish() inside a nested value")
        self._skip_rest()
