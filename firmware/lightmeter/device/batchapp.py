"""The device's batch mode (proto/batch.md): readings anchored through a concentrator.

Chosen by `"anchor": "batch"` in config.json; `Device.process` hands each queued reading here.
The device signs the reading itself (lightmeter.client.batch: bound to the chain, group and
registry), stores the signed reading in the queue record before it is ever sent, and sends the
same bytes every time. It takes the reading off its queue only when a concentrator's batch_proof
passes lightmeter.client.batch.verify_batch_anchor: leaf, path, batch transaction, its receipt and
Batch event, header by quorum. It submits the leaf again, to whatever concentrator its link
reaches, when told the leaf is unknown or when `batch_deadline` blocks (by the block number the
link reports) pass after a submission without a verified proof.
"""

from lightmeter.chain import batchtree
from lightmeter.client import batch
from lightmeter.errors import Invalid, Malformed
from lightmeter.link import session as L

DEADLINE_BLOCKS = 20
# queue record fields beside lightmeter.device.app's R_SEQ (0), R_READING (1), R_TRIES (5)
R_ITEM, R_LEAF, R_DEADLINE, R_SUBMITS = 6, 7, 8, 9


def log(*args):
    import sys
    print("[device]", *args, file=sys.stderr)


async def _block_number(dev):
    ans = await dev.link.request(L.GET_BLOCK_NUMBER)
    n = ans.get(0) if isinstance(ans, dict) else None
    if not isinstance(n, int) or n < 0:
        raise Malformed("block_number: expected {0: number}")
    return n


def _sign(dev, key, rec):
    digest = batch.signing_digest(rec[1], dev.trust.chain_id, dev.trust.group_id, dev.registry, dev.suite)
    item = batch.make_item(rec[1], dev.suite.sign_tx(dev.key, digest))
    rec[R_ITEM] = item
    rec[R_LEAF] = batchtree.leaf_hash(item, dev.suite.hash)
    rec[R_SUBMITS] = 0
    dev.queue.replace(key, dev._record(rec))  # stored before it is ever sent
    return rec


async def _submit(dev, key, rec):
    await dev.link.request(L.SUBMIT_READING, {0: rec[R_ITEM]})
    rec[R_DEADLINE] = await _block_number(dev) + dev.cfg.get("batch_deadline", DEADLINE_BLOCKS)
    rec[R_SUBMITS] += 1
    dev.queue.replace(key, dev._record(rec))
    if rec[R_SUBMITS] > 1:
        log("reading", rec[0], "submitted again (time %d)" % rec[R_SUBMITS])


def _rejected(dev, rec, e):
    dev.rejections += 1
    res = dev._results()
    res["rejected"] += 1
    res["last_rejection"] = str(e)
    res["last_rejection_kind"] = type(e).__name__
    kind = getattr(e, "kind", None) or type(e).__name__  # Rejected's kind, or Malformed, TrustExpired...
    kinds = res.get("rejected_kinds", {})
    kinds[kind] = kinds.get(kind, 0) + 1
    res["rejected_kinds"] = kinds
    dev._save_results(res)
    log("reading", rec[0], "NOT accepted:", e)


def _accepted(dev, key, rec, hdr, index, count, root):
    from lightmeter.link.session import ticks_ms
    dev.clock = (hdr.timestamp, ticks_ms())
    res = dev._results()
    res["anchored"] += 1
    res["verified"] += 1
    res["last"] = (res["last"] + [{"seq": rec[0], "batch": "0x" + root.hex(), "leaf": index,
                                   "count": count, "block": hdr.number}])[-32:]
    dev._save_results(res)
    dev.queue.remove(key)
    log("reading", rec[0], "anchored in a batch of", count, "in block", hdr.number, "and verified")


async def process(dev, key, rec):
    """Push one queued reading a step further; True once it is verified on chain."""
    if R_ITEM not in rec:
        rec = _sign(dev, key, rec)
    if R_DEADLINE not in rec:
        await _submit(dev, key, rec)
    try:
        answer = await dev.link.request(L.GET_BATCH_PROOF, {0: rec[R_LEAF]})
    except L.RemoteError as e:
        if e.code == L.E_UNKNOWN_READING:
            await _submit(dev, key, rec)
        elif e.code == L.E_NOT_FOUND:
            if await _block_number(dev) >= rec[R_DEADLINE]:
                await _submit(dev, key, rec)
        else:
            raise
        return False
    try:
        under, changes = dev.trust, None
        if isinstance(answer, dict) and isinstance(answer.get(4), dict):
            under, changes = await dev._advance(answer[4])  # as for a receipt: app.Device._advance
        hdr, index, count, root = batch.verify_batch_anchor(answer, rec[R_ITEM], under, dev.suite,
                                                            dev.registry)
        if changes is not None:
            from lightmeter.client import transition
            from lightmeter.device import checkpoint
            new = transition.apply_set_changes(under, hdr, changes, dev.suite)
            checkpoint.save(dev.store, new)
            dev.trust = new
    except (Invalid, Malformed) as e:
        _rejected(dev, rec, e)
        if await _block_number(dev) >= rec[R_DEADLINE]:
            await _submit(dev, key, rec)  # a concentrator that only lies must not hold the reading
        return False
    _accepted(dev, key, rec, hdr, index, count, root)
    return True
