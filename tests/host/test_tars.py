"""Tars codec (lightmeter_host.chain.tars) and FISCO transaction transport encoding (lightmeter_host.chain.txcodec).

Rules are from TarsCloud/TarsCpp servant/tup/Tars.h (wire format) and tools/tars2cpp (which
fields a generated writer emits); the schema is FISCO-BCOS bcos-tars-protocol/.../Transaction.tars.
Real vectors: the FISCO-BCOS-DOC sendTransaction example (tests/vectors/fisco-doc-sendTransaction.json)
and a v1 transaction from the FISCO-BCOS/java-sdk tests (below).
"""

import json
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightmeter.errors import Malformed

from lightmeter_host.chain import tars
from lightmeter_host.chain.tars import Reader, TarsError, Writer
from lightmeter_host.chain.txcodec import (DATA_FIELDS, FIELD_NAMES, LEGACY_REQUIRED, TX_FIELDS,
                                decode_hex, decode_transaction, encode_transaction)

VECTORS = pathlib.Path(__file__).resolve().parent.parent / "vectors"
DOC = json.loads((VECTORS / "fisco-doc-sendTransaction.json").read_text())
DOC_RAW = decode_hex(DOC["request_params"][2])

# FISCO-BCOS/java-sdk src/test/java/org/fisco/bcos/sdk/v3/test/transaction/codec/
# TransactionDecodeTest.java, testDeocde, `txV1` (commit cd6fe37a9fcf1264e279c3d42a7d879d7784d8a9):
# a version 1 transaction as the SDK encodes it.
JAVA_SDK_V1 = (
    "0x1a10012606636861696e30360667726f7570304101fb5620373164643033343562313537343735373864353137"
    "6661366164623330393461662a3078333165643532333362383163373964356164646465656639393166353331"
    "613962626332616430317d0000644ed3885e00000000000000000000000000000000000000000000000000000000"
    "0000002000000000000000000000000000000000000000000000000000000000000000047465730a000000000000"
    "000000000000000000000000000000000000000000009603307830a6033078300b2d0000205bb1fa7f6b420cbc5d"
    "99f075edf4e2f340d003f76c35cc95d83ce3d6f790a4823d0000418f72ab9782925d323e759aa6d1bfc492160d84"
    "176030712395530dc42bdf973b0c4dcb64e20fcbd922e417f04010ed4cbd3e86c073da00292e49b301a4e2554c01"
    "5001"
)

KINDS = {name: kind for name, _, kind in DATA_FIELDS + TX_FIELDS}
BITS = {"int8": 8, "int32": 32, "int64": 64}
DEFAULTS = {"int8": 0, "int32": 0, "int64": 0, "str": "", "bytes": b""}
BOUNDARY_INTS = [0, 1, 127, 128, -128, -129, 32767, 32768, 2**31 - 1, 2**31, -2**63, 2**63 - 1]


def full(tx):
    """tx with every missing field at its default, as decode_transaction returns it."""
    return {name: tx.get(name, DEFAULTS[KINDS[name]]) for name in FIELD_NAMES}


def expected_doc_fields():
    out = {}
    for name, value in DOC["fields"].items():
        out[name] = bytes.fromhex(value[2:]) if KINDS[name] == "bytes" else value
    return out


def one_field(write):
    w = Writer()
    write(w)
    return w.getvalue()


# -- real vectors ------------------------------------------------------------------------

def test_doc_vector_decodes_every_field():
    assert decode_transaction(DOC_RAW) == expected_doc_fields()


def test_doc_vector_reencodes_exactly_with_legacy_required_fields():
    assert encode_transaction(decode_transaction(DOC_RAW), legacy_required=True) == DOC_RAW


def test_doc_vector_current_writer_omits_version_zero():
    # tars2cpp --check-default (the default) writes `if (version != 0)`; the doc's SDK wrote 1c.
    assert DOC_RAW[:3] == bytes.fromhex("1a1c26")
    assert encode_transaction(decode_transaction(DOC_RAW)) == DOC_RAW[:1] + DOC_RAW[2:]


def test_java_sdk_v1_vector_roundtrips_exactly():
    raw = decode_hex(JAVA_SDK_V1)
    tx = decode_transaction(raw)
    assert tx["version"] == 1 and tx["blockLimit"] == 507
    assert tx["chainID"] == "chain0" and tx["groupID"] == "group0"
    assert tx["nonce"] == "71dd0345b15747578d517fa6adb3094a"
    assert tx["to"] == "0x31ed5233b81c79d5adddeef991f531a9bbc2ad01"
    assert tx["value"] == "0x0" and tx["gasPrice"] == "0x0" and tx["gasLimit"] == 0
    assert len(tx["input"]) == 100 and len(tx["signature"]) == 65
    assert tx["dataHash"].hex() == "5bb1fa7f6b420cbc5d99f075edf4e2f340d003f76c35cc95d83ce3d6f790a482"
    assert tx["attribute"] == 1
    assert encode_transaction(tx) == raw


# -- wire rules --------------------------------------------------------------------------

def test_head_byte_is_tag_high_nibble_type_low_nibble():
    assert one_field(lambda w: w.write_int(3, 1)) == b"\x30\x01"
    assert one_field(lambda w: w.write_int(14, 0)) == b"\xec"


def test_tags_from_15_take_an_extra_byte():
    assert one_field(lambda w: w.write_int(15, 1)) == b"\xf0\x0f\x01"
    assert one_field(lambda w: w.write_int(255, 0)) == b"\xfc\xff"
    r = Reader(b"\xf0\x0f\x01\xfc\xff")
    assert (r.read_int(15), r.read_int(255)) == (1, 0)
    r.finish()
    with pytest.raises(TarsError):
        one_field(lambda w: w.write_int(256, 0))


@pytest.mark.parametrize("value, wire", [
    (0, "0c"), (1, "0001"), (127, "007f"), (128, "010080"), (-128, "0080"), (-129, "01ff7f"),
    (32767, "017fff"), (32768, "0200008000"), (2**31 - 1, "027fffffff"),
    (2**31, "030000000080000000"), (-2**63, "038000000000000000"), (2**63 - 1, "037fffffffffffffff"),
])
def test_integers_use_the_narrowest_width(value, wire):
    assert one_field(lambda w: w.write_int(0, value)).hex() == wire
    r = Reader(bytes.fromhex(wire))
    assert r.read_int(0) == value
    r.finish()


def test_integer_reader_accepts_any_width_up_to_its_kind():
    for wire in ("0c", "0001", "010001", "0200000001", "030000000000000001"):
        expected = 0 if wire == "0c" else 1
        assert Reader(bytes.fromhex(wire)).read_int(0, 64) == expected
    with pytest.raises(TarsError):
        Reader(bytes.fromhex("0200000001")).read_int(0, 16)
    with pytest.raises(TarsError):
        Reader(bytes.fromhex("010001")).read_int(0, 8)


def test_integer_out_of_range_for_its_kind_is_refused_on_write():
    with pytest.raises(TarsError):
        one_field(lambda w: w.write_int(1, 2**31, 32))
    with pytest.raises(TarsError):
        one_field(lambda w: w.write_int(1, -129, 8))
    with pytest.raises(TypeError):
        one_field(lambda w: w.write_int(1, True))


def test_strings_up_to_255_bytes_are_string1_longer_are_string4():
    s255 = one_field(lambda w: w.write_string(2, "a" * 255))
    s256 = one_field(lambda w: w.write_string(2, "a" * 256))
    assert s255[:2] == b"\x26\xff" and len(s255) == 2 + 255
    assert s256[:5] == b"\x27\x00\x00\x01\x00" and len(s256) == 5 + 256
    assert Reader(s255).read_string(2) == b"a" * 255
    assert Reader(s256).read_string(2) == b"a" * 256
    # string4 with a short length is what some writers could send: read, not re-encoded.
    assert Reader(b"\x27\x00\x00\x00\x02hi").read_string(2) == b"hi"


def test_vector_of_bytes_is_a_simple_list():
    assert one_field(lambda w: w.write_bytes(7, b"ab")) == b"\x7d\x00\x00\x02ab"
    assert one_field(lambda w: w.write_bytes(7, b"")) == b"\x7d\x00\x0c"
    assert Reader(b"\x7d\x00\x00\x02ab").read_bytes(7) == b"ab"
    assert Reader(b"\x7d\x00\x01\x00\x02ab").read_bytes(7) == b"ab"  # wider length int


def test_struct_is_begin_fields_end():
    wire = one_field(lambda w: w.write_struct(1, lambda s: s.write_int(1, 5)))
    assert wire == b"\x1a\x10\x05\x0b"
    r = Reader(wire)
    assert r.read_struct(1, lambda s: s.read_int(1)) == 5
    r.finish()


def test_list_and_map_roundtrip():
    w = Writer()
    w.write_list(1, [b"x", b"", b"yz"], lambda wr, item: wr.write_bytes(0, item))
    w.write_map(2, [("a", 1), ("b", -300)], lambda wr, k: wr.write_string(0, k),
                lambda wr, v: wr.write_int(1, v))
    r = Reader(w.getvalue())
    assert r.read_list(1, lambda rd: rd.read_bytes(0)) == [b"x", b"", b"yz"]
    assert r.read_map(2, lambda rd: rd.read_string(0), lambda rd: rd.read_int(1)) == [(b"a", 1), (b"b", -300)]
    r.finish()


def test_absent_fields_take_defaults():
    r = Reader(b"\x30\x07")
    assert r.read_int(1, default=9) == 9
    assert r.read_string(2) == b""
    assert r.read_int(3) == 7
    assert r.read_bytes(4) == b""
    r.finish()


def head(tag, type_):
    return bytes([(tag << 4) | type_]) if tag < 15 else bytes([0xF0 | type_, tag])


def every_type_of_field(w, first_tag):
    """Writes one field of each Tars type from first_tag on (float and double by hand)."""
    t = first_tag
    w.write_int(t, 0); w.write_int(t + 1, 1); w.write_int(t + 2, 300); w.write_int(t + 3, 70000)
    w.write_int(t + 4, 2**40)
    w._out += head(t + 5, tars.FLOAT) + b"\x3f\x80\x00\x00"
    w._out += head(t + 6, tars.DOUBLE) + b"\x3f\xf0" + bytes(6)
    w.write_string(t + 7, "s"); w.write_string(t + 8, "L" * 300); w.write_bytes(t + 9, b"\x01\x02")
    w.write_list(t + 10, [1, 2], lambda wr, i: wr.write_int(0, i))
    w.write_map(t + 11, [("k", b"v")], lambda wr, k: wr.write_string(0, k), lambda wr, v: wr.write_bytes(1, v))
    w.write_struct(t + 12, lambda s: s.write_struct(3, lambda s2: s2.write_string(0, "deep")))


def test_unknown_fields_of_every_type_are_skipped():
    w = Writer()
    w.write_int(0, 11)
    every_type_of_field(w, 1)                                   # unknown tags 1..13
    w.write_string(20, "known")
    w.write_struct(21, lambda s: (every_type_of_field(s, 0), s.write_int(30, 5)))
    every_type_of_field(w, 40)                                  # unknown, after the last read
    r = Reader(w.getvalue())
    assert r.read_int(0) == 11
    assert r.read_string(20) == b"known"
    assert r.read_struct(21, lambda s: s.read_int(30)) == 5
    r.finish()


def test_fields_outside_the_schema_are_trailing_garbage():
    extra = DOC_RAW + b"\xcc" + b"\xf6\x20\x01x"  # tag 12 zero, tag 32 string
    with pytest.raises(TarsError, match="unknown field tag 12"):
        decode_transaction(extra)
    # as a node does, they can be skipped on request (a newer schema may add fields)
    assert decode_transaction(extra, unknown_fields=True) == expected_doc_fields()


def test_unknown_field_inside_data_is_refused():
    raw = encode_transaction({"version": 1, "chainID": "c"})
    # data struct: 1a | 10 01 (version) | 26 01 'c' | 0b ; add tag 15 (zero) before the end
    assert raw[-1:] == b"\x0b"
    with pytest.raises(TarsError, match="unknown field tag 15"):
        decode_transaction(raw[:-1] + b"\xfc\x0f" + raw[-1:])


# -- transaction fields at boundaries ----------------------------------------------------

@pytest.mark.parametrize("name", [n for n in FIELD_NAMES if KINDS[n] in BITS])
def test_integer_fields_roundtrip_at_width_boundaries(name):
    bits = BITS[KINDS[name]]
    for value in BOUNDARY_INTS:
        if -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
            assert decode_transaction(encode_transaction({name: value})) == full({name: value})
        else:
            with pytest.raises(TarsError):
                encode_transaction({name: value})


@pytest.mark.parametrize("name", [n for n in FIELD_NAMES if KINDS[n] in ("str", "bytes")])
def test_string_and_bytes_fields_roundtrip_at_length_boundaries(name):
    for n in (0, 1, 255, 256, 70000):
        value = "z" * n if KINDS[name] == "str" else bytes(range(256)) * (n // 256) + bytes(n % 256)
        assert decode_transaction(encode_transaction({name: value})) == full({name: value})


def test_default_fields_are_omitted_but_data_is_always_written():
    assert encode_transaction({}) == b"\x1a\x0b"
    assert encode_transaction({}, legacy_required=True) == bytes.fromhex("1a1c26003600" "4c" "5600" "7d000c" "0b")
    assert LEGACY_REQUIRED <= set(n for n, _, _ in DATA_FIELDS)


def test_encoder_rejects_unknown_keys_and_wrong_types():
    with pytest.raises(ValueError):
        encode_transaction({"chainId": "chain0"})
    with pytest.raises(TypeError):
        encode_transaction({"input": "00"})
    with pytest.raises(TypeError):
        encode_transaction({"nonce": 5})
    with pytest.raises(TypeError):
        encode_transaction({"blockLimit": "5"})


def test_decode_hex_follows_the_node():
    assert decode_hex("0x1a0b") == decode_hex("1a0b") == decode_hex("1A0B") == b"\x1a\x0b"
    assert decode_hex("0x") == b""
    for bad in ("", "0x1", "abc", "0X1a0b", "1a 0b", "zz", "0x0x"):
        with pytest.raises(Malformed):
            decode_hex(bad)


# -- hostile input -----------------------------------------------------------------------

def test_every_truncation_is_refused_except_at_top_level_field_boundaries():
    tx = decode_transaction(DOC_RAW)
    legacy = dict(legacy_required=True)
    # The top level has no end marker, so cutting between its fields leaves a shorter
    # valid transaction (a node reads it the same way); every other cut must fail.
    boundaries = {
        len(encode_transaction({n: tx[n] for n, _, _ in DATA_FIELDS}, **legacy)): ("dataHash", "signature"),
        len(encode_transaction({n: tx[n] for n in tx if n != "signature"}, **legacy)): ("signature",),
    }
    for cut in range(len(DOC_RAW)):
        if cut in boundaries:
            expected = dict(tx)
            for name in boundaries[cut]:
                expected[name] = b""
            assert decode_transaction(DOC_RAW[:cut]) == expected
        else:
            with pytest.raises(TarsError):
                decode_transaction(DOC_RAW[:cut])


@pytest.mark.parametrize("garbage", [
    b"\x00",              # int8 with tag 0 after tag 3: out of order, and truncated
    b"\x30\x01",          # tag 3 again: duplicate
    b"\x0b",              # struct end with no struct open
    b"\xc0",              # tag 12 int8 without its byte
    b"\xce",              # unknown type 14
    b"\xcf",              # unknown type 15
    b"\xf0",              # long head without its tag byte
    b"\xf6\x03\x00",      # long head for a tag below 15
])
def test_appended_garbage_is_refused(garbage):
    with pytest.raises(TarsError):
        decode_transaction(DOC_RAW + garbage)


def data_with(raw_fields):
    """A transaction whose data struct holds the given raw field bytes."""
    return b"\x1a" + raw_fields + b"\x0b"


@pytest.mark.parametrize("wire, why", [
    (data_with(b"\x26\x05ab"), "string1 length past the end"),
    (data_with(b"\x27\x00\x00\x10\x00ab"), "string4 length past the end"),
    (data_with(b"\x27\xff\xff\xff\xffab"), "string4 length 2**32-1 (never negative: unsigned)"),
    (data_with(b"\x27\x06\x40\x00\x01" + b"a" * 8), "string4 longer than TARS_MAX_STRING_LENGTH"),
    (data_with(b"\x7d\x00\x00\x09ab"), "simple list length past the end"),
    (data_with(b"\x7d\x00\x00\xffab"), "negative simple list length"),
    (data_with(b"\x7d\x00\x02\xff\xff\xff\xfe"), "negative simple list length (int32)"),
    (data_with(b"\x7d\x01\x00\x02ab"), "simple list inner head of type int16"),
    (data_with(b"\x7d\x10\x00\x02ab"), "simple list inner head with tag 1"),
    (data_with(b"\x7d\x00\x10\x02ab"), "simple list length with tag 1"),
    (data_with(b"\x79\x00\x02\x00\x01\x00\x02"), "input as a list of bytes, not a simple list"),
    (data_with(b"\xf9\x0f\x00\xff"), "unknown list with negative count"),
    (data_with(b"\xf9\x0f\x00\x7f\x00\x01"), "unknown list count past the end"),
    (data_with(b"\xf9\x0f\x00\x01\x10\x01"), "list element with tag 1"),
    (data_with(b"\xf8\x0f\x00\x01\x00\x01\x00\x02"), "map value with tag 0"),
    (data_with(b"\xfe\x0f"), "unknown type 14 in a skipped field"),
    (data_with(b"\x26\x06chain0\x26\x06chain1"), "duplicate tag"),
    (data_with(b"\x36\x06group0\x26\x06chain0"), "tags out of order"),
    (data_with(b"\x16\x011"), "string where int (version) is expected"),
    (data_with(b"\x56\x01\xff"), "nonce not UTF-8"),
    (data_with(b"\x20\x05"), "int where string (chainID) is expected"),
    (data_with(b"\x13" + bytes(8)), "int64 where int32 (version) is expected"),
    (data_with(b"\x7c"), "zero where vector<byte> is expected"),
    (b"\x10\x01", "int where the data struct is expected"),
    (b"\x1a\x1b", "struct end with tag 1"),
    (b"\x1a", "struct never closed"),
    (b"", "no data struct"),
    (b"\x2d\x00\x00\x01a", "no data struct, only dataHash"),
    (b"\x1a\x0b\x9d\x00\x00\x02\x01\x02", "type (byte) as a simple list"),
    (b"\x1a\x0b\x91\x00\x01", "type (byte) wider than int8"),
])
def test_malformed_transactions_are_refused(wire, why):
    with pytest.raises(TarsError):
        decode_transaction(wire)


def nested_structs(depth):
    return b"\xfa\x20" * depth + b"\x0b" * depth


def test_nesting_deeper_than_the_bound_is_refused():
    # Only reachable where unknown fields are skipped: by default tag 32 is refused at once.
    ok = data_with(nested_structs(tars.MAX_DEPTH - 1))  # data itself is one level
    assert decode_transaction(ok, unknown_fields=True)["version"] == 0
    with pytest.raises(TarsError, match="unknown field"):
        decode_transaction(ok)
    lists = b"\xf9\x20" + b"\x00\x01\x09" * 40 + b"\x0c"  # list of list of ... 40 deep
    for lenient in (False, True):
        with pytest.raises(TarsError):
            decode_transaction(data_with(nested_structs(tars.MAX_DEPTH)), unknown_fields=lenient)
        with pytest.raises(TarsError):
            decode_transaction(data_with(lists), unknown_fields=lenient)
        with pytest.raises(TarsError):
            decode_transaction(data_with(nested_structs(5000)), unknown_fields=lenient)


def test_errors_are_malformed_and_value_errors():
    assert issubclass(TarsError, Malformed) and issubclass(TarsError, ValueError)


# -- properties --------------------------------------------------------------------------

def field_strategy(kind):
    if kind in BITS:
        lo, hi = -(1 << (BITS[kind] - 1)), (1 << (BITS[kind] - 1)) - 1
        return st.one_of(st.sampled_from([v for v in BOUNDARY_INTS if lo <= v <= hi]),
                         st.integers(lo, hi))
    if kind == "str":
        return st.one_of(st.text(max_size=20),
                         st.text(alphabet="0123456789abcdef", min_size=250, max_size=300))
    return st.one_of(st.binary(max_size=40), st.binary(min_size=250, max_size=300))


transactions = st.fixed_dictionaries({}, optional={name: field_strategy(KINDS[name]) for name in FIELD_NAMES})


@settings(max_examples=200, deadline=None)
@given(transactions, st.booleans())
def test_random_transactions_roundtrip(tx, legacy):
    raw = encode_transaction(tx, legacy_required=legacy)
    assert decode_transaction(raw) == full(tx)
    assert encode_transaction(decode_transaction(raw), legacy_required=legacy) == raw


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_the_typed_error(data):
    for candidate in (data, b"\x1a" + data, DOC_RAW[:64] + data):
        try:
            decode_transaction(candidate)
        except TarsError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(DOC_RAW) - 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_corrupted_doc_vector_raises_only_the_typed_error(edits):
    data = bytearray(DOC_RAW)
    for at, byte in edits:
        data[at] = byte
    try:
        decode_transaction(bytes(data))
    except TarsError:
        pass
