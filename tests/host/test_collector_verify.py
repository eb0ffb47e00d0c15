"""`collector verify`: every stored reading re-verified from its evidence alone, offline; any
change to a row or its bundle, to the stored sealer-set changes or to the anchor is caught and
named. Hypothesis mutates stored bundles and rows at random: every mutation must be caught."""

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from collector_chain import FleetChain, assert_totals_kept
from pgserver import db_url, pg_server  # noqa: F401  (fixtures)
from lightmeter_host.chain import backends
from lightmeter_host.collector import db as db_mod, evidence, ingest, reverify
from lightmeter.chain import fields, header as header_mod
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import trust as trust_mod
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)


@pytest.fixture(scope="module")
def fc():
    c = FleetChain(seed=b"collector-verify").standard()
    yield c
    c.stop()


@pytest.fixture
def collected(fc, db_url):
    """A database holding the STANDARD chain's readings (SQLite, then PostgreSQL)."""
    ingest.collect(fc.url, fc.genesis, fc.entries, db_url)
    return db_url


def verify(url, **kw):
    d = db_mod.open_db(url)
    try:
        rep = reverify.verify_db(d, **kw)
        rep.pop("good_ids")
        return rep
    finally:
        d.close()


def execute(url, sql, params=()):
    d = db_mod.open_db(url)
    try:
        with d.transaction() as cur:
            cur.execute(d._sql(sql), params)
    finally:
        d.close()


def one(url, sql, params=()):
    d = db_mod.open_db(url)
    try:
        return d.query(sql, params)[0]
    finally:
        d.close()


def test_an_untouched_database_verifies(collected, fc):
    rep = verify(collected, trust=fc.genesis, fleet_entries=fc.entries)
    assert rep["ok"] and rep["good"] == 9 and rep["checkpoints"] == 1 and not rep["bad"]


COLUMN_CHANGES = [("value", 1.5), ("mantissa", 7), ("scale", 2), ("seq", 77), ("obis", "1-0:2.8.0"),
                  ("unit", "Wh"), ("ts", 12345), ("meter_id", "m9"), ("tx_hash", "0x" + "ab" * 32),
                  ("block_number", 4), ("clock", 1), ("status", 4), ("address", "0x" + "cd" * 20),
                  ("tx_index", 2), ("reading", b"\xa0")]


@pytest.mark.parametrize("column, value", COLUMN_CHANGES, ids=[c for c, _ in COLUMN_CHANGES])
def test_a_changed_column_is_named(collected, column, value):
    row = one(collected, "SELECT id, meter_id, seq FROM readings WHERE meter_id = ? AND seq = ?", ("m1", 2))
    execute(collected, "UPDATE readings SET %s = ? WHERE id = ?" % column, (value, row["id"]))
    rep = verify(collected)
    assert not rep["ok"]
    [bad] = rep["bad"]
    assert bad["id"] == row["id"] and bad["check"] in (column, "device")
    if column not in ("meter_id", "seq"):
        assert (bad["meter_id"], bad["seq"]) == ("m1", 2)


def test_another_rows_evidence_is_caught(collected):
    a = one(collected, "SELECT id FROM readings WHERE meter_id = 'm0' AND seq = 1")
    b = one(collected, "SELECT evidence FROM readings WHERE meter_id = 'm0' AND seq = 2")
    execute(collected, "UPDATE readings SET evidence = ? WHERE id = ?", (b["evidence"], a["id"]))
    rep = verify(collected)
    assert [x["id"] for x in rep["bad"]] == [a["id"]]


def _resign(bundle_text, keys, suite):
    """The bundle with its header re-signed by keys (a set the attacker holds) and that set."""
    obj = json.loads(bundle_text)
    nodes = sorted((suite.public_key(k), k) for k in keys)
    h = header_mod.from_json(obj["header"], suite.node_sig_len)
    h.sealer_list = [n for n, _ in nodes]
    h.weights = [1] * len(nodes)
    h.sealer = 0
    digest = h.hash(suite)
    h.signatures = [(i, suite.sign_node(k, digest)) for i, (_, k) in enumerate(nodes)]
    obj["header"] = evidence.header_json(h, digest)
    obj["sealers"] = evidence.sealers_json([(n, 1) for n, _ in nodes])
    return evidence.dumps(obj)


def test_a_bundle_re_signed_by_another_sealer_set_fails_the_chain_to_the_anchor(collected):
    s = suite_mod.get("ecdsa")
    row = one(collected, "SELECT id, evidence FROM readings WHERE meter_id = 'm0' AND seq = 1")
    forged = _resign(row["evidence"], [bytes([7]) * 32, bytes([8]) * 32], s)
    anchor = trust_mod.from_json(json.loads(one(collected, "SELECT value FROM state WHERE key = 'anchor'")["value"]))
    evidence.verify_bundle(forged, anchor, s)  # self-consistent on its own...
    execute(collected, "UPDATE readings SET evidence = ? WHERE id = ?", (forged, row["id"]))
    [bad] = verify(collected)["bad"]
    assert (bad["id"], bad["check"]) == (row["id"], "sealers")  # ...but not the chain's set


def test_a_deleted_set_change_fails_every_later_reading(collected):
    execute(collected, "DELETE FROM checkpoints")
    rep = verify(collected)
    later = {(b["meter_id"], b["seq"]) for b in rep["bad"]}
    assert later == {("m0", 5), ("m1", 5)}  # blocks above 3: signed by the new set and {b["check"] for b in rep["bad"]} == {"sealers"}


def test_a_changed_set_change_is_reported(collected):
    cp = one(collected, "SELECT changes FROM checkpoints")
    changes = json.loads(cp["changes"])
    changes[0]["tx"]["nonce"] = changes[0]["tx"]["nonce"][:-2] + "00"
    execute(collected, "UPDATE checkpoints SET changes = ?", (evidence.dumps(changes),))
    rep = verify(collected)
    assert not rep["ok"] and rep["problems"][0]["checkpoint"] == 3
    assert {(b["meter_id"], b["seq"]) for b in rep["bad"]} == {("m0", 5), ("m1", 5)}  # blocks above 3: signed by the new set


def test_another_trust_anchor_is_reported(collected, fc):
    other = dict(fc.genesis, hash="0x" + "00" * 32)
    rep = verify(collected, trust=other)
    assert not rep["ok"] and rep["problems"][0]["check"] == "anchor"


def test_a_device_not_in_the_given_fleet_is_named(collected, fc):
    rep = verify(collected, fleet_entries=[e for e in fc.entries if e["meter_id"] != "m1"])
    assert {b["meter_id"] for b in rep["bad"]} == {"m1"} and {b["check"] for b in rep["bad"]} == {"fleet"}


def lm(*args):
    return subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "collector"] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_cli_verify_exit_1_naming_the_changed_row_and_mark(fc, tmp_path):
    url = "sqlite://" + str(tmp_path / "c.db")
    ingest.collect(fc.url, fc.genesis, fc.entries, url)
    assert lm("verify", "--db", url).returncode == 0
    row = one(url, "SELECT id FROM readings WHERE meter_id = 'm0' AND seq = 2")
    execute(url, "UPDATE readings SET value = value + 1 WHERE id = ?", (row["id"],))
    r = lm("verify", "--db", url, "--mark")
    assert r.returncode == 1
    assert "id %d (meter m0, seq 2): value" % row["id"] in r.stdout
    assert one(url, "SELECT verified FROM readings WHERE id = ?", (row["id"],))["verified"] == 0
    assert one(url, "SELECT COUNT(*) AS n FROM readings WHERE verified = 1")["n"] == 8
    assert_totals_kept(url)  # --mark moved the verified total with the flag
    r = lm("verify", "--db", url, "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["bad"][0]["check"] == "value"


def test_cli_verify_without_an_anchor_is_a_usage_error(tmp_path):
    url = "sqlite://" + str(tmp_path / "c.db")
    d = db_mod.open_db(url)
    d.add_readings([{"meter_id": "m", "address": "0x" + "11" * 20, "seq": 1, "obis": "x", "value": 1.0,
                     "mantissa": 1, "scale": 0, "unit": "Wh", "ts": 1, "clock": 0, "status": 0, "block_number": 1,
                     "tx_index": 0, "tx_hash": "0x01", "reading": b"x", "evidence": "{}", "verified": True,
                     "collected_at": 1}])
    d.close()
    r = lm("verify", "--db", url)
    assert r.returncode == 2 and "no trust anchor" in r.stderr


# -- hypothesis: any mutation of a stored bundle or row is caught ----------------------------------

@pytest.fixture(scope="module")
def stored_rows(fc, tmp_path_factory):
    backends.install()
    url = "sqlite://" + str(tmp_path_factory.mktemp("hyp") / "c.db")
    ingest.collect(fc.url, fc.genesis, fc.entries, url)
    d = db_mod.open_db(url)
    try:
        anchor = trust_mod.from_json(d.get_state("anchor"))
        suite = suite_mod.get(anchor.crypto)
        sets = reverify._checkpoint_sets(d, anchor, suite, [])
        devices = {x["address"]: x for x in d.devices()}
        rows = d.query("SELECT %s FROM readings ORDER BY id" % ", ".join(reverify.COLUMNS))
    finally:
        d.close()
    for r in rows:
        r["reading"] = bytes(r["reading"])
        assert reverify.check_row(r, anchor, suite, sets, devices) is None
    return rows, anchor, suite, sets, devices


HYP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PRINTABLE = st.characters(min_codepoint=32, max_codepoint=126)


@HYP
@given(data=st.data())
def test_any_character_change_in_a_bundle_is_caught(stored_rows, data):
    rows, anchor, suite, sets, devices = stored_rows
    row = dict(data.draw(st.sampled_from(rows)))
    text = row["evidence"]
    i = data.draw(st.integers(0, len(text) - 1))
    op = data.draw(st.sampled_from(["replace", "delete", "insert"]))
    c = data.draw(PRINTABLE)
    if op == "replace":
        new = text[:i] + c + text[i + 1:]
    elif op == "delete":
        new = text[:i] + text[i + 1:]
    else:
        new = text[:i] + c + text[i:]
    if new == text:
        return
    row["evidence"] = new
    assert reverify.check_row(row, anchor, suite, sets, devices) is not None


def _paths(obj, prefix=()):
    """Every (path, value) leaf and container of a JSON value."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _mutations(value):
    if isinstance(value, bool):
        return [not value, int(value)]
    if isinstance(value, int):
        return [value + 1, value - 1, str(value), float(value), None]
    if isinstance(value, str):
        out = [value + "0", value[:-1], value.upper() if value != value.upper() else value.lower(), ""]
        if value.startswith("0x"):
            out.append(value[2:])
        elif value:
            out.append("0x" + value)
        return [v for v in out if v != value or type(v) is not str]
    if isinstance(value, list):
        out = [value[:-1], value + value[-1:]] if value else [[0]]
        if len(value) > 1:
            out.append(list(reversed(value)))
        return [v for v in out if v != value]
    if isinstance(value, dict):
        out = [dict(value, extra=1)]
        for k in value:
            out.append({kk: vv for kk, vv in value.items() if kk != k})
        return out
    return [0]


def _set(obj, path, value):
    if not path:
        return value
    obj = json.loads(json.dumps(obj))
    cur = obj
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return obj


@HYP
@given(data=st.data())
def test_any_value_change_in_a_bundle_is_caught(stored_rows, data):
    rows, anchor, suite, sets, devices = stored_rows
    row = dict(data.draw(st.sampled_from(rows)))
    obj = json.loads(row["evidence"])
    path, value = data.draw(st.sampled_from(list(_paths(obj))))
    new_value = data.draw(st.sampled_from(_mutations(value)))
    new = _set(obj, path, new_value)
    text = json.dumps(new, sort_keys=True, separators=(",", ":"))
    if text == row["evidence"]:
        return
    row["evidence"] = text
    assert reverify.check_row(row, anchor, suite, sets, devices) is not None


@HYP
@given(data=st.data())
def test_any_change_to_a_row_column_is_caught(stored_rows, data):
    rows, anchor, suite, sets, devices = stored_rows
    row = dict(data.draw(st.sampled_from(rows)))
    column = data.draw(st.sampled_from([c for c in reverify.COLUMNS if c not in ("id", "evidence")]))
    old = row[column]
    if isinstance(old, bytes):
        new = data.draw(st.binary(max_size=64))
    elif isinstance(old, float):
        new = data.draw(st.floats(allow_nan=False))
    elif isinstance(old, int):
        new = data.draw(st.integers(-2 ** 63, 2 ** 63 - 1))
    else:
        new = data.draw(st.text(max_size=20))
    if new == old and type(new) is type(old):
        return
    row[column] = new
    assert reverify.check_row(row, anchor, suite, sets, devices) is not None


def test_the_bundle_text_is_what_collect_stored(stored_rows):
    rows, anchor, suite, _, _ = stored_rows
    for r in rows:
        got = evidence.verify_bundle(r["evidence"], anchor, suite)
        assert "0x" + got.facts.tx_hash.hex() == r["tx_hash"] and got.header.number == r["block_number"]
        assert fields.hex0x(got.facts.sender) == r["address"]
