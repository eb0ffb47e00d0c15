"""Several collector workers on one database, each on its own block range from its own resume
point (docs/collector.md "Several workers"): every reading stored once, none skipped, a reading
met by both workers (a leaf resent to a batch in the other's range) kept once; a worker killed
with SIGKILL and restarted resumes its range where its last commit left it.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from collector_chain import FleetChain, assert_totals_kept, reading_bytes, reverified
from pgserver import db_url, pg_server  # noqa: F401  (fixtures)
from test_collector_batches import Served, anchor, leaf, rows
from lightmeter_host.collector import db as db_mod, ingest, source
from lightmeter_host.paths import PROJECT_ROOT

BLOCKS = 24


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """24 blocks: record() readings of d0..d2 in every block, a batch of b0..b3's readings every
    4th block; the leaf of b0's seq 2 (block 8) resent in the batch of block 20."""
    c = FleetChain(seed=b"collector-workers")
    for i in range(3):
        c.device("d%d" % i, "m%d" % i)
    for i in range(4):
        c.device("b%d" % i, "bm%d" % i)
    c.served = Served(tmp_path_factory.mktemp("workers") / "batches")
    c.expect = set()
    seq = {}
    resend = None
    for n in range(1, BLOCKS + 1):
        if n % 4 == 0:
            leaves = []
            for i in range(4):
                s = seq["b%d" % i] = seq.get("b%d" % i, 0) + 1
                leaves.append(leaf(c, "b%d" % i, "bm%d" % i, s))
                c.expect.add(("bm%d" % i, s))
            if n == 8:
                resend = leaves[0]
            if n == 20:
                leaves.append(resend)
            c.served.store.put(anchor(c, leaves), leaves)
            continue
        raws = []
        for i in range(3):
            s = seq["d%d" % i] = seq.get("d%d" % i, 0) + 1
            raws.append(c.record("d%d" % i, s, reading_bytes("m%d" % i, s, "ecdsa")))
            c.expect.add(("m%d" % i, s))
        assert c.block(raws) == n
    yield c
    c.served.close()
    c.stop()


def _range(c, url, first, last):
    return ingest.collect_range(source.RpcSource(c.url), c.genesis, c.entries, url, first, last,
                                batch_urls=[c.served.url])


def _stored(url):
    got = rows(url, "SELECT meter_id, seq FROM readings")
    return [(r["meter_id"], r["seq"]) for r in got]


def test_two_workers_at_once_store_every_reading_once(chain, db_url):
    ranges = ingest.plan_ranges(1, BLOCKS, 2)
    assert ranges == [(1, 12), (13, 24)]
    outs, errors = [], []

    def run(r):
        try:
            outs.append(_range(chain, db_url, *r))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)
    threads = [threading.Thread(target=run, args=(r,)) for r in ranges]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)  # generous: on a loaded machine a range takes minutes, and a join that gives up
    assert not any(t.is_alive() for t in threads), "a worker did not finish"  # would misreport
    assert not errors, errors
    got = _stored(db_url)
    assert len(got) == len(set(got)) and set(got) == chain.expect
    assert sum(o["verified"] for o in outs) == len(chain.expect)
    # the resent leaf: one replay, whichever worker met it second
    assert rows(db_url, "SELECT kind, meter_id, seq FROM rejections") == [{"kind": "replay", "meter_id": "bm0",
                                                                         "seq": 2}]
    d = db_mod.open_db(db_url)
    try:
        assert [(r["first_block"], r["last_block"], r["checkpoint"]["number"]) for r in d.ranges()] == \
            [(1, 12, 12), (13, 24, 24)]
    finally:
        d.close()
    report = reverified(db_url)
    assert report["ok"] and report["good"] == len(chain.expect)
    assert_totals_kept(db_url)  # two writers moved the same totals
    # a finished range stores nothing more; overlapping or single-walker runs are refused
    assert _range(chain, db_url, 13, 24)["verified"] == 0
    with pytest.raises(ingest.CollectError, match="overlaps"):
        _range(chain, db_url, 10, 16)
    with pytest.raises(ingest.CollectError, match="ranges"):
        ingest.collect(chain.url, chain.genesis, chain.entries, db_url)


def _files(c, tmp_path):
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(c.genesis))
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"version": 1, "devices": c.entries}))
    return trust, fleet


def _worker(c, trust, fleet, url, r):
    return subprocess.Popen([sys.executable, "-m", "lightmeter_host.cli", "collect", "--rpc", c.url, "--trust",
                             str(trust), "--fleet", str(fleet), "--db", url, "--batches", c.served.url,
                             "--range", "%d:%d" % r, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(PROJECT_ROOT))


def test_a_worker_killed_and_restarted_resumes_its_range_on_postgresql(chain, pg_server, tmp_path):
    trust, fleet = _files(chain, tmp_path)
    ranges = ingest.plan_ranges(1, BLOCKS, 2)
    # how long one worker takes here: the kill falls inside it
    start = time.monotonic()
    p = _worker(chain, trust, fleet, pg_server.new_database(), ranges[0])
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    full = time.monotonic() - start
    rnd = random.Random(20261203)
    url = pg_server.new_database()
    killed = 0
    for attempt in range(5):
        a, b = (_worker(chain, trust, fleet, url, r) for r in ranges)
        try:
            a.wait(timeout=rnd.uniform(0.4, 0.95) * full)
        except subprocess.TimeoutExpired:
            os.kill(a.pid, signal.SIGKILL)
            killed += 1
        a.communicate(timeout=60)
        out, err = b.communicate(timeout=300)
        assert b.returncode == 0, err
        if killed:
            break
    assert killed == 1, "the worker always finished before its kill"
    done = {r["first_block"]: r["checkpoint"]["number"] for r in db_mod.open_db(url).ranges()}
    p = _worker(chain, trust, fleet, url, ranges[0])  # the restart
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    # it resumes after its last stored block (its range's row), or from the start if killed before making it
    assert json.loads(out)["from_block"] in (None, done.get(1, 0) + 1)
    got = _stored(url)
    assert len(got) == len(set(got)) and set(got) == chain.expect
    assert rows(url, "SELECT COUNT(*) AS n FROM rejections")[0]["n"] == 1
    report = reverified(url)
    assert report["ok"] and report["good"] == len(chain.expect)
    assert_totals_kept(url)


@pytest.mark.parametrize("bad", ["5:2", "0:3", "a:b", "7", "3:", "-1:4"])
def test_a_bad_range_is_a_usage_error(chain, tmp_path, bad):
    trust, fleet = _files(chain, tmp_path)
    p = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "collect", "--rpc", chain.url, "--trust",
                        str(trust), "--fleet", str(fleet), "--db", "sqlite://" + str(tmp_path / "c.db"),
                        "--range", bad], capture_output=True, text=True, cwd=str(PROJECT_ROOT), timeout=120)
    assert p.returncode == 2 and "--range" in p.stderr, p.stderr
    assert not (tmp_path / "c.db").exists()
