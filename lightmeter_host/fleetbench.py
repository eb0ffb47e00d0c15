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


def ingest_fleet(folder, db_url, workers=1, expect=None, parallel=1, threads=False, overlap=False):
    """Collect the fleet stored in folder (chain/, batches/, fleet.json, trust.json) into db_url.

    workers > 1: that many collector processes on block ranges (ingest.collect_ranges).
    parallel > 1: leaves opened in that many worker processes, or threads (threads=True).
    overlap: each block committed while the next is checked (ingest.Walker.overlap).
    Returns {"readings", "batches", "blocks", "seconds", "readings_per_s", "database", "workers",
    "cpu_seconds", "load_average"}."""
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
            import concurrent.futures
            import multiprocessing
            ranges = ingest.plan_ranges(trust["number"] + 1, chain.height(), workers)
            ctx = multiprocessing.get_context("forkserver")
            with concurrent.futures.ProcessPoolExecutor(len(ranges), ctx) as ex:
                # each worker process opens the stored chain (its own node) before the clock starts
                list(ex.map(_worker_ready, [folder] * len(ranges)))
                t0 = time.perf_counter()
                outs = list(ex.map(_worker, [(folder, db_url, r, server.url, overlap) for r in ranges]))
                dt, cpu = time.perf_counter() - t0, None
            verified, nbatches = sum(o["verified"] for o in outs), sum(o["batches"] for o in outs)
        else:
            database = db_mod.open_db(db_url)
            try:
                w = ingest.open_walker(database, source.CallSource(rpc), trust_mod.from_json(trust), entries,
                                       fetch=batches.Fetcher([server.url]))
                w.set_parallel(parallel, threads)
                w.overlap = overlap
                try:
                    t0, c0 = time.perf_counter(), time.process_time()
                    w.walk()
                    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
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
            "readings_per_s": round(verified / dt, 1), "database": db_url.split(":")[0], "workers": workers,
            # this process's CPU time (not the database server's): what the walk costs unshared
            "cpu_seconds": None if cpu is None else round(cpu, 3), "load_average": round(os.getloadavg()[0], 2)}


_NODE = {}  # a worker process's node: its chain opened once


def _worker_ready(folder):
    from lightmeter_host import fleetsim
    from lightmeter_host.node.chain import Chain
    if folder not in _NODE:
        backends.install()
        _NODE[folder] = fleetsim.InProcessRpc(Chain(data_dir=os.path.join(folder, "chain")))
    return os.getpid()


def _worker(args):
    """One collector worker (ingest.collect_range) on its block range, in a process of its own."""
    folder, db_url, (first, last), url, overlap = args
    _worker_ready(folder)
    with open(os.path.join(folder, "fleet.json")) as f:
        entries = json.load(f)
    with open(os.path.join(folder, "trust.json")) as f:
        trust = json.load(f)
    return ingest.collect_range(source.CallSource(_NODE[folder]), trust, entries, db_url, first, last,
                                batch_urls=[url], overlap=overlap)
