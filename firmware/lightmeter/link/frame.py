"""Frames of the device link (proto/link.md, "Frames"): COBS, CRC-32, and the message body.

    frame = COBS(body || crc32(body) little-endian) || 0x00
    body  = canonical CBOR [version, type, id, payload]

COBS (Cheshire & Baker 1999) leaves 0x00 only at the end of a frame, so a
receiver finds frame boundaries again after any noise: Deframer drops whatever
does not decode or check, counts it, and starts over at the next 0x00.
"""

import binascii

from lightmeter.link import cbor
from lightmeter.errors import Malformed, Unsupported

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


VERSION = 1
MAX_FRAME = 8192  # bytes of body; a longer frame is dropped
_MAX_ID = const(0xFFFF)
# Longest encoded frame, its 0x00 not counted: body, CRC, and one COBS code byte per
# 254 bytes (and one more).
MAX_ENCODED = MAX_FRAME + 4 + 1 + (MAX_FRAME + 4) // 254

_ZERO = const(b"\x00")


def cobs_encode(data):
    """COBS of data: the same bytes with every 0x00 removed, at most 1 byte per 254 longer."""
    if not isinstance(data, bytes):
        data = bytes(data)
    out = bytearray()
    n = len(data)
    i = 0
    while True:
        z = data.find(_ZERO, i)
        end = n if z < 0 else z
        seg = i
        while end - i >= 254:  # a full block: code 0xFF, 254 bytes, no zero implied
            out.append(0xFF)
            out.extend(data[i:i + 254])
            i += 254
        rest = end - i
        if z < 0:
            # The last block; after a full block that ended the data, none is needed.
            if rest or i == seg:
                out.append(rest + 1)
                out.extend(data[i:end])
            return bytes(out)
        out.append(rest + 1)  # the block ends where data had a 0x00
        out.extend(data[i:end])
        i = end + 1


def cobs_decode(data):
    """The bytes COBS-encoded in data (no trailing 0x00), or Malformed."""
    if not isinstance(data, bytes):
        data = bytes(data)
    n = len(data)
    if not n:
        raise Malformed("COBS: empty")
    if data.find(_ZERO) >= 0:
        raise Malformed("COBS: zero byte at offset %d" % data.find(_ZERO))
    out = bytearray()
    i = 0
    while i < n:
        code = data[i]
        end = i + code
        if end > n:
            raise Malformed("COBS: block at offset %d runs %d bytes past the end" % (i, end - n))
        out.extend(data[i + 1:end])
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def _crc(body):
    return (binascii.crc32(body) & 0xFFFFFFFF).to_bytes(4, "little")


def encode_frame(body):
    """The frame carrying body: COBS(body || CRC-32 LE) and the closing 0x00."""
    if not isinstance(body, bytes):
        body = bytes(body)
    if len(body) > MAX_FRAME:
        raise Unsupported("frame: body of %d bytes, limit %d" % (len(body), MAX_FRAME))
    return cobs_encode(body + _crc(body)) + _ZERO


def decode_frame(encoded):
    """The body of one frame given without its 0x00, or Malformed (COBS, size, CRC)."""
    if len(encoded) > MAX_ENCODED:
        raise Malformed("frame: longer than %d bytes" % MAX_ENCODED)
    raw = cobs_decode(encoded)
    if len(raw) < 5:
        raise Malformed("frame: %d bytes, too short for a body and its CRC" % len(raw))
    body = raw[:-4]
    if len(body) > MAX_FRAME:
        raise Malformed("frame: body of %d bytes, limit %d" % (len(body), MAX_FRAME))
    if raw[-4:] != _crc(body):
        raise Malformed("frame: CRC mismatch")
    return body


class Deframer:
    """Incremental receiver: feed it bytes as they come, get back the bodies of good frames.

    Bad frames (COBS, CRC, too long) are dropped and counted in .dropped; empty
    frames (0x00 0x00) are ignored. It holds at most MAX_ENCODED bytes: a longer
    run without 0x00 is counted once and discarded up to the next 0x00.

    Its buffer starts at `size` bytes, doubles as a frame needs it (up to MAX_ENCODED) and
    goes back to `size` once that frame is decoded: a device keeps a small buffer between
    frames instead of the largest frame's 8 KiB (the device cycle's heap, bench/RESULTS.md).

    A body is a memoryview (equal to the bytes it holds; bytes(body) for a copy) over the
    buffer its frame was decoded in, which the Deframer hands over with it and never writes
    again: receiving a frame costs its buffer and no copy of the body (cbor.loads reads the
    view in place and copies out only the strings it keeps).
    """

    def __init__(self, size=256):
        self._size = size
        self._buf = bytearray(size)
        self._mv = memoryview(self._buf)
        self._n = 0  # bytes held of the frame under way
        self._skip = False  # inside an over-long run: discard up to the next 0x00
        self.dropped = 0

    def reset(self):
        """Forget the frame under way (its bytes are not counted as dropped)."""
        self._n = 0
        self._skip = False

    def _hold(self, chunk):
        # Keep chunk as part of the frame under way, or give up on that frame if too long.
        k = len(chunk)
        if self._skip or not k:
            return
        need = self._n + k
        if need > MAX_ENCODED:
            self._n = 0
            self._skip = True
            self.dropped += 1
            self._shrink()
            return
        if need > len(self._buf):
            size = len(self._buf) << 1
            while size < need:
                size <<= 1
            buf = bytearray(min(size, MAX_ENCODED))
            buf[:self._n] = self._mv[:self._n]
            self._buf = buf
            self._mv = memoryview(buf)
        self._mv[self._n:need] = chunk
        self._n = need

    def _shrink(self):
        # Back to the initial buffer once a large frame is done with.
        if len(self._buf) > self._size:
            self._buf = bytearray(self._size)
            self._mv = memoryview(self._buf)

    def feed(self, data):
        """Bodies (memoryviews, see the class) of the frames completed by data, in order."""
        if not isinstance(data, bytes):
            data = bytes(data)
        bodies = []
        i = 0
        n = len(data)
        while i < n:
            z = data.find(_ZERO, i)
            if z < 0:
                self._hold(data[i:])
                break
            self._hold(data[i:z])
            i = z + 1
            if self._skip:
                self._skip = False
                continue
            if not self._n:
                continue  # an empty frame: a sender's 0x00 closing earlier noise
            held = self._n
            self._n = 0
            try:
                bodies.append(self._decode_held(held))
            except Malformed:
                self.dropped += 1
            self._shrink()
        return bodies

    def _decode_held(self, n):
        # decode_frame of the n bytes held, COBS undone in place (the output never overtakes the
        # input); the body is a view of the buffer, which goes with it (a new one takes over).
        buf = self._buf
        i = out = 0
        while i < n:
            code = buf[i]
            end = i + code
            if end > n:
                raise Malformed("COBS: block at offset %d runs %d bytes past the end" % (i, end - n))
            k = code - 1
            buf[out:out + k] = buf[i + 1:end]
            out += k
            i = end
            if code != 0xFF and i < n:
                buf[out] = 0
                out += 1
        if out < 5:
            raise Malformed("frame: %d bytes, too short for a body and its CRC" % out)
        if out - 4 > MAX_FRAME:
            raise Malformed("frame: body of %d bytes, limit %d" % (out - 4, MAX_FRAME))
        mv = self._mv
        body = mv[:out - 4]
        if (binascii.crc32(body) & 0xFFFFFFFF).to_bytes(4, "little") != bytes(mv[out - 4:out]):
            raise Malformed("frame: CRC mismatch")
        self._buf = bytearray(self._size)
        self._mv = memoryview(self._buf)
        return body


def _check(version, type, id, payload):
    if version != VERSION or version is True:
        raise Malformed("message: version %r, expected %d" % (version, VERSION))
    if not _uint(type):
        raise Malformed("message: type must be an unsigned integer")
    if not _uint(id) or id > _MAX_ID:
        raise Malformed("message: id must be an integer in 0..%d" % _MAX_ID)
    if payload is not None:
        if not isinstance(payload, dict):
            raise Malformed("message: payload must be a map or null")
        for k in payload:
            if not _uint(k):
                raise Malformed("message: payload keys must be unsigned integers")


def _uint(x):
    return isinstance(x, int) and x is not True and x is not False and x >= 0


def pack(version, type, id, payload):
    """The body of a message: canonical CBOR [version, type, id, payload]."""
    _check(version, type, id, payload)
    return cbor.dumps([version, type, id, payload])


def encode_message(type, id, payload):
    """The bytes that carry one message on the line: a 0x00 (ending any noise before it),
    then the frame of its body at this VERSION."""
    return _ZERO + encode_frame(pack(VERSION, type, id, payload))


def unpack(body):
    """(version, type, id, payload) of a body, or Malformed."""
    msg = cbor.loads(body)
    if not isinstance(msg, list) or len(msg) != 4:
        raise Malformed("message: expected an array of 4 items")
    version, type, id, payload = msg
    _check(version, type, id, payload)
    return version, type, id, payload
