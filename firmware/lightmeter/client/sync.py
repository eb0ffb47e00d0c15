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

pivots (the device's default, docs/light-client.md "Skipping verification and the trusting
period"): the relay offers, in one `pivots` answer (proto/link.md), the headers of the blocks in
which the sealer set changed between the checkpoint and a target, each with its proven changes.
follow_pivots verifies each pivot under exactly the set the previous one leads to and applies its
changes; the target must then carry that set. Nothing offered is believed: a pivot left out, or
one of another fork, leaves a header whose set is not the derived one (SetMismatch) or whose
signatures do not reach its quorum. check_fresh refuses a checkpoint older than the trusting
period (TrustExpired) before any of it is used.

The rules are docs/light-client.md's: LC-T2 and LC-T3 here, LC-T1 through
transition.apply_set_changes, the header rules through verify.

Raises Invalid when a check fails, Malformed on undecodable answers, SyncError for requests that
make no sense (a target below the checkpoint or above the head), and whatever the source raises.
"""

from lightmeter.chain import header as header_mod, merkle, receipt as receipt_mod
from lightmeter.client import transition, verify
from lightmeter.link import wire
from lightmeter.errors import Invalid, LightmeterError, Malformed


class SyncError(LightmeterError):
    """The sync cannot be attempted: bad target, checkpoint without a number."""


class TrustExpired(Invalid):
    """The checkpoint is older than the trusting period: it may not vouch for anything newer.

    Nothing can make an expired sealer set trustworthy again (its members may have left and sold
    their keys): a new checkpoint is needed, from the operator."""


class SetMismatch(Invalid):
    """A header carries another sealer set than the checkpoint and the offered pivots lead to:
    a set change was left out, or the header is not of this chain."""


class BadPivot(Invalid):
    """A pivot out of order: at or below the checkpoint (a replay), repeated, or not below the target."""


def check_fresh(trust, header_time, now, period):
    """Refuse (TrustExpired) to skip from trust to a header stamped header_time (ms) when the
    checkpoint is period ms old or more by that timestamp or by the clock now (ms; None when the
    device has no synced clock). period None: no trusting period (strict walks)."""
    if period is None:
        return
    t = trust.timestamp
    if t is None:
        raise TrustExpired("the checkpoint carries no timestamp: its age is unknown")
    if header_time - t >= period:
        raise TrustExpired("the checkpoint (block %d) is %d s older than the header, the trusting "
                           "period is %d s: a new checkpoint is needed" % (trust.number, (header_time - t) // 1000, period // 1000))
    if now is not None and now - t >= period:
        raise TrustExpired("the checkpoint (block %d) is %d s old by the device clock, the trusting "
                           "period is %d s: a new checkpoint is needed" % (trust.number, (now - t) // 1000, period // 1000))


def follow_pivots(trust, suite, pivots, target):
    """The checkpoint under which header `target` is to be verified, after the offered pivots.

    pivots: [(Header, changes)] in ascending block order, each strictly between the checkpoint
    and target. Each is verified under exactly the set the checkpoint and the pivots before it
    lead to (its signatures, a quorum of that set), then its proven changes are applied (the set
    of the next block). The target must carry the set reached: SetMismatch otherwise. The
    target's own signatures are the caller's to check (anchor.verify_anchor). Raises Invalid.
    """
    cur = trust
    for i, item in enumerate(pivots):
        h, ch = item
        if h.number <= cur.number:
            raise BadPivot("pivot %d is block %d, not above the checkpoint %d" % (i, h.number, cur.number))
        if h.number >= target.number:
            raise BadPivot("pivot %d is block %d, not below the target %d" % (i, h.number, target.number))
        if not transition.header_set_matches(cur, h):
            raise SetMismatch("pivot block %d carries another sealer set than block %d leads to"
                              % (h.number, cur.number))
        if not ch:
            raise BadPivot("pivot block %d comes with no set change" % h.number)
        verify.verify_header(h, cur, suite)
        cur = transition.apply_set_changes(cur, h, ch, suite)
    if not transition.header_set_matches(cur, target):
        raise SetMismatch("block %d carries another sealer set than block %d leads to: a set "
                          "change was left out, or the header is not of this chain" % (target.number, cur.number))
    return cur


def pivots_from_wire(payload, suite):
    """([(Header, changes)], changes of the target) of a `pivots` answer (proto/link.md)."""
    if not isinstance(payload, dict) or not isinstance(payload.get(0), list):
        raise Malformed("pivots: expected {0: [...], 1: [...]}")
    out = []
    for i, item in enumerate(payload[0]):
        if not isinstance(item, list) or len(item) != 2:
            raise Malformed("pivots[%d]: expected [header, changes]" % i)
        h = header_mod.from_json(wire.header_from_wire(item[0]), suite.node_sig_len)
        out.append((h, changes_from_wire({0: item[1]})))
    return out, changes_from_wire({0: payload.get(1)})


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
        m = await self.link.request(L.GET_HEADER, {0: n, 1: 1} if verify.wants_r_hints(self.suite) else {0: n})
        return header_mod.from_json(wire.header_from_wire(m), self.suite.node_sig_len)

    async def changes(self, n):
        from lightmeter.link import session as L
        return changes_from_wire(await self.link.request(L.GET_CHANGES, {0: n}))

    async def pivots(self, after, target):
        """follow_pivots' input from the relay: ([(Header, changes)] of the set changes in blocks
        after < n < target, changes of block target). An answer without the target's changes
        (field 1) is cut short by the frame size: ask again after its last pivot."""
        from lightmeter.link import session as L
        out = []
        while True:
            m = await self.link.request(L.GET_PIVOTS, {0: after, 1: target})
            if not isinstance(m, dict):
                raise Malformed("pivots: expected a map")
            more = 1 not in m
            if more:
                m[1] = []
            got, changes = pivots_from_wire(m, self.suite)
            out.extend(got)
            if not more:
                return out, changes
            if not got or got[-1][0].number <= after:
                raise BadPivot("a pivots answer cut short without progress")
            after = got[-1][0].number
