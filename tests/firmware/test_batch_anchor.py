"""Batch anchoring (proto/batch.md): the batch tree, signed readings, and the device's check of a
concentrator's batch_proof answer, on its happy path and each lie a concentrator could tell.

Tree vectors: tests/vectors/batch.json (a copy of proto/vectors/batch.json), computed by the
firmware and recomputed by an independent RFC 9162 implementation in tests/host/test_batch_vectors.py.
"""

from lightmeter.chain import abi, batchtree, receipt, tx as txm
from lightmeter.chain import merklebuild
from lightmeter.client import batch, trust as trust_mod
from lightmeter.crypto import suite
from lightmeter.link import wire
from lightmeter.link import relaywire
from lightmeter.errors import Invalid, Malformed
from chainmaker import sealers, signed_header, trust_json
from support import load_vector, raises, unhex

NAME = "ecdsa"
S = suite.get(NAME)
REGISTRY = bytes.fromhex("6c6d657465720000000000000000000000000001")
CONCENTRATOR = bytes(range(100, 120))
H = S.hash


# -- the tree ------------------------------------------------------------------------

def test_vectors_reproduce_leaves_root_and_paths():
    for b in load_vector("batch.json")["batches"]:
        s = suite.get(b["suite"])
        hashes = [batchtree.leaf_hash(unhex(x["leaf"]), s.hash) for x in b["leaves"]]
        assert [h.hex() for h in hashes] == [x["leaf_hash"] for x in b["leaves"]]
        root = batchtree.root(hashes, s.hash)
        assert root.hex() == b["root"]
        assert batch.batch_call(root, b["count"], s).hex() == b["record_batch_input"]
        for i, x in enumerate(b["leaves"]):
            assert [p.hex() for p in batchtree.path(hashes, i, s.hash)] == x["path"]
            batchtree.verify(hashes[i], i, b["count"], [unhex(p) for p in x["path"]], root, s.hash)


def test_vector_leaves_are_signed_by_their_devices():
    for b in load_vector("batch.json")["batches"]:
        s = suite.get(b["suite"])
        for x in b["leaves"][:2]:
            reading, who = batch.open_item(unhex(x["leaf"]), b["chain_id"], b["group_id"],
                                           unhex(b["registry"]), s)
            assert reading == unhex(x["reading"]) and who == unhex(x["device"])


def test_leaf_and_node_hashes_are_domain_separated():
    a, b = H(b"a"), H(b"b")
    assert batchtree.leaf_hash(a + b, H) != batchtree.node_hash(a, b, H)
    assert batchtree.leaf_hash(a + b, H) == H(b"\x00" + a + b)
    assert batchtree.node_hash(a, b, H) == H(b"\x01" + a + b)


def test_one_leaf_batch_is_its_leaf_hash_with_an_empty_path():
    h = batchtree.leaf_hash(b"x", H)
    assert batchtree.root([h], H) == h and batchtree.path([h], 0, H) == []
    batchtree.verify(h, 0, 1, [], h, H)


def _tree(n):
    hashes = [batchtree.leaf_hash(b"leaf %d" % i, H) for i in range(n)]
    return hashes, batchtree.root(hashes, H)


def test_every_position_of_small_trees_verifies():
    for n in (2, 3, 5, 7, 8, 9):
        hashes, root = _tree(n)
        for i in range(n):
            batchtree.verify(hashes[i], i, n, batchtree.path(hashes, i, H), root, H)


def test_path_for_another_leaf_is_refused():
    hashes, root = _tree(6)
    raises(Invalid, batchtree.verify, hashes[1], 1, 6, batchtree.path(hashes, 2, H), root, H)
    raises(Invalid, batchtree.verify, hashes[1], 2, 6, batchtree.path(hashes, 2, H), root, H)


def test_path_with_another_count_is_refused():
    hashes, root = _tree(6)
    for n in (7, 8, 12):
        try:
            batchtree.verify(hashes[5], 5, n, batchtree.path(hashes, 5, H), root, H)
        except Invalid:
            continue
        raise AssertionError("a 6-leaf path passed as a %d-leaf one" % n)


def test_path_of_the_wrong_length_is_refused():
    hashes, root = _tree(4)
    p = batchtree.path(hashes, 0, H)
    e = raises(Invalid, batchtree.root_from_path, hashes[0], 0, 4, p + [hashes[3]], H)
    assert "longer" in str(e)
    e = raises(Invalid, batchtree.root_from_path, hashes[0], 0, 4, p[:1], H)
    assert "shorter" in str(e)


def test_malformed_paths_and_counts():
    h = batchtree.leaf_hash(b"x", H)
    raises(Malformed, batchtree.root_from_path, h, 0, 0, [], H)
    raises(Malformed, batchtree.root_from_path, h, 2, 2, [h], H)
    raises(Malformed, batchtree.root_from_path, h, 0, 2, [b"short"], H)
    raises(Malformed, batchtree.root_from_path, h, 0, 2, "nope", H)
    raises(Malformed, batchtree.root_from_path, h, True, 2, [h], H)
    raises(Malformed, batchtree.root, [], H)


# -- signed readings -----------------------------------------------------------------

KEY = bytes(31) + b"\x05"


def _item(text, key=KEY):
    reading = b"reading " + text
    return batch.make_item(reading, S.sign_tx(key, batch.signing_digest(reading, "chain0", "group0", REGISTRY, S)))


def test_signed_reading_names_its_signer_and_is_bound_to_the_chain():
    item = _item(b"one")
    reading, who = batch.open_item(item, "chain0", "group0", REGISTRY, S)
    assert reading == b"reading one" and who == S.address(S.public_key(KEY))
    # the same bytes on another chain recover someone else (or nothing)
    try:
        _, other = batch.open_item(item, "chain1", "group0", REGISTRY, S)
    except Invalid:
        other = None
    assert other != who


def test_malformed_signed_readings():
    for bad in (b"", b"\x80", b"\x82\x41a", bytes(2000), "text"):
        raises(Malformed, batch.open_item, bad, "chain0", "group0", REGISTRY, S)


# -- the device's check of a batch_proof answer ----------------------------------------

def batch_tx(root, count, to=REGISTRY, nonce=b"c-1"):
    tx = txm.defaults()
    tx.update(chainID=b"chain0", groupID=b"group0", blockLimit=100, nonce=nonce, to=to.hex().encode(),
              input=batch.batch_call(root, count, S))
    tx["signature"] = b"\x01" * 65  # the device never checks the concentrator's signature
    return tx


def batch_receipt(root, count, number, status=0, event_root=None, event_count=None):
    topic = abi.event_topic(batch.BATCH_EVENT, S.hash)
    er = root if event_root is None else event_root
    ec = count if event_count is None else event_count
    return {"version": 0, "gasUsed": "30000", "contractAddress": "", "status": status, "output": "0x",
            "blockNumber": number, "logEntries": [{
                "address": REGISTRY.hex(), "data": "0x" + ec.to_bytes(32, "big").hex(),
                "topics": ["0x" + topic.hex(), "0x" + (bytes(12) + CONCENTRATOR).hex(), "0x" + er.hex()]}]}


_NODES = []


def nodes():
    if not _NODES:
        _NODES.extend(sealers(NAME, 4))
    return _NODES


def anchored(items, index, tx=None, rc=None, signers=None, count=None, path=None, other=True):
    """(batch_proof answer, trust) for items[index] in a block holding the batch (and another tx)."""
    hashes = [batchtree.leaf_hash(x, H) for x in items]
    root = batchtree.root(hashes, H)
    count = len(items) if count is None else count
    tx = tx or batch_tx(root, count)
    rc = rc or batch_receipt(root, count, 7)
    txs = [S.hash(b"someone else's tx")] if other else []
    rcs = [receipt.from_json(batch_receipt(H(b"r"), 1, 7)).hash(S)] if other else []
    txs.append(txm.tx_hash(tx, S))
    rcs.append(receipt.from_json(rc).hash(S))
    js, _ = signed_header(NAME, nodes(), number=7, signers=signers,
                          txs_root=merklebuild.root(txs, H), receipts_root=merklebuild.root(rcs, H))
    pos = len(txs) - 1
    answer = {0: index, 1: count, 2: batchtree.path(hashes, index, H) if path is None else path,
              3: wire.tx_to_wire(tx),
              4: {0: relaywire.receipt_to_wire(rc), 1: merklebuild.proof(rcs, pos, H), 2: merklebuild.proof(txs, pos, H),
                  3: relaywire.header_to_wire(js)}}
    return answer, trust_mod.from_json(trust_json(NAME, nodes()))


ITEMS = [b"leaf-a", b"leaf-b", b"leaf-c", b"leaf-d", b"leaf-e"]


def kind_of(answer, item, trust):
    e = raises(batch.Rejected, batch.verify_batch_anchor, answer, item, trust, S, REGISTRY)
    return e.kind


def test_true_batch_proof_is_accepted():
    answer, trust = anchored(ITEMS, 2)
    hdr, index, count, root = batch.verify_batch_anchor(answer, ITEMS[2], trust, S, REGISTRY)
    assert (hdr.number, index, count) == (7, 2, 5)
    assert root == batchtree.root([batchtree.leaf_hash(x, H) for x in ITEMS], H)


def test_forged_reading_is_caught():
    # the concentrator changed the device's reading (or its signature) before batching it
    forged = ITEMS[:2] + [b"leaf-c, but more kWh"] + ITEMS[3:]
    answer, trust = anchored(forged, 2)
    assert kind_of(answer, ITEMS[2], trust) == batch.PATH


def test_dropped_reading_is_caught():
    # the batch does not hold the device's leaf; the concentrator offers a neighbour's path
    answer, trust = anchored(ITEMS[:2] + ITEMS[3:], 1)
    assert kind_of(answer, ITEMS[2], trust) == batch.PATH


def test_path_for_another_leaf_is_caught():
    answer, trust = anchored(ITEMS, 3)
    answer[0] = 2
    assert kind_of(answer, ITEMS[2], trust) == batch.PATH


def test_reordered_batch_with_a_stale_position_is_caught_and_a_consistent_one_accepted():
    order = [ITEMS[4], ITEMS[2], ITEMS[0], ITEMS[1], ITEMS[3]]
    answer, trust = anchored(order, 1)
    batch.verify_batch_anchor(answer, ITEMS[2], trust, S, REGISTRY)  # order is not promised
    answer[0] = 2  # the position the leaf had before the reordering
    answer[2] = batchtree.path([batchtree.leaf_hash(x, H) for x in ITEMS], 2, H)
    assert kind_of(answer, ITEMS[2], trust) == batch.PATH


def test_root_with_a_wrong_count_is_caught():
    hashes = [batchtree.leaf_hash(x, H) for x in ITEMS]
    root = batchtree.root(hashes, H)
    # anchored as 6 leaves while the tree has 5: told 5, the device sees the count differ ...
    answer, trust = anchored(ITEMS, 4, tx=batch_tx(root, 6), rc=batch_receipt(root, 6, 7))
    assert kind_of(answer, ITEMS[4], trust) == batch.COUNT
    # ... told 6, it finds the 5-leaf path does not fit a 6-leaf tree
    answer[1] = 6
    assert kind_of(answer, ITEMS[4], trust) == batch.PATH


def test_batch_tx_for_another_root_is_caught():
    other = H(b"another root")
    answer, trust = anchored(ITEMS, 0, tx=batch_tx(other, 5), rc=batch_receipt(other, 5, 7))
    assert kind_of(answer, ITEMS[0], trust) == batch.PATH  # the device's path leads elsewhere


def test_batch_tx_to_another_contract_is_caught():
    hashes = [batchtree.leaf_hash(x, H) for x in ITEMS]
    root = batchtree.root(hashes, H)
    answer, trust = anchored(ITEMS, 0, tx=batch_tx(root, 5, to=bytes(20)))
    assert kind_of(answer, ITEMS[0], trust) == batch.CALL


def test_event_for_another_root_or_count_is_caught():
    root = batchtree.root([batchtree.leaf_hash(x, H) for x in ITEMS], H)
    answer, trust = anchored(ITEMS, 0, rc=batch_receipt(root, 5, 7, event_root=H(b"x")))
    assert kind_of(answer, ITEMS[0], trust) == batch.EVENT
    answer, trust = anchored(ITEMS, 0, rc=batch_receipt(root, 5, 7, event_count=4))
    assert kind_of(answer, ITEMS[0], trust) == batch.EVENT


def test_failed_batch_tx_is_caught():
    root = batchtree.root([batchtree.leaf_hash(x, H) for x in ITEMS], H)
    answer, trust = anchored(ITEMS, 0, rc=batch_receipt(root, 5, 7, status=16), other=False)
    assert kind_of(answer, ITEMS[0], trust) == batch.CHAIN


def test_header_without_quorum_is_caught():
    answer, trust = anchored(ITEMS, 0, signers=[0, 1])
    assert kind_of(answer, ITEMS[0], trust) == batch.CHAIN


def test_receipt_of_another_tx_is_caught():
    answer, trust = anchored(ITEMS, 0)
    answer[4][1] = merklebuild.proof([receipt.from_json(batch_receipt(H(b"r"), 1, 7)).hash(S)], 0, H)
    assert kind_of(answer, ITEMS[0], trust) == batch.CHAIN


def test_malformed_batch_proofs():
    answer, trust = anchored(ITEMS, 0)
    for k in (0, 1, 2, 3, 4):
        bad = dict(answer)
        del bad[k]
        raises(Malformed, batch.verify_batch_anchor, bad, ITEMS[0], trust, S, REGISTRY)
    bad = dict(answer)
    bad[1] = "5"
    raises(Malformed, batch.verify_batch_anchor, bad, ITEMS[0], trust, S, REGISTRY)
    raises(Malformed, batch.verify_batch_anchor, [1, 2], ITEMS[0], trust, S, REGISTRY)
