"""Canonical CBOR of the device link (proto/link.md; RFC 8949 §4.2.1 core deterministic encoding).

Vectors: RFC 8949 Appendix A (the examples that are deterministic and within the
link's types), the key order example of RFC 8949 §4.2.1, and hand-made
non-canonical forms of the same values, each refused.
"""

from lightmeter.link import cbor
from lightmeter.errors import Malformed, Unsupported
from support import raises, unhex

# RFC 8949 Appendix A, Table 6: (value, encoding) for every example that is
# deterministically encoded and uses no float, tag or other simple value.
RFC8949_APPENDIX_A = [
    (0, "00"), (1, "01"), (10, "0a"), (23, "17"), (24, "1818"), (25, "1819"),
    (100, "1864"), (1000, "1903e8"), (1000000, "1a000f4240"),
    (1000000000000, "1b000000e8d4a51000"), (18446744073709551615, "1bffffffffffffffff"),
    (-18446744073709551616, "3bffffffffffffffff"),
    (-1, "20"), (-10, "29"), (-100, "3863"), (-1000, "3903e7"),
    (False, "f4"), (True, "f5"), (None, "f6"),
    (b"", "40"), (b"\x01\x02\x03\x04", "4401020304"),
    ("", "60"), ("a", "6161"), ("IETF", "6449455446"), ("\"\\", "62225c"),
    ("\u00fc", "62c3bc"), ("\u6c34", "63e6b0b4"), ("\U00010151", "64f0908591"),
    ([], "80"), ([1, 2, 3], "83010203"), ([1, [2, 3], [4, 5]], "8301820203820405"),
    (list(range(1, 26)), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
    ({}, "a0"), ({1: 2, 3: 4}, "a201020304"), ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
    (["a", {"b": "c"}], "826161a161626163"),
    ({"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"},
     "a56161614161626142616361436164614461656145"),
]

# RFC 8949 Appendix A examples outside the link encoding: tags (bignums, dates, URIs),
# floats, undefined, simple values and indefinite lengths. loads refuses each.
RFC8949_APPENDIX_A_REFUSED = [
    "c249010000000000000000", "c349010000000000000000",  # bignums 2**64, -2**64-1
    "f90000", "f98000", "f93c00", "fb3ff199999999999a", "f93e00", "f97bff",
    "fa47c35000", "fa7f7fffff", "fb7e37e43c8800759c", "f90001", "f90400", "f9c400",
    "fbc010666666666666", "f97c00", "f97e00", "f9fc00", "fa7f800000", "fa7fc00000",
    "faff800000", "fb7ff0000000000000", "fb7ff8000000000000", "fbfff0000000000000",
    "f7", "f0", "f8ff",  # undefined, simple(16), simple(255)
    "c074323031332d30332d32315432303a30343a30305a", "c11a514b67b0", "c1fb41d452d9ec200000",
    "d74401020304", "d818456449455446",
    "d82076687474703a2f2f7777772e6578616d706c652e636f6d",
    "5f42010243030405ff", "7f657374726561646d696e67ff", "9fff",
    "9f018202039f0405ffff", "9f01820203820405ff", "83018202039f0405ff", "83019f0203ff820405",
    "9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff",
    "bf61610161629f0203ffff", "826161bf61626163ff", "bf6346756ef563416d7421ff",
]

# Non-shortest heads of values that have a shorter one (RFC 8949 §4.2.1, first rule).
NOT_SHORTEST = [
    "1817", "180a", "1900ff", "190000", "1a0000ffff", "1a00000000", "1b00000000ffffffff",
    "1b0000000000000000", "3817", "3900ff", "3a0000ffff", "3b00000000ffffffff",
    "5801ff", "590001ff", "5a00000001ff", "5b0000000000000001ff",
    "780161", "79000161", "98010a", "9900010a", "b8010102", "b900010102",
]


def roundtrip(value, hexenc, **limits):
    enc = unhex(hexenc)
    assert cbor.dumps(value) == enc, (value, cbor.dumps(value).hex(), hexenc)
    assert cbor.loads(enc, **limits) == value, (hexenc, cbor.loads(enc, **limits))


def test_rfc8949_appendix_a_deterministic_examples():
    for value, hexenc in RFC8949_APPENDIX_A:
        roundtrip(value, hexenc)


def test_rfc8949_appendix_a_outside_the_link_encoding_refused():
    for hexenc in RFC8949_APPENDIX_A_REFUSED:
        raises(Malformed, cbor.loads, unhex(hexenc))


def test_decoded_types():
    assert type(cbor.loads(unhex("4401020304"))) is bytes
    assert type(cbor.loads(unhex("83010203"))) is list
    assert type(cbor.loads(unhex("a201020304"))) is dict
    assert cbor.loads(unhex("f5")) is True and cbor.loads(unhex("f4")) is False
    assert cbor.loads(unhex("f6")) is None


def test_integer_boundaries():
    for n, hexenc in ((23, "17"), (24, "1818"), (255, "18ff"), (256, "190100"),
                      (65535, "19ffff"), (65536, "1a00010000"), (4294967295, "1affffffff"),
                      (4294967296, "1b0000000100000000"), (-24, "37"), (-25, "3818"),
                      (-256, "38ff"), (-257, "390100"), (-4294967296, "3affffffff"),
                      (-4294967297, "3b0000000100000000")):
        roundtrip(n, hexenc)


def test_lengths_at_head_boundaries():
    for size, head in ((23, "57"), (24, "5818"), (255, "58ff"), (256, "590100"), (65536, "5a00010000")):
        b = bytes([7]) * size
        roundtrip(b, head + b.hex(), max_len=65536)
        t = "x" * size
        assert cbor.dumps(t) == bytes([unhex(head)[0] + 0x20]) + unhex(head)[1:] + t.encode()
        assert cbor.loads(cbor.dumps(t), max_len=65536) == t
    roundtrip([0] * 24, "9818" + "00" * 24)
    big = {}
    for i in range(24):
        big[i] = None
    roundtrip(big, "b818" + "".join("%02xf6" % i for i in range(24)))


def test_canonical_map_order_is_bytewise_over_encoded_keys():
    # RFC 8949 §4.2.1: keys sorted by the bytewise lexicographic order of their
    # encodings: 10 (0a), 100 (1864), -1 (20), h'' (40), h'61' (4161), "z" (617a),
    # "aa" (626161) — so "z" before "aa" and 100 before -1, unlike the length-first
    # order of RFC 7049 §3.9.
    expected = "a7" + "0a01" + "186402" + "2003" + "4004" + "416105" + "617a06" + "62616107"
    keys = [10, 100, -1, b"", b"a", "z", "aa"]
    for rot in range(len(keys)):
        order = keys[rot:] + keys[:rot]
        d = {}
        for k in order:
            d[k] = keys.index(k) + 1
        assert cbor.dumps(d).hex() == expected
    assert cbor.loads(unhex(expected)) == {10: 1, 100: 2, -1: 3, b"": 4, b"a": 5, "z": 6, "aa": 7}


def test_map_keys_length_first_order_refused():
    # {-1: 1, 24: 2} in RFC 7049 length-first order: -1 (20) before 24 (1818).
    e = raises(Malformed, cbor.loads, unhex("a220011818 02".replace(" ", "")))
    assert "order" in str(e)
    assert cbor.dumps({-1: 1, 24: 2}).hex() == "a21818022001"


def test_map_keys_unsorted_or_duplicate_refused():
    assert "order" in str(raises(Malformed, cbor.loads, unhex("a203040102")))
    assert "duplicate" in str(raises(Malformed, cbor.loads, unhex("a201020103")))
    assert "duplicate" in str(raises(Malformed, cbor.loads, unhex("a2616101616102")))
    raises(Malformed, cbor.loads, unhex("a2626161016162 02".replace(" ", "")))  # "aa" before "b"
    # nested maps are checked too
    raises(Malformed, cbor.loads, unhex("81a202010102"))
    raises(Malformed, cbor.loads, unhex("a101a202010102"))


def test_map_keys_other_than_int_text_bytes_refused():
    for hexenc in ("a18001", "a1a001", "a1f401", "a1f501", "a1f601", "a1820102 01".replace(" ", "")):
        e = raises(Malformed, cbor.loads, unhex(hexenc))
        assert "key" in str(e)
    for key in (True, None, (1, 2)):
        d = {}
        d[key] = 1
        raises(Unsupported, cbor.dumps, d)


def test_non_shortest_arguments_refused():
    for hexenc in NOT_SHORTEST:
        e = raises(Malformed, cbor.loads, unhex(hexenc))
        assert "shortest" in str(e), (hexenc, e)
    e = raises(Malformed, cbor.loads, unhex("82011817"))
    assert "offset 2" in str(e)


def test_indefinite_lengths_refused():
    for hexenc in ("5fff", "5f4101ff", "7fff", "7f6161ff", "9fff", "9f01ff", "bfff", "bf0102ff",
                   "81 9f ff".replace(" ", ""), "ff"):
        raises(Malformed, cbor.loads, unhex(hexenc))


def test_reserved_additional_information_refused():
    for hexenc in ("1c", "1d", "1e", "3c", "5d", "7e", "9c", "bd", "dc", "fc", "fd", "fe"):
        raises(Malformed, cbor.loads, unhex(hexenc))


def test_tags_refused():
    for hexenc in ("c000", "c06161", "c24101", "c34100", "d81840", "d9d9f700", "da0001000000", "c1 00".replace(" ", "")):
        assert "tag" in str(raises(Malformed, cbor.loads, unhex(hexenc)))


def test_floats_and_simple_values_refused():
    for hexenc in ("f90000", "fa00000000", "fb0000000000000000", "f7", "e0", "f3", "f814", "f820", "f8ff"):
        raises(Malformed, cbor.loads, unhex(hexenc))
    raises(Unsupported, cbor.dumps, 1.5)
    raises(Unsupported, cbor.dumps, [0.0])
    raises(Unsupported, cbor.dumps, {1: 2.0})


def test_trailing_bytes_refused():
    for hexenc in ("0000", "8000", "f6f6", "a000", "4100ff", "8101 01".replace(" ", "")):
        e = raises(Malformed, cbor.loads, unhex(hexenc))
        assert "after the item" in str(e)
    raises(Malformed, cbor.loads, b"")


def test_invalid_utf8_refused():
    bad = ["80", "bf", "c0 80", "c1 bf", "c3", "c3 28", "e0 80 80", "e0 9f bf", "ed a0 80",
           "ed bf bf", "e2 82", "f0 80 80 80", "f0 8f bf bf", "f4 90 80 80", "f5 80 80 80",
           "f8 88 80 80 80", "fe", "ff", "61 e2 82 28", "f0 90 85"]
    for h in bad:
        b = unhex(h.replace(" ", ""))
        raises(Malformed, cbor.loads, bytes([0x60 + len(b)]) + b)
    e = raises(Malformed, cbor.loads, unhex("626180"))
    assert "UTF-8" in str(e) and "offset 2" in str(e)


def test_valid_utf8_edges_accepted():
    for text, h in (("\u0080", "c280"), ("\u07ff", "dfbf"), ("\u0800", "e0a080"), ("\ud7ff", "ed9fbf"),
                    ("\ue000", "ee8080"), ("\uffff", "efbfbf"), ("\U00010000", "f0908080"),
                    ("\U0010ffff", "f48fbfbf"), ("a\u00fcb\u6c34c\U00010151", "61c3bc62e6b0b463f0908591")):
        b = unhex(h)
        roundtrip(text, "%02x" % (0x60 + len(b)) + h)


def sample():
    """A header-like structure: the shapes the link carries."""
    return {0: 1, 1: [[4, bytes(range(32))]], 2: bytes(32), 3: b"\xff" * 32, 4: b"\x01" * 32,
            5: 123456789, 6: "21000", 7: 1700000000000, 8: 3,
            9: [bytes([i]) * 64 for i in range(4)], 10: b"", 11: [1, 1, 1, 1],
            12: [[i, bytes([i + 1]) * 65] for i in range(3)], 13: -5, 14: None, 15: True,
            "text": "ü水𐅑", b"k": [[], {}, [[]]]}


def test_round_trip_of_nested_structure():
    value = sample()
    enc = cbor.dumps(value)
    assert cbor.loads(enc) == value
    assert cbor.dumps(cbor.loads(enc)) == enc


def test_bytes_like_and_tuples_encode_as_bytes_and_arrays():
    assert cbor.dumps(bytearray(b"ab")) == cbor.dumps(b"ab") == unhex("426162")
    assert cbor.dumps(memoryview(b"xab")[1:]) == unhex("426162")
    assert cbor.dumps((1, (2,))) == unhex("82018102")
    assert cbor.loads(bytearray(unhex("83010203"))) == [1, 2, 3]
    assert cbor.loads(memoryview(unhex("83010203"))) == [1, 2, 3]
    raises(Malformed, cbor.loads, "83010203")


def test_a_view_is_read_in_place_and_its_strings_copied_out():
    # A link frame's body arrives as a memoryview of the Deframer's buffer (link/frame.py).
    value = {1: b"\x00\xffbytes", 2: "text \u00e9", 3: [b"", b"x" * 300], b"k": {"t": 7}}
    buf = bytearray(b"\xff" + cbor.dumps(value) + b"\xff")
    got = cbor.loads(memoryview(buf)[1:-1])
    assert got == value
    assert type(got[1]) is bytes and type(got[3][1]) is bytes and type(got[2]) is str
    assert [type(k) for k in sorted(got, key=str)] == [int, int, int, bytes]
    for i in range(len(buf)):
        buf[i] = 0  # the source buffer reused: nothing decoded changes with it
    assert got == value
    # refused as from bytes, at the same offsets
    enc = cbor.dumps(sample())
    for k in range(len(enc)):
        raises(Malformed, cbor.loads, memoryview(bytearray(enc))[:k])
    raises(Malformed, cbor.loads, memoryview(enc + b"\x00"))


def test_truncation_at_every_offset_refused():
    enc = cbor.dumps(sample())
    for k in range(len(enc)):
        raises(Malformed, cbor.loads, enc[:k])


def test_integers_beyond_64_bits_unsupported():
    raises(Unsupported, cbor.dumps, 1 << 64)
    raises(Unsupported, cbor.dumps, -(1 << 64) - 1)
    raises(Unsupported, cbor.dumps, [0, 1 << 100])
    assert cbor.dumps((1 << 64) - 1) == unhex("1bffffffffffffffff")
    assert cbor.dumps(-(1 << 64)) == unhex("3bffffffffffffffff")


def test_unknown_types_unsupported():
    raises(Unsupported, cbor.dumps, object())
    raises(Unsupported, cbor.dumps, {1: set()})


def test_depth_bound():
    def nested(depth):
        v = 0
        for _ in range(depth):
            v = [v]
        return v
    assert cbor.loads(cbor.dumps(nested(16))) == nested(16)
    e = raises(Malformed, cbor.loads, cbor.dumps(nested(17)))
    assert "deeper" in str(e)
    raises(Malformed, cbor.loads, b"\x81" * 17 + b"\x80")  # the 17th level is an empty array
    assert cbor.loads(b"\x81" * 3 + b"\x00", max_depth=3) == nested(3)
    raises(Malformed, cbor.loads, b"\xa1\x00" * 4 + b"\x00", max_depth=3)
    raises(Malformed, cbor.loads, b"\x81" * 100000)  # refused at the bound, not at the end
    raises(Unsupported, cbor.dumps, nested(40))


def test_item_count_bound():
    assert cbor.loads(cbor.dumps([0] * 4095)) == [0] * 4095
    e = raises(Malformed, cbor.loads, cbor.dumps([0] * 4096))
    assert "items" in str(e)
    raises(Malformed, cbor.loads, cbor.dumps([[0] * 10] * 10), max_items=110)
    assert cbor.loads(cbor.dumps([[0] * 10] * 10), max_items=111) == [[0] * 10] * 10
    raises(Malformed, cbor.loads, unhex("b9ffff"))  # 65535 pairs announced, refused before reading
    raises(Malformed, cbor.loads, unhex("9bffffffffffffffff"))


def test_declared_lengths_beyond_the_input_refused():
    for hexenc in ("5bffffffffffffffff", "7b7fffffffffffffff", "5a00010000", "8200", "a10102a1"):
        raises(Malformed, cbor.loads, unhex(hexenc))
    raises(Malformed, cbor.loads, unhex("9a000f4240") + bytes(100), max_items=10 ** 7)


def test_string_length_bound():
    assert cbor.loads(cbor.dumps(bytes(16384))) == bytes(16384)
    assert "limit" in str(raises(Malformed, cbor.loads, cbor.dumps(bytes(16385))))
    raises(Malformed, cbor.loads, cbor.dumps("a" * 11), max_len=10)
    assert cbor.loads(cbor.dumps("a" * 10), max_len=10) == "a" * 10


def test_dump_pieces_join_to_dumps_and_keep_long_byte_strings_uncopied():
    node = bytes(range(64))
    values = [v for v, _ in RFC8949_APPENDIX_A] + [
        [1, [node, 2, node, 3], b"ab" * 40, "t" * 40, {1: node}], node, [node], b"x" * 31, b"x" * 32]
    for value in values:
        for big in (1, 32, 64, 1000):
            parts = cbor.dump_pieces(value, big)
            assert b"".join(bytes(p) for p in parts) == cbor.dumps(value), (value, big)
    parts = cbor.dump_pieces([1, [node, 2, node]], 32)
    assert [p is node for p in parts] == [False, True, False, True]
    # text and short byte strings are copied into the pieces between
    assert all(p is not node for p in cbor.dump_pieces(["t" * 64, node[:31]], 32))
    raises(Unsupported, cbor.dump_pieces, [1.5])
