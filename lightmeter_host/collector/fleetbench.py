"""Collector ingest of a simulated fleet's batches (`lightmeter bench --fleet`).

`lightmeter fleet simulate` (lightmeter_host.fleetsim) leaves a chain on disk (the local node's
store) whose blocks hold the concentrators' recordBatch transactions, and the concentrators'
batch stores. Here the collector's own walk (ingest.Walker, every check of docs/collector.md,
"Batches") reads that chain from the node in this process and fetches each batch over HTTP
from a batchstore.BatchServer, into SQLite or PostgreSQL; the figure is verified readings
stored per second of the whole walk (fetch, root, signatures, fleet checks, one database
transaction per block).
"""

import json
import os
import time

from lightmeter.client import trust as trust_mod

from lightmeter_host import batchstore
from lightmeter_host.chain import backends
from lightmeter_host.collector import batches, db as db_mod, ingest, source


def save_fleet(folder, summary):
    """Write fleet.json (entries) and trust.json (the genesis checkpoint) of a simulated fleet."""
    from lightmeter_host import fleetsim
    with open(os.path.join(folder, "fleet.json"), "w") as f:
        json.dump(fleetsim.fleet_entries(summary), f)
    with open(os.path.join(folder, "trust.json"), "w") as f:
        json.dump(fleetsim.genesis_trust(summary["_chain"]), f)


def ingest_fleet(folder, db_url, workers=1, expect=None, parallel=1):
    """Collect the fleet stored in folder (chain/, batches/, fleet.json, trust.json) into db_url.

    workers > 1: that many collector processes on block ranges (ingest.collect_ranges).
    Returns {"readings", "batches", "blocks", "seconds", "readings_per_s", "database", "workers"}."""
    from lightmeter_host import fleetsim
    from lightmeter_host.node.chain import Chain

    with open(os.path.join(folder, "fleet.json")) as f:
        entries = json.load(f)
    with open(os.path.join(folder, "trust.json")) as f:
        trust = json.load(f)
    backends.install()
    chain = Chain(data_dir=os.path.join(folder, "chain"))
    rpc = fleetsim.InProcessRpc(chain)
    server = batchstore.BatchServer(batchstore.BatchStore(os.path.join(folder, "batches")))
    try:
        if workers > 1:
            t0 = time.perf_counter()
            got = ingest.collect_ranges(source.CallSource(rpc), trust, entries, db_url, workers,
                                        batch_urls=[server.url])
            dt = time.perf_counter() - t0
            verified, nbatches = got["verified"], got["batches"]
        else:
            database = db_mod.open_db(db_url)
            try:
                w = ingest.open_walker(database, source.CallSource(rpc), trust_mod.from_json(trust), entries,
                                       fetch=batches.Fetcher([server.url]))
                w.set_parallel(parallel)
                try:
                    t0 = time.perf_counter()
                    w.walk()
                    dt = time.perf_counter() - t0
                finally:
                    w.close()
                verified, nbatches = w.totals["verified"], w.totals["batches"]
            finally:
                database.close()
    finally:
        server.close()
    if expect is not None and verified != expect:
        raise RuntimeError("bench: %d of %d readings verified" % (verified, expect))
    return {"readings": verified, "batches": nbatches, "blocks": chain.height(), "seconds": round(dt, 3),
            "readings_per_s": round(verified / dt, 1), "database": db_url.split(":")[0], "workers": workers}
