"""Batch anchoring (proto/batch.md): the signed reading a device hands a concentrator, and the
device's own check that the concentrator's batch carrying it is on chain.

A device in batch mode signs its reading itself (no transaction of its own): the signature is
over H(canonical CBOR ["lightmeter/reading/1", chain id, group id, registry, reading]) with the
device key, in the suite's transaction-signature layout, so the chain, group and registry are
part of what is signed. The signed reading, CBOR [reading, signature], is a leaf of a batch tree
(lightmeter.chain.batchtree); the concentrator anchors the tree's root with one MeterRegistry
`recordBatch(root, count)` transaction, which logs Batch(submitter, root, count).

The device believes none of the concentrator's `batch_proof` answer. It accepts its reading as
anchored only when: the batch transaction the answer carries calls recordBatch(root, count) on
the registry, with the answer's count; its leaf leads along the path to that root from the
stated position in a tree of that many leaves; that transaction and its receipt prove into a header with a quorum of trusted sealers
(lightmeter.client.anchor, the check every reading transaction gets); and the receipt shows the
registry's Batch event with the same root and count. Any failure raises Rejected, an Invalid
whose `kind` says which link of the chain broke, or Malformed for an answer of the wrong shape.
"""

from lightmeter.chain import abi, batchtree, tx as txm
from lightmeter.chain.meter_registry import BATCH_EVENT, RECORD_BATCH
from lightmeter.client import anchor
from lightmeter.link import cbor, wire
from lightmeter.errors import Invalid, Malformed

PURPOSE = "lightmeter/reading/1"
BATCH_CALL = RECORD_BATCH
MAX_ITEM = 1024  # bytes of one signed reading (a reading is at most 512, a signature 128)

# Rejected.kind: which check a concentrator's answer failed
CALL = "call"  # the batch transaction is not recordBatch(root, count) on the registry
COUNT = "count"  # the answer's leaf count is not the count the transaction anchors
PATH = "path"  # the leaf and its path do not lead to the anchored root
CHAIN = "chain"  # header quorum, transaction or receipt proof, or the transaction failed
EVENT = "event"  # the receipt carries no Batch event for this root and count


class Rejected(Invalid):
    """A batch_proof answer that does not prove the reading is on chain; .kind says why."""

    def __init__(self, kind, message):
        super().__init__("%s: %s" % (kind, message))
        self.kind = kind


def signing_digest(reading, chain_id, group_id, registry, suite):
    """The hash the device signs for reading (bytes) on this chain, group and registry."""
    return suite.hash(cbor.dumps([PURPOSE, chain_id, group_id, bytes(registry), bytes(reading)]))


def make_item(reading, signature):
    """The signed reading's bytes: canonical CBOR [reading, signature]."""
    return cbor.dumps([bytes(reading), bytes(signature)])


def open_item(item, chain_id, group_id, registry, suite):
    """(reading bytes, signer's 20-byte address) of a signed reading; Malformed or Invalid.

    The address comes from the signature (recovery for ecdsa, the key it carries for sm): a
    collector then looks it up in the fleet manifest."""
    if not isinstance(item, (bytes, bytearray)) or not 0 < len(item) <= MAX_ITEM:
        raise Malformed("signed reading: expected 1..%d bytes" % MAX_ITEM)
    v = cbor.loads(bytes(item))
    if not isinstance(v, list) or len(v) != 2 or not isinstance(v[0], bytes) or not isinstance(v[1], bytes):
        raise Malformed("signed reading: expected [reading, signature]")
    digest = signing_digest(v[0], chain_id, group_id, registry, suite)
    return v[0], suite.address(suite.tx_signer(digest, v[1]))


def batch_call(root, count, suite):
    """The recordBatch call data for a batch."""
    return abi.encode_call(BATCH_CALL, [root, count], suite.hash)


def _shape(answer):
    if not isinstance(answer, dict):
        raise Malformed("batch_proof: expected a map")
    for k in (0, 1, 2, 3, 4):
        if k not in answer:
            raise Malformed("batch_proof: field %d missing" % k)
    index, count = answer[0], answer[1]
    for v in (index, count):
        if isinstance(v, bool) or not isinstance(v, int):
            raise Malformed("batch_proof: index and count are integers")
    return index, count


def _anchored(tx, registry, suite):
    """(root, count) the batch transaction records, or Rejected(CALL)."""
    if tx["to"] != registry.hex().encode():
        raise Rejected(CALL, "the batch transaction is not a call to the registry")
    data = tx["input"]
    if len(data) != 68 or data[:4] != abi.selector(BATCH_CALL, suite.hash):
        raise Rejected(CALL, "the batch transaction is not recordBatch(bytes32,uint32)")
    root, count = data[4:36], int.from_bytes(data[36:68], "big")
    if data[36:64] != bytes(28) or batch_call(root, count, suite) != data:
        raise Rejected(CALL, "the batch transaction's count is not a canonical uint32")
    return root, count


def verify_batch_anchor(answer, item, trust, suite, registry):
    """Check a batch_proof answer for the signed reading item (bytes); registry is 20 bytes.

    Returns (verified header, leaf index, leaf count, batch root)."""
    index, count = _shape(answer)
    tx = wire.tx_from_wire(answer[3])
    root, anchored = _anchored(tx, registry, suite)
    if anchored != count:
        raise Rejected(COUNT, "the batch was anchored as %d leaves, the path is for %d" % (anchored, count))
    leaf = batchtree.leaf_hash(item, suite.hash)
    try:
        batchtree.verify(leaf, index, count, answer[2], root, suite.hash)
    except Invalid as e:
        raise Rejected(PATH, str(e))
    tx_hash = txm.tx_hash(tx, suite)
    try:
        hdr = anchor.verified_header(answer[4], trust, suite)
        rcpt = anchor.proven_receipt(answer[4], hdr, tx_hash, suite)
    except Invalid as e:
        raise Rejected(CHAIN, str(e))
    topic = abi.event_topic(BATCH_EVENT, suite.hash)
    reg = registry.hex().encode()
    data = count.to_bytes(32, "big")
    for address, topics, logdata in rcpt.logs:
        if (address == reg and len(topics) == 3 and topics[0] == topic and topics[2] == root
                and logdata == data):
            return hdr, index, count, root
    raise Rejected(EVENT, "MeterRegistry did not log this batch root and count")
