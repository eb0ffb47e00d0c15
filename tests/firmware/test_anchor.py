"""The device's check of a relay's receipt answer (lightmeter.client.anchor): the happy path
and each lie a relay or node could tell (proto/link.md, docs/light-client.md LC-P3)."""

from lightmeter.chain import abi, receipt
from lightmeter.chain import merklebuild
from lightmeter.client import anchor, trust as trust_mod
from lightmeter.crypto import suite
from lightmeter.link import wire
from lightmeter.link import relaywire
from lightmeter.errors import Invalid, Malformed
from chainmaker import sealers, signed_header, trust_json
from support import raises

NAME = "ecdsa"
S = suite.get(NAME)
REGISTRY = bytes.fromhex("6c6d657465720000000000000000000000000001")
DEVICE = bytes(range(20))
TOPIC = abi.event_topic("Reading(address,uint64,bytes)", S.hash)


def rc_json(seq, number, status=0, device=DEVICE):
    return {"version": 0, "gasUsed": "30000", "contractAddress": "", "status": status, "output": "0x",
            "blockNumber": number, "logEntries": [{
                "address": REGISTRY.hex(), "data": "0x" + abi.encode(["bytes"], [b"reading"]).hex(),
                "topics": ["0x" + TOPIC.hex(), "0x" + (bytes(12) + device).hex(),
                           "0x" + seq.to_bytes(32, "big").hex()]}]}


def block(number, seqs, signers=None, nodes=None):
    """(header JSON, tx hashes, receipt JSONs, nodes) of a block whose i-th tx recorded seqs[i]."""
    nodes = nodes or sealers(NAME, 4)
    txs = [S.hash(b"tx-%d-%d" % (number, i)) for i in range(len(seqs))]
    rcs = [rc_json(q, number) for q in seqs]
    rhs = [receipt.from_json(r).hash(S) for r in rcs]
    js, _ = signed_header(NAME, nodes, number=number, signers=signers,
                          txs_root=merklebuild.root(txs, S.hash), receipts_root=merklebuild.root(rhs, S.hash))
    return js, txs, rcs, nodes


def answer(js, txs, rcs, i, j=None):
    """The relay's answer for the i-th transaction (receipt of the j-th, to lie)."""
    j = i if j is None else j
    rhs = [receipt.from_json(r).hash(S) for r in rcs]
    return {0: relaywire.receipt_to_wire(rcs[j]), 1: merklebuild.proof(rhs, j, S.hash),
            2: merklebuild.proof(txs, i, S.hash), 3: relaywire.header_to_wire(js)}


def trust(nodes):
    return trust_mod.from_json(trust_json(NAME, nodes))


def test_true_answer_is_accepted():
    js, txs, rcs, nodes = block(7, [1, 2, 3])
    hdr = anchor.verify_anchor(answer(js, txs, rcs, 1), txs[1], trust(nodes), S, REGISTRY, DEVICE, 2)
    assert hdr.number == 7


def test_tampered_receipt_is_caught():
    js, txs, rcs, nodes = block(7, [1, 2])
    a = answer(js, txs, rcs, 0)
    a[0][1] = "1"  # gasUsed changed: the receipt no longer hashes into the root
    e = raises(Invalid, anchor.verify_anchor, a, txs[0], trust(nodes), S, REGISTRY, DEVICE, 1)
    assert "proof" in str(e)


def test_another_transactions_receipt_is_caught():
    js, txs, rcs, nodes = block(7, [1, 2])
    e = raises(Invalid, anchor.verify_anchor, answer(js, txs, rcs, 0, 1), txs[0], trust(nodes), S,
               REGISTRY, DEVICE, 1)
    assert "not this transaction" in str(e)


def test_proof_for_another_block_is_caught():
    js, txs, rcs, nodes = block(7, [1, 2])
    js8, txs8, rcs8, _ = block(8, [5, 6], nodes=nodes)
    a = answer(js, txs, rcs, 0)
    a[3] = relaywire.header_to_wire(js8)
    raises(Invalid, anchor.verify_anchor, a, txs[0], trust(nodes), S, REGISTRY, DEVICE, 1)


def test_header_signed_by_too_few_sealers_is_caught():
    js, txs, rcs, nodes = block(7, [1, 2], signers=[0, 1])
    e = raises(Invalid, anchor.verify_anchor, answer(js, txs, rcs, 0), txs[0], trust(nodes), S,
               REGISTRY, DEVICE, 1)
    assert "quorum" in str(e)


def test_replayed_old_receipt_is_caught():
    # an earlier, genuine anchoring of seq 1 offered for the device's new transaction (seq 2)
    js, txs, rcs, nodes = block(7, [1])
    new_tx = S.hash(b"the device's new transaction")
    raises(Invalid, anchor.verify_anchor, answer(js, txs, rcs, 0), new_tx, trust(nodes), S, REGISTRY, DEVICE, 2)
    raises(Invalid, anchor.verify_anchor, answer(js, txs, rcs, 0), txs[0], trust(nodes), S, REGISTRY, DEVICE, 2)


def _one_tx_block_refused(rc):
    """The Invalid raised for a one-transaction block whose receipt is rc."""
    nodes = sealers(NAME, 4)
    txs = [S.hash(b"t")]
    js, _ = signed_header(NAME, nodes, number=9, txs_root=txs[0],
                          receipts_root=receipt.from_json(rc).hash(S))
    return raises(Invalid, anchor.verify_anchor, answer(js, txs, [rc], 0), txs[0], trust(nodes), S,
                  REGISTRY, DEVICE, 1)


def test_failed_transaction_is_not_an_anchor():
    assert "status 16" in str(_one_tx_block_refused(rc_json(1, 9, status=16)))


def test_log_for_another_device_is_caught():
    assert "did not log" in str(_one_tx_block_refused(rc_json(1, 9, device=bytes(20))))


def test_malformed_answers():
    js, txs, rcs, nodes = block(7, [1])
    def with_proof(items):
        a = answer(js, txs, rcs, 0)
        a[1] = items
        return a

    for bad in ([], {0: 1}, with_proof([b"short"]), with_proof([])):
        raises(Malformed, anchor.verify_anchor, bad, txs[0], trust(nodes), S, REGISTRY, DEVICE, 1)


def test_wire_maps_round_trip_into_the_json_decoders():
    from lightmeter.chain import header as header_mod
    js, txs, rcs, nodes = block(7, [1, 2])
    h1 = header_mod.from_json(js, 65)
    h2 = header_mod.from_json(wire.header_from_wire(relaywire.header_to_wire(js)), 65)
    assert h1.preimage() == h2.preimage() and h1.signatures == h2.signatures
    r1 = receipt.from_json(rcs[0])
    r2 = receipt.from_json(wire.receipt_from_wire(relaywire.receipt_to_wire(rcs[0])))
    assert r1.preimage() == r2.preimage()
