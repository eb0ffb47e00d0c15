"""Light-client checks: a header against a trust checkpoint, a transaction or a
receipt against a verified header.

Nothing a node sends is believed: hashes are recomputed from fields, a header
needs signatures of distinct sealers of the trusted set reaching the PBFT
quorum, and a transaction or receipt needs a Merkle proof into the header's
roots. Each failure raises Invalid with the reason; malformed input has already
been refused by the decoders (Malformed). The rules and their ids (LC-...) are
in docs/light-client.md.
"""

from lightmeter.errors import Invalid
from lightmeter.client.trust import quorum

BLOCK_LIMIT_WINDOW = 1000  # a node accepts blockLimit in (current, current + 1000]
# Signatures per batch check (LC-S3); 1: every signature checked on its own, one at a time.
# A batch of 15 with the sealers' tables kept is 2.3x faster than single checks with R hints from
# the relay (1.7x without; m0), but the tables (2.4 KB a sealer) and a batch's own R tables and
# digits need far more heap than the device cycle's budget (bench/RESULTS.md). A device with the
# heap to spare may raise it; it then asks the relay for R hints (wants_r_hints).
BATCH_SIZE = 1
# Single checks with the sealers' tables kept from header to header (crypto/keys.py; on the
# 32-bit port 1.5 KB a sealer for sm, 2.4 KB for ecdsa): sm 1.57x faster, ecdsa 1.18x (m0
# instructions, bench/RESULTS.md). Off by default: the device budget has no room for a set's
# tables (docs/light-client.md). A batch (BATCH_SIZE > 1) keeps them whatever this says.
KEY_TABLES = False


def wants_r_hints(suite):
    """True if this device's header checks would use R hints (proto/link.md, "R hints"): it asks
    the relay for them only then, so a device with single checks pays no bytes for them."""
    return BATCH_SIZE > 1 and suite.name == "ecdsa"


class QuorumNotReached(Invalid):
    """The header's signatures verify but their signers do not hold the quorum's weight."""


class HeaderCheck:
    """What verify_header established."""

    __slots__ = ("number", "hash", "signers", "weight", "quorum")


def verify_header(header, trust, suite):
    """Verify header against trust; returns a HeaderCheck or raises Invalid.

    LC-H1 (hash recomputed), LC-H2, LC-C2 (the checkpoint's own height, genesis),
    LC-H3 (the trusted set), then LC-Q1..LC-Q4 (`check_quorum`).
    """
    digest = header.hash(suite)  # LC-H1, LC-H2: the hash of the fields, whatever the version
    if header.claimed_hash is not None and header.claimed_hash != digest:
        raise Invalid("the header's hash field does not match its fields")
    res = HeaderCheck()
    res.number = header.number
    res.hash = digest
    res.signers = []
    res.weight = 0
    total = trust.total_weight()
    res.quorum = quorum(total)
    if trust.number is not None and header.number == trust.number:  # LC-C2
        if digest != trust.hash:
            raise Invalid("conflicts with the trusted header at height %d" % header.number)
        if header.number == 0:
            return res  # the genesis anchor itself: trusted by hash, never signed
    if header.number == 0:
        raise Invalid("a genesis header carries no signatures; it is trusted only by its hash")

    # LC-H3: the sealer list and weights are hashed, so they must be exactly the
    # trusted set; a different set needs a proven set change first (LC-T1).
    reason = set_mismatch(header, trust.sealers)
    if reason is not None:
        raise Invalid(reason)
    res.signers, res.weight, _ = check_quorum(header, digest, trust.sealers, suite)
    return res


def set_mismatch(header, sealers):
    """Why header's sealerList and weights are not exactly sealers [(node id, weight)], or None (LC-H3)."""
    n = len(sealers)
    if len(header.sealer_list) != n:
        return "sealer list has %d nodes, the trusted set %d" % (len(header.sealer_list), n)
    if len(header.weights) != n:
        return "weight list has %d entries, the trusted set %d" % (len(header.weights), n)
    for i in range(n):
        node, w = sealers[i]
        if header.sealer_list[i] != node:
            return "sealer %d is not the trusted node at that index" % i
        if header.weights[i] != w:
            return "sealer %d has weight %d, trusted %d" % (i, header.weights[i], w)
    return None


def signer_indices(header, count):
    """The sealer indices of header's signature list, in order; Invalid unless each is
    below count and named once (LC-Q3)."""
    seen = []
    for idx, _ in header.signatures:
        if idx >= count:
            raise Invalid("signature by unknown sealer index %d" % idx)
        if idx in seen:
            raise Invalid("sealer index %d signs twice" % idx)
        seen.append(idx)
    return seen


def total_weight(sealers):
    """Sum of the weights of sealers [(node id, weight)]."""
    t = 0
    for _, w in sealers:
        t += w
    return t


def check_signatures(header, digest, sealers, suite):
    """Who signed digest among sealers [(node id, weight)]: (indices, their weight).

    A signature list is refused as a whole (Invalid) if it names an index outside
    sealers, names an index twice (LC-Q3), or carries a signature that does not
    verify (LC-Q4; signature rules LC-S1, LC-S2). The quorum is the caller's to
    check (`check_quorum`).
    """
    # Structure first (cheap), signatures after.
    signer_indices(header, len(sealers))
    kept = None
    if KEY_TABLES or (BATCH_SIZE > 1 and suite.name == "ecdsa"):
        from lightmeter.crypto import keys  # here: a device that keeps no tables never loads it

        kept = keys.kept(suite)  # None with a native backend: it takes the keys as bytes
        if kept is not None:
            kept.keep([node for node, _ in sealers])
    if kept is not None and BATCH_SIZE > 1 and len(header.signatures) > 1 and suite.name == "ecdsa":
        # LC-S3: one randomized check of them all (crypto/batch.py), which accepts exactly what
        # the single checks accept; if it fails, the single checks below name the bad signer.
        from lightmeter.crypto import batch

        # In groups of BATCH_SIZE, to bound the memory: a batch holds its R's tables.
        # R hints from the relay, when it sent them, spare each R's square root; a wrong one is
        # not used (crypto/batch.py), so they need no trust.
        sigs = header.signatures
        hints = header.r_hints
        ok = True
        i = 0
        while ok and i < len(sigs):
            ok = batch.verify_same_hash(digest, [(kept.get(sealers[idx][0]), sig) for idx, sig in sigs[i:i + BATCH_SIZE]],
                                        ys=None if hints is None else hints[i:i + BATCH_SIZE])
            i += BATCH_SIZE
        if ok:
            return [idx for idx, _ in sigs], total_weight([sealers[idx] for idx, _ in sigs])
    signers = []
    weight = 0
    for idx, sig in header.signatures:
        node, w = sealers[idx]
        if not suite.verify_node(node if kept is None else kept.get(node), digest, sig):
            raise Invalid("signature of sealer %d does not verify" % idx)
        signers.append(idx)
        weight += w
    return signers, weight


def check_quorum(header, digest, sealers, suite):
    """(signers, weight, quorum) of header's signatures under sealers, every signature checked.

    Invalid as `check_signatures`; QuorumNotReached if the signers' weight is
    below quorum(total weight of sealers) (LC-Q1, LC-Q2).
    """
    signers, weight = check_signatures(header, digest, sealers, suite)
    q = quorum(total_weight(sealers))
    if weight < q:
        raise QuorumNotReached("quorum not reached: signers hold weight %d of the %d needed" % (weight, q))
    return signers, weight, q


def verify_tx(tx, proof_items, header, trust, suite):
    """Check tx is signed, belongs to the trusted chain and group, and is in header (LC-P1).

    header must already be verified. Returns (tx hash, sender address, position).
    """
    # imported here: a device checks a transaction only with a set change, and a module it
    # imports stays in its RAM (chain/txread.py)
    from lightmeter.chain import txread
    if tx["chainID"] != trust.chain_id.encode():
        raise Invalid("transaction is for chain %r, trusted chain is %r" % (tx["chainID"].decode(), trust.chain_id))
    if tx["groupID"] != trust.group_id.encode():
        raise Invalid("transaction is for group %r, trusted group is %r" % (tx["groupID"].decode(), trust.group_id))
    if tx.get("claimed_hash") is not None:
        if all(d != tx["claimed_hash"] for _, d in txread.hashes(tx, suite)):
            raise Invalid("the transaction's hash field does not match its fields")
    n = header.number
    if not n <= tx["blockLimit"] < n + BLOCK_LIMIT_WINDOW:
        raise Invalid("blockLimit %d cannot be in block %d" % (tx["blockLimit"], n))
    from lightmeter.chain import merkle  # the proofs' step only: not the header step's (see verify_receipt)
    # The proof, not the JSON, decides which reading of the nonce was hashed (chain/txread.py).
    digest, position = txread.prove(
        tx, suite, lambda d: merkle.verify(proof_items, d, header.txs_root, suite.hash))
    sender = txread.sender(tx, suite, digest)
    if tx.get("claimed_from") is not None and tx["claimed_from"] != sender:
        raise Invalid("the transaction's from field is not the signer")
    return digest, sender, position


def verify_receipt(rcpt, proof_items, header, suite, index=None):
    """Check rcpt is in header (already verified) and succeeded (LC-P2).

    Returns (receipt hash, position). The position binds the receipt to the
    transaction at the same position of txsRoot: pass that position as index
    (it also settles a proof through two identical receipts).
    """
    digest = rcpt.hash(suite)
    if rcpt.claimed_hash is not None and rcpt.claimed_hash != digest:
        raise Invalid("the receipt's hash field does not match its fields")
    if rcpt.block_number != header.number:
        raise Invalid("receipt is for block %d, header is block %d" % (rcpt.block_number, header.number))
    # imported here: checking a header's quorum needs no Merkle code, and a device that loads
    # modules per step keeps that step's set small (bench/RESULTS.md, phase loading)
    from lightmeter.chain import merkle
    position = merkle.verify(proof_items, digest, header.receipts_root, suite.hash, index)
    if rcpt.status != 0:
        raise Invalid("transaction failed with status %d" % rcpt.status)
    return digest, position
