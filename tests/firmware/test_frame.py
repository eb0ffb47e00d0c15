"""Frames of the device link (proto/link.md, "Frames"): COBS, CRC-32, Deframer, message bodies.

COBS vectors: the encoding examples of Wikipedia's "Consistent Overhead Byte
Stuffing" article (examples 1-11, which follow Cheshire & Baker, IEEE/ACM
Transactions on Networking 7(2), 1999); there the trailing 0x00 is the frame
delimiter, which cobs_encode leaves to encode_frame. Frame vectors:
tests/vectors/link.json, computed by us from proto/link.md (a copy of
proto/vectors/link.json; tests/host/test_cbor_oracle.py checks them against cbor2
and zlib and that both copies are identical).
"""

import binascii

from lightmeter.link import cbor, frame
from lightmeter.errors import Malformed, Unsupported
from support import load_vector, raises, unhex


def _run(lo, hi):
    return bytes(range(lo, hi + 1))


# (data, encoded without the delimiter)
COBS_WIKIPEDIA = [
    (unhex("00"), unhex("0101")),                                                 # 1
    (unhex("0000"), unhex("010101")),                                             # 2
    (unhex("001100"), unhex("01021101")),                                         # 3
    (unhex("11220033"), unhex("0311220233")),                                     # 4
    (unhex("11223344"), unhex("0511223344")),                                     # 5
    (unhex("11000000"), unhex("0211010101")),                                     # 6
    (_run(0x01, 0xFE), b"\xff" + _run(0x01, 0xFE)),                               # 7
    (_run(0x00, 0xFE), b"\x01\xff" + _run(0x01, 0xFE)),                           # 8
    (_run(0x01, 0xFF), b"\xff" + _run(0x01, 0xFE) + b"\x02\xff"),                 # 9
    (_run(0x02, 0xFF) + b"\x00", b"\xff" + _run(0x02, 0xFF) + b"\x01\x01"),       # 10
    (_run(0x03, 0xFF) + b"\x00\x01", b"\xfe" + _run(0x03, 0xFF) + b"\x02\x01"),   # 11
]


def _noise(n, seed):
    # Deterministic bytes (a small LCG), zeros included.
    out = bytearray()
    x = seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append((x >> 16) & 0xFF)
    return bytes(out)


def _bodies():
    return [frame.pack(1, 7, 1, {0: 5}),
            frame.pack(1, 8, 2, {0: 0, 1: [[4, bytes(32)]], 2: _noise(300, 1), 5: 5, 9: [bytes(64)] * 4}),
            frame.pack(1, 15, 3, {0: 4, 1: "not found yet"})]


def test_cobs_wikipedia_examples():
    for data, enc in COBS_WIKIPEDIA:
        assert frame.cobs_encode(data) == enc, (data.hex(), frame.cobs_encode(data).hex())
        assert frame.cobs_decode(enc) == data


def test_cobs_empty_packet_is_one_code_byte():
    # Cheshire & Baker: an empty packet encodes as the single code byte 0x01.
    assert frame.cobs_encode(b"") == b"\x01"
    assert frame.cobs_decode(b"\x01") == b""


def test_cobs_round_trips_and_never_emits_zero():
    for n in (1, 2, 253, 254, 255, 256, 507, 508, 509, 1000):
        for seed in (1, 2, 3):
            data = _noise(n, seed)
            for d in (data, data.replace(b"\x00", b"\x01"), bytes(n)):
                enc = frame.cobs_encode(d)
                assert 0 not in enc
                assert len(enc) <= len(d) + 1 + len(d) // 254
                assert frame.cobs_decode(enc) == d


def test_cobs_decode_refuses_bad_input():
    for bad in (b"", b"\x02\x00", b"\x00", b"\x01\x00\x01", b"\x05\x11\x22", b"\x02", b"\x03\x11",
                b"\xff" + bytes(range(1, 200))):
        raises(Malformed, frame.cobs_decode, bad)


def test_cobs_decode_accepts_a_redundant_last_block():
    # After a full block at the end, the canonical encoder writes nothing more;
    # an extra empty block (code 0x01) decodes to the same bytes.
    assert frame.cobs_decode(b"\xff" + _run(1, 254) + b"\x01") == _run(1, 254)


def test_crc32_is_ieee_and_little_endian():
    # CRC-32 (IEEE 802.3) check value of "123456789" is 0xCBF43926.
    f = frame.encode_frame(b"123456789")
    assert f == frame.cobs_encode(b"123456789" + unhex("2639f4cb")) + b"\x00"
    assert f[-1] == 0 and 0 not in f[:-1]


def test_frame_round_trip():
    for body in _bodies() + [b"\x00", b"\x00" * 300, _noise(1000, 9), bytes(frame.MAX_FRAME)]:
        f = frame.encode_frame(body)
        assert frame.decode_frame(f[:-1]) == body
        d = frame.Deframer()
        assert d.feed(f) == [body]
        assert d.dropped == 0


def _unchecked_frame(body):
    # A frame built by hand, without encode_frame's size check.
    crc = (binascii.crc32(body) & 0xFFFFFFFF).to_bytes(4, "little")
    return frame.cobs_encode(body + crc) + b"\x00"


def test_body_size_bound():
    raises(Unsupported, frame.encode_frame, bytes(frame.MAX_FRAME + 1))
    assert _unchecked_frame(bytes(frame.MAX_FRAME)) == frame.encode_frame(bytes(frame.MAX_FRAME))
    good = frame.encode_frame(b"\x80")
    # All zeros: COBS adds one byte, so the frame fits the buffer and the body size is what fails.
    over = _unchecked_frame(bytes(frame.MAX_FRAME + 1))
    assert len(over) - 1 <= frame.MAX_ENCODED
    raises(Malformed, frame.decode_frame, over[:-1])
    # No zeros: the encoded frame outgrows the buffer before its end.
    over_long = _unchecked_frame(b"\x01" * (frame.MAX_FRAME + 1))
    assert len(over_long) - 1 > frame.MAX_ENCODED
    for bad in (over, over_long):
        d = frame.Deframer()
        assert d.feed(bad + good) == [b"\x80"]
        assert d.dropped == 1


def test_deframer_bounds_a_run_without_zero():
    d = frame.Deframer()
    junk = _noise(20000, 5).replace(b"\x00", b"\x01")
    for i in range(0, len(junk), 700):
        assert d.feed(junk[i:i + 700]) == []
        assert d._n <= frame.MAX_ENCODED
    assert d.dropped == 1  # one over-long run, counted once
    good = _bodies()[0]
    assert d.feed(b"\x00" + frame.encode_frame(good)) == [good]
    assert d.dropped == 1
    assert d.feed(junk + b"\x00" + frame.encode_frame(good)) == [good]  # in one piece too
    assert d.dropped == 2


def test_deframer_ignores_empty_frames():
    d = frame.Deframer()
    assert d.feed(b"\x00\x00\x00") == []
    body = _bodies()[0]
    assert d.feed(b"\x00" + frame.encode_frame(body) + b"\x00\x00") == [body]
    assert d.dropped == 0


def test_deframer_drops_frames_too_short_for_a_crc():
    d = frame.Deframer()
    for junk in (b"\x01", b"\x02\x11", b"\x05\x01\x02\x03\x04", b"\x01\x01"):
        assert d.feed(junk + b"\x00") == []
    assert d.dropped == 4


def _stream(bodies):
    return b"".join(frame.encode_frame(b) for b in bodies)


def test_deframer_whole_split_and_byte_by_byte_agree():
    bodies = _bodies()
    s = _stream(bodies)
    d = frame.Deframer()
    assert d.feed(s) == bodies
    d = frame.Deframer()
    got = []
    for i in range(len(s)):
        got += d.feed(s[i:i + 1])
    assert got == bodies
    for step in (2, 3, 7, 64, 255):
        d = frame.Deframer()
        got = []
        for i in range(0, len(s), step):
            got += d.feed(bytearray(s[i:i + step]))
        assert got == bodies and d.dropped == 0


def test_deframer_flipped_byte_costs_one_frame():
    b1, b2, b3 = _bodies()
    f1, f2, f3 = (frame.encode_frame(b) for b in (b1, b2, b3))
    for pos in range(0, len(f2) - 1, 3):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(f2)
            bad[pos] ^= mask
            d = frame.Deframer()
            assert d.feed(f1 + bytes(bad) + f3) == [b1, b3], (pos, mask)
            assert d.dropped >= 1


def test_deframer_dropped_byte_costs_one_frame():
    b1, b2, b3 = _bodies()
    f1, f2, f3 = (frame.encode_frame(b) for b in (b1, b2, b3))
    for pos in range(0, len(f2) - 1, 2):
        d = frame.Deframer()
        assert d.feed(f1 + f2[:pos] + f2[pos + 1:] + f3) == [b1, b3], pos
        assert d.dropped == 1
    # Losing a delimiter merges two frames into one bad one; a sender that starts
    # each frame with 0x00 loses nothing, and a delimiter turned into noise costs
    # only its own frame.
    d = frame.Deframer()
    assert d.feed(f1 + f2[:-1] + f3) == [b1]
    d = frame.Deframer()
    assert d.feed(b"\x00" + f1 + b"\x00" + f2[:-1] + b"\x00" + f3) == [b1, b2, b3]
    d = frame.Deframer()
    assert d.feed(b"\x00" + f1 + b"\x00" + f2[:-1] + b"\x5a" + b"\x00" + f3) == [b1, b3]


def test_deframer_inserted_byte_costs_one_frame():
    b1, b2, b3 = _bodies()
    f1, f2, f3 = (frame.encode_frame(b) for b in (b1, b2, b3))
    for pos in range(1, len(f2) - 1, 5):
        for byte in (b"\x00", b"\x01", b"\x5a", b"\xff"):
            d = frame.Deframer()
            assert d.feed(f1 + f2[:pos] + byte + f2[pos:] + f3) == [b1, b3], (pos, byte)


def test_deframer_garbage_prefix():
    bodies = _bodies()
    s = _stream(bodies)
    garbage = _noise(500, 77)
    d = frame.Deframer()
    assert d.feed(garbage + b"\x00" + s) == bodies  # the sender's leading 0x00 closes the noise
    d = frame.Deframer()
    got = d.feed(garbage.replace(b"\x00", b"\x01") + s)  # no 0x00 in between: the first frame is lost
    assert got == bodies[1:]
    assert d.dropped == 1


def test_pack_unpack_round_trip():
    for args in ((1, 1, 0, None), (1, 7, 65535, {0: 5}), (1, 8, 9, {0: [1, b"x"], 14: {"a": -1}})):
        body = frame.pack(*args)
        assert frame.unpack(body) == args
        assert cbor.loads(body) == list(args)
    assert frame.pack(1, 7, 3, {0: 5}) == unhex("84010703a10005")


def test_unpack_refuses_bad_messages():
    for value in ([1, 7, 1], [1, 7, 1, None, None], {0: 1}, 1, [2, 7, 1, None], [0, 7, 1, None],
                  [True, 7, 1, None], [1, -1, 1, None], [1, "x", 1, None], [1, False, 1, None],
                  [1, 7, 65536, None], [1, 7, -1, None], [1, 7, b"\x01", None], [1, 7, 1, [0]],
                  [1, 7, 1, "x"], [1, 7, 1, {"a": 1}], [1, 7, 1, {-1: 1}], [1, 7, 1, {b"": 1}]):
        raises(Malformed, frame.unpack, cbor.dumps(value))
    raises(Malformed, frame.unpack, unhex("8401070118"))  # truncated
    raises(Malformed, frame.unpack, unhex("84010701f600"))  # trailing byte
    raises(Malformed, frame.unpack, unhex("8401071801f6"))  # id not shortest
    raises(Malformed, frame.unpack, b"")


def test_pack_refuses_what_unpack_refuses():
    for args in ((2, 7, 1, None), (1, -1, 1, None), (1, 7, 65536, None), (1, 7, 1, [0]),
                 (1, 7, 1, {"a": 1}), (True, 7, 1, None), (1, True, 1, None)):
        raises(Malformed, frame.pack, *args)


def _payload(v):
    # The vector file's notation: {"hex": h} is a byte string; any other object a map with uint keys.
    if isinstance(v, dict):
        if len(v) == 1 and "hex" in v:
            return unhex(v["hex"])
        out = {}
        for k in v:
            out[int(k)] = _payload(v[k])
        return out
    if isinstance(v, list):
        return [_payload(x) for x in v]
    return v


def test_link_vectors():
    vectors = load_vector("link.json")["frames"]
    names = [v["name"] for v in vectors]
    for name in ("hello", "get_header", "error"):
        assert name in names
    all_frames = b""
    for v in vectors:
        payload = _payload(v["payload"])
        body = unhex(v["body"])
        f = unhex(v["frame"])
        assert frame.pack(v["version"], v["type"], v["id"], payload) == body, v["name"]
        assert frame.unpack(body) == (v["version"], v["type"], v["id"], payload)
        assert frame.encode_frame(body) == f
        assert frame.Deframer().feed(f) == [body]
        all_frames += f
    assert frame.Deframer().feed(all_frames) == [unhex(v["body"]) for v in vectors]
    gh = vectors[names.index("get_header")]
    assert _payload(gh["payload"]) == {0: 5} and gh["type"] == 7


def test_deframer_bodies_are_views_that_later_frames_never_overwrite():
    bodies = [b"\x01" * 10, _noise(600, 3), b"\x00\x00", _noise(3000, 4), b"\x02"]
    stream = b"".join(frame.encode_frame(b) for b in bodies)
    d = frame.Deframer()
    got = d.feed(stream[:700]) + d.feed(stream[700:])
    assert got == bodies and all(isinstance(b, memoryview) for b in got)
    more = _noise(5000, 6)  # noise and more frames through the same Deframer
    d.feed(more + b"\x00" + frame.encode_frame(more[:900]) + frame.encode_frame(b"\x03" * 300))
    assert got == bodies and [bytes(b) for b in got] == bodies


def test_deframer_buffer_grows_for_a_frame_and_shrinks_after_it():
    body = _noise(3000, 11)
    f = frame.encode_frame(body)
    for step in (1, 63, 64, 255, 256, 257, 1000, len(f)):
        d = frame.Deframer()
        got = []
        for i in range(0, len(f), step):
            got += d.feed(f[i:i + step])
            assert len(d._buf) <= frame.MAX_ENCODED
        assert got == [body] and d.dropped == 0
        assert len(d._buf) == 256  # back to its small buffer once the frame is out
    d = frame.Deframer(size=16)
    assert d.feed(f + frame.encode_frame(b"\x01\x02")) == [body, b"\x01\x02"] and len(d._buf) == 16
    # a frame over the limit gives the buffer back too
    d = frame.Deframer()
    assert d.feed(b"\x01" * (frame.MAX_ENCODED + 10)) == [] and d.dropped == 1 and len(d._buf) == 256
