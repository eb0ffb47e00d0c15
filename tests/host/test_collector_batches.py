"""Batch-anchored readings into the collector (proto/batch.md, docs/collector.md "Batches").

A chain with MeterRegistry recordBatch transactions (collector_chain.FleetChain, fleet devices
signing leaves, a concentrator key anchoring roots) and concentrators serving contents over HTTP
(lightmeter_host.batchstore), honest and hostile: a wrong, dropped, reordered or extra reading,
a wrong count, contents withheld and served later. Every batch is stored whole or not at all, a
failure is recorded with its kind and fetched again by the next run, no reading is accepted
without its on-chain root, and `collector verify` re-checks stored batch readings offline. On
SQLite and PostgreSQL.
"""

import json

import pytest

from collector_chain import FleetChain, assert_totals_kept, key, reading_bytes, reverified
from pgserver import db_url, pg_server  # noqa: F401  (fixtures)
from lightmeter.chain import batchtree
from lightmeter.client import batch
from lightmeter_host import batchstore
from lightmeter_host.collector import db as db_mod, ingest
from lightmeter_host.node import registry


def leaf(fc, name, meter, seq, **kw):
    r = reading_bytes(meter, seq, fc.crypto, **kw)
    digest = batch.signing_digest(r, "chain0", "group0", registry.ADDRESS, fc.suite)
    return batch.make_item(r, fc.suite.sign_tx(fc.keys[name], digest))


def root_of(fc, leaves):
    H = fc.suite.hash
    return batchtree.root([batchtree.leaf_hash(x, H) for x in leaves], H)


def anchor(fc, leaves, count=None):
    """One block holding a recordBatch of these leaves' root; the root."""
    root = root_of(fc, leaves)
    fc.block([fc._tx(key("concentrator"), registry.ADDRESS,
                     batch.batch_call(root, len(leaves) if count is None else count, fc.suite))])
    return root


class Served:
    """A concentrator's store served over HTTP."""

    def __init__(self, folder):
        self.store = batchstore.BatchStore(folder)
        self.server = batchstore.BatchServer(self.store)
        self.url = self.server.url

    def close(self):
        self.server.close()


@pytest.fixture
def served(tmp_path):
    s = Served(tmp_path / "conc")
    yield s
    s.close()


@pytest.fixture(scope="module")
def fc():
    c = FleetChain(seed=b"collector-batches")
    for name, meter in (("d0", "m0"), ("d1", "m1"), ("d2", "m2")):
        c.device(name, meter)
    c.device("stranger", "m9", in_fleet=False)
    c.leaves = {}
    b1 = [leaf(c, "d0", "m0", 1), leaf(c, "d1", "m1", 1), leaf(c, "d2", "m2", 1), leaf(c, "stranger", "m9", 1)]
    # the second batch: m1's seq 1 resent (same signed bytes), m0 jumps to 3 (a gap)
    b2 = [leaf(c, "d0", "m0", 3), b1[1], leaf(c, "d1", "m1", 2), leaf(c, "d2", "m2", 2)]
    c.batches = [(anchor(c, b1), b1), (anchor(c, b2), b2)]
    c.block([c.record("d0", 4, reading_bytes("m0", 4, "ecdsa"))])  # a reading of its own transaction
    yield c
    c.stop()


def collect(fc, url, urls, **kw):
    return ingest.collect(fc.url, fc.genesis, fc.entries, url, batch_urls=urls, **kw)


def rows(url, sql, params=()):
    d = db_mod.open_db(url)
    try:
        return d.query(sql, params)
    finally:
        d.close()


def test_batches_are_fetched_checked_and_stored_with_their_evidence_once(fc, served, db_url):
    for root, leaves in fc.batches:
        served.store.put(root, leaves)
    out = collect(fc, db_url, [served.url])
    assert out["batches"] == 2 and out["batches_pending"] == 0
    assert out["verified"] == 7  # 3 + 3 batch readings (m1's resend once) + 1 record()
    assert out["duplicates"] == 1 and out["rejected"] == 1 and out["gaps"] == 1
    got = rows(db_url, "SELECT meter_id, seq, batch_tx, leaf_index, tx_hash FROM readings ORDER BY meter_id, seq")
    assert [(r["meter_id"], r["seq"]) for r in got] == [("m0", 1), ("m0", 3), ("m0", 4), ("m1", 1), ("m1", 2),
                                                         ("m2", 1), ("m2", 2)]
    # the resent reading keeps its first batch's evidence; the later copy is a replay
    m1 = [r for r in got if (r["meter_id"], r["seq"]) == ("m1", 1)][0]
    batches = rows(db_url, "SELECT tx_hash, root, count, state, readings, block_number FROM batches "
                           "ORDER BY block_number")
    assert [(b["root"], b["count"], b["state"], b["readings"]) for b in batches] == \
        [("0x" + fc.batches[0][0].hex(), 4, "stored", 3), ("0x" + fc.batches[1][0].hex(), 4, "stored", 3)]
    assert (m1["batch_tx"], m1["leaf_index"]) == (batches[0]["tx_hash"], 1)
    assert m1["tx_hash"] == "0x" + batchtree.leaf_hash(fc.batches[0][1][1], fc.suite.hash).hex()
    kinds = rows(db_url, "SELECT kind, meter_id, seq FROM rejections ORDER BY kind")
    assert [(k["kind"], k["meter_id"], k["seq"]) for k in kinds] == [("replay", "m1", 1), ("unknown_device", None, 1)]
    assert rows(db_url, "SELECT meter_id, after_seq, before_seq FROM gaps") == \
        [{"meter_id": "m0", "after_seq": 1, "before_seq": 3}]
    # each block's header and signatures once, each batch's proofs once (not per reading)
    assert [b["block_number"] for b in rows(db_url, "SELECT block_number FROM blocks ORDER BY block_number")] == \
        [b["block_number"] for b in batches]
    report = reverified(db_url)
    assert report["ok"] and report["good"] == 7, report["bad"]
    assert_totals_kept(db_url)


def test_collector_verify_catches_tampered_batch_readings_and_batches(fc, served, db_url):
    for root, leaves in fc.batches:
        served.store.put(root, leaves)
    collect(fc, db_url, [served.url])
    d = db_mod.open_db(db_url)
    try:
        d.query("UPDATE readings SET value = value + 1 WHERE meter_id = 'm2' AND seq = 2 RETURNING id")
        first = d.query("SELECT tx_hash, leaves FROM batches ORDER BY block_number")[0]
        forged = bytes(first["leaves"])
        forged = forged[:32] + bytes(32) + forged[64:]
        d.query("UPDATE batches SET leaves = ? WHERE tx_hash = ? RETURNING tx_hash", (forged, first["tx_hash"]))
        d.query("UPDATE readings SET leaf_index = 0 WHERE meter_id = 'm2' AND seq = 1 RETURNING id")
    finally:
        d.close()
    report = reverified(db_url)
    bad = {(b["meter_id"], b["seq"]): b["check"] for b in report["bad"]}
    # every reading of the forged batch fails; m2 seq 2 fails its value column
    assert bad == {("m0", 1): "batch", ("m1", 1): "batch", ("m2", 1): "batch", ("m2", 2): "value"}
    assert report["good"] == 3 and not report["ok"]


def _lies(fc):
    root, leaves = fc.batches[0]
    other = leaf(fc, "d2", "m2", 9)
    return {
        "wrong_reading": leaves[:2] + [leaf(fc, "d2", "m2", 1, value=5)] + leaves[3:],
        "dropped": leaves[:3],
        "reordered": [leaves[1], leaves[0]] + leaves[2:],
        "extra": leaves + [other],
        "not_cbor": None,
    }


@pytest.mark.parametrize("lie", ["wrong_reading", "dropped", "reordered", "extra", "not_cbor"])
def test_a_batch_not_matching_its_root_is_recorded_stored_never_in_part_and_fetched_again(fc, served, tmp_path,
                                                                                          db_url, lie):
    root, leaves = fc.batches[0]
    bad = _lies(fc)[lie]
    if bad is None:
        with open(served.store._file(root), "wb") as f:  # bytes that are no CBOR
            f.write(b"\xff not cbor")
    else:
        served.store.put(root, bad)
    served.store.put(*fc.batches[1])
    out = collect(fc, db_url, [served.url])
    assert out["batches"] == 1 and out["batches_pending"] == 1
    pend = rows(db_url, "SELECT root, state, kind, attempts FROM batches WHERE state = 'pending'")
    assert pend == [{"root": "0x" + root.hex(), "state": "pending", "kind": "batch_mismatch", "attempts": 1}]
    assert rows(db_url, "SELECT COUNT(*) AS n FROM readings r JOIN batches b ON r.batch_tx = b.tx_hash "
                        "WHERE b.state = 'pending'")[0]["n"] == 0
    assert rows(db_url, "SELECT kind FROM rejections WHERE meter_id IS NULL AND kind IN "
                        "('batch_withheld', 'batch_mismatch')") == [{"kind": "batch_mismatch"}]
    # the resent m1 seq 1 of the second batch is stored from there, with that batch's evidence
    assert rows(db_url, "SELECT COUNT(*) AS n FROM readings WHERE meter_id = 'm1' AND seq = 1")[0]["n"] == 1
    assert reverified(db_url)["ok"]
    # an honest concentrator now: the next run (no new block) fetches it again and stores it whole
    honest = Served(tmp_path / "honest")
    try:
        honest.store.put(root, leaves)
        out = collect(fc, db_url, [served.url, honest.url])
    finally:
        honest.close()
    assert out["batches_pending"] == 0
    assert rows(db_url, "SELECT state, attempts FROM batches WHERE root = ?", ("0x" + root.hex(),)) == \
        [{"state": "stored", "attempts": 2}]
    got = {(r["meter_id"], r["seq"]) for r in rows(db_url, "SELECT meter_id, seq FROM readings")}
    assert got == {("m0", 1), ("m0", 3), ("m0", 4), ("m1", 1), ("m1", 2), ("m2", 1), ("m2", 2)}
    report = reverified(db_url)
    assert report["ok"] and report["good"] == 7


def test_withheld_batches_are_retried_by_each_run_until_served(fc, served, db_url):
    dead = batchstore.BatchServer(batchstore.BatchStore(served.store.folder + "-dead"))
    dead_url = dead.url
    dead.close()  # nothing listens there any more
    out = collect(fc, db_url, [dead_url, served.url])
    assert out["batches"] == 0 and out["batches_pending"] == 2 and out["verified"] == 1
    assert {r["kind"] for r in rows(db_url, "SELECT kind FROM batches")} == {"batch_withheld"}
    out = collect(fc, db_url, [dead_url, served.url])
    assert out["verified"] == 0 and out["batches_pending"] == 2
    assert {r["attempts"] for r in rows(db_url, "SELECT attempts FROM batches")} == {2}
    for root, leaves in fc.batches:
        served.store.put(root, leaves)
    out = collect(fc, db_url, [dead_url, served.url])
    assert out["batches"] == 2 and out["batches_pending"] == 0 and out["verified"] == 6
    report = reverified(db_url)
    assert report["ok"] and report["good"] == 7
    assert_totals_kept(db_url)  # the late batches went in by store_batch


def test_no_concentrator_given_is_withheld_not_skipped(fc, db_url):
    out = collect(fc, db_url, [])
    assert out["batches_pending"] == 2 and out["verified"] == 1
    assert "--batches" in rows(db_url, "SELECT reason FROM batches")[0]["reason"]


def test_a_root_anchored_with_a_wrong_count_is_never_stored(tmp_path, served, db_url):
    c = FleetChain(seed=b"collector-batches-count")
    try:
        c.device("d0", "m0")
        leaves = [leaf(c, "d0", "m0", s) for s in (1, 2, 3)]
        root = anchor(c, leaves, count=4)
        served.store.put(root, leaves)
        for _ in range(2):
            out = ingest.collect(c.url, c.genesis, c.entries, db_url, batch_urls=[served.url])
            assert out["verified"] == 0 and out["batches_pending"] == 1
        assert rows(db_url, "SELECT kind, attempts FROM batches") == [{"kind": "batch_mismatch", "attempts": 2}]
        assert "3 signed readings served, 4 anchored" in rows(db_url, "SELECT reason FROM batches")[0]["reason"]
    finally:
        c.stop()


def test_a_crash_while_storing_a_late_batch_stores_none_of_it(fc, served, db_url):
    collect(fc, db_url, [served.url])  # both withheld
    for root, leaves in fc.batches:
        served.store.put(root, leaves)

    class Crash(Exception):
        pass

    def hook(stage, n):
        if stage == "inside_batch":
            raise Crash()

    d = db_mod.open_db(db_url)
    try:
        from lightmeter.client import trust as trust_mod
        from lightmeter_host.collector import batches, source
        w = ingest.open_walker(d, source.RpcSource(fc.url), trust_mod.from_json(fc.genesis), fc.entries,
                               hook=hook, fetch=batches.Fetcher([served.url]))
        with pytest.raises(Crash):
            w.retry_batches()
    finally:
        d.close()
    assert rows(db_url, "SELECT COUNT(*) AS n FROM readings WHERE batch_tx IS NOT NULL")[0]["n"] == 0
    assert {r["state"] for r in rows(db_url, "SELECT state FROM batches")} == {"pending"}
    out = collect(fc, db_url, [served.url])
    assert out["batches"] == 2 and out["verified"] == 6
    assert reverified(db_url)["ok"]


def _slow(leaf, fc):
    from lightmeter_host.collector import batches
    try:
        return batches.open_leaf(leaf, "chain0", "group0", registry.ADDRESS, fc.suite)
    except Exception as e:
        return type(e).__name__, getattr(e, "kind", None)


def _fast(leaf, fc):
    from lightmeter_host.collector import batches
    try:
        return batches.LeafOpener("chain0", "group0", registry.ADDRESS, fc.suite)(leaf)
    except Exception as e:
        return type(e).__name__, getattr(e, "kind", None)


def test_the_fast_leaf_opener_agrees_with_the_firmware_rule_on_good_and_bent_leaves(fc):
    """batches.LeafOpener (hand-split CBOR, prefix encoded once) must answer exactly as
    batches.open_leaf (lightmeter.client.batch.open_item) on every leaf: good ones, long
    readings (1- and 2-byte lengths), and bent ones (non-canonical lengths, trailing bytes,
    another array, a changed byte anywhere)."""
    from hypothesis import given, settings, strategies as st
    from lightmeter.link import cbor

    good = [x for _, leaves in fc.batches for x in leaves]
    long_reading = reading_bytes("m0" + "x" * 60, 7, "ecdsa")
    digest = batch.signing_digest(long_reading, "chain0", "group0", registry.ADDRESS, fc.suite)
    good.append(batch.make_item(long_reading, fc.suite.sign_tx(fc.keys["d0"], digest)))
    r, s = cbor.loads(good[0])
    bent = [good[0] + b"\x00", b"\x83" + good[0][1:], b"\x82\x58" + bytes([len(r)]) + r + cbor.dumps(s),
            b"\x82" + cbor.dumps(r) + b"\x59\x00\x41" + s, b"\x82" + cbor.dumps(r), b"", b"\x82\x40\x40",
            cbor.dumps([r, s, b""]), cbor.dumps([r[:-1], s])]
    for leaf in good + bent:
        assert _fast(leaf, fc) == _slow(leaf, fc), leaf.hex()
    assert all(len(_fast(x, fc)) == 3 for x in good)

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from(good), st.integers(0, 400), st.integers(1, 255))
    def flipped(leaf, at, xor):
        leaf = bytearray(leaf)
        leaf[at % len(leaf)] ^= xor
        assert _fast(bytes(leaf), fc) == _slow(bytes(leaf), fc)
    flipped()


def test_a_version_1_database_is_brought_to_the_current_version_by_collect_and_refused_by_readers_before(
        tmp_path, fc):
    """Schemas 2 and 3 are additive: a version 1 database (no blocks, batches, ranges, meters
    tables, no batch columns) keeps its rows; readers refuse it until collect has added what the
    later versions add, its meters listed from the rows it holds."""
    import sqlite3
    url = "sqlite://" + str(tmp_path / "v1.db")
    collect(fc, url, [])  # one record() reading stored, two batches pending
    con = sqlite3.connect(str(tmp_path / "v1.db"))
    for t in ("blocks", "batches", "ranges", "meters"):
        con.execute("DROP TABLE %s" % t)
    con.execute("DROP INDEX readings_batch")
    con.execute("ALTER TABLE readings DROP COLUMN batch_tx")
    con.execute("ALTER TABLE readings DROP COLUMN leaf_index")
    con.execute("UPDATE state SET value = '1' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(db_mod.NotCollectorDatabase):
        db_mod.open_db(url, read_only=True)
    d = db_mod.open_db(url)  # what collect does
    try:
        assert d.get_state("schema_version") == db_mod.SCHEMA_VERSION == 3
        assert [(r["meter_id"], r["seq"], r["batch_tx"]) for r in d.query("SELECT * FROM readings")] == \
            [("m0", 4, None)]
        assert [r["meter_id"] for r in d.query("SELECT meter_id FROM meters ORDER BY meter_id")] == \
            [m["meter_id"] for m in d.meters()]
    finally:
        d.close()
    assert_totals_kept(url)  # counted once on the way up
    db_mod.open_db(url, read_only=True).close()


def test_contents_split_by_hand_agree_with_the_firmware_decoder(fc):
    """batches._split (the fast path of leaves_of) gives exactly what the firmware's CBOR decoder
    and canonical re-encoding accept, and nothing for anything else."""
    from hypothesis import given, settings, strategies as st
    from lightmeter.link import cbor
    from lightmeter_host.collector import batches

    def slow(data):
        try:
            return batches._slow_leaves(data)
        except batches.Unavailable:
            return None

    good = [batchstore.contents(leaves) for _, leaves in fc.batches]
    good += [batchstore.contents([b"x" * n for n in (0, 23, 24, 255, 256)] * 6), cbor.dumps([])]
    for data in good:
        assert batches._split(data) == slow(data) is not None
    assert batches._split(b"\x98\x01" + cbor.dumps(b"a")) is None  # a long form where a short one fits

    @settings(max_examples=400, deadline=None)
    @given(st.sampled_from(good), st.integers(0, 2000), st.integers(1, 255), st.booleans())
    def bent(data, at, xor, cut):
        data = bytearray(data)
        if cut:
            del data[at % len(data):]
        else:
            data[at % len(data)] ^= xor
        fast = batches._split(bytes(data))
        assert fast is None or fast == slow(bytes(data))
    bent()


def test_the_fast_reading_decoder_agrees_with_the_firmware(fc):
    """batches.decode_reading (cbor2 plus the firmware's field checks and a canonical re-encoding)
    answers exactly as lightmeter.device.reading.decode: the same map, or the same error."""
    from hypothesis import given, settings, strategies as st
    from lightmeter.device import reading as reading_mod
    from lightmeter_host.collector import batches

    def both(data):
        out = []
        for fn in (batches.decode_reading, reading_mod.decode):
            try:
                out.append(fn(data))
            except Exception as e:  # noqa: BLE001 (compared)
                out.append((type(e).__name__, str(e)))
        return out

    good = [reading_bytes("m%d" % i, s, "ecdsa", value=v, scale=sc, t=t) for i, s, v, sc, t in
            ((0, 1, 0, 0, 0), (1, 2**63 - 1, -(2**63), -18, 2**64 - 1), (2, 24, 2**64 - 1, 18, 1), (3, 5, -1, -3, 7))]
    for data in good:
        a, b = both(data)
        assert a == b and isinstance(a, dict)

    @settings(max_examples=500, deadline=None)
    @given(st.sampled_from(good), st.integers(0, 600), st.integers(1, 255), st.sampled_from(["flip", "cut", "add"]))
    def bent(data, at, xor, how):
        data = bytearray(data)
        i = at % len(data)
        if how == "flip":
            data[i] ^= xor
        elif how == "cut":
            del data[i:]
        else:
            data[i:i] = bytes([xor])
        a, b = both(bytes(data))
        assert a == b
    bent()

    # encodings that decode to a valid map but are not the canonical bytes: refused alike
    import cbor2
    base = cbor2.loads(good[0])
    shaped = [
        cbor2.dumps(dict(reversed(list(base.items())))),  # keys out of order
        cbor2.dumps({**{True if k == 1 else k: v for k, v in base.items()}, True: "vendor"}),  # a bool key
        cbor2.dumps({**base, reading_mod.VALUE: 2**64}),  # a bignum (tag 2)
        cbor2.dumps({**base, reading_mod.VALUE: -(2**64) - 1}),
        bytes([good[0][0] + 1]) + good[0][1:] + bytes([reading_mod.SUITE]) + cbor2.dumps("ecdsa"),  # key twice
        good[0].replace(b"\x05\x01", b"\x05\x18\x01", 1),  # seq 1 in two bytes
    ]
    for data in shaped:
        a, b = both(data)
        assert a == b and not isinstance(a, dict), data.hex()


def test_a_concentrator_serving_endless_bytes_is_a_mismatch_not_a_memory_sink(fc, served, db_url):
    root, leaves = fc.batches[0]
    with open(served.store._file(root), "wb") as f:
        f.write(b"\x00" * (10 << 20))  # far more than 4 readings can take
    served.store.put(*fc.batches[1])
    out = collect(fc, db_url, [served.url])
    assert out["batches_pending"] == 1
    got = rows(db_url, "SELECT kind, reason FROM batches WHERE state = 'pending'")[0]
    assert got["kind"] == "batch_mismatch" and "more bytes" in got["reason"]


def test_batches_of_an_sm_chain(tmp_path, db_url):
    """The SM suite: leaves signed with SM2 (128-byte signatures carrying the key), SM3 tree;
    the collector checks the key against the fleet's."""
    c = FleetChain(crypto="sm", seed=b"collector-batches-sm")
    s = Served(tmp_path / "sm")
    try:
        c.device("d0", "m0")
        c.device("d1", "m1")
        leaves = [leaf(c, "d0", "m0", 1), leaf(c, "d1", "m1", 1), leaf(c, "d0", "m0", 2)]
        s.store.put(anchor(c, leaves), leaves)
        out = ingest.collect(c.url, c.genesis, c.entries, db_url, batch_urls=[s.url])
        assert (out["verified"], out["batches"], out["rejected"]) == (3, 1, 0)
        report = reverified(db_url)
        assert report["ok"] and report["good"] == 3
    finally:
        s.close()
        c.stop()


def _pooled_collect_stores_the_same(fc, served, db_url, monkeypatch, **kw):
    """collect with leaves opened by a pool (kw: parallel, threads) on these small batches: the
    rows and rejections one process stores."""
    from lightmeter_host.collector import batches
    monkeypatch.setattr(batches, "PARALLEL_MIN", 1)  # these batches are small: use the pool anyway
    for root, leaves in fc.batches:
        served.store.put(root, leaves)
    out = collect(fc, db_url, [served.url], parallel=2, **kw)
    assert (out["verified"], out["duplicates"], out["rejected"], out["batches"]) == (7, 1, 1, 2)
    got = rows(db_url, "SELECT meter_id, seq, leaf_index FROM readings WHERE batch_tx IS NOT NULL "
                       "ORDER BY meter_id, seq")
    assert [(r["meter_id"], r["seq"], r["leaf_index"]) for r in got] == [
        ("m0", 1, 0), ("m0", 3, 0), ("m1", 1, 1), ("m1", 2, 2), ("m2", 1, 2), ("m2", 2, 3)]
    assert reverified(db_url)["ok"]


def test_leaves_opened_in_worker_processes_store_the_same(fc, served, db_url, monkeypatch):
    """collect(parallel=2): each batch's leaves opened in two worker processes (batches.Pool),
    the same rows and rejections as in one process."""
    _pooled_collect_stores_the_same(fc, served, db_url, monkeypatch)


def test_leaves_opened_in_threads_store_the_same_and_forgeries_are_still_refused(fc, served, db_url, monkeypatch):
    """collect(parallel=2, threads=True): each batch's leaves opened in two threads
    (batches.ThreadPool), the same rows and rejections as in one thread; a leaf whose signature
    was made by a key outside the fleet, or by another device of it, is still refused."""
    from lightmeter.link import cbor
    from lightmeter_host.collector import batches
    _pooled_collect_stores_the_same(fc, served, db_url, monkeypatch, threads=True)
    # the threads' answers are open_leaf's, leaf for leaf, with the signers' addresses cached
    good = [x for _, leaves in fc.batches for x in leaves]
    pool = batches.ThreadPool(2)
    try:
        for _ in range(2):  # the second round answers from the address cache
            got = pool.open(good, "chain0", "group0", registry.ADDRESS, fc.suite)
            assert [g[:3] for g in got] == [_slow(x, fc) for x in good]
    finally:
        pool.close()
    # a device's reading signed again by another device's key names that device, not the first
    reading, _ = cbor.loads(good[0])
    signer = _slow(good[0], fc)[2]
    for key in fc.keys.values():
        digest = batch.signing_digest(reading, "chain0", "group0", registry.ADDRESS, fc.suite)
        leaf = batch.make_item(reading, fc.suite.sign_tx(key, digest))
        want = _slow(leaf, fc)
        assert _fast(leaf, fc) == want
        assert want[2] == fc.suite.address(fc.suite.public_key(key))
        assert (want[2] == signer) == (key == fc.keys["d0"])


def test_pure_collection_of_batches_stays_pure(fc, served, tmp_path):
    """collect --pure: batch leaves are opened with the pure-Python crypto too (nothing on the
    batch path puts the native backends back)."""
    from lightmeter_host.chain import backends
    for root, leaves in fc.batches:
        served.store.put(root, leaves)
    try:
        out = collect(fc, "sqlite://" + str(tmp_path / "pure.db"), [served.url], pure=True)
        assert not backends.installed()
        assert (out["verified"], out["batches"]) == (7, 2)
    finally:
        backends.install()


def test_blocks_committed_behind_the_walk_store_the_same(fc, served, db_url):
    """collect(overlap=True): each block committed in a thread while the next is checked; the same
    readings, the replay of the block before (looked up once that block is stored), gap and
    rejections as the walk in step."""
    for root, leaves in fc.batches:
        served.store.put(root, leaves)
    out = collect(fc, db_url, [served.url], overlap=True, parallel=2, threads=True)
    assert (out["verified"], out["duplicates"], out["rejected"], out["gaps"], out["batches"]) == (7, 1, 1, 1, 2)
    got = rows(db_url, "SELECT meter_id, seq FROM readings ORDER BY meter_id, seq")
    assert [(r["meter_id"], r["seq"]) for r in got] == [("m0", 1), ("m0", 3), ("m0", 4), ("m1", 1), ("m1", 2),
                                                         ("m2", 1), ("m2", 2)]
    kinds = rows(db_url, "SELECT kind, meter_id, seq FROM rejections ORDER BY kind")
    assert [(k["kind"], k["meter_id"], k["seq"]) for k in kinds] == [("replay", "m1", 1), ("unknown_device", None, 1)]
    assert reverified(db_url)["ok"]
    assert collect(fc, db_url, [served.url], overlap=True)["verified"] == 0  # all stored: nothing twice


@pytest.mark.parametrize("stage", ["inside_commit", "after_commit"])
def test_a_crash_in_a_block_committed_behind_the_walk_stores_it_whole_or_not_at_all(fc, served, db_url, stage):
    """With overlap, a commit that fails leaves the walker before its block (nothing of it
    stored, the walk raises); a crash once it is stored leaves it stored; a later run stores
    every reading once."""
    from lightmeter.client import trust as trust_mod
    from lightmeter_host.collector import batches, source
    for root, leaves in fc.batches:
        served.store.put(root, leaves)
    src = source.RpcSource(fc.url)
    first = src.head() - 2  # the first batch's block (then the second batch's, then a record())

    class Crash(Exception):
        pass

    def hook(st, n):
        if st == stage and n == first:
            raise Crash()

    d = db_mod.open_db(db_url)
    try:
        w = ingest.open_walker(d, src, trust_mod.from_json(fc.genesis), fc.entries, hook=hook,
                               fetch=batches.Fetcher([served.url]))
        w.overlap = True
        with pytest.raises(Crash):
            w.walk()
        done = first - (stage == "inside_commit")
        assert w.trust.number == done
    finally:
        d.close()
    assert rows(db_url, "SELECT COALESCE(MAX(block_number), 0) AS b FROM readings")[0]["b"] == \
        (first if stage == "after_commit" else 0)
    assert json.loads(rows(db_url, "SELECT value FROM state WHERE key = 'checkpoint'")[0]["value"])["number"] == done
    out = collect(fc, db_url, [served.url], overlap=True)
    assert out["batches"] == 2 - (stage == "after_commit")
    got = rows(db_url, "SELECT meter_id, seq FROM readings ORDER BY meter_id, seq")
    assert len(got) == 7 and len(set((r["meter_id"], r["seq"]) for r in got)) == 7
    batch_rows = rows(db_url, "SELECT block_number FROM batches ORDER BY block_number")
    assert batch_rows[0]["block_number"] == first
    assert reverified(db_url)["ok"]


def test_a_large_batch_goes_in_by_copy_every_column_as_signed_and_out_of_range_readings_refused(tmp_path, served,
                                                                                                 db_url):
    """A batch of more than db.COPY_ROWS readings (PostgreSQL: COPY, binary for readings) stores
    each column exactly as signed, the 64-bit and 32-bit edges included; a status or value that
    does not fit its column is refused as `unsupported` on both databases, never a failed commit."""
    from lightmeter.device import reading as reading_mod

    c = FleetChain(seed=b"collector-copy")
    try:
        for i in range(3):
            c.device("d%d" % i, "m%d" % i)
        edges = [dict(value=-(2**63), scale=-18, status=2**31 - 1, t=0), dict(value=2**63 - 1, scale=18, clock=2),
                 dict(value=0, scale=0, unit="", t=2**63 - 1)]
        leaves, want = [], {}
        for i in range(3):
            for seq in range(1, 26):
                kw = edges[i] if seq == 7 else {}
                leaves.append(leaf(c, "d%d" % i, "m%d" % i, seq, **kw))
                want[("m%d" % i, seq)] = reading_bytes("m%d" % i, seq, c.crypto, **kw)
        leaves.append(leaf(c, "d0", "m0", 26, status=2**31))
        leaves.append(leaf(c, "d1", "m1", 26, value=2**63))
        assert len(leaves) > db_mod.COPY_ROWS
        served.store.put(anchor(c, leaves), leaves)
        out = ingest.collect(c.url, c.genesis, c.entries, db_url, batch_urls=[served.url])
        assert out["verified"] == 75 and out["rejected"] == 2
        got = rows(db_url, "SELECT * FROM readings")
        assert len(got) == 75
        for r in got:
            signed = want[(r["meter_id"], r["seq"])]
            m = reading_mod.decode(signed)
            assert bytes(r["reading"]) == signed
            assert (r["mantissa"], r["scale"], r["ts"], r["clock"], r["status"], r["unit"], r["obis"]) == \
                (m[reading_mod.VALUE], m[reading_mod.SCALE], m[reading_mod.TIME], m[reading_mod.CLOCK],
                 m[reading_mod.STATUS], m[reading_mod.UNIT], m[reading_mod.OBIS])
            assert r["value"] == ingest.value_of(m[reading_mod.VALUE], m[reading_mod.SCALE])
            assert r["verified"] in (True, 1) and r["leaf_index"] is not None and r["batch_tx"].startswith("0x")
        kinds = rows(db_url, "SELECT kind, meter_id, seq, reason FROM rejections ORDER BY meter_id")
        assert [(k["kind"], k["meter_id"], k["seq"]) for k in kinds] == [("unsupported", "m0", 26),
                                                                           ("unsupported", "m1", 26)]
        assert "31 bits" in kinds[0]["reason"] and "64 bits" in kinds[1]["reason"]
        assert reverified(db_url)["ok"]
        assert_totals_kept(db_url)
    finally:
        c.stop()
