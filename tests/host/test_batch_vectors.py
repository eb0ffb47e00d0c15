"""proto/vectors/batch.json against an independent implementation of proto/batch.md.

The firmware computed the vectors (lightmeter_host.batchvectors); here the tree is rebuilt from
RFC 9162 section 2.1 as written (recursive MTH and PATH), with pycryptodome's keccak and
OpenSSL's SM3 instead of the firmware's hashes, the signing input with cbor2, and the signer with
coincurve (ecdsa) or the key the signature carries (sm).
"""

import hashlib
import json

import cbor2
import pytest
from Crypto.Hash import keccak

from lightmeter_host import batchvectors
from lightmeter_host.paths import PROJECT_ROOT

VECTORS = json.loads((PROJECT_ROOT / "proto" / "vectors" / "batch.json").read_text())


def _hash(suite):
    if suite == "ecdsa":
        return lambda b: keccak.new(digest_bits=256, data=b).digest()
    return lambda b: hashlib.new("sm3", b).digest()


def mth(d, H):
    """RFC 9162 2.1.1 MTH over leaf data d (n >= 1)."""
    if len(d) == 1:
        return H(b"\x00" + d[0])
    k = 1 << (len(d) - 1).bit_length() - 1
    return H(b"\x01" + mth(d[:k], H) + mth(d[k:], H))


def path(m, d, H):
    """RFC 9162 2.1.3.1 PATH(m, D[n])."""
    if len(d) == 1:
        return []
    k = 1 << (len(d) - 1).bit_length() - 1
    return path(m, d[:k], H) + [mth(d[k:], H)] if m < k else path(m - k, d[k:], H) + [mth(d[:k], H)]


def test_committed_vectors_are_current_and_copied_for_the_firmware_tests():
    assert batchvectors.main(["--check"]) == 0
    assert (PROJECT_ROOT / "tests" / "vectors" / "batch.json").read_text() == \
        (PROJECT_ROOT / "proto" / "vectors" / "batch.json").read_text()


@pytest.mark.parametrize("b", VECTORS["batches"], ids=lambda b: b["suite"])
def test_root_and_paths_match_rfc9162(b):
    H = _hash(b["suite"])
    leaves = [bytes.fromhex(x["leaf"]) for x in b["leaves"]]
    assert b["count"] == len(leaves)
    assert mth(leaves, H).hex() == b["root"]
    for i, x in enumerate(b["leaves"]):
        assert x["leaf_hash"] == H(b"\x00" + leaves[i]).hex()
        assert x["path"] == [p.hex() for p in path(i, leaves, H)]


@pytest.mark.parametrize("b", VECTORS["batches"], ids=lambda b: b["suite"])
def test_leaves_are_signed_readings_of_their_devices(b):
    H = _hash(b["suite"])
    registry = bytes.fromhex(b["registry"][2:])
    for x in b["leaves"]:
        reading, sig = cbor2.loads(bytes.fromhex(x["leaf"]))
        assert reading.hex() == x["reading"]
        assert cbor2.dumps([bytes.fromhex(x["leaf"])]) != b""  # the leaf is one CBOR item
        digest = H(cbor2.dumps(["lightmeter/reading/1", b["chain_id"], b["group_id"], registry, reading],
                               canonical=True))
        assert digest.hex() == x["signing_digest"]
        if b["suite"] == "ecdsa":
            import coincurve
            pub = coincurve.PublicKey.from_signature_and_message(sig, digest, hasher=None).format(False)[1:]
        else:
            pub = sig[64:]
        assert "0x" + H(pub)[12:].hex() == x["device"]


@pytest.mark.parametrize("b", VECTORS["batches"], ids=lambda b: b["suite"])
def test_record_batch_input_is_the_abi_call(b):
    H = _hash(b["suite"])
    sel = H(b"recordBatch(bytes32,uint32)")[:4]
    assert b["record_batch_input"] == (sel + bytes.fromhex(b["root"]) + b["count"].to_bytes(32, "big")).hex()


@pytest.mark.parametrize("b", VECTORS["batches"], ids=lambda b: b["suite"])
def test_contents_are_the_canonical_cbor_array_of_the_leaves(b):
    """proto/batch.md "Batch contents over HTTP", read with cbor2: an array of the leaves' bytes in
    tree order, canonical (cbor2's canonical encoder gives the same bytes)."""
    raw = bytes.fromhex(b["contents"])
    leaves = cbor2.loads(raw)
    assert leaves == [bytes.fromhex(x["leaf"]) for x in b["leaves"]]
    assert cbor2.dumps(leaves, canonical=True) == raw
    assert mth(leaves, _hash(b["suite"])).hex() == b["root"]
