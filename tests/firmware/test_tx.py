"""Transaction hash (versions 0-2), sender, and transactions proven in a header
(fisco-bcos-3x.md §3.1-3.3). No public node vector exists for a full
transaction; the preimages below are laid out by hand from the source's rule.
"""

from lightmeter.client import check
from lightmeter.chain import merkle, tx as txm
from lightmeter.chain import merklebuild
from lightmeter.chain import txread
from lightmeter.crypto import suite
from lightmeter.errors import Invalid, Malformed, Unsupported
from chainmaker import sealers, signed_header, trust_json
from support import load_vector, raises, unhex


def base(version=0):
    t = txm.defaults()
    t.update(version=version, chainID=b"chain0", groupID=b"group0", blockLimit=505,
             nonce=b"1234567890", to=b"82a3c3289a9f234a38aceed3016d1ff0e0f922b3",
             input=b"\x12\x34", abi=b"")
    if version >= 1:
        t.update(value=b"0", gasPrice=b"1", gasLimit=3000000, maxFeePerGas=b"",
                 maxPriorityFeePerGas=b"")
    if version >= 2:
        t["extension"] = b"\x09\x08"
    return t


def test_preimage_v0():
    p = txm.preimage(base(0))
    assert p == (b"\x00\x00\x00\x00chain0group0" + (505).to_bytes(8, "big") + b"1234567890" +
                 b"82a3c3289a9f234a38aceed3016d1ff0e0f922b3\x12\x34")


def test_preimage_v1_and_v2_append_fields():
    p0 = txm.preimage(base(0))[4:]
    p1 = txm.preimage(base(1))
    assert p1[:4] == b"\x00\x00\x00\x01" and p1[4:4 + len(p0)] == p0
    assert p1[4 + len(p0):] == b"01" + (3000000).to_bytes(8, "big")
    p2 = txm.preimage(base(2))
    assert p2[:4] == b"\x00\x00\x00\x02" and p2.endswith(b"\x09\x08") and p2[4:-2] == p1[4:]


def test_unknown_version_or_type_unsupported():
    t = base()
    t["version"] = 3
    raises(Unsupported, txm.preimage, t)
    t = base()
    t["type"] = 1
    raises(Unsupported, txm.preimage, t)


def _signed(name, version=0, **kw):
    s = suite.get(name)
    t = base(version)
    t.update(kw)
    priv = b"\x01" * 32
    t["signature"] = s.sign_tx(priv, txm.tx_hash(t, s))
    return t, s.address(s.public_key(priv))


def test_sender_recovered_ecdsa_and_sm():
    for name in ("ecdsa", "sm"):
        t, addr = _signed(name)
        assert txread.sender(t, suite.get(name)) == addr
        assert len(t["signature"]) == suite.get(name).tx_sig_len


def test_json_round_trip():
    for name in ("ecdsa", "sm"):
        for v in (0, 1, 2):
            t, addr = _signed(name, v)
            js = txread.to_json(t, suite.get(name))
            back = txread.from_json(js)
            assert back["claimed_from"] == addr
            for k in txm.defaults():
                assert back[k] == t[k], k


def test_from_json_is_strict():
    t, _ = _signed("ecdsa")
    js = txread.to_json(t, suite.get("ecdsa"))
    for k, v in (("nonce", "0x31"), ("nonce", "+3"), ("nonce", "123g"), ("blockLimit", "505"), ("input", "1234"),
                 ("version", -1)):
        bad = dict(js)
        bad[k] = v
        raises(Malformed, txread.from_json, bad)


def _block_with(name, txs, number=500):
    s = suite.get(name)
    leaves = [txm.tx_hash(t, s) for t in txs]
    nodes = sealers(name, 4)
    js, h = signed_header(name, nodes, number=number, txs_root=merklebuild.root(leaves, s.hash))
    return js, trust_json(name, nodes), leaves


def _tx_json(t, name, leaves, i):
    js = txread.to_json(t, suite.get(name))
    js["txProof"] = [x.hex() for x in merklebuild.proof(leaves, i, suite.get(name).hash)]
    return js


def test_tx_proven_in_header():
    for name in ("ecdsa", "sm"):
        txs = [_signed(name, nonce=b"n%d" % i)[0] for i in range(3)]
        blk, trust, leaves = _block_with(name, txs)
        out = check.check_tx(_tx_json(txs[2], name, leaves, 2), blk, trust)
        assert out["valid"] and out["index"] == 2, out
        assert out["tx_hash"] == "0x" + leaves[2].hex()
        assert out["sender"] == "0x" + suite.get(name).address(suite.get(name).public_key(b"\x01" * 32)).hex()


def test_receipt_proof_offered_as_tx_proof():
    name = "ecdsa"
    s = suite.get(name)
    txs = [_signed(name, nonce=b"n%d" % i)[0] for i in range(2)]
    blk, trust, leaves = _block_with(name, txs)
    js = _tx_json(txs[0], name, leaves, 0)
    receipts = [s.hash(b"receipt0"), s.hash(b"receipt1")]
    js["txProof"] = [x.hex() for x in merklebuild.proof(receipts, 0, s.hash)]
    out = check.check_tx(js, blk, trust)
    assert not out["valid"] and "does not contain" in out["reason"]


def test_wrong_chain_or_group_rejected():
    name = "ecdsa"
    for k, v in (("chainID", b"chain1"), ("groupID", b"group9")):
        t = _signed(name, **{k: v})[0]
        blk, trust, leaves = _block_with(name, [t])
        out = check.check_tx(_tx_json(t, name, leaves, 0), blk, trust)
        assert not out["valid"] and ("chain" in out["reason"] or "group" in out["reason"])


def test_block_limit_window():
    name = "ecdsa"
    for limit, ok in ((499, False), (500, True), (1499, True), (1500, False)):
        t = _signed(name, blockLimit=limit)[0]
        blk, trust, leaves = _block_with(name, [t], number=500)
        out = check.check_tx(_tx_json(t, name, leaves, 0), blk, trust)
        assert out["valid"] == ok, (limit, out)


def test_forged_from_rejected():
    name = "sm"
    t = _signed(name)[0]
    blk, trust, leaves = _block_with(name, [t])
    js = _tx_json(t, name, leaves, 0)
    js["from"] = "0x" + "11" * 20
    out = check.check_tx(js, blk, trust)
    assert not out["valid"] and "from" in out["reason"]


def test_sm_signature_with_swapped_public_key_rejected():
    s = suite.get("sm")
    t = _signed("sm")[0]
    other = s.public_key(b"\x02" * 32)
    t["signature"] = t["signature"][:64] + other
    raises(Invalid, txread.sender, t, s)


def test_tx_signature_length_pinned():
    for name in ("ecdsa", "sm"):
        t = _signed(name)[0]
        t["signature"] = t["signature"][:-1]
        raises(Malformed, txread.sender, t, suite.get(name))


def doc_tx():
    """The FISCO-BCOS-DOC sendTransaction example (real SM chain), as a firmware tx dict."""
    f = load_vector("fisco-doc-sendTransaction.json")["fields"]
    t = txm.defaults()
    for k in t:
        v = f[k]
        if isinstance(v, str):
            v = unhex(v) if k in ("input", "extension", "signature") else v.encode()
        t[k] = v
    return t, unhex(f["dataHash"])


def test_real_transaction_hash_reproduces_data_hash():
    t, data_hash = doc_tx()
    assert txm.tx_hash(t, suite.get("sm")) == data_hash


def test_real_transaction_signature_verifies():
    t, _ = doc_tx()
    s = suite.get("sm")
    addr = txread.sender(t, s)
    assert addr == s.address(t["signature"][64:])
    t["nonce"] = t["nonce"][:-1] + b"0"
    raises(Invalid, txread.sender, t, s)


# -- the nonce as v3.0.0-v3.2.x and v3.3.0+ nodes print it (docs/fisco-versions.md §2) --------

def test_java_sdk_v3_2_decimal_nonce_hash_sender_and_proof():
    # FISCO-BCOS/java-sdk ResponseTest.testECDSAGetTransactionAndCalculateHash (a v3.2.x node):
    # the 77-digit decimal nonce is hashed as its digits, `to` with its 0x.
    v = load_vector("fisco-java-ecdsa-tx-decimal-nonce-proof.json")
    s = suite.get("ecdsa")
    res = v["response"]["result"]
    t = txread.from_json(v["response"])
    assert t["nonce"] == res["nonce"].encode() and "nonce_readings" not in t  # odd length: no hex reading
    assert t["to"] == b"0xc8ead4b26b2c6ac14c9fd90d9684c9bc2cc40085"
    digest = txm.tx_hash(t, s)
    assert digest == unhex(res["hash"])
    assert txread.sender(t, s, digest) == unhex(res["from"])
    items = merkle.from_json(v["response"], "txProof")
    assert len(items) == 26  # 9 count slots, 8 pairs and one one-child group
    root = unhex(v["expected_root"])
    pos = merkle.verify(items, digest, root, s.hash)
    assert pos == 502
    got, pos2 = txread.prove(t, s, lambda d: merkle.verify(items, d, root, s.hash))
    assert got == digest and pos2 == 502


def test_nonce_readings():
    assert txread.nonce_readings("3132") == [b"12", b"3132"]          # both forms: hex first
    assert txread.nonce_readings("123") == [b"123"]                  # odd: decimal only
    assert txread.nonce_readings("6e31") == [b"n1"]                   # not digits: hex only
    assert txread.nonce_readings("") == [b""]
    assert txread.nonce_readings("0") == [b"0"]
    assert txread.nonce_readings("07") == [b"\x07"]                   # a leading zero is no u256 print
    big = str(1 << 256)                                            # 78 digits, above u256
    assert txread.nonce_readings(big) == [bytes.fromhex(big)]
    for bad in ("+3", "0x31", "12g", "1" * 79, "ab" * 257, 5):
        raises(Malformed, txread.nonce_readings, bad)


def _printed(js, t, release):
    """js as a node of release prints it: decimal digits before v3.3.0, hex of the bytes after."""
    js = dict(js)
    js["nonce"] = t["nonce"].decode() if release < (3, 3) else t["nonce"].hex()
    return js


def test_ambiguous_nonce_settled_by_proof_both_forms():
    # "12345678" prints as 12345678 (v3.2) and 3132333435363738 (v3.3+): both are even-length
    # digit strings, so each JSON reads two ways; only the proof says which was hashed.
    for name in ("ecdsa", "sm"):
        s = suite.get(name)
        txs = [_signed(name, nonce=b"12345678")[0], _signed(name, nonce=b"n1")[0]]
        blk, trust, leaves = _block_with(name, txs)
        for release in ((3, 2), (3, 3)):
            js = _printed(_tx_json(txs[0], name, leaves, 0), txs[0], release)
            t = txread.from_json(js)
            assert len(t["nonce_readings"]) == 2
            out = check.check_tx(js, blk, trust)
            assert out["valid"] and out["tx_hash"] == "0x" + leaves[0].hex(), (release, out)
            js.pop("hash")  # without the node's hash field the proof alone decides
            out = check.check_tx(js, blk, trust)
            assert out["valid"] and out["index"] == 0, (release, out)
            t = txread.from_json(js)
            txread.prove(t, s, lambda d: merkle.verify(merkle.from_json(js, "txProof"), d, unhex(blk["txsRoot"]), s.hash))
            assert t["nonce"] == b"12345678" and "nonce_readings" not in t


def test_ambiguous_nonce_claimed_hash_of_other_reading_refused():
    name = "ecdsa"
    s = suite.get(name)
    t0 = _signed(name, nonce=b"12345678")[0]
    blk, trust, leaves = _block_with(name, [t0, _signed(name, nonce=b"n1")[0]])
    js = _printed(_tx_json(t0, name, leaves, 0), t0, (3, 2))
    other = dict(t0, nonce=bytes.fromhex("12345678"))
    js["hash"] = "0x" + txm.tx_hash(other, s).hex()  # names the reading that was not hashed
    out = check.check_tx(js, blk, trust)
    assert not out["valid"] and "does not contain" in out["reason"], out
    js["hash"] = "0x" + "11" * 32
    out = check.check_tx(js, blk, trust)
    assert not out["valid"] and "hash field" in out["reason"], out


def test_prove_hash_by_trusted_digest():
    s = suite.get("ecdsa")
    t0 = _signed("ecdsa", nonce=b"12345678")[0]
    js = _printed(txread.to_json(t0, s), t0, (3, 2))
    js.pop("hash")
    t = txread.from_json(js)
    assert not txread.prove_hash(t, s, b"\x00" * 32) and "nonce_readings" in t
    assert txread.prove_hash(t, s, txm.tx_hash(t0, s)) and t["nonce"] == b"12345678"
