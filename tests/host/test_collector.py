"""The collector against the local node: every good reading stored once with its evidence, every
other record() call rejected with its kind, gaps found, the walk resumable after a crash; the
same suite on SQLite and on a real PostgreSQL server (tests/host/pgserver.py)."""

import json
import os
import subprocess
import sys

import pytest

from collector_chain import (FleetChain, assert_totals_kept, reverified, STANDARD_DUPLICATES, STANDARD_GAPS, STANDARD_GOOD,
                             STANDARD_REJECTED, reading_bytes)
from pgserver import db_url, pg_server  # noqa: F401  (fixtures)
from lightmeter_host.collector import db as db_mod, ingest, reverify
from lightmeter_host.collector.evidence import NodeLie
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)


@pytest.fixture(scope="module")
def standard():
    fc = FleetChain().standard()
    yield fc
    fc.stop()


def stored(url):
    d = db_mod.open_db(url)
    try:
        return {"readings": sorted((r["meter_id"], r["seq"], r["tx_hash"]) for r in
                                   d.query("SELECT meter_id, seq, tx_hash FROM readings")),
                "rejections": sorted((r["kind"], r["block_number"], r["tx_hash"]) for r in
                                     d.query("SELECT kind, block_number, tx_hash FROM rejections")),
                "gaps": sorted((g["meter_id"], g["after_seq"], g["before_seq"]) for g in
                               d.query("SELECT meter_id, after_seq, before_seq FROM gaps")),
                "checkpoint": d.get_state("checkpoint")}
    finally:
        d.close()


def kinds(url):
    d = db_mod.open_db(url)
    try:
        out = {}
        for r in d.query("SELECT kind FROM rejections"):
            out[r["kind"]] = out.get(r["kind"], 0) + 1
        return out
    finally:
        d.close()


# -- the database contract ---------------------------------------------------------------------

def test_an_unknown_database_scheme_is_refused_naming_the_schemes():
    with pytest.raises(db_mod.DatabaseError) as e:
        db_mod.open_db("mysql://localhost/x")
    assert "sqlite:///" in str(e.value) and "postgresql://" in str(e.value)


def test_a_relative_sqlite_path_is_refused():
    with pytest.raises(db_mod.DatabaseError):
        db_mod.open_db("sqlite://relative.db")


def _row(**kw):
    row = dict(meter_id="m1", address="0x" + "11" * 20, seq=1, obis="1-0:1.8.0", value=1.5, mantissa=15,
               scale=-1, unit="kWh", ts=1000, clock=0, status=0, block_number=1, tx_index=0,
               tx_hash="0x" + "22" * 32, reading=b"\xa1", evidence="{}", verified=True, collected_at=5)
    row.update(kw)
    return row


def test_a_batch_breaking_unique_raises_duplicate_and_stores_nothing_of_it(db_url):
    d = db_mod.open_db(db_url)
    try:
        d.add_readings([_row()])
        with pytest.raises(db_mod.Duplicate):
            d.add_readings([_row(seq=2, tx_hash="0x33"), _row(seq=3)])  # the second reuses tx_hash
        with pytest.raises(db_mod.Duplicate):
            d.add_readings([_row(seq=1, tx_hash="0x44")])  # (address, seq) again
        assert [r["seq"] for r in d.readings("m1")] == [1]
        d.add_rejections([{"meter_id": "m1", "address": None, "seq": None, "block_number": 1, "tx_hash": "0x55",
                           "kind": "replay", "reason": "r", "collected_at": 1}])
        d.add_gaps([{"meter_id": "m1", "address": "0x" + "11" * 20, "after_seq": 1, "before_seq": 5,
                     "block_number": 2}])
        [m] = d.meters()
        assert (m["meter_id"], m["last_seq"], m["last_value"], m["verified"], m["duplicates"], m["gaps"],
                m["rejected"]) == ("m1", 1, 1.5, 1, 1, 1, 0)
        # the refused batches moved no kept total (the totals move in the rows' transaction)
        assert d.totals() == {"meters": 1, "readings": 1, "verified": 1, "rejected": 0, "duplicates": 1,
                              "gaps": 1, "problems": 0}
    finally:
        d.close()
    assert_totals_kept(db_url)


def test_readings_are_ordered_by_time_and_filtered_inclusively(db_url):
    d = db_mod.open_db(db_url)
    try:
        d.add_readings([_row(seq=s, ts=t, tx_hash="0x%02d" % s) for s, t in ((1, 300), (2, 100), (3, 200), (4, 200))])
        assert [r["seq"] for r in d.readings("m1")] == [2, 3, 4, 1]
        assert [r["seq"] for r in d.readings("m1", t_from=200, t_to=300)] == [3, 4, 1]
        assert [r["seq"] for r in d.readings("m1", t_from=200, limit=2)] == [3, 4]
        assert d.readings("m1")[0]["verified"] is True
        json.dumps(d.meters())
    finally:
        d.close()


# -- collecting from the node ---------------------------------------------------------------------

def test_collect_stores_good_readings_and_tells_every_bad_one_apart(standard, db_url):
    out = ingest.collect(standard.url, standard.genesis, standard.entries, db_url)
    assert out == {"readings": 15, "verified": 9, "rejected": 4, "gaps": 2, "duplicates": 2,
                   "from_block": 1, "to_block": 5, "checkpoint": 5,
                   "batches": 0, "batches_pending": 0}
    got = stored(db_url)
    assert {(m, s) for m, s, _ in got["readings"]} == STANDARD_GOOD
    assert kinds(db_url) == dict(STANDARD_REJECTED, **STANDARD_DUPLICATES)
    assert set(got["gaps"]) == STANDARD_GAPS
    d = db_mod.open_db(db_url)
    try:
        meters = {m["meter_id"]: m for m in d.meters()}
        assert (meters["m0"]["last_seq"], meters["m0"]["gaps"], meters["m0"]["rejected"]) == (5, 1, 1)
        assert (meters["m2"]["verified"], meters["m2"]["duplicates"]) == (2, 2)
        r = d.readings("m0")[0]
        assert (r["seq"], r["mantissa"], r["scale"], r["unit"], r["value"]) == (1, 1001234, -3, "kWh", 1001.234)
        # the sealer-set change of block 3 is kept, re-provable, and the checkpoint moved past it
        [cp] = d.query("SELECT block_number, sealers FROM checkpoints")
        assert cp["block_number"] == 3 and len(json.loads(cp["sealers"])) == 5
        assert len(got["checkpoint"]["sealers"]) == 5 and got["checkpoint"]["number"] == 5
        assert reverify.verify_db(d)["ok"]
    finally:
        d.close()


def test_collect_again_finds_nothing_new_and_stores_nothing_twice(standard, db_url):
    ingest.collect(standard.url, standard.genesis, standard.entries, db_url)
    before = stored(db_url)
    out = ingest.collect(standard.url, standard.genesis, standard.entries, db_url)
    assert out["readings"] == 0 and out["from_block"] is None
    assert stored(db_url) == before


def test_collect_in_steps_equals_collect_at_once(standard, db_url, tmp_path):
    whole = "sqlite://" + str(tmp_path / "whole.db")
    ingest.collect(standard.url, standard.genesis, standard.entries, whole)
    for to in (1, 3, 4, 5):
        ingest.collect(standard.url, standard.genesis, standard.entries, db_url, to_block=to)
    assert stored(db_url)["readings"] == stored(whole)["readings"]
    assert stored(db_url)["rejections"] == stored(whole)["rejections"]
    assert stored(db_url)["gaps"] == stored(whole)["gaps"]


def test_a_walker_keeping_one_meters_last_seq_finds_the_same_as_one_keeping_all(standard, db_url, tmp_path,
                                                                                monkeypatch):
    """Each meter's last seq is read from the database as the walk meets it (one index seek,
    db.last_seqs) and at most LAST_SEQ_KEPT are kept: kept to one, every meter is read again each
    time another is met, in steps (a stored reading presented again, a gap after a resume) as at
    once; the same readings, rejections of each kind and gaps as the default walk."""
    whole = "sqlite://" + str(tmp_path / "whole.db")
    ingest.collect(standard.url, standard.genesis, standard.entries, whole)
    asked = []
    real = db_mod.Database.last_seqs

    def counted(self, meter_ids, block_range=None):
        got = real(self, meter_ids, block_range)
        asked.append(sorted(got))
        return got
    monkeypatch.setattr(db_mod.Database, "last_seqs", counted)
    monkeypatch.setattr(ingest, "LAST_SEQ_KEPT", 1)
    for to in (2, 3, 5):
        ingest.collect(standard.url, standard.genesis, standard.entries, db_url, to_block=to)
    for k in ("readings", "rejections", "gaps"):
        assert stored(db_url)[k] == stored(whole)[k], k
    assert kinds(db_url) == kinds(whole)
    # one meter a question: the cache of one was dropped and read again as meters alternated
    assert asked and all(len(a) == 1 for a in asked)
    assert len(asked) > len({a[0] for a in asked})


def test_last_seqs_reads_each_meters_highest_seq_and_none_for_a_meter_without_readings(standard, db_url):
    ingest.collect(standard.url, standard.genesis, standard.entries, db_url)
    d = db_mod.open_db(db_url)
    try:
        rows = d.query("SELECT meter_id, seq, block_number FROM readings")
        want = {}
        for r in rows:
            want[r["meter_id"]] = max(want.get(r["meter_id"], 0), r["seq"])
        ids = sorted(want) + ["no-such-meter"]
        assert d.last_seqs(ids) == dict(want, **{"no-such-meter": None})
        # a range: the readings stored in those blocks only
        first = min(r["block_number"] for r in rows)
        inside = {}
        for r in rows:
            if r["block_number"] == first:
                inside[r["meter_id"]] = max(inside.get(r["meter_id"], 0), r["seq"])
        got = d.last_seqs(ids, (first, first))
        assert {m: s for m, s in got.items() if s is not None} == inside
        assert d.last_seqs([]) == {}
    finally:
        d.close()


def test_from_must_continue_the_stored_resume_point(standard, tmp_path):
    url = "sqlite://" + str(tmp_path / "c.db")
    ingest.collect(standard.url, standard.genesis, standard.entries, url, to_block=2)
    for bad in (1, 4):
        with pytest.raises(ingest.CollectError, match="resumes at block 3"):
            ingest.collect(standard.url, standard.genesis, standard.entries, url, from_block=bad)
    assert ingest.collect(standard.url, standard.genesis, standard.entries, url, from_block=3)["to_block"] == 5


def test_from_on_a_new_database_syncs_the_checkpoint_there_first(standard, tmp_path):
    url = "sqlite://" + str(tmp_path / "c.db")
    out = ingest.collect(standard.url, standard.genesis, standard.entries, url, from_block=4)
    assert (out["from_block"], out["to_block"]) == (4, 5)
    got = {(m, s) for m, s, _ in stored(url)["readings"]}
    # blocks 4 and 5 only: m2's second key's seq 2 is new to a collector that never saw block 2
    assert got == {("m0", 5), ("m1", 5), ("m2", 2)}
    # what came before block 4 was never collected: a first reading above 1 is not a gap here
    assert stored(url)["gaps"] == [] and out["gaps"] == 0
    d = db_mod.open_db(url)
    try:
        assert d.get_state("anchor")["number"] == 3 and reverify.verify_db(d)["ok"]
    finally:
        d.close()


def test_a_fleet_without_a_device_for_this_chain_is_refused(standard, tmp_path):
    other = [dict(e, chain_id="other") for e in standard.entries]
    with pytest.raises(ingest.CollectError, match="no device for chain chain0"):
        ingest.collect(standard.url, standard.genesis, other, "sqlite://" + str(tmp_path / "c.db"))


def test_a_checkpoint_without_a_block_is_refused(standard, tmp_path):
    t = {k: v for k, v in standard.genesis.items() if k not in ("number", "hash")}
    with pytest.raises(ingest.CollectError, match="number and hash"):
        ingest.collect(standard.url, t, standard.entries, "sqlite://" + str(tmp_path / "c.db"))


# -- crashes ------------------------------------------------------------------------------------------

class Crash(Exception):
    pass


def test_an_exception_inside_the_commit_stores_nothing_of_that_block_and_resume_completes(standard, db_url):
    from lightmeter_host.collector import source

    def hook(stage, n):
        if stage == "inside_commit" and n == 3:
            raise Crash()

    d = db_mod.open_db(db_url)
    try:
        w = ingest.open_walker(d, source.RpcSource(standard.url), standard.genesis, standard.entries, hook=hook)
        with pytest.raises(Crash):
            w.walk()
    finally:
        d.close()
    half = stored(db_url)
    assert {b for _, b, _ in half["rejections"]} <= {1, 2} and half["checkpoint"]["number"] == 2
    assert {(m, s) for m, s, _ in half["readings"]} == {("m0", 1), ("m1", 1), ("m2", 1), ("m0", 2), ("m1", 2),
                                                        ("m2", 2)}
    ingest.collect(standard.url, standard.genesis, standard.entries, db_url)
    got = stored(db_url)
    assert {(m, s) for m, s, _ in got["readings"]} == STANDARD_GOOD and len(got["readings"]) == 9
    assert kinds(db_url) == dict(STANDARD_REJECTED, **STANDARD_DUPLICATES)
    assert set(got["gaps"]) == STANDARD_GAPS


CRASHER = r"""
import json, os, sys
sys.path[:0] = [%(tests)r]
from lightmeter_host.collector import db, ingest, source
args = json.loads(sys.argv[1])
def hook(stage, n):
    if stage == args["stage"] and n == args["block"]:
        os._exit(9)  # the process dies on the spot: no rollback, no cleanup
d = db.open_db(args["db"])
w = ingest.open_walker(d, source.RpcSource(args["rpc"]), args["trust"], args["fleet"], hook=hook)
w.walk()
"""


@pytest.mark.parametrize("stage", ["inside_commit", "after_commit"])
def test_a_killed_collector_resumes_with_no_reading_twice_and_none_skipped(standard, db_url, stage):
    arg = json.dumps({"stage": stage, "block": 4, "db": db_url, "rpc": standard.url, "trust": standard.genesis,
                      "fleet": standard.entries})
    r = subprocess.run([sys.executable, "-c", CRASHER % {"tests": os.path.dirname(__file__)}, arg],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 9, r.stderr
    assert stored(db_url)["checkpoint"]["number"] == (3 if stage == "inside_commit" else 4)
    ingest.collect(standard.url, standard.genesis, standard.entries, db_url)
    got = stored(db_url)
    assert sorted(s for _, s, _ in got["readings"]) == sorted(s for _, s in STANDARD_GOOD)
    assert {(m, s) for m, s, _ in got["readings"]} == STANDARD_GOOD
    assert kinds(db_url) == dict(STANDARD_REJECTED, **STANDARD_DUPLICATES)
    assert set(got["gaps"]) == STANDARD_GAPS


# -- the SM suite -----------------------------------------------------------------------------------

def test_collect_and_verify_on_an_sm_chain(tmp_path):
    fc = FleetChain(crypto="sm", seed=b"collector-sm")
    try:
        fc.device("d0", "sm-0")
        fc.block([fc.record("d0", 1, reading_bytes("sm-0", 1, "sm")), fc.record("d0", 2, reading_bytes("sm-0", 2, "sm"))])
        url = "sqlite://" + str(tmp_path / "c.db")
        out = ingest.collect(fc.url, fc.genesis, fc.entries, url)
        assert (out["verified"], out["rejected"]) == (2, 0)
        rep = reverified(url)
        assert rep["ok"] and rep["good"] == 2
    finally:
        fc.stop()


# -- the command line --------------------------------------------------------------------------------

def lm(*args):
    return subprocess.run([sys.executable, "-m", "lightmeter_host.cli"] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def _files(fc, tmp_path):
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(fc.genesis))
    fleet_path = tmp_path / "fleet.json"
    fleet_path.write_text(json.dumps({"version": 1, "devices": fc.entries}))
    return trust, fleet_path


def test_cli_collect_json_summary_then_verify_and_export(standard, tmp_path):
    trust, fleet_path = _files(standard, tmp_path)
    url = "sqlite://" + str(tmp_path / "c.db")
    r = lm("collect", "--rpc", standard.url, "--trust", trust, "--fleet", fleet_path, "--db", url, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["verified"] == 9 and out["readings"] == 15 and out["to_block"] == 5
    r = lm("collector", "verify", "--db", url, "--trust", trust, "--fleet", fleet_path, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["good"] == 9
    r = lm("collector", "export", "--db", url, "--format", "csv", "--meter", "m0", "--out", tmp_path / "m0.csv")
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "m0.csv").read_text().splitlines()) == 1 + 4


def test_cli_collect_default_database_under_data_dir(standard, tmp_path):
    trust, fleet_path = _files(standard, tmp_path)
    r = lm("collect", "--rpc", standard.url, "--trust", trust, "--fleet", fleet_path, "--data", tmp_path / "d")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "d" / "collector.db").exists()


def _one_line_usage_error(r, words):
    assert r.returncode == 2
    assert words in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_an_unknown_database_url_is_one_line_exit_2(standard, tmp_path):
    trust, fleet_path = _files(standard, tmp_path)
    r = lm("collect", "--rpc", standard.url, "--trust", trust, "--fleet", fleet_path, "--db", "mysql://x")
    _one_line_usage_error(r, "unknown database URL")


def test_cli_an_unreachable_node_is_one_line_exit_2(standard, tmp_path):
    trust, fleet_path = _files(standard, tmp_path)
    r = lm("collect", "--rpc", "http://127.0.0.1:9", "--trust", trust, "--fleet", fleet_path,
           "--db", "sqlite://" + str(tmp_path / "c.db"))
    _one_line_usage_error(r, "cannot reach the node")


def test_cli_missing_fleet_is_a_usage_error(standard, tmp_path):
    trust, _ = _files(standard, tmp_path)
    r = lm("collect", "--rpc", standard.url, "--trust", trust, "--fleet", tmp_path / "none.json",
           "--db", "sqlite://" + str(tmp_path / "c.db"))
    assert r.returncode == 2 and "no such fleet manifest" in r.stderr


def test_node_lie_kinds_are_typed_node_lies():
    assert issubclass(NodeLie, Exception) and NodeLie("bad_proof", "x").kind == "bad_proof"


# -- following the chain -----------------------------------------------------------------------------

def test_follow_collects_new_blocks_until_stopped(tmp_path):
    import threading
    import time

    fc = FleetChain(seed=b"collector-follow")
    try:
        fc.device("d0", "f0")
        fc.block([fc.record("d0", 1, reading_bytes("f0", 1, "ecdsa"))])
        url = "sqlite://" + str(tmp_path / "c.db")
        stop = threading.Event()
        result = {}
        t = threading.Thread(target=lambda: result.update(ingest.collect(
            fc.url, fc.genesis, fc.entries, url, follow=True, interval=0.05, stop=stop)))
        t.start()

        def seqs():
            d = db_mod.open_db(url)
            try:
                return sorted(r["seq"] for r in d.query("SELECT seq FROM readings"))
            finally:
                d.close()

        def wait_for(want):
            deadline = time.time() + 30
            while time.time() < deadline and seqs() != want:
                time.sleep(0.05)
            return seqs()

        assert wait_for([1]) == [1]
        fc.block([fc.record("d0", 2, reading_bytes("f0", 2, "ecdsa"))])
        assert wait_for([1, 2]) == [1, 2]
        stop.set()
        t.join(30)
        assert not t.is_alive() and result["verified"] == 2 and result["to_block"] == 2
    finally:
        fc.stop()


# -- the benchmark function ---------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["native", "pure"])
def test_ingest_bench_measures_the_collect_path(backend, db_url):
    from lightmeter_host.collector import bench
    n = 120 if backend == "native" else 12
    out = bench.ingest_bench(n=n, backend=backend, db_url=db_url, per_block=50, devices=7)
    assert out["readings"] == n and out["blocks"] == -(-n // 50) and out["readings_per_s"] > 0
    assert out["database"] == db_url.split(":")[0]
    d = db_mod.open_db(db_url)
    try:
        assert len(d.meters()) == 7 and reverify.verify_db(d)["good"] == n
    finally:
        d.close()


def test_cli_follow_stops_on_sigterm_with_its_summary(standard, tmp_path):
    import signal
    import time

    trust, fleet_path = _files(standard, tmp_path)
    url = "sqlite://" + str(tmp_path / "c.db")
    p = subprocess.Popen([sys.executable, "-m", "lightmeter_host.cli", "collect", "--rpc", standard.url, "--trust",
                          str(trust), "--fleet", str(fleet_path), "--db", url, "--follow", "--interval", "0.1",
                          "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if os.path.exists(str(tmp_path / "c.db")) and (stored(url)["checkpoint"] or {}).get("number") == 5:
                break
            time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert json.loads(out)["verified"] == 9


def test_a_read_only_open_cannot_write_and_needs_a_collector_database(tmp_path):
    from lightmeter_host.collector import db as db_mod
    url = "sqlite://" + str(tmp_path / "c.db")
    db_mod.open_db(url).close()  # creates the schema
    ro = db_mod.open_db(url, read_only=True)
    try:
        assert ro.meters() == []
        with pytest.raises(db_mod.DatabaseError):
            ro.add_gaps([{"meter_id": "m", "address": "0x" + "11" * 20, "after_seq": 1, "before_seq": 3,
                          "block_number": 1}])
    finally:
        ro.close()
    assert db_mod.open_db(url, read_only=True).meters() == []
    import sqlite3
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)")
    with pytest.raises(db_mod.DatabaseError, match="not a collector database"):
        db_mod.open_db("sqlite://" + str(tmp_path / "other.db"), read_only=True)
    with pytest.raises(db_mod.DatabaseError):
        db_mod.open_db("sqlite://" + str(tmp_path / "missing.db"), read_only=True)
    assert not (tmp_path / "missing.db").exists()
