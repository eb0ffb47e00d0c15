"""Header verification against a trust checkpoint: quorum, signers, hostile headers.

Real vector: block 2 of the FISCO-BCOS-DOC SM chain (3 of 4 SM2 signatures, quorum 3).
Built chains (chainmaker) cover the ecdsa suite, which has no public node vector.
"""

import json

from lightmeter.client import check, trust as trust_mod, verify
from lightmeter.chain import header
from lightmeter.crypto import suite
from lightmeter.errors import Invalid, Malformed
from chainmaker import sealers, signed_header, trust_json
from support import load_vector, raises

N_SECP = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def block2():
    return load_vector("fisco-doc-sm-block2.json")["result"]


def trust2(**kw):
    t = {"chain_id": "chain0", "group_id": "group0", "crypto": "sm",
         "sealers": [{"node_id": n, "weight": 1} for n in block2()["sealerList"]]}
    t.update(kw)
    return t


def test_quorum_formula():
    # PBFTConfig::updateQuorum; PBFTConfigTest: 10 nodes -> 7, 1 node -> 1, doc: 4 -> 3.
    assert [trust_mod.quorum(n) for n in (1, 2, 3, 4, 7, 10, 21)] == [1, 2, 3, 3, 5, 7, 15]


def test_block2_reaches_quorum_3_of_4():
    out = check.check_header(block2(), trust2())
    assert out == {"valid": True, "number": 2, "hash": block2()["hash"], "signers": [0, 1, 2],
                   "weight": 3, "quorum": 3}


def test_block2_below_quorum_when_one_signature_is_dropped():
    b = block2()
    b["signatureList"].pop()
    out = check.check_header(b, trust2())
    assert not out["valid"] and "quorum not reached" in out["reason"]


def test_heavier_trusted_weight_raises_quorum():
    t = trust2()
    t["sealers"][3]["weight"] = 3  # header still says 1: the set differs
    out = check.check_header(block2(), t)
    assert not out["valid"] and "weight" in out["reason"]


def test_duplicated_signer_index_rejected():
    b = block2()
    b["signatureList"][2] = dict(b["signatureList"][0])
    out = check.check_header(b, trust2())
    assert not out["valid"] and "signs twice" in out["reason"]


def test_unknown_signer_index_rejected():
    b = block2()
    b["signatureList"][2]["sealerIndex"] = 4
    out = check.check_header(b, trust2())
    assert not out["valid"] and "unknown sealer index" in out["reason"]


def test_signature_moved_to_another_index_rejected():
    b = block2()
    b["signatureList"][2]["sealerIndex"] = 3
    out = check.check_header(b, trust2())
    assert not out["valid"] and "does not verify" in out["reason"]


def test_tampered_field_with_original_hash_left_in():
    b = block2()
    b["gasUsed"] = "24364"
    out = check.check_header(b, trust2())
    assert not out["valid"] and "hash field" in out["reason"]
    # and without the hash field the signatures give it away
    b.pop("hash")
    out = check.check_header(b, trust2())
    assert not out["valid"] and "does not verify" in out["reason"]


def test_wrong_length_signature_is_malformed():
    b = block2()
    b["signatureList"][0]["signature"] += "00"
    raises(Malformed, check.check_header, b, trust2())


def test_untrusted_sealer_set_rejected():
    t = trust2()
    t["sealers"] = t["sealers"][:3]
    out = check.check_header(block2(), t)
    assert not out["valid"] and "trusted set" in out["reason"]


def test_trusted_height_pins_the_hash():
    out = check.check_header(block2(), trust2(number=2, hash="0x" + "00" * 32))
    assert not out["valid"] and "conflicts" in out["reason"]
    assert check.check_header(block2(), trust2(number=2, hash=block2()["hash"]))["valid"]


def test_genesis_trusted_only_by_hash():
    g = load_vector("fisco-doc-sm-genesis.json")
    assert check.check_header(g, trust2(number=0, hash=g["result"]["hash"]))["valid"]
    out = check.check_header(g, trust2())
    assert not out["valid"] and "genesis" in out["reason"]


def test_trust_file_is_validated():
    raises(Malformed, check.check_header, block2(), trust2(crypto="rsa"))
    t = trust2()
    t["sealers"][1]["node_id"] = t["sealers"][0]["node_id"]
    raises(Malformed, check.check_header, block2(), t)
    t = trust2()
    t["sealers"][0]["node_id"] = t["sealers"][0]["node_id"][:-2]
    raises(Malformed, check.check_header, block2(), t)


def _built(name, n, signers=None, weights=None):
    nodes = sealers(name, n)
    js, h = signed_header(name, nodes, signers=signers, weights=weights)
    return nodes, js, trust_json(name, nodes, weights)


def test_ecdsa_header_built_and_signed_verifies():
    nodes, js, t = _built("ecdsa", 4, signers=[0, 2, 3])
    out = check.check_header(js, t)
    assert out["valid"] and out["signers"] == [0, 2, 3] and out["quorum"] == 3


def test_sm_header_built_and_signed_verifies():
    nodes, js, t = _built("sm", 4, signers=[1, 2, 3])
    assert check.check_header(js, t)["valid"]


def test_weighted_quorum():
    # weights 1,1,1,4: total 7, quorum 5 -> the heavy node plus one other suffices
    nodes, js, t = _built("ecdsa", 4, signers=[0, 3], weights=[1, 1, 1, 4])
    heavy = check.check_header(js, t)
    nodes, js2, t2 = _built("ecdsa", 4, signers=[0, 1, 2], weights=[1, 1, 1, 4])
    light = check.check_header(js2, t2)
    # which sorted index carries weight 4 is index 3 in both
    assert heavy["valid"] and heavy["weight"] == 5 and heavy["quorum"] == 5
    assert not light["valid"] and "quorum not reached" in light["reason"]


def test_signature_by_a_non_sealer_rejected():
    nodes, js, t = _built("ecdsa", 4, signers=[0, 1, 2])
    outsider = sealers("ecdsa", 1, b"outsider")[0]
    h = header.from_json(js, 65)
    s = suite.get("ecdsa")
    js["signatureList"][2]["signature"] = "0x" + s.sign_node(outsider[1], h.hash(s)).hex()
    out = check.check_header(js, t)
    assert not out["valid"] and "sealer 2 does not verify" in out["reason"]


def test_high_s_signature_accepted():
    # Chain data: FISCO's secp256k1Verify recovers with libsecp256k1, which has no low-s rule
    # (bcos-crypto/bcos-crypto/signature/secp256k1/Secp256k1Crypto.cpp lines 70-98 at v3.16.4).
    nodes, js, t = _built("ecdsa", 4, signers=[0, 1, 2])
    sig = bytes.fromhex(js["signatureList"][0]["signature"][2:])
    s_val = int.from_bytes(sig[32:64], "big")
    flipped = sig[:32] + (N_SECP - s_val).to_bytes(32, "big") + bytes([sig[64] ^ 1])
    js["signatureList"][0]["signature"] = "0x" + flipped.hex()
    out = check.check_header(js, t)
    assert out["valid"] and out["signers"] == [0, 1, 2]
    # ... with v naming the other y it is another key's signature
    js["signatureList"][0]["signature"] = "0x" + (flipped[:64] + sig[64:]).hex()
    out = check.check_header(js, t)
    assert not out["valid"] and "sealer 0 does not verify" in out["reason"]


def test_recovery_id_must_match():
    nodes, js, t = _built("ecdsa", 4, signers=[0, 1, 2])
    sig = bytes.fromhex(js["signatureList"][1]["signature"][2:])
    for v in (sig[64] ^ 1, 27, 28):
        js["signatureList"][1]["signature"] = "0x" + (sig[:64] + bytes([v])).hex()
        out = check.check_header(js, t)
        assert not out["valid"] and "does not verify" in out["reason"]


def test_ecdsa_signature_length_pinned():
    nodes, js, t = _built("ecdsa", 4, signers=[0, 1, 2])
    js["signatureList"][0]["signature"] = js["signatureList"][0]["signature"][:-2]
    raises(Malformed, check.check_header, js, t)


def test_verify_header_raises_invalid_directly():
    h = header.from_json(block2(), 64)
    b = block2()
    b["signatureList"] = b["signatureList"][:1]
    h = header.from_json(b, 64)
    t = trust_mod.from_json(trust2())
    e = raises(Invalid, verify.verify_header, h, t, suite.get("sm"))
    assert "quorum" in str(e)


def test_short_quorum_has_its_own_type():
    # Callers (the collector's failure kinds) tell a short quorum from a bad header by type.
    b = block2()
    b["signatureList"] = b["signatureList"][:2]
    e = raises(verify.QuorumNotReached, verify.verify_header, header.from_json(b, 64),
               trust_mod.from_json(trust2()), suite.get("sm"))
    assert isinstance(e, Invalid) and str(e) == "quorum not reached: signers hold weight 2 of the 3 needed"
    # A bad signature is not a short quorum, even when the rest would be short too.
    b = block2()
    sig = bytearray(bytes.fromhex(b["signatureList"][0]["signature"][2:]))
    sig[5] ^= 1
    b["signatureList"][0]["signature"] = "0x" + bytes(sig).hex()
    e = raises(Invalid, verify.verify_header, header.from_json(b, 64), trust_mod.from_json(trust2()),
               suite.get("sm"))
    assert not isinstance(e, verify.QuorumNotReached)


def test_kept_sealer_tables_give_the_same_answers():
    # verify.KEY_TABLES: single checks with the sealers' tables kept (crypto/keys.py); same
    # answers on both suites, the real SM vector included; the tables follow the trusted set.
    from lightmeter.crypto import keys

    saved = verify.KEY_TABLES
    verify.KEY_TABLES = True
    try:
        assert check.check_header(block2(), trust2())["valid"]
        sm = keys.kept(suite.get("sm"))
        assert sm is keys.kept(suite.get("sm")) and len(sm) == 3  # built as its 3 signers sign
        for name in ("ecdsa", "sm"):
            nodes, js, t = _built(name, 4, signers=[0, 1, 2])
            assert check.check_header(js, t)["valid"]
            assert len(keys.kept(suite.get(name))) == 3  # block2's SM keys dropped with their set
            outsider = sealers(name, 1, b"outsider")[0]
            s = suite.get(name)
            h = header.from_json(js, s.node_sig_len)
            js["signatureList"][1]["signature"] = "0x" + s.sign_node(outsider[1], h.hash(s)).hex()
            out = check.check_header(js, t)
            assert not out["valid"] and "sealer 1 does not verify" in out["reason"]
        other = suite.Suite("ecdsa")  # not the shared one of suite.get
        other.verify = lambda pub, digest, sig: True  # a backend that is not the firmware's
        assert keys.kept(other) is None
    finally:
        verify.KEY_TABLES = saved
