"""Is this reading's transaction on chain? The device's own check of a relay's answer.

The relay answers get_receipt with a receipt, the receipt's Merkle proof, the
transaction's Merkle proof and the block header (proto/link.md). None of it is
believed: the header must carry a quorum of trusted sealers' signatures; the
receipt, recomputed from its fields, must prove into receiptsRoot and the
device's own transaction hash into txsRoot, at the same position (a receipt
does not name its transaction, so the position is what binds them); the
transaction must have succeeded and MeterRegistry must have logged this
device's reading with this sequence number. This is rule LC-P3 of
docs/light-client.md (with LC-H1..LC-Q4, LC-P1 and LC-P2).
"""

from lightmeter.chain import header as header_mod, merkle, receipt as receipt_mod
from lightmeter.client import verify
from lightmeter.link import wire
from lightmeter.errors import Invalid, Malformed


def verify_anchor(answer, tx_hash, trust, suite, registry, device, seq):
    """Check a `receipt` answer for the device's transaction tx_hash.

    registry and device are 20-byte addresses. Returns the verified header (its
    number and timestamp are then trustworthy). Raises Invalid or Malformed.
    """
    return verify_proofs(answer, verified_header(answer, trust, suite), tx_hash, suite, registry, device, seq)


def verified_header(answer, trust, suite):
    """The header of a `receipt` answer, once it has a quorum of trust's sealers."""
    if not isinstance(answer, dict):
        raise Malformed("receipt answer: expected a map")
    for k in (0, 1, 2, 3):
        if k not in answer:
            raise Malformed("receipt answer: field %d missing" % k)
    hdr = header_mod.from_json(wire.header_from_wire(answer[3]), suite.node_sig_len)
    verify.verify_header(hdr, trust, suite)
    return hdr


def verify_proofs(answer, hdr, tx_hash, suite, registry, device, seq):
    """The rest of verify_anchor, for a header hdr already verified (by verify_header, or by a
    skipping step to it): the proofs and the reading's log. Returns hdr."""
    rcpt = proven_receipt(answer, hdr, tx_hash, suite)
    # The event's topic is the chain's hash of its signature (chain/abi.py event_topic), taken
    # here without the ABI code: a device that loads modules per step keeps the proofs step's set
    # small (device/modules.py; abi.py is 3 KB of its heap, bench/RESULTS.md).
    from lightmeter.chain.meter_registry import READING_EVENT
    topic = suite.hash(READING_EVENT.encode())
    want = (topic, bytes(12) + device, seq.to_bytes(32, "big"))
    reg = registry.hex().encode()
    for address, topics, data in rcpt.logs:
        if address == reg and len(topics) == 3 and (topics[0], topics[1], topics[2]) == want:
            return hdr
    raise Invalid("MeterRegistry did not log this reading")


def proven_receipt(answer, hdr, tx_hash, suite):
    """The part of the check that is the same for every transaction (a reading's, a batch's,
    client/batch.py): tx_hash proves into hdr's txsRoot and the answer's receipt into its
    receiptsRoot at the same position, and the transaction succeeded. Returns the Receipt, whose
    logs the caller reads."""
    rcpt = receipt_mod.from_json(wire.receipt_from_wire(answer[0]))
    pos_t = merkle.verify(merkle.check_items(answer[2], "transaction proof"), tx_hash, hdr.txs_root, suite.hash)
    _, pos_r = verify.verify_receipt(rcpt, merkle.check_items(answer[1], "receipt proof"), hdr, suite, pos_t)
    if pos_r != pos_t:
        raise Invalid("the receipt is not this transaction's (positions %d and %d)" % (pos_r, pos_t))
    return rcpt
