"""Solidity ABI codec (lightmeter.chain.abi): selectors, topics, encoding and strict decoding.

Runs under pytest on CPython and unchanged on MicroPython. Property-based round trips and random
hostile input are in tests/host/test_contracts.py (hypothesis).

Sources of the vectors:
- SPEC: Solidity "Contract ABI Specification" (ethereum/solidity docs/abi-spec.rst, sections
  "Examples" and "Use of Dynamic Types").
- FISCO: FISCO-BCOS-DOC 3.x api.md sendTransaction example (tests/vectors/fisco-doc-sendTransaction.json),
  a HelloWorld deployed on an SM chain by FISCO's SM solc.
"""

import json

from support import load_vector, raises, unhex

from lightmeter.chain import abi, abidecode
from lightmeter.errors import Malformed, Unsupported
from lightmeter.crypto.keccak import keccak256
from lightmeter.crypto.sm3 import sm3


def _w(n):
    """One 32-byte word holding n."""
    return n.to_bytes(32, "big")


def _hex_words(*words):
    return unhex("".join(words))


# SPEC examples: (signature, values, call data hex without the selector, selector hex)
_BAZ = ("baz(uint32,bool)", [69, True], "cdcd77c0",
        "0000000000000000000000000000000000000000000000000000000000000045"
        "0000000000000000000000000000000000000000000000000000000000000001")
_BAR = ("bar(bytes3[2])", [[b"abc", b"def"]], "fce353f6",
        "6162630000000000000000000000000000000000000000000000000000000000"
        "6465660000000000000000000000000000000000000000000000000000000000")
_SAM = ("sam(bytes,bool,uint256[])", [b"dave", True, [1, 2, 3]], "a5643bf2",
        "0000000000000000000000000000000000000000000000000000000000000060"
        "0000000000000000000000000000000000000000000000000000000000000001"
        "00000000000000000000000000000000000000000000000000000000000000a0"
        "0000000000000000000000000000000000000000000000000000000000000004"
        "6461766500000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000003"
        "0000000000000000000000000000000000000000000000000000000000000001"
        "0000000000000000000000000000000000000000000000000000000000000002"
        "0000000000000000000000000000000000000000000000000000000000000003")
_F = ("f(uint256,uint32[],bytes10,bytes)", [0x123, [0x456, 0x789], b"1234567890", b"Hello, world!"],
      "8be65246",
      "0000000000000000000000000000000000000000000000000000000000000123"
      "0000000000000000000000000000000000000000000000000000000000000080"
      "3132333435363738393000000000000000000000000000000000000000000000"
      "00000000000000000000000000000000000000000000000000000000000000e0"
      "0000000000000000000000000000000000000000000000000000000000000002"
      "0000000000000000000000000000000000000000000000000000000000000456"
      "0000000000000000000000000000000000000000000000000000000000000789"
      "000000000000000000000000000000000000000000000000000000000000000d"
      "48656c6c6f2c20776f726c642100000000000000000000000000000000000000")
_G = ("g(uint256[][],string[])", [[[1, 2], [3]], ["one", "two", "three"]], "2289b18c",
      "0000000000000000000000000000000000000000000000000000000000000040"
      "0000000000000000000000000000000000000000000000000000000000000140"
      "0000000000000000000000000000000000000000000000000000000000000002"
      "0000000000000000000000000000000000000000000000000000000000000040"
      "00000000000000000000000000000000000000000000000000000000000000a0"
      "0000000000000000000000000000000000000000000000000000000000000002"
      "0000000000000000000000000000000000000000000000000000000000000001"
      "0000000000000000000000000000000000000000000000000000000000000002"
      "0000000000000000000000000000000000000000000000000000000000000001"
      "0000000000000000000000000000000000000000000000000000000000000003"
      "0000000000000000000000000000000000000000000000000000000000000003"
      "0000000000000000000000000000000000000000000000000000000000000060"
      "00000000000000000000000000000000000000000000000000000000000000a0"
      "00000000000000000000000000000000000000000000000000000000000000e0"
      "0000000000000000000000000000000000000000000000000000000000000003"
      "6f6e650000000000000000000000000000000000000000000000000000000000"
      "0000000000000000000000000000000000000000000000000000000000000003"
      "74776f0000000000000000000000000000000000000000000000000000000000"
      "0000000000000000000000000000000000000000000000000000000000000005"
      "7468726565000000000000000000000000000000000000000000000000000000")
_SPEC = (_BAZ, _BAR, _SAM, _F, _G)


def _types(signature):
    return abi.parse_signature(signature)[1]


# --- selectors and topics ------------------------------------------------------------

def test_selectors_of_the_abi_spec_examples():
    # SPEC: baz cdcd77c0, bar fce353f6, sam a5643bf2, f 8be65246, g 2289b18c
    for sig, _, sel, _ in _SPEC:
        assert abi.selector(sig, keccak256) == unhex(sel), sig


def test_selector_of_erc20_transfer():
    # EIP-20 transfer(address,uint256): the 0xa9059cbb that starts every token transfer's call data
    assert abi.selector("transfer(address,uint256)", keccak256) == unhex("a9059cbb")


def test_event_topic_of_erc20_transfer():
    # EIP-20 Transfer event: topic 0 of every token transfer log
    assert abi.event_topic("Transfer(address,address,uint256)", keccak256) == unhex(
        "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")


def test_meter_registry_selectors_match_solc():
    # solc 0.8.26 evm.methodIdentifiers of proto/contracts/MeterRegistry.sol
    assert abi.selector("record(uint64,bytes)", keccak256) == unhex("8e680376")
    assert abi.selector("lastSeq(address)", keccak256) == unhex("22a9d1cc")
    assert abi.selector("readingOf(address,uint64)", keccak256) == unhex("8c0a95b7")


def _fisco_helloworld():
    fields = load_vector("fisco-doc-sendTransaction.json")["fields"]
    code_hex = fields["input"][2:]
    sigs = []
    for entry in json.loads(fields["abi"]):
        if entry["type"] == "function":
            sigs.append("%s(%s)" % (entry["name"], ",".join(i["type"] for i in entry["inputs"])))
    return code_hex, sigs


def test_sm_chain_selectors_are_sm3_fisco_helloworld():
    # FISCO: FISCO's SM solc puts SM3 selectors in the dispatcher as PUSH4 (0x63) immediates:
    # get() 299f7f9d and set(string) 3590b49f, never keccak's 6d4ce63c / 4ed3885e.
    code_hex, sigs = _fisco_helloworld()
    assert sorted(sigs) == ["get()", "set(string)"]
    assert abi.selector("get()", sm3) == unhex("299f7f9d")
    assert abi.selector("set(string)", sm3) == unhex("3590b49f")
    for sig in sigs:
        assert ("63" + abi.selector(sig, sm3).hex()) in code_hex, sig
        assert abi.selector(sig, keccak256).hex() not in code_hex, sig


def test_sm_chain_panic_selector_is_sm3_fisco_helloworld():
    # FISCO: the compiler's own Panic(uint256) error selector is SM3 too (b95aa355, keccak 4e487b71),
    # pushed as PUSH4 b95aa355 PUSH1 e0 SHL.
    code_hex, _ = _fisco_helloworld()
    assert abi.selector("Panic(uint256)", sm3) == unhex("b95aa355")
    assert "63b95aa35560e01b" in code_hex
    assert abi.selector("Panic(uint256)", keccak256).hex() not in code_hex


# --- encoding: the specification's examples ------------------------------------------

def test_encode_call_abi_spec_examples():
    # SPEC: each example's call data, byte for byte
    for sig, values, sel, args in _SPEC:
        assert abi.encode_call(sig, values, keccak256) == unhex(sel + args), sig


def test_decode_abi_spec_examples():
    # SPEC: the same bytes decode back to the same values
    for sig, values, sel, args in _SPEC:
        assert abidecode.decode(_types(sig), unhex(args)) == values, sig
        assert abidecode.decode_call(sig, unhex(sel + args), keccak256) == values, sig


def test_decode_abi_spec_baz_return_value():
    # SPEC: baz returning false is the single word 0
    assert abidecode.decode(["bool"], bytes(32)) == [False]


def test_empty_tuple_encodes_to_nothing():
    assert abi.encode([], []) == b""
    assert abidecode.decode([], b"") == []
    assert abi.encode_call("get()", [], sm3) == unhex("299f7f9d")


# --- round trips over every type -------------------------------------------------------

_ADDR = unhex("00112233445566778899aabbccddeeff00112233")
_ROUND_TRIPS = (
    (["uint8", "uint64", "uint256"], [255, 2 ** 64 - 1, 2 ** 256 - 1]),
    (["uint256", "uint8"], [0, 0]),
    (["int8", "int8", "int256", "int256", "int64"], [-128, 127, -2 ** 255, 2 ** 255 - 1, -1]),
    (["address", "bool", "bool"], [_ADDR, True, False]),
    (["bytes1", "bytes32", "bytes20"], [b"\xff", bytes(range(32)), bytes(20)]),
    (["bytes", "bytes", "bytes", "bytes"], [b"", b"\x01" * 31, b"\x02" * 32, b"\x03" * 33]),
    (["string", "string"], ["", "k\u00f6ln \u20ac \U0001f600"]),
    (["uint64", "bytes"], [7, b"\xa2\x01\x02\x03\x04"]),
    (["uint256[]", "string[]", "bytes[2]"], [[], [], [b"", b"x"]]),
    (["uint8[2][3]", "address[]"], [[[1, 2], [3, 4], [5, 6]], [_ADDR, _ADDR]]),
    (["string[][]", "bool[1]"], [[["a"], [], ["b", "c"]], [True]]),
)


def test_round_trips_for_every_type():
    for types, values in _ROUND_TRIPS:
        data = abi.encode(types, values)
        assert len(data) % 32 == 0, types
        assert abidecode.decode(types, data) == values, types
        assert abi.encode(types, abidecode.decode(types, data)) == data, types


def test_meter_registry_record_call():
    # record(uint64,bytes): selector, seq word, offset 0x40, length, the reading padded
    reading = b"\xa3\x01\x02\x03"
    data = abi.encode_call("record(uint64,bytes)", [1, reading], keccak256)
    assert data == unhex("8e680376") + _w(1) + _w(0x40) + _w(4) + reading + bytes(28)
    assert abidecode.decode_call("record(uint64,bytes)", data, keccak256) == [1, reading]
    sm = abi.encode_call("record(uint64,bytes)", [1, reading], sm3)
    assert sm[:4] == sm3(b"record(uint64,bytes)")[:4] and sm[4:] == data[4:]


def test_arrays_accept_tuples_when_encoding():
    assert abi.encode(["uint8[]"], [(1, 2)]) == abi.encode(["uint8[]"], [[1, 2]])


# --- strict decoding: hostile input ----------------------------------------------------

def test_decode_refuses_short_data():
    args = unhex(_SAM[3])
    for cut in (1, 31, 32, len(args) - 1):
        raises(Malformed, abidecode.decode, _types(_SAM[0]), args[:-cut])
    raises(Malformed, abidecode.decode, ["uint256"], b"")
    raises(Malformed, abidecode.decode, ["uint8[3]"], bytes(64))


def test_decode_refuses_trailing_bytes():
    raises(Malformed, abidecode.decode, ["uint256"], bytes(33))
    raises(Malformed, abidecode.decode, ["uint256"], bytes(64))
    raises(Malformed, abidecode.decode, [], b"\x00")


def test_decode_refuses_non_canonical_offsets():
    # the same tail reached through a different offset is not the canonical encoding
    head = _w(0x40) + _w(0)
    raises(Malformed, abidecode.decode, ["bytes"], head + _w(0))  # offset 0x40 but head is 0x20
    raises(Malformed, abidecode.decode, ["bytes"], _w(0) + _w(0))  # offset pointing into the head
    raises(Malformed, abidecode.decode, ["bytes"], _w(2 ** 256 - 1) + _w(0))
    raises(Malformed, abidecode.decode, ["bytes"], _w(0x20 + 2 ** 255) + _w(0))
    # two dynamic values sharing one tail
    raises(Malformed, abidecode.decode, ["bytes", "bytes"], _w(0x40) + _w(0x40) + _w(0))


def test_decode_refuses_lengths_that_overrun():
    raises(Malformed, abidecode.decode, ["bytes"], _w(0x20) + _w(1))
    raises(Malformed, abidecode.decode, ["bytes"], _w(0x20) + _w(33) + bytes(32))
    raises(Malformed, abidecode.decode, ["bytes"], _w(0x20) + _w(2 ** 256 - 1) + bytes(32))
    raises(Malformed, abidecode.decode, ["string"], _w(0x20) + _w(2 ** 64) + bytes(32))
    raises(Malformed, abidecode.decode, ["uint256[]"], _w(0x20) + _w(2) + _w(1))
    raises(Malformed, abidecode.decode, ["uint256[]"], _w(0x20) + _w(2 ** 255) + _w(1))
    raises(Malformed, abidecode.decode, ["bytes[]"], _w(0x20) + _w(2 ** 200))


def test_decode_refuses_non_zero_padding():
    raises(Malformed, abidecode.decode, ["bytes"], _w(0x20) + _w(4) + b"dave" + bytes(27) + b"\x01")
    raises(Malformed, abidecode.decode, ["string"], _w(0x20) + _w(1) + b"a\x01" + bytes(30))
    raises(Malformed, abidecode.decode, ["bytes3"], b"abcd" + bytes(28))
    raises(Malformed, abidecode.decode, ["bytes31"], bytes(31) + b"\x01")


def test_decode_refuses_dirty_high_bits():
    raises(Malformed, abidecode.decode, ["uint32"], _w(2 ** 32))
    raises(Malformed, abidecode.decode, ["uint8"], _w(0x100))
    raises(Malformed, abidecode.decode, ["uint64"], _w(2 ** 255))
    raises(Malformed, abidecode.decode, ["address"], b"\x01" + bytes(11) + _ADDR)
    raises(Malformed, abidecode.decode, ["address"], bytes(11) + b"\x01" + _ADDR)
    raises(Malformed, abidecode.decode, ["bool"], _w(2))
    raises(Malformed, abidecode.decode, ["bool"], b"\x01" + bytes(30) + b"\x01")
    # intN must be sign-extended: 0x80 alone is 128, not -128; ff..ff7f is not an int8
    raises(Malformed, abidecode.decode, ["int8"], _w(0x80))
    raises(Malformed, abidecode.decode, ["int8"], b"\xff" * 31 + b"\x7f")
    assert abidecode.decode(["int8"], b"\xff" * 31 + b"\x80") == [-128]


def test_decode_refuses_strings_that_are_not_utf8():
    # RFC 3629: overlong forms, surrogates, code points above U+10FFFF, stray or missing
    # continuation bytes (MicroPython's own decoder accepts the first three)
    for bad in (b"\xc0\x80", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80",
                b"\x80", b"\xe2\x82", b"a\xe2\x82", b"\xe2\x28\xa1", b"\xff"):
        data = _w(0x20) + _w(len(bad)) + bad + bytes(32 - len(bad))
        raises(Malformed, abidecode.decode, ["string"], data)
    for good in (b"\x7f", b"\xc2\x80", b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xee\x80\x80",
                 b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf"):
        data = _w(0x20) + _w(len(good)) + good + bytes(32 - len(good))
        assert abidecode.decode(["string"], data) == [good.decode()]


def test_decode_call_refuses_another_selector():
    data = abi.encode_call("lastSeq(address)", [_ADDR], keccak256)
    assert abidecode.decode_call("lastSeq(address)", data, keccak256) == [_ADDR]
    raises(Malformed, abidecode.decode_call, "lastSeq(address)", data, sm3)
    raises(Malformed, abidecode.decode_call, "lastSeq(address)", data[:3], keccak256)


def test_decode_refuses_what_is_not_bytes():
    raises(Malformed, abidecode.decode, ["uint256"], "00" * 32)
    raises(Malformed, abidecode.decode, "uint256", bytes(32))


# --- types, signatures and values the codec refuses -------------------------------------

def test_type_names_must_be_canonical():
    for bad in ("uint", "int", "uint7", "uint0", "uint264", "uint08", "int257", "bytes0", "bytes33",
                "bytes01", "byte", "uint256[0]", "uint256[01]", "uint256[-1]", "[]", "uint256]",
                "address payable", "Uint256", "string ", "", "uint\u0662\u0665\u0666", "bytes\uff13"):
        raises(Malformed, abi.parse_type, bad)
    for unsupported in ("(uint256,bool)", "tuple", "fixed128x18", "ufixed", "function"):
        raises(Unsupported, abi.parse_type, unsupported)


def test_signatures_must_be_canonical():
    for bad in ("transfer(address, uint256)", "transfer (address,uint256)", "(uint256)",
                "1f(uint256)", "f(uint)", "f(uint256", "f", "f(uint256,)", "f(,)", "f\u00e9(bool)",
                "\u00e9(bool)", "\u0661f(bool)"):
        raises(Malformed, abi.selector, bad, keccak256)
    assert abi.parse_signature("f()") == ("f", [])
    assert abi.parse_signature("_$x1(bytes32[2][],bool)") == ("_$x1", ["bytes32[2][]", "bool"])


def test_encode_refuses_values_out_of_range_or_of_the_wrong_shape():
    cases = (
        (["uint8"], [256]), (["uint8"], [-1]), (["uint256"], [2 ** 256]), (["uint8"], [True]),
        (["int8"], [128]), (["int8"], [-129]), (["int256"], [2 ** 255]),
        (["bool"], [1]), (["bool"], [None]),
        (["address"], [bytes(19)]), (["address"], ["0x" + "00" * 20]),
        (["bytes3"], [b"ab"]), (["bytes3"], [b"abcd"]),
        (["bytes"], ["text"]), (["string"], [b"bytes"]),
        (["uint8[2]"], [[1]]), (["uint8[]"], [5]),
        (["uint8", "uint8"], [1]), (["uint8"], [1, 2]), (["uint8"], 1),
    )
    for types, values in cases:
        raises(Malformed, abi.encode, types, values)
