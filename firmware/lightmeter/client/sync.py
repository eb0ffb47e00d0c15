"""Advancing a trust checkpoint to a later block: one algorithm for the host and the device.

`sync(trust, suite, source, mode, to, progress)` asks `source` for what it needs and checks
everything with lightmeter.client.transition; the source is not trusted. A source has three
coroutines: head() -> the latest block number, header(n) -> a decoded Header (header.from_json),
changes(n) -> the proven set changes of block n, [(tx dict, tx proof, Receipt, receipt proof)]
in block order (what transition.apply_set_changes takes; [] for most blocks), and an attribute
or property `bytes`: bytes fetched so far.

strict: every header from trust.number + 1 to the target, each verified under the set of its
parent checkpoint (transition.verify_next), then its block's changes applied. A source that
leaves a change out is caught by the next header, whose sealer list is the real set. (The
target's own changes cannot be checked that way until the following sync; the result holds
the set for target + 1 as far as the source told it.)

skipping: try the target straight away (transition.verify_skip: its own quorum, more than a
third of the trusted weight among its signers); when the trusted set does not vouch for it,
push the midpoint and try that first. A header accepted by skipping has its own block's changes
applied before going on. Memory: the current checkpoint and a stack of pending targets, at most
log2(distance) + 1 numbers; headers are dropped once checked.

The rules are docs/light-client.md's: LC-T2 and LC-T3 here, LC-T1 through
transition.apply_set_changes, the header rules through verify.

Raises Invalid when a check fails, Malformed on undecodable answers, SyncError for requests that
make no sense (a target below the checkpoint or above the head), and whatever the source raises.
"""

from lightmeter.chain import header as header_mod, merkle, receipt as receipt_mod
from lightmeter.client import transition
from lightmeter.link import wire
from lightmeter.errors import Invalid, LightmeterError, Malformed


class SyncError(LightmeterError):
    """The sync cannot be attempted: bad target, checkpoint without a number."""


def _check_number(h, n):
    # LC-T3: the answer is the header asked for.
    if h.number != n:
        raise Invalid("asked for header %d, got header %d" % (n, h.number))


async def _changes(trust, h, suite, source, stats):
    ch = await source.changes(h.number)
    stats["proofs"] += len(ch)
    return transition.apply_set_changes(trust, h, ch, suite)


async def sync(trust, suite, source, mode="strict", to=None, progress=None):
    """(new Trust, stats {"headers", "proofs", "bytes"}) after moving trust to block `to` or the head.

    progress(number, target, stats), when given, is called after each accepted header.
    """
    if mode not in ("strict", "skipping"):
        raise SyncError("mode must be strict or skipping, not %r" % (mode,))
    if trust.number is None or trust.hash is None:
        raise SyncError("the checkpoint has no number and hash to start from")
    stats = {"headers": 0, "proofs": 0, "bytes": 0}
    head = await source.head()
    target = head if to is None else to
    if target < trust.number:  # LC-T3: never backwards, never past the source's head
        raise SyncError("target %d is below the checkpoint %d: refusing to go back" % (target, trust.number))
    if target > head:
        raise SyncError("target %d is above the node's latest block %d" % (target, head))
    if mode == "strict":
        n = trust.number + 1
        while n <= target:
            h = await source.header(n)
            _check_number(h, n)
            transition.verify_next(trust, h, suite)  # LC-T2
            stats["headers"] += 1
            trust = await _changes(trust, h, suite, source, stats)  # LC-T1
            if progress:
                progress(n, target, stats)
            n += 1
    else:
        pending = [target] if target > trust.number else []  # nearest target on top; each entry is below the one under it
        while pending:
            t = pending[-1]
            h = await source.header(t)
            _check_number(h, t)
            stats["headers"] += 1
            if t == trust.number + 1:
                transition.verify_next(trust, h, suite)  # the next block: strictly, parent hash too
            else:
                try:
                    trust = transition.verify_skip(trust, h, suite).trust
                except transition.TooLittleOverlap:
                    pending.append((trust.number + 1 + t) // 2)
                    continue
            h_trust = trust
            trust = await _changes(h_trust, h, suite, source, stats)
            pending.pop()
            if progress:
                progress(t, target, stats)
    stats["bytes"] = source.bytes
    return trust, stats


def changes_from_wire(payload):
    """[(tx dict, tx proof, Receipt, receipt proof)] of a `changes` answer (proto/link.md)."""
    if not isinstance(payload, dict) or not isinstance(payload.get(0), list):
        raise Malformed("changes: expected {0: [...]}")
    out = []
    for i, item in enumerate(payload[0]):
        if not isinstance(item, list) or len(item) != 4:
            raise Malformed("changes[%d]: expected [tx, tx proof, receipt, receipt proof]" % i)
        tx = wire.tx_from_wire(item[0])
        rc = receipt_mod.from_json(wire.receipt_from_wire(item[2]))
        out.append((tx, merkle.check_items(item[1], "tx proof"), rc, merkle.check_items(item[3], "receipt proof")))
    return out


class LinkSource:
    """A sync source over the device link (lightmeter.link.session.Link): get_header, get_changes."""

    def __init__(self, link, suite):
        self.link = link
        self.suite = suite

    @property
    def bytes(self):
        return self.link.sent_bytes + self.link.received_bytes

    async def head(self):
        from lightmeter.link import session as L
        ans = await self.link.request(L.GET_BLOCK_NUMBER)
        if not isinstance(ans, dict) or not isinstance(ans.get(0), int) or ans[0] < 0:
            raise Malformed("block_number: expected {0: number}")
        return ans[0]

    async def header(self, n):
        from lightmeter.link import session as L
        m = await self.link.request(L.GET_HEADER, {0: n})
        return header_mod.from_json(wire.header_from_wire(m), self.suite.node_sig_len)

    async def changes(self, n):
        from lightmeter.link import session as L
        return changes_from_wire(await self.link.request(L.GET_CHANGES, {0: n}))
