"""A collector database of a whole fleet, made the way `lightmeter collect` makes one: for the
page's tests and its benchmark (`lightmeter bench --page`), docs/collector.md "The page at fleet size".

The chain is built in memory by collector.bench.build_chain (real device keys, signed readings,
transactions, receipts, Merkle proofs and sealer quorums), and ingest's own walk verifies and
stores it: every row went through the collector's checks, none was written around them.
Besides good readings, some meters have what a fleet really shows: a reading sent twice (replay),
a reading naming another meter (wrong_meter, leaving a gap in the sequence), a skipped sequence
number (gap).
"""

from lightmeter.client import trust as trust_mod

from lightmeter_host.collector import bench, db as db_mod, ingest

# every EVERY-th meter (1, 1 + EVERY, ...) has one of the three, in turn
EVERY = 97


def plan(meters, per_meter=2, heavy=0):
    """The record() calls in chain order: (device index, seq, meter id or None for its own).

    per_meter readings of each meter in turn, then `heavy` more of meter 0 (a long history to
    plot); in the second round every EVERY-th meter has its anomaly."""
    calls, nxt = [], [1] * meters
    for r in range(per_meter):
        for d in range(meters):
            seq = nxt[d]
            kind = (d // EVERY) % 3 if r == 1 and d % EVERY == 1 else None
            if kind == 0:      # the same signed reading sent again: a replay
                calls += [(d, seq, None), (d, seq, None)]
            elif kind == 1:    # a reading naming another meter, then the next good one
                calls += [(d, seq, "OTHER-%05d" % d), (d, seq + 1, None)]
                seq += 1
            elif kind == 2:    # a sequence number skipped
                seq += 1
                calls.append((d, seq, None))
            else:
                calls.append((d, seq, None))
            nxt[d] = seq + 1
    for _ in range(heavy):
        calls.append((0, nxt[0], None))
        nxt[0] += 1
    return calls


def chain(meters=10_000, per_meter=2, heavy=0, per_block=500):
    """(source, TRUST.json object, fleet entries) of the fleet's chain, to fill databases from."""
    calls = plan(meters, per_meter, heavy)
    return bench.build_chain(len(calls), per_block, meters, plan=calls)


def fill(url, built):
    """Collect the chain `built` (see chain) into the new database at url; collect's summary."""
    src, trust, entries = built
    database = db_mod.open_db(url)
    try:
        w = ingest.open_walker(database, src, trust_mod.from_json(trust), entries)
        w.walk()
        return w.summary()
    finally:
        database.close()


def build(url, meters=10_000, per_meter=2, heavy=0, per_block=500):
    """Fill the new database at url with a fleet of `meters` meters; returns collect's summary."""
    return fill(url, chain(meters, per_meter, heavy, per_block))
