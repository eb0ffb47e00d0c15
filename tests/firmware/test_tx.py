"""Transaction hash (versions 0-2), sender, and transactions proven in a header
(fisco-bcos-3x.md §3.1-3.3). No public node vector exists for a full
transaction; the preimages below are laid out by hand from the source's rule.
"""

from lightmeter.client import check
from lightmeter.chain import merkle, tx as txm
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
        assert txm.sender(t, suite.get(name)) == addr
        assert len(t["signature"]) == suite.get(name).tx_sig_len


def test_json_round_trip():
    for name in ("ecdsa", "sm"):
        for v in (0, 1, 2):
            t, addr = _signed(name, v)
            js = txm.to_json(t, suite.get(name))
            back = txm.from_json(js)
            assert back["claimed_from"] == addr
            for k in txm.defaults():
                assert back[k] == t[k], k


def test_from_json_is_strict():
    t, _ = _signed("ecdsa")
    js = txm.to_json(t, suite.get("ecdsa"))
    for k, v in (("nonce", "0x31"), ("nonce", "3"), ("blockLimit", "505"), ("input", "1234"),
                 ("version", -1)):
        bad = dict(js)
        bad[k] = v
        raises(Malformed, txm.from_json, bad)


def _block_with(name, txs, number=500):
    s = suite.get(name)
    leaves = [txm.tx_hash(t, s) for t in txs]
    nodes = sealers(name, 4)
    js, h = signed_header(name, nodes, number=number, txs_root=merkle.root(leaves, s.hash))
    return js, trust_json(name, nodes), leaves


def _tx_json(t, name, leaves, i):
    js = txm.to_json(t, suite.get(name))
    js["txProof"] = [x.hex() for x in merkle.proof(leaves, i, suite.get(name).hash)]
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
    js["txProof"] = [x.hex() for x in merkle.proof(receipts, 0, s.hash)]
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
    raises(Invalid, txm.sender, t, s)


def test_tx_signature_length_pinned():
    for name in ("ecdsa", "sm"):
        t = _signed(name)[0]
        t["signature"] = t["signature"][:-1]
        raises(Malformed, txm.sender, t, suite.get(name))


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
    addr = txm.sender(t, s)
    assert addr == s.address(t["signature"][64:])
    t["nonce"] = t["nonce"][:-1] + b"0"
    raises(Invalid, txm.sender, t, s)
