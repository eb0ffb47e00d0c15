"""FISCO BCOS 3.x `bcostars::Transaction` <-> plain dict: the bytes `sendTransaction` carries.

Schema: FISCO-BCOS bcos-tars-protocol/bcos-tars-protocol/tars/Transaction.tars (TransactionData
nested at tag 1 of Transaction). The dict is flat and uses FISCO's field names; strings are
str, vector<byte> fields are bytes, integers are int.

The encoding matches the writer tars2cpp generates for that schema (FISCO-BCOS/TarsCpp, default
--check-default=true): every field equal to its default (0, "", empty bytes) is left out, except
the `data` struct, which is always written. Decoding is strict (see lightmeter_host.chain.tars) and also
refuses a missing `data` struct and string fields that are not UTF-8: a node would take both,
no SDK sends either. Transport only: hashing and signing live in the firmware (lightmeter.chain.tx).
"""

import re

from lightmeter.errors import Malformed

from lightmeter_host.chain.tars import Reader, TarsError, Writer

_INT8, _INT32, _INT64, _STR, _BYTES = "int8", "int32", "int64", "str", "bytes"
_BITS = {_INT8: 8, _INT32: 32, _INT64: 64}
_DEFAULT = {_INT8: 0, _INT32: 0, _INT64: 0, _STR: "", _BYTES: b""}

DATA_FIELDS = (  # bcostars::TransactionData
    ("version", 1, _INT32),
    ("chainID", 2, _STR),
    ("groupID", 3, _STR),
    ("blockLimit", 4, _INT64),
    ("nonce", 5, _STR),
    ("to", 6, _STR),
    ("input", 7, _BYTES),
    ("abi", 8, _STR),
    ("value", 9, _STR),
    ("gasPrice", 10, _STR),
    ("gasLimit", 11, _INT64),
    ("maxFeePerGas", 12, _STR),
    ("maxPriorityFeePerGas", 13, _STR),
    ("extension", 14, _BYTES),
)
TX_FIELDS = (  # bcostars::Transaction; tag 1 is `data`, tag 6 (source) was removed
    ("dataHash", 2, _BYTES),
    ("signature", 3, _BYTES),
    ("importTime", 4, _INT64),
    ("attribute", 5, _INT32),
    ("sender", 7, _BYTES),
    ("extraData", 8, _STR),
    ("type", 9, _INT8),
    ("extraTransactionBytes", 10, _BYTES),
    ("extraTransactionHash", 11, _BYTES),
)
FIELD_NAMES = tuple(name for name, _, _ in DATA_FIELDS + TX_FIELDS)

# Before FISCO-BCOS commit d6af8fb45 (July 2022) these TransactionData fields were `require`,
# which tars2cpp always writes. SDKs built from that schema still send version 0 as `1c`
# (the FISCO-BCOS-DOC sendTransaction example does); a node reads both forms alike.
LEGACY_REQUIRED = frozenset(("version", "chainID", "groupID", "blockLimit", "nonce", "input"))

_HEX = re.compile(r"[0-9a-fA-F]*\Z")


def decode_hex(text):
    """Bytes of a sendTransaction hex param, checked as the node does (JsonRpcImpl_2_0::decodeData):
    non-empty, even length counting an optional lowercase "0x", hex digits only."""
    if not isinstance(text, str):
        raise Malformed("hex text expected, got %s" % type(text).__name__)
    if not text or len(text) % 2:
        raise Malformed("hex string of length %d: must be non-empty and even" % len(text))
    digits = text[2:] if text.startswith("0x") else text
    if not _HEX.match(digits):
        raise Malformed("not a hex string")
    return bytes.fromhex(digits)


def _read_fields(r, fields, out):
    for name, tag, kind in fields:
        if kind == _STR:
            raw = r.read_string(tag)
            try:
                out[name] = raw.decode()
            except UnicodeDecodeError:
                raise TarsError("%s is not UTF-8" % name) from None
        elif kind == _BYTES:
            out[name] = r.read_bytes(tag)
        else:
            out[name] = r.read_int(tag, _BITS[kind])
    return out


def decode_transaction(raw, unknown_fields=False):
    """dict of every field of a Tars-encoded bcostars::Transaction; TarsError if malformed.

    A field outside the schema is refused as trailing garbage unless unknown_fields is
    true (a node skips such fields; a newer schema may add some).
    """
    r = Reader(raw, unknown_fields=unknown_fields)
    tx = r.read_struct(1, lambda rd: _read_fields(rd, DATA_FIELDS, {}))
    if tx is None:
        # Optional in the schema, but every tars2cpp writer emits it (a struct has no default).
        raise TarsError("transaction data (tag 1) missing")
    _read_fields(r, TX_FIELDS, tx)
    r.finish()
    return tx


def _write_fields(w, fields, tx, always):
    for name, tag, kind in fields:
        value = tx.get(name, _DEFAULT[kind])
        if kind == _STR:
            if not isinstance(value, str):
                raise TypeError("%s: str expected, got %s" % (name, type(value).__name__))
            if value != "" or name in always:
                w.write_string(tag, value)
        elif kind == _BYTES:
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise TypeError("%s: bytes expected, got %s" % (name, type(value).__name__))
            if len(value) or name in always:
                w.write_bytes(tag, value)
        elif value != 0 or name in always:
            w.write_int(tag, value, _BITS[kind])
        elif not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("%s: int expected, got %s" % (name, type(value).__name__))


def encode_transaction(tx, *, legacy_required=False):
    """Tars bytes of a transaction dict (missing keys take defaults), as FISCO's tars2cpp
    writer produces them. legacy_required=True also writes the LEGACY_REQUIRED fields when
    they hold defaults, reproducing SDKs built from the pre-July-2022 schema."""
    unknown = set(tx) - set(FIELD_NAMES)
    if unknown:
        raise ValueError("unknown transaction fields: %s" % ", ".join(sorted(unknown)))
    always = LEGACY_REQUIRED if legacy_required else frozenset()
    w = Writer()
    w.write_struct(1, lambda wr: _write_fields(wr, DATA_FIELDS, tx, always))
    _write_fields(w, TX_FIELDS, tx, always)
    return w.getvalue()
