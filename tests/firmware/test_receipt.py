"""Receipt hash and receipt proofs (fisco-bcos-3x.md §3.4; real vector: block 2's receipt)."""

import json

from lightmeter.client import check
from lightmeter.chain import receipt
from lightmeter.crypto import suite
from lightmeter.errors import Malformed, Unsupported
from chainmaker import sealers, signed_header, trust_json
from support import load_vector, raises

SM = suite.get("sm")


def rcpt():
    return load_vector("fisco-doc-sm-receipt2.json")


def block2():
    return load_vector("fisco-doc-sm-block2.json")


def trust():
    return {"chain_id": "chain0", "group_id": "group0", "crypto": "sm",
            "sealers": [{"node_id": n, "weight": 1} for n in block2()["result"]["sealerList"]]}


def test_receipt_hash_reproduces_receipts_root():
    r = receipt.from_json(rcpt())
    assert r.hash(SM).hex() == block2()["result"]["receiptsRoot"][2:]


def test_preimage_strips_0x_from_contract_address():
    r = receipt.from_json(rcpt())
    assert r.contract_address == b"82a3c3289a9f234a38aceed3016d1ff0e0f922b3"
    assert r.preimage()[4:9] == b"24363"


def test_verify_receipt_in_block2():
    out = check.check_receipt(rcpt(), block2(), trust())
    assert out["valid"] and out["index"] == 0
    assert out["receipt_hash"] == rcpt()["result"]["hash"]


def test_failed_status_rejected():
    # A reverted transaction is on chain (proof holds) but is no anchoring.
    r = rcpt()["result"]
    r.update(status=16, blockNumber=5)
    r.pop("hash")
    rh = receipt.from_json(r).hash(suite.get("ecdsa"))
    nodes = sealers("ecdsa", 4)
    js, _ = signed_header("ecdsa", nodes, receipts_root=rh)
    r["txReceiptProof"] = [rh.hex()]
    out = check.check_receipt(r, js, trust_json("ecdsa", nodes))
    assert not out["valid"] and out["reason"] == "transaction failed with status 16"
    r["status"] = 0
    rh = receipt.from_json(r).hash(suite.get("ecdsa"))
    js, _ = signed_header("ecdsa", nodes, receipts_root=rh)
    r["txReceiptProof"] = [rh.hex()]
    assert check.check_receipt(r, js, trust_json("ecdsa", nodes))["valid"]


def test_tampered_receipt_with_hash_left_in():
    r = rcpt()
    r["result"]["gasUsed"] = "1"
    out = check.check_receipt(r, block2(), trust())
    assert not out["valid"] and "hash field" in out["reason"]


def test_receipt_for_another_block():
    r = rcpt()
    r["result"]["blockNumber"] = 3
    r["result"].pop("hash")
    out = check.check_receipt(r, block2(), trust())
    assert not out["valid"] and "block" in out["reason"]


def test_missing_proof_is_unsupported_before_3_2():
    # Nodes before v3.2.0 print no proof (docs/fisco-versions.md §2): a clear reason, not a shape error.
    r = rcpt()
    r["result"].pop("txReceiptProof")
    e = raises(Unsupported, check.check_receipt, r, block2(), trust())
    assert "proof unavailable from this node (FISCO BCOS < 3.2.0)" in str(e)


def test_empty_lists_are_never_proofs():
    # v3.2.0+ also print "receiptProof": [] (always empty); it is not read, and [] is refused.
    r = rcpt()
    r["result"]["receiptProof"] = []
    r["result"].pop("txReceiptProof")
    raises(Unsupported, check.check_receipt, r, block2(), trust())
    r["result"]["txReceiptProof"] = []
    raises(Malformed, check.check_receipt, r, block2(), trust())


def test_receipt_with_logs_and_v1():
    base = rcpt()["result"]
    base.update(version=1, effectiveGasPrice="7", contractAddress="",
                logEntries=[{"address": "82a3c3289a9f234a38aceed3016d1ff0e0f922b3",
                             "topics": ["0x" + "aa" * 32, "0x" + "bb" * 32], "data": "0x0102"}])
    r = receipt.from_json(base)
    p = r.preimage()
    expect = ((1).to_bytes(4, "big") + b"24363" + (0).to_bytes(4, "big") + b"7" +
              b"82a3c3289a9f234a38aceed3016d1ff0e0f922b3" + b"\xaa" * 32 + b"\xbb" * 32 +
              b"\x01\x02" + (2).to_bytes(8, "big"))
    assert p == expect


def test_strict_fields():
    for k, v in (("gasUsed", "0x10"), ("status", -1), ("status", "0"), ("output", "0x0"),
                 ("blockNumber", 2.0)):
        r = rcpt()["result"]
        r[k] = v
        raises(Malformed, receipt.from_json, r)
    r = rcpt()["result"]
    r["contractAddress"] = r["contractAddress"].upper().replace("0X", "0x")
    raises(Malformed, receipt.from_json, r)
    r["contractAddress"] = "/apps/wasm"
    raises(Unsupported, receipt.from_json, r)


def test_contract_address_v3_0_without_0x():
    # v3.0.x print the stored form (40 hex, no 0x), v3.1.0+ add 0x; both hash the stored form.
    r = rcpt()["result"]
    if not r["contractAddress"]:
        r["contractAddress"] = "0x" + "82a3c3289a9f234a38aceed3016d1ff0e0f922b3"
    with0x = receipt.from_json(dict(r))
    r["contractAddress"] = r["contractAddress"][2:]
    without = receipt.from_json(r)
    assert with0x.contract_address == without.contract_address == r["contractAddress"].encode()
    s = suite.get("sm")
    assert with0x.hash(s) == without.hash(s)
    for bad in ("82a3c3289a9f234a38aceed3016d1ff0e0f922b", "0X" + "ab" * 20):
        r["contractAddress"] = bad
        try:
            receipt.from_json(r)
        except (Malformed, Unsupported):
            continue
        raise AssertionError(bad)


def test_java_sdk_receipt_v0_log_hash():
    # FISCO-BCOS/java-sdk ResponseTest.testTransactionReceipt: keccak256 receipt hash, one log
    # whose address is printed (and hashed) without 0x; "transactionProof": null is no proof.
    v = load_vector("fisco-java-ecdsa-receipt-v0-log.json")
    r = receipt.from_json(v["response"])
    assert r.hash(suite.get("ecdsa")).hex() == v["response"]["result"]["hash"][2:]
    raises(Unsupported, check.check_receipt, v["response"], block2(), trust())
