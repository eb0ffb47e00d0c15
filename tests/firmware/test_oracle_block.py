"""A signed ecdsa v3.x block built by the independent oracle (tests/vectors/oracle-ecdsa-block.json,
made by tests/host/fisco_oracle.py with coincurve and pycryptodome; no public ecdsa 3.x header with
signatures exists): header, 5 transactions (versions 0-2, nonces as v3.2 and v3.3+ print them) and
their receipts, proven through a tree with one-child groups."""

from lightmeter.client import check
from lightmeter.chain import merklebuild
from lightmeter.crypto import suite
from support import load_vector, unhex


def _block():
    return load_vector("oracle-ecdsa-block.json")


def test_oracle_header_hash_and_quorum():
    v = _block()
    out = check.check_header(v["header"], v["trust"])
    assert out["valid"] and out["hash"] == v["header"]["hash"] and out["signers"] == [0, 1, 3], out


def test_oracle_roots_with_one_child_levels():
    v = _block()
    s = suite.get("ecdsa")
    assert merklebuild.root([unhex(t["hash"]) for t in v["transactions"]], s.hash) == unhex(v["header"]["txsRoot"])
    assert merklebuild.root([unhex(r["hash"]) for r in v["receipts"]], s.hash) == unhex(v["header"]["receiptsRoot"])


def test_oracle_transactions_proven_in_both_nonce_forms():
    v = _block()
    for i, tj in enumerate(v["transactions"]):
        for form in ("nonce_v3_3", "nonce_v3_2"):
            if tj[form] is None:
                continue
            js = dict(tj)
            js["nonce"] = tj[form]
            out = check.check_tx(js, v["header"], v["trust"])
            assert out["valid"] and out["index"] == i and out["sender"] == v["sender"], (i, form, out)
            assert out["tx_hash"] == tj["hash"]


def test_oracle_receipts_proven_with_and_without_0x():
    v = _block()
    for i, rj in enumerate(v["receipts"]):
        out = check.check_receipt(rj, v["header"], v["trust"])
        assert out["valid"] and out["index"] == i, (i, out)
        if rj["contractAddress"]:
            js = dict(rj)
            js["contractAddress"] = "0x" + rj["contractAddress"]
            assert check.check_receipt(js, v["header"], v["trust"])["valid"]
