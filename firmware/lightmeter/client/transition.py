"""Moving the trusted sealer set forward (docs/light-client.md: LC-T1, LC-T2; skipping).

A checkpoint (trust.Trust) holds `number`, `hash` and `sealers`. Here the
sealers of a checkpoint are the set that signs the blocks AFTER `number`:
FISCO BCOS applies a change made in block N from block N + 1
(enableNumber = N + 1), so header N is still signed by the old set and header
N + 1 carries the new one. For a checkpoint without set changes in its own
block (genesis, or any block without consensus-precompile transactions) this
is also the set that signed block `number`.

Strict mode, `apply_set_changes`: the transactions to the consensus precompile
(0x...1003) in a header N already accepted under the trusted set, each proven
into N's txsRoot and, at the same position, its successful receipt into N's
receiptsRoot, are decoded and applied in block order to the trusted set. The
result is the checkpoint (N, hash of N, set for N + 1). The caller cannot prove
that it was given every change of block N; a change left out makes header N + 1
(which carries the real set) fail verify.verify_header, so nothing is accepted
on an incomplete list.

Skipping mode, `verify_skip` (CometBFT-style): a later header with a different
set is accepted when (a) its signers that are also in the trusted set hold more
than 1/3 of the trusted weight and (b) its signatures reach the PBFT quorum of
the header's own set. The result is the checkpoint (M, hash of M, M's own set);
if block M itself changed the set, apply its changes with apply_set_changes
(header M matches that checkpoint) before verifying M + 1 strictly. On refusal,
bisect: try a header between the checkpoint and the target.
"""

from lightmeter.client import verify
from lightmeter.errors import Invalid
from lightmeter.client.trust import Trust

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# The consensus precompile as the "to" field of a transaction carries it (hex, no 0x).
CONSENSUS_ADDRESS = b"0000000000000000000000000000000000001003"



class TooLittleOverlap(Invalid):
    """verify_skip: the trusted set does not vouch for the header (bisect: try a nearer one)."""


def _copy(trust, sealers, number, digest, timestamp=None):
    t = Trust()
    t.timestamp = timestamp
    t.chain_id = trust.chain_id
    t.group_id = trust.group_id
    t.crypto = trust.crypto
    t.sealers = sealers
    t.number = number
    t.hash = digest
    return t


def header_set_matches(trust, header):
    """True if header's sealerList and weights are exactly trust.sealers."""
    return verify.set_mismatch(header, trust.sealers) is None


def apply_set_changes(trust, header, changes, suite):
    """The checkpoint after header N (accepted under trust) and its proven set changes.

    changes: [(tx dict, tx proof items, Receipt, receipt proof items)] in block
    order. Returns a new Trust: number N, hash of N, sealers the set for N + 1 (LC-T1).
    """
    if not header_set_matches(trust, header):
        raise Invalid("the header's sealer set is not the trusted set; verify it under this trust first")
    if trust.number is not None and header.number < trust.number:
        raise Invalid("header %d is below the checkpoint %d" % (header.number, trust.number))
    digest = header.hash(suite)
    if trust.number is not None and header.number == trust.number and digest != trust.hash:
        raise Invalid("conflicts with the trusted header at height %d" % header.number)
    sealers = list(trust.sealers)
    if changes:
        # the changes' proofs and decoding (client/setchange.py): a block without set changes,
        # nearly every one, loads none of it
        from lightmeter.client import setchange
        sealers = setchange.applied(trust, header, changes, suite)
    return _copy(trust, sealers, header.number, digest, header.timestamp)


class SkipCheck:
    """What verify_skip established; `trust` is the checkpoint at the header."""

    __slots__ = ("number", "hash", "signers", "weight", "quorum", "trusted_weight",
                 "trusted_total", "trust")


def _share_ids(header, trusted):
    # A node id both sets hold is kept once: the header's copy is replaced by the checkpoint's
    # equal bytes, so 64 bytes a sealer are free before the signatures are checked (the device's
    # heap, bench/RESULTS.md). Equal values: no check below can tell the difference.
    ids = header.sealer_list
    for tn, _ in trusted.sealers:
        for i in range(len(ids)):
            if ids[i] == tn:
                ids[i] = tn
                break


def verify_skip(trusted, header, suite):
    """Accept a later header signed by a quorum of its own set that the trusted set vouches for.

    Returns a SkipCheck or raises Invalid.
    """
    digest = header.hash(suite)
    if header.claimed_hash is not None and header.claimed_hash != digest:
        raise Invalid("the header's hash field does not match its fields")
    if header.number == 0:
        raise Invalid("a genesis header carries no signatures; it is trusted only by its hash")
    if trusted.number is not None and header.number <= trusted.number:
        raise Invalid("header %d is not above the checkpoint %d" % (header.number, trusted.number))
    own = []
    n = len(header.sealer_list)
    if n == 0 or len(header.weights) != n:
        raise Invalid("the header's sealer list is empty or its weights do not match it")
    _share_ids(header, trusted)
    for i in range(n):
        if i and header.sealer_list[i - 1] >= header.sealer_list[i]:
            raise Invalid("sealerList: not in ascending node id order (or repeated)")
        if header.weights[i] < 1:
            raise Invalid("sealer %d has weight %d" % (i, header.weights[i]))
        own.append((header.sealer_list[i], header.weights[i]))

    # (a) first, as it needs no signature check: overlap with the trusted set.
    seen = verify.signer_indices(header, n)
    total = trusted.total_weight()
    tw = 0
    for idx in seen:
        node = own[idx][0]
        for tn, w in trusted.sealers:
            if tn == node:
                tw += w
                break
    if 3 * tw <= total:
        raise TooLittleOverlap("trusted signers hold %d of total %d, need more than a third" % (tw, total))

    # (b) the header's own quorum, every signature checked.
    signers, weight, q = verify.check_quorum(header, digest, own, suite)
    res = SkipCheck()
    res.number = header.number
    res.hash = digest
    res.signers = signers
    res.weight = weight
    res.quorum = q
    res.trusted_weight = tw
    res.trusted_total = total
    res.trust = _copy(trusted, own, header.number, digest, header.timestamp)
    return res


def verify_next(trust, header, suite):
    """Strict step: header is number trust.number + 1, links to trust.hash, verifies under trust (LC-T2)."""
    if trust.number is None or header.number != trust.number + 1:
        raise Invalid("header %d does not follow the checkpoint" % header.number)
    if header.parents[0][1] != trust.hash:
        raise Invalid("header %d's parent is not the trusted header" % header.number)
    return verify.verify_header(header, trust, suite)
