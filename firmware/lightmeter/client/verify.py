"""Light-client checks: a header against a trust checkpoint, a transaction or a
receipt against a verified header.

Nothing a node sends is believed: hashes are recomputed from fields, a header
needs signatures of distinct sealers of the trusted set reaching the PBFT
quorum, and a transaction or receipt needs a Merkle proof into the header's
roots. Each failure raises Invalid with the reason; malformed input has already
been refused by the decoders (Malformed).
"""

from lightmeter.chain import merkle, tx as tx_mod
from lightmeter.errors import Invalid
from lightmeter.client.trust import quorum

BLOCK_LIMIT_WINDOW = 1000  # a node accepts blockLimit in (current, current + 1000]


class HeaderCheck:
    """What verify_header established."""

    __slots__ = ("number", "hash", "signers", "weight", "quorum")


def verify_header(header, trust, suite):
    """Verify header against trust; returns a HeaderCheck or raises Invalid."""
    digest = header.hash(suite)
    if header.claimed_hash is not None and header.claimed_hash != digest:
        raise Invalid("the header's hash field does not match its fields")
    res = HeaderCheck()
    res.number = header.number
    res.hash = digest
    res.signers = []
    res.weight = 0
    total = trust.total_weight()
    res.quorum = quorum(total)
    if trust.number is not None and header.number == trust.number:
        if digest != trust.hash:
            raise Invalid("conflicts with the trusted header at height %d" % header.number)
        if header.number == 0:
            return res  # the genesis anchor itself: trusted by hash, never signed
    if header.number == 0:
        raise Invalid("a genesis header carries no signatures; it is trusted only by its hash")

    # The sealer list and weights are hashed, so they must be exactly the
    # trusted set; a different set needs a proven set change first.
    sealers = trust.sealers
    if len(header.sealer_list) != len(sealers):
        raise Invalid("sealer list has %d nodes, the trusted set %d" % (len(header.sealer_list), len(sealers)))
    for i, (node, w) in enumerate(sealers):
        if header.sealer_list[i] != node:
            raise Invalid("sealer %d is not the trusted node at that index" % i)
        if header.weights[i] != w:
            raise Invalid("sealer %d has weight %d, trusted %d" % (i, header.weights[i], w))

    res.signers, res.weight = check_signatures(header, digest, sealers, suite)
    if res.weight < res.quorum:
        raise Invalid("quorum not reached: signers hold weight %d of the %d needed" % (res.weight, res.quorum))
    return res


def check_signatures(header, digest, sealers, suite):
    """Who signed digest among sealers [(node id, weight)]: (indices, their weight).

    A signature list is refused as a whole (Invalid) if it names an index outside
    sealers, names an index twice, or carries a signature that does not verify.
    The quorum is the caller's to check.
    """
    # Structure first (cheap), signatures after.
    seen = []
    for idx, _ in header.signatures:
        if idx >= len(sealers):
            raise Invalid("signature by unknown sealer index %d" % idx)
        if idx in seen:
            raise Invalid("sealer index %d signs twice" % idx)
        seen.append(idx)
    signers = []
    weight = 0
    for idx, sig in header.signatures:
        node, w = sealers[idx]
        if not suite.verify_node(node, digest, sig):
            raise Invalid("signature of sealer %d does not verify" % idx)
        signers.append(idx)
        weight += w
    return signers, weight


def verify_tx(tx, proof_items, header, trust, suite):
    """Check tx is signed, belongs to the trusted chain and group, and is in header.

    header must already be verified. Returns (tx hash, sender address, position).
    """
    if tx["chainID"] != trust.chain_id.encode():
        raise Invalid("transaction is for chain %r, trusted chain is %r" % (tx["chainID"].decode(), trust.chain_id))
    if tx["groupID"] != trust.group_id.encode():
        raise Invalid("transaction is for group %r, trusted group is %r" % (tx["groupID"].decode(), trust.group_id))
    if tx.get("claimed_hash") is not None:
        if all(d != tx["claimed_hash"] for _, d in tx_mod.hashes(tx, suite)):
            raise Invalid("the transaction's hash field does not match its fields")
    n = header.number
    if not n <= tx["blockLimit"] < n + BLOCK_LIMIT_WINDOW:
        raise Invalid("blockLimit %d cannot be in block %d" % (tx["blockLimit"], n))
    # The proof, not the JSON, decides which reading of the nonce was hashed (chain/tx.py).
    digest, position = tx_mod.prove(
        tx, suite, lambda d: merkle.verify(proof_items, d, header.txs_root, suite.hash))
    sender = tx_mod.sender(tx, suite, digest)
    if tx.get("claimed_from") is not None and tx["claimed_from"] != sender:
        raise Invalid("the transaction's from field is not the signer")
    return digest, sender, position


def verify_receipt(rcpt, proof_items, header, suite, index=None):
    """Check rcpt is in header (already verified) and succeeded.

    Returns (receipt hash, position). The position binds the receipt to the
    transaction at the same position of txsRoot: pass that position as index
    (it also settles a proof through two identical receipts).
    """
    digest = rcpt.hash(suite)
    if rcpt.claimed_hash is not None and rcpt.claimed_hash != digest:
        raise Invalid("the receipt's hash field does not match its fields")
    if rcpt.block_number != header.number:
        raise Invalid("receipt is for block %d, header is block %d" % (rcpt.block_number, header.number))
    position = merkle.verify(proof_items, digest, header.receipts_root, suite.hash, index)
    if rcpt.status != 0:
        raise Invalid("transaction failed with status %d" % rcpt.status)
    return digest, position
