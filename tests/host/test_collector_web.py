"""The collector's web page: its JSON API over real HTTP, and the page in headless Chromium.

A SQLite database made through db.open_db + add_readings holds a small fleet; the server runs
in a thread on a free port (uvicorn, the app from lightmeter_host.collector.web). The browser tests
drive Debian's Chromium through its ChromeDriver with Selenium 4, so nothing is downloaded.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from lightmeter_host.collector import db, web
from pgserver import pg_server  # noqa: F401  (a fixture)
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)
OUTPUT = os.path.join(ROOT, "tests", "output")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

HOUR = 3600 * 1000
DAY = 24 * HOUR
ENERGY = "1-0:1.8.0"    # total active energy import (IEC 62056-61)
VOLTAGE = "1-0:32.7.0"  # L1 voltage, instantaneous
# A meter id is device-supplied text: this one is markup, and holds a '/' too.
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'

PROBLEM_REASON = 'receipt proof for block 91 does not verify <b onmouseover="window.__pwned=3">x</b>'

_tx = iter(range(1, 10 ** 9))


def reading(meter, address, seq, ts, value, obis=ENERGY, unit="kWh", clock=0, verified=True, status=0):
    mantissa = round(value * 1000)
    return {"meter_id": meter, "address": address, "seq": seq, "obis": obis,
            "value": mantissa * 10 ** -3, "mantissa": mantissa, "scale": -3, "unit": unit,
            "ts": ts, "clock": clock, "status": status, "block_number": 1000 + seq, "tx_index": 0,
            "tx_hash": "0x%064x" % next(_tx), "reading": b"\xa1\x00\x61x", "evidence": "{}",
            "verified": verified, "collected_at": ts + 5000}


def make_fleet(now):
    """The rows of a small fleet, ending an hour before `now` (ms)."""
    rows = []
    a1 = "0x" + "11" * 20
    # Ten days of hourly energy readings, more by day than by night; a voltage every 6 h.
    # One sequence per device, in time order, as a device numbers its readings.
    taken, total = [], 1000.0
    for i in range(240):
        ts = now - (240 - i) * HOUR
        hour = (ts // HOUR) % 24
        total += 0.4 + (1.6 if 7 <= hour <= 21 else 0.0) + (i % 5) * 0.05
        taken.append((ts, ENERGY, total, "kWh"))
    for j in range(40):
        taken.append((now - (240 - 6 * j) * HOUR + 60000, VOLTAGE, 229.5 + (j % 7) * 0.3, "V"))
    for seq, (ts, obis, value, unit) in enumerate(sorted(taken), 1):
        rows.append(reading("MTR-0001", a1, seq, ts, value, obis=obis, unit=unit))
    # A day of half-hourly readings, the last with an unsynced clock, one unverified.
    a2 = "0x" + "22" * 20
    for i in range(48):
        rows.append(reading("MTR-0002", a2, i + 1, now - (48 - i) * (HOUR // 2), 50 + i * 0.25,
                            clock=1 if i == 47 else 0, verified=i != 10))
    # Old synced readings, then a reboot: three readings timed since boot only.
    a3 = "0x" + "33" * 20
    for i in range(5):
        rows.append(reading("MTR-0003", a3, i + 1, now - (40 - i) * DAY, 7 + i))
    # two readings the device could not take (meter failure flag, value 0), then the reboot
    for i in range(2):
        rows.append(reading("MTR-0003", a3, 6 + i, now - (30 - i) * DAY, 0, status=1))
    for i in range(3):
        rows.append(reading("MTR-0003", a3, 8 + i, 60000 * (i + 1), 12 + i, clock=2))
    # The hostile id: a few readings over the last two days.
    a4 = "0x" + "44" * 20
    for i in range(6):
        rows.append(reading(HOSTILE, a4, i + 1, now - (48 - 8 * i) * HOUR, 3 + i))
    return rows


def http(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def api(base, path, **query):
    q = ("?" + urllib.parse.urlencode(query)) if query else ""
    status, headers, body = http(base + path + q)
    return status, json.loads(body)


def readings_path(meter):
    return "/api/meters/%s/readings" % urllib.parse.quote(meter, safe="")


def plot_path(meter):
    return "/api/meters/%s/plot" % urllib.parse.quote(meter, safe="")


class ServerThread:
    """The app under uvicorn in a thread, listening before it starts (requests queue till then)."""

    def __init__(self, app):
        import uvicorn

        sock = web.bind("127.0.0.1", 0)
        self.base = "http://127.0.0.1:%d" % sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)
        self.sock = sock
        self.thread.start()

    def stop(self):
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


def fill(url, rows, now):
    database = db.open_db(url)
    try:
        database.add_readings(rows)
        database.add_rejections([
            {"meter_id": "MTR-0002", "address": "0x" + "22" * 20, "seq": 5, "block_number": 77,
             "tx_hash": "0x" + "ab" * 32, "kind": "bad_proof", "reason": "receipt proof does not verify",
             "collected_at": now},
            {"meter_id": "MTR-0002", "address": "0x" + "22" * 20, "seq": 6, "block_number": 78,
             "tx_hash": "0x" + "cd" * 32, "kind": "short_quorum", "reason": "signers below quorum",
             "collected_at": now},
            # a node's lie names no meter: only the problems panel can show it
            {"meter_id": None, "address": None, "seq": None, "block_number": 91, "tx_hash": "",
             "kind": "bad_proof", "reason": PROBLEM_REASON, "collected_at": now}])
        database.add_gaps([{"meter_id": "MTR-0002", "address": "0x" + "22" * 20, "after_seq": 20,
                            "before_seq": 23, "block_number": 90}])
        # the fleet entries of the devices, as collect stores them: the page searches their addresses
        database.put_devices([{"address": "0x" + c * 20, "meter_id": m, "public_key": "0x" + "00" * 64,
                               "suite": "ecdsa"} for c, m in (("11", "MTR-0001"), ("22", "MTR-0002"),
                                                              ("33", "MTR-0003"), ("44", HOSTILE))])
    finally:
        database.close()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    path = tmp_path_factory.mktemp("collector") / "collector.db"
    url = "sqlite:///%s" % path
    now = int(time.time() * 1000) // 60000 * 60000
    rows = make_fleet(now)
    fill(url, rows, now)
    return {"url": url, "path": path, "rows": rows, "now": now}


@pytest.fixture(scope="module")
def server(fleet):
    srv = ServerThread(web.create_app(fleet["url"]))
    yield srv.base
    srv.stop()


def expected(rows, meter, obis, t_from, t_to, plotted=False):
    return [r for r in rows if r["meter_id"] == meter and r["obis"] == obis
            and (t_from is None or r["ts"] >= t_from) and (t_to is None or r["ts"] <= t_to)
            and not (plotted and (r["clock"] == 2 or r["status"] & 1))]


# ---- the JSON API ----

def test_health_counts_the_meters(server):
    status, body = api(server, "/api/health")
    assert status == 200 and body == {"ok": True, "database": "sqlite", "meters": 4}


def test_meters_lists_every_meter_with_its_counts(server, fleet):
    status, body = api(server, "/api/meters")
    assert status == 200 and (body["total"], body["offset"], body["limit"], body["q"]) == (4, 0, 50, "")
    meters = body["meters"]
    by_id = {m["meter_id"]: m for m in meters}
    assert sorted(by_id) == sorted({r["meter_id"] for r in fleet["rows"]})
    m2 = by_id["MTR-0002"]
    assert (m2["rejected"], m2["gaps"], m2["verified"], m2["last_clock"]) == (2, 1, 47, 1)
    assert by_id["MTR-0003"]["last_clock"] == 2


def whole(fleet):
    """db.meters(): the whole-table reference the paged answers must agree with."""
    d = db.open_db(fleet["url"], read_only=True)
    try:
        return d.meters()
    finally:
        d.close()


def test_meters_pages_on_the_server_in_meter_id_order(server, fleet):
    everyone = whole(fleet)
    for offset, limit in ((0, 1), (1, 2), (3, 5), (4, 1), (9, 3)):
        status, body = api(server, "/api/meters", offset=offset, limit=limit)
        assert status == 200 and body["total"] == 4 and (body["offset"], body["limit"]) == (offset, limit)
        assert body["meters"] == everyone[offset:offset + limit]


@pytest.mark.parametrize("q, want", [
    ("mtr-000", ["MTR-0001", "MTR-0002", "MTR-0003"]),   # case folded, anywhere in the id
    ("0003", ["MTR-0003"]),
    ("0X3333", ["MTR-0003"]),                            # a device's address
    ("_", [HOSTILE]),                                    # LIKE's wildcards are literal
    ("%", []),
    ("!", []),
    ("<script>", [HOSTILE]),
    ("nothing like it", []),
])
def test_meters_search_on_the_server(server, q, want):
    status, body = api(server, "/api/meters", q=q)
    assert status == 200 and [m["meter_id"] for m in body["meters"]] == sorted(want)
    assert body["total"] == len(want) and body["q"] == q


@settings(max_examples=60, deadline=None)
@given(q=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=6),
       offset=st.integers(0, 6), limit=st.integers(1, 5))
def test_any_search_and_page_is_the_matching_slice_of_the_whole_table(server, fleet, q, offset, limit):
    everyone = whole(fleet)
    addresses = {m["meter_id"]: m["address"] for m in everyone}
    match = [m for m in everyone if q.strip().lower() in m["meter_id"].lower()
             or q.strip().lower() in addresses[m["meter_id"]].lower()]
    status, body = api(server, "/api/meters", q=q, offset=offset, limit=limit)
    assert status == 200 and body["total"] == len(match)
    assert body["meters"] == match[offset:offset + limit]


def test_summary_counts_the_fleet(server, fleet):
    rows = fleet["rows"]
    status, body = api(server, "/api/summary")
    assert status == 200 and body == {
        "meters": 4, "readings": len(rows), "verified": sum(1 for r in rows if r["verified"]),
        "rejected": 2, "duplicates": 0, "gaps": 1, "problems": 1}


def test_plot_draws_at_most_the_points_asked_for(server, fleet):
    every = expected(fleet["rows"], "MTR-0001", ENERGY, None, None, plotted=True)
    status, body = api(server, plot_path("MTR-0001"))
    assert status == 200 and body["obis"] == ENERGY and body["bucket_ms"] is None
    assert body["registers"] == [{"obis": ENERGY, "count": 240}, {"obis": VOLTAGE, "count": 40}]
    assert [r["seq"] for r in body["readings"]] == [r["seq"] for r in every] and body["count"] == 240
    assert body["meter"] == [m for m in whole(fleet) if m["meter_id"] == "MTR-0001"][0]
    for points in (2, 10, 239):
        status, body = api(server, plot_path("MTR-0001"), points=points)
        got = body["readings"]
        assert status == 200 and 1 < len(got) <= points and body["count"] == 240
        assert sum(r["n"] for r in got) == 240             # each point stands for its bucket
        assert body["bucket_ms"] * points >= every[-1]["ts"] - every[0]["ts"] + 1
        by_seq = {r["seq"]: r for r in every}
        for r in got:  # every point is a stored reading, the last of its bucket
            want = {k: v for k, v in by_seq[r["seq"]].items() if k in r and k not in ("verified",)}
            assert {k: r[k] for k in want} == want
        assert got[-1]["seq"] == every[-1]["seq"] and got[0]["ts"] >= every[0]["ts"]
        assert body["first"]["seq"] == every[0]["seq"] and body["first"]["value"] == every[0]["value"]


def test_plot_counts_what_it_leaves_off_and_takes_a_register_and_range(server, fleet):
    status, body = api(server, plot_path("MTR-0003"))
    assert status == 200 and (body["count"], body["untimed"], body["failed"]) == (5, 3, 2)
    assert len(body["readings"]) == 5
    t_from = fleet["now"] - 50 * HOUR
    status, body = api(server, plot_path("MTR-0001"), obis=VOLTAGE, **{"from": t_from})
    assert body["obis"] == VOLTAGE and [r["seq"] for r in body["readings"]] == \
        [r["seq"] for r in expected(fleet["rows"], "MTR-0001", VOLTAGE, t_from, None)]
    status, body = api(server, plot_path("MTR-0001"), obis="9-9:9.9.9")
    assert status == 200 and body["readings"] == [] and body["count"] == 0


@pytest.mark.parametrize("path, query, word", [
    ("/api/meters", {"offset": "-1"}, "offset"),
    ("/api/meters", {"limit": "0"}, "limit"),
    ("/api/meters", {"limit": "501"}, "limit"),
    ("/api/meters", {"limit": "ten"}, "limit"),
    ("/api/meters", {"page": "2"}, "page"),
    ("/api/meters", {"q": "x" * 201}, "q"),
    ("PLOT", {"points": "1"}, "points"),
    ("PLOT", {"points": "5001"}, "points"),
    ("PLOT", {"from": "soon"}, "from"),
    ("PLOT", {"from": "20", "to": "10"}, "after"),
    ("PLOT", {"limit": "5"}, "limit"),
])
def test_bad_page_and_plot_parameters_are_400(server, path, query, word):
    status, body = api(server, plot_path("MTR-0001") if path == "PLOT" else path, **query)
    assert status == 400 and word in body["error"]
    assert api(server, plot_path("MTR-9999"))[0] == 404


def test_readings_range_is_inclusive_in_milliseconds(server, fleet):
    rows = expected(fleet["rows"], "MTR-0002", ENERGY, None, None)
    t_from, t_to = rows[5]["ts"], rows[9]["ts"]
    status, body = api(server, readings_path("MTR-0002"), **{"from": t_from, "to": t_to})
    assert status == 200
    assert [r["seq"] for r in body["readings"]] == [6, 7, 8, 9, 10]
    assert (body["from"], body["to"], body["truncated"]) == (t_from, t_to, False)


def test_readings_take_iso_8601_with_or_without_a_zone(server, fleet):
    rows = expected(fleet["rows"], "MTR-0002", ENERGY, None, None)
    t_from, t_to = rows[3]["ts"], rows[7]["ts"]
    utc = datetime.fromtimestamp(t_from / 1000, timezone.utc)
    plus1 = datetime.fromtimestamp(t_to / 1000, timezone(timedelta(hours=1)))
    by_ms = api(server, readings_path("MTR-0002"), **{"from": t_from, "to": t_to})[1]
    for f, t in ((utc.isoformat(), plus1.isoformat()),
                 (utc.strftime("%Y-%m-%dT%H:%M:%SZ"), plus1.isoformat()),
                 (utc.replace(tzinfo=None).isoformat(), t_to)):   # no zone: UTC
        status, body = api(server, readings_path("MTR-0002"), **{"from": f, "to": t})
        assert status == 200 and body["readings"] == by_ms["readings"], (f, t)
    assert len(by_ms["readings"]) == 5


def test_an_unescaped_plus_in_a_zone_still_parses(server, fleet):
    # '+' in a query string means a space; people type it anyway.
    rows = expected(fleet["rows"], "MTR-0002", ENERGY, None, None)
    t = datetime.fromtimestamp(rows[4]["ts"] / 1000, timezone(timedelta(hours=2))).isoformat()
    status, _, raw = http(server + readings_path("MTR-0002") + "?from=" + t + "&to=" + t)
    assert status == 200 and [r["seq"] for r in json.loads(raw)["readings"]] == [5]


def test_problems_lists_only_the_rejections_that_name_no_meter(server, fleet):
    status, body = api(server, "/api/problems")
    assert status == 200
    assert body == {"problems": [{"block_number": 91, "tx_hash": "", "kind": "bad_proof",
                                  "reason": PROBLEM_REASON, "collected_at": fleet["now"]}]}


def test_limit_cuts_the_range_and_says_so(server):
    status, body = api(server, readings_path("MTR-0001"), limit=7)
    assert status == 200 and len(body["readings"]) == 7 and body["truncated"] is True
    assert [r["ts"] for r in body["readings"]] == sorted(r["ts"] for r in body["readings"])
    status, body = api(server, readings_path("MTR-0003"), limit=10)
    assert len(body["readings"]) == 10 and body["truncated"] is False


@pytest.mark.parametrize("query, word", [
    ({"from": "yesterday"}, "from"),
    ({"to": "2026-13-01T00:00"}, "to"),
    ({"from": "1.5e12"}, "from"),
    ({"from": str(2 ** 63)}, "from"),
    ({"from": "20", "to": "10"}, "after"),
    ({"limit": "0"}, "limit"),
    ({"limit": "-3"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"limit": str(web.MAX_LIMIT + 1)}, "limit"),
    ({"since": "0"}, "since"),
])
def test_bad_parameters_are_400_with_a_json_error(server, query, word):
    status, body = api(server, readings_path("MTR-0001"), **query)
    assert status == 400 and word in body["error"]


def test_unknown_meter_is_404(server):
    status, body = api(server, readings_path("MTR-9999"))
    assert status == 404 and "MTR-9999" in body["error"]
    # A known meter with nothing in the range is not unknown.
    status, body = api(server, readings_path("MTR-0001"), **{"from": 0, "to": 1})
    assert status == 200 and body["readings"] == []


def test_a_meter_id_with_markup_and_slash_is_served_and_escaped(server):
    status, headers, raw = http(server + "/api/meters")
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert b"<" not in raw and b">" not in raw  # escaped as \u003c, \u003e
    assert HOSTILE in [m["meter_id"] for m in json.loads(raw)["meters"]]
    status, headers, raw = http(server + readings_path(HOSTILE))
    assert status == 200 and b"<" not in raw
    body = json.loads(raw)
    assert body["meter_id"] == HOSTILE and len(body["readings"]) == 6


def test_every_response_forbids_foreign_scripts(server):
    for path in ("/", "/api/meters", "/static/app.js", "/static/vendor/uPlot.iife.min.js"):
        status, headers, _ = http(server + path)
        assert status == 200, path
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"


def test_the_page_and_uplot_come_from_the_collector(server):
    status, _, html = http(server + "/")
    assert status == 200 and b"<table" in html
    assert b"http://" not in html and b"https://" not in html  # no CDN: works offline
    status, headers, js = http(server + "/static/vendor/uPlot.iife.min.js")
    assert status == 200 and b"uPlot" in js
    status, headers, css = http(server + "/static/vendor/uPlot.min.css")
    assert status == 200 and headers["content-type"].startswith("text/css")
    assert http(server + "/static/vendor/uPlot.d.ts")[0] == 404


def test_nothing_but_reads_is_allowed(server):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/api/meters", readings_path("MTR-0001"), "/"):
            assert http(server + path, method)[0] == 405, (method, path)


def test_serving_never_writes_the_database(fleet, tmp_path):
    copy = tmp_path / "copy.db"
    shutil.copyfile(fleet["path"], copy)
    before = hashlib.sha256(copy.read_bytes()).hexdigest()
    srv = ServerThread(web.create_app("sqlite:///%s" % copy))
    try:
        assert api(srv.base, "/api/meters")[0] == 200
        assert api(srv.base, readings_path("MTR-0001"), limit=10)[0] == 200
        assert api(srv.base, readings_path("nope"))[0] == 404
    finally:
        srv.stop()
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before


def test_postgresql_serves_what_sqlite_serves(server, fleet, pg_server):
    url = pg_server.new_database()
    fill(url, fleet["rows"], fleet["now"])
    srv = ServerThread(web.create_app(url))
    try:
        assert api(srv.base, "/api/health")[1] == {"ok": True, "database": "postgresql", "meters": 4}
        assert api(srv.base, "/api/meters") == api(server, "/api/meters")
        assert api(srv.base, "/api/summary") == api(server, "/api/summary")
        for query in ({"q": "mtr-000"}, {"offset": 1, "limit": 2}, {"q": "0x4444"}, {"q": "<"}):
            assert api(srv.base, "/api/meters", **query) == api(server, "/api/meters", **query)
        for meter in ("MTR-0001", "MTR-0003", HOSTILE):
            for query in ({}, {"points": 10}, {"obis": VOLTAGE}, {"from": fleet["now"] - 50 * HOUR, "points": 7}):
                assert api(srv.base, plot_path(meter), **query) == api(server, plot_path(meter), **query)
        assert api(srv.base, "/api/problems") == api(server, "/api/problems")
        for meter in ("MTR-0001", "MTR-0003", HOSTILE):
            query = {"from": fleet["now"] - 50 * HOUR, "limit": 30}
            assert api(srv.base, readings_path(meter), **query) == api(server, readings_path(meter), **query)
        assert api(srv.base, readings_path("MTR-9999"))[0] == 404
    finally:
        srv.stop()


def test_a_missing_database_is_not_created(tmp_path):
    with pytest.raises(web.WebError, match="no database"):
        web.create_app("sqlite:///%s" % (tmp_path / "absent.db"))
    assert os.listdir(tmp_path) == []


def test_missing_uplot_is_a_clear_startup_error(fleet, tmp_path):
    with pytest.raises(web.WebError, match="npm ci"):
        web.create_app(fleet["url"], node_modules=tmp_path / "node_modules")


# ---- parameters, hostile ----

@given(st.integers(-2 ** 63, 2 ** 63 - 1))
def test_parse_time_takes_any_int64_milliseconds(ms):
    assert web.parse_time(str(ms), "from") == ms


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30)),
                                               timezone(timedelta(hours=-8))])))
def test_parse_time_reads_iso_8601_exactly(when):
    want = (when - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1)
    assert web.parse_time(when.isoformat(), "to") == want


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_parse_time_rejects_garbage_with_bad_parameter_only(text):
    try:
        ms = web.parse_time(text, "from")
    except web.BadParameter as e:
        assert "from" in str(e)
    else:
        assert isinstance(ms, int) and -2 ** 63 <= ms < 2 ** 63


@given(st.text(max_size=12))
def test_parse_limit_accepts_only_1_to_max(text):
    try:
        n = web.parse_limit(text)
    except web.BadParameter:
        assert not (text.strip().isascii() and text.strip().isdigit()
                    and 1 <= int(text) <= web.MAX_LIMIT)
    else:
        assert 1 <= n <= web.MAX_LIMIT and str(n) == text.strip().lstrip("0")


@settings(max_examples=150, deadline=None)
@given(meter=st.one_of(st.sampled_from(["MTR-0001", HOSTILE]), st.text(max_size=30)),
       query=st.dictionaries(st.sampled_from(["from", "to", "limit", "since"]),
                             st.one_of(st.integers(-2 ** 70, 2 ** 70).map(str), st.text(max_size=30)),
                             max_size=3))
def test_any_request_gets_a_json_answer_never_a_crash(server, meter, query):
    status, headers, raw = http(server + readings_path(meter) + "?" + urllib.parse.urlencode(query))
    body = json.loads(raw)
    assert status in (200, 400, 404), (status, body)
    if status == 200:
        assert body["meter_id"] == meter and isinstance(body["readings"], list)
    else:
        assert isinstance(body["error"], str) and body["error"]


@settings(max_examples=120, deadline=None)
@given(path=st.sampled_from(["/api/meters", "PLOT"]),
       meter=st.one_of(st.sampled_from(["MTR-0001", "MTR-0003", HOSTILE]), st.text(max_size=20)),
       query=st.dictionaries(st.sampled_from(["offset", "limit", "q", "from", "to", "obis", "points", "page"]),
                             st.one_of(st.integers(-2 ** 70, 2 ** 70).map(str), st.text(max_size=30)),
                             max_size=4))
def test_any_page_or_plot_request_gets_a_json_answer_never_a_crash(server, path, meter, query):
    url = server + (plot_path(meter) if path == "PLOT" else path) + "?" + urllib.parse.urlencode(query)
    status, headers, raw = http(url)
    body = json.loads(raw)
    assert status in (200, 400, 404), (status, body)
    if status != 200:
        assert isinstance(body["error"], str) and body["error"]
    elif path == "PLOT":
        assert len(body["readings"]) <= body["points"] <= 5000
    else:
        assert len(body["meters"]) <= body["limit"] <= 500


@settings(max_examples=60, deadline=None)
@given(points=st.integers(2, 300), start=st.integers(0, 239), span=st.integers(0, 260),
       meter=st.sampled_from(["MTR-0001", "MTR-0002"]), obis=st.sampled_from([ENERGY, VOLTAGE]))
def test_a_bounded_plot_is_the_last_reading_of_each_bucket(server, fleet, points, start, span, meter, obis):
    every = expected(fleet["rows"], meter, obis, None, None, plotted=True)
    if not every:
        return
    t_from = every[min(start, len(every) - 1)]["ts"]
    t_to = t_from + span * HOUR
    want = [r for r in every if t_from <= r["ts"] <= t_to]
    status, body = api(server, plot_path(meter), obis=obis, points=points, **{"from": t_from, "to": t_to})
    got = body["readings"]
    assert status == 200 and body["count"] == len(want) and sum(r["n"] for r in got) == len(want)
    assert len(got) <= points
    assert (body["first"] or {}).get("seq") == (want[0]["seq"] if want else None)
    if body["bucket_ms"] is None:
        assert [r["seq"] for r in got] == [r["seq"] for r in want]
        return
    width, lo = body["bucket_ms"], want[0]["ts"]
    assert width * points >= want[-1]["ts"] - lo + 1
    buckets = {}
    for r in want:  # the last reading of each bucket, by ts then seq
        buckets[(r["ts"] - lo) // width] = r
    assert [r["seq"] for r in got] == [r["seq"] for r in sorted(buckets.values(), key=lambda r: (r["ts"], r["seq"]))]


# ---- the command ----

def lm(*args):
    return subprocess.run([sys.executable, "-m", "lightmeter_host.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_serve_rejects_a_missing_database_in_one_line(tmp_path):
    p = lm("collector", "serve", "--db", "sqlite:///%s" % (tmp_path / "none.db"))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "no database" in p.stderr
    assert os.listdir(tmp_path) == []


def test_serve_rejects_an_unknown_scheme_and_a_bad_listen(fleet):
    p = lm("collector", "serve", "--db", "mysql://localhost/x")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "sqlite" in p.stderr
    p = lm("collector", "serve", "--db", fleet["url"], "--listen", "localhost")
    assert p.returncode == 2 and "HOST:PORT" in p.stderr


def test_serve_prints_its_address_and_answers(fleet):
    p = subprocess.Popen([sys.executable, "-m", "lightmeter_host.cli", "collector", "serve", "--db",
                          fleet["url"], "--listen", "127.0.0.1:0"], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stderr.readline()
        assert line.startswith("collector: serving http://127.0.0.1:"), line
        base = line.split()[2].rstrip("/")
        assert api(base, "/api/health")[1]["meters"] == 4
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(30)
        p.stderr.close()
    assert p.returncode in (0, 130)


# ---- the page in Chromium ----

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("needs Debian's chromium and chromium-driver (%s, %s)" % (CHROMIUM, CHROMEDRIVER))
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console, CSP violations
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1280,1100",
                 "--user-data-dir=%s" % tmp_path_factory.mktemp("chromium-profile")):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait(driver, script, *args):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, 20).until(lambda d: d.execute_script(script, *args))


def open_page(driver, server):
    driver.get(server + "/")
    wait(driver, "return document.querySelectorAll('#fleet tbody tr').length > 0")


def show(driver, action):
    """Do `action` and wait for the plot to be drawn anew; returns what the page drew."""
    driver.execute_script("document.getElementById('plot-figure').dataset.points = ''")
    action()
    wait(driver, "return document.getElementById('plot-figure').dataset.points !== ''")
    return driver.execute_script(
        "const f = document.getElementById('plot-figure').dataset, l = window.lightmeter;"
        "return {points: Number(f.points), from: f.from === '' ? null : Number(f.from),"
        " to: f.to === '' ? null : Number(f.to), obis: f.obis,"
        " plotted: l.plot ? l.plot.data[0].length : 0}")


def select(driver, meter):
    from selenium.webdriver.common.by import By
    for b in driver.find_elements(By.CSS_SELECTOR, "#fleet tbody .meter-link"):
        if b.text == meter:
            return lambda: b.click()
    raise AssertionError("no row for %r" % meter)


def click_preset(driver, name):
    from selenium.webdriver.common.by import By
    return lambda: driver.find_element(By.CSS_SELECTOR, "[data-preset='%s']" % name).click()


# Pixels of the register line (#1d4ed8) on the plot's canvas, read back from the page.
COUNT_LINE_PIXELS = """
const c = document.querySelector('#plot canvas');
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let n = 0;
for (let i = 0; i < d.length; i += 4)
  if (d[i + 3] > 200 && Math.abs(d[i] - 29) < 40 && Math.abs(d[i + 1] - 78) < 40 && Math.abs(d[i + 2] - 216) < 40) n++;
return n;
"""


def test_fleet_table_lists_every_meter(browser, server, fleet):
    from selenium.webdriver.common.by import By
    open_page(browser, server)
    rows = browser.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")
    texts = {r.find_element(By.CSS_SELECTOR, "th").text: r.text for r in rows}
    assert sorted(texts) == sorted({r["meter_id"] for r in fleet["rows"]})
    assert "0x1111…1111" in texts["MTR-0001"] and "synced" in texts["MTR-0001"]
    assert "unsynced" in texts["MTR-0002"] and "61.75 kWh" in texts["MTR-0002"]
    assert "since boot" in texts["MTR-0003"] and "after boot" in texts["MTR-0003"]
    headers = [h.text.lower() for h in browser.find_elements(By.CSS_SELECTOR, "#fleet thead th")]
    assert headers == ["meter", "address", "last reading", "last reading time", "clock",
                       "verified", "rejected", "gaps"]
    cells = rows[[r.find_element(By.CSS_SELECTOR, "th").text for r in rows].index("MTR-0002")]
    assert [c.text for c in cells.find_elements(By.CSS_SELECTOR, "td")][-3:] == ["47", "2", "1"]


def test_chain_problems_are_listed_apart_from_the_fleet_as_text(browser, server):
    from selenium.webdriver.common.by import By
    open_page(browser, server)
    wait(browser, "return !document.getElementById('problems').hidden")
    rows = browser.find_elements(By.CSS_SELECTOR, "#problems-table tbody tr")
    assert len(rows) == 1
    cells = [c.text for c in rows[0].find_elements(By.CSS_SELECTOR, "td")]
    assert cells[:3] == ["91", "bad_proof", PROBLEM_REASON]
    assert browser.find_elements(By.CSS_SELECTOR, "#problems-table b") == []
    assert browser.execute_script("return window.__pwned === undefined")


def test_a_hostile_meter_id_is_shown_as_text(browser, server):
    from selenium.webdriver.common.by import By
    open_page(browser, server)
    names = [b.text for b in browser.find_elements(By.CSS_SELECTOR, "#fleet tbody .meter-link")]
    assert HOSTILE in names
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.find_elements(By.CSS_SELECTOR, "#fleet img, #fleet tbody script") == []
    drawn = show(browser, select(browser, HOSTILE))
    assert drawn["points"] == 6
    assert browser.find_element(By.ID, "detail-meter").text == HOSTILE
    assert browser.execute_script("return window.__pwned === undefined")


def test_selecting_a_meter_draws_its_readings(browser, server, fleet):
    open_page(browser, server)
    drawn = show(browser, select(browser, "MTR-0001"))
    # All by default; the energy register chosen over the voltage.
    assert drawn["obis"] == ENERGY and (drawn["from"], drawn["to"]) == (None, None)
    want = expected(fleet["rows"], "MTR-0001", ENERGY, None, None, plotted=True)
    assert drawn["points"] == drawn["plotted"] == len(want) == 240
    assert browser.execute_script(COUNT_LINE_PIXELS) > 200
    os.makedirs(OUTPUT, exist_ok=True)
    # The whole page: the window as tall as the document plus the browser's own frame.
    height, frame = browser.execute_script("return [document.documentElement.scrollHeight,"
                                           " window.outerHeight - window.innerHeight]")
    browser.set_window_size(1280, height + frame)
    browser.save_screenshot(os.path.join(OUTPUT, "collector-page.png"))


def test_changing_the_range_changes_the_points(browser, server, fleet):
    from selenium.webdriver.common.by import By
    open_page(browser, server)
    show(browser, select(browser, "MTR-0001"))
    counts = {}
    for preset in ("24h", "7d", "all"):
        drawn = show(browser, click_preset(browser, preset))
        want = expected(fleet["rows"], "MTR-0001", ENERGY, drawn["from"], drawn["to"], plotted=True)
        assert drawn["points"] == drawn["plotted"] == len(want), preset
        counts[preset] = drawn["points"]
    assert counts["24h"] < counts["7d"] < counts["all"]
    assert 23 <= counts["24h"] <= 24 and 167 <= counts["7d"] <= 168
    # A range typed in: from/to are local wall times; "to" takes its whole minute.
    browser.execute_script(
        "const pad = n => String(n).padStart(2, '0');"
        "const f = d => d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' +"
        "  pad(d.getHours()) + ':' + pad(d.getMinutes());"
        "document.getElementById('from').value = f(new Date(arguments[0]));"
        "document.getElementById('to').value = f(new Date(arguments[1]));",
        fleet["now"] - 72 * HOUR, fleet["now"] - 48 * HOUR)
    drawn = show(browser, lambda: browser.find_element(By.CSS_SELECTOR, "#range [type=submit]").click())
    assert drawn["from"] == fleet["now"] - 72 * HOUR and drawn["to"] == fleet["now"] - 48 * HOUR + 59999
    want = expected(fleet["rows"], "MTR-0001", ENERGY, drawn["from"], drawn["to"], plotted=True)
    assert drawn["points"] == len(want) == 25
    assert browser.execute_script(COUNT_LINE_PIXELS) > 100


def test_the_page_runs_with_no_console_error_under_its_policy(browser, server):
    browser.get_log("browser")  # drop what earlier pages logged
    open_page(browser, server)
    show(browser, select(browser, "MTR-0001"))
    show(browser, click_preset(browser, "7d"))
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


def test_choosing_another_register_plots_it(browser, server, fleet):
    from selenium.webdriver.support.ui import Select
    from selenium.webdriver.common.by import By
    open_page(browser, server)
    show(browser, select(browser, "MTR-0001"))
    drawn = show(browser, lambda: Select(browser.find_element(By.ID, "obis")).select_by_value(VOLTAGE))
    assert drawn["obis"] == VOLTAGE and drawn["points"] == 40


def test_readings_without_wall_clock_time_or_value_are_left_off_the_plot(browser, server, fleet):
    from selenium.webdriver.common.by import By
    open_page(browser, server)
    drawn = show(browser, select(browser, "MTR-0003"))
    assert drawn["points"] == len(expected(fleet["rows"], "MTR-0003", ENERGY, None, None, True)) == 5
    caption = browser.find_element(By.ID, "plot-caption").text
    assert "3 without wall-clock time" in caption and "2 flagged as meter failures" in caption


def test_a_link_with_a_meter_opens_it(browser, server, fleet):
    from selenium.webdriver.common.by import By
    for meter, want in ((HOSTILE, 6), ("MTR-0002", 48)):
        browser.get("about:blank")  # a fresh page: the figure starts with no points
        browser.get(server + "/#meter=" + urllib.parse.quote(meter, safe=""))
        wait(browser, "return document.getElementById('plot-figure').dataset.points !== ''")
        assert browser.find_element(By.ID, "detail-meter").text == meter
        assert browser.execute_script("return window.lightmeter.points") == want == len(
            expected(fleet["rows"], meter, ENERGY, None, None, True))
