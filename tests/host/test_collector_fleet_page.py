"""The collector's page at fleet size: 10,000 meters collected by the collector's own walk
(lightmeter_host.collector.fleetdb: signed readings, proofs and quorums, with replays, readings
naming another meter and skipped sequence numbers among them). The API pages, searches and
bounds plots on the server; the page in headless Chromium never asks for the whole fleet; the
figures agree with direct SQL counts; PostgreSQL answers as SQLite does.
"""

import sqlite3
import time
import urllib.parse

import pytest

from lightmeter_host.collector import db, fleetdb, web
from pgserver import pg_server  # noqa: F401  (a fixture)
from test_collector_web import ServerThread, api, browser, plot_path, wait  # noqa: F401  (browser: a fixture)

METERS, PER_METER, HEAVY = 10_000, 2, 3000


@pytest.fixture(scope="module")
def built():
    return fleetdb.chain(METERS, PER_METER, HEAVY)


@pytest.fixture(scope="module")
def fleet(built, tmp_path_factory):
    path = tmp_path_factory.mktemp("fleet") / "collector.db"
    url = "sqlite:///%s" % path
    summary = fleetdb.fill(url, built)
    d = db.open_db(url, read_only=True)
    try:
        everyone = d.meters()  # the whole-table reference, computed once
    finally:
        d.close()
    return {"url": url, "path": path, "summary": summary, "meters": everyone}


@pytest.fixture(scope="module")
def server(fleet):
    srv = ServerThread(web.create_app(fleet["url"]))
    yield srv.base
    srv.stop()


def sql(fleet, query, *params):
    """A direct SQL answer from the database file, past the collector's code."""
    con = sqlite3.connect("file:%s?mode=ro" % fleet["path"], uri=True)
    try:
        return con.execute(query, params).fetchone()[0]
    finally:
        con.close()


# ---- the database the fleet run made ----

def test_the_fleet_run_stored_every_meter_with_its_anomalies(fleet):
    s = fleet["summary"]
    anomalous = len(range(1, METERS, fleetdb.EVERY))
    assert s["verified"] == METERS * PER_METER + HEAVY
    # in turn: a replay (a duplicate), a reading naming another meter (rejected), a skipped seq
    assert s["duplicates"] == sum(1 for i in range(anomalous) if i % 3 == 0)
    assert s["rejected"] == sum(1 for i in range(anomalous) if i % 3 == 1)
    assert s["gaps"] > 0 and s["rejected"] > 0 and s["duplicates"] > 0
    assert len(fleet["meters"]) == METERS
    # the meters table the page lists from names exactly the meters of the whole-table reference
    con = sqlite3.connect("file:%s?mode=ro" % fleet["path"], uri=True)
    try:
        listed = [r[0] for r in con.execute("SELECT meter_id FROM meters ORDER BY meter_id")]
    finally:
        con.close()
    assert listed == [m["meter_id"] for m in fleet["meters"]]


# ---- the API ----

def test_pages_are_slices_of_the_whole_table(server, fleet):
    for offset in (0, 50, 4321, METERS - 7):
        status, body = api(server, "/api/meters", offset=offset, limit=50)
        assert status == 200 and body["total"] == METERS
        assert body["meters"] == fleet["meters"][offset:offset + 50]
    status, body = api(server, "/api/meters", offset=METERS, limit=50)
    assert status == 200 and body["meters"] == [] and body["total"] == METERS


def test_search_finds_by_meter_id_and_address(server, fleet):
    status, body = api(server, "/api/meters", q="mtr-0999")
    assert body["total"] == 10 and [m["meter_id"] for m in body["meters"]] == ["MTR-0999%d" % i for i in range(10)]
    target = fleet["meters"][7777]
    status, body = api(server, "/api/meters", q=target["address"][2:14].upper())
    assert target in body["meters"]


def test_row_figures_agree_with_direct_sql_counts(server, fleet):
    # meters 1, 98, 195: a replay, a reading naming another meter (and its gap), a skipped seq
    for index in (1, 1 + fleetdb.EVERY, 1 + 2 * fleetdb.EVERY, 0):
        mid = "MTR-%05d" % index
        [row] = api(server, "/api/meters", q=mid, limit=1)[1]["meters"]
        assert row["meter_id"] == mid
        assert row["verified"] == sql(fleet, "SELECT COUNT(*) FROM readings WHERE meter_id = ? AND verified = 1", mid)
        assert row["duplicates"] == sql(fleet, "SELECT COUNT(*) FROM rejections WHERE meter_id = ? AND kind IN "
                                               "('replay', 'duplicate')", mid)
        assert row["rejected"] == sql(fleet, "SELECT COUNT(*) FROM rejections WHERE meter_id = ? AND kind NOT IN "
                                             "('replay', 'duplicate')", mid)
        assert row["gaps"] == sql(fleet, "SELECT COUNT(*) FROM gaps WHERE meter_id = ?", mid)
        assert row["last_seq"] == sql(fleet, "SELECT MAX(seq) FROM readings WHERE meter_id = ?", mid)
    rows = {m["meter_id"]: m for m in fleet["meters"][:200]}
    assert rows["MTR-00001"]["duplicates"] == 1 and rows["MTR-00098"]["rejected"] == 1
    assert rows["MTR-00098"]["gaps"] == 1 and rows["MTR-00195"]["gaps"] == 1


def test_summary_agrees_with_direct_sql_counts(server, fleet):
    status, body = api(server, "/api/summary")
    assert status == 200 and body == {
        "meters": sql(fleet, "SELECT COUNT(DISTINCT meter_id) FROM devices"),
        "readings": sql(fleet, "SELECT COUNT(*) FROM readings"),
        "verified": sql(fleet, "SELECT COUNT(*) FROM readings WHERE verified = 1"),
        "rejected": sql(fleet, "SELECT COUNT(*) FROM rejections WHERE meter_id IS NOT NULL AND kind NOT IN "
                               "('replay', 'duplicate')"),
        "duplicates": sql(fleet, "SELECT COUNT(*) FROM rejections WHERE kind IN ('replay', 'duplicate')"),
        "gaps": sql(fleet, "SELECT COUNT(*) FROM gaps"),
        "problems": sql(fleet, "SELECT COUNT(*) FROM rejections WHERE meter_id IS NULL")}
    assert body["meters"] == METERS and body["verified"] == METERS * PER_METER + HEAVY


def test_a_long_history_is_plotted_in_bounded_points(server, fleet):
    total = sql(fleet, "SELECT COUNT(*) FROM readings WHERE meter_id = 'MTR-00000'")
    assert total == PER_METER + HEAVY
    status, body = api(server, plot_path("MTR-00000"), points=500)
    got = body["readings"]
    assert status == 200 and body["count"] == total and 400 < len(got) <= 500
    assert sum(r["n"] for r in got) == total
    assert got[-1]["seq"] == sql(fleet, "SELECT MAX(seq) FROM readings WHERE meter_id = 'MTR-00000'")
    # a narrower range: fewer readings than points, every one returned
    t_to = got[-1]["ts"]
    status, body = api(server, plot_path("MTR-00000"), points=500, **{"from": t_to - 99 * 900_000, "to": t_to})
    assert body["bucket_ms"] is None and body["count"] == len(body["readings"]) == 100


# ---- the page in Chromium ----

API_CALLS = """
return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/'))
  .map(e => [e.name, e.encodedBodySize]);
"""


def fleet_loaded(driver, loads):
    wait(driver, "return window.lightmeter && window.lightmeter.fleet.loads > arguments[0]", loads)
    return driver.execute_script("return Object.assign({}, window.lightmeter.fleet)")


def meters_calls(driver):
    out = []
    for url, size in driver.execute_script(API_CALLS):
        parts = urllib.parse.urlsplit(url)
        if parts.path == "/api/meters":
            out.append((dict(urllib.parse.parse_qsl(parts.query)), size))
    return out


def test_the_page_pages_and_searches_on_the_server(browser, server, fleet):
    from selenium.webdriver.common.by import By
    browser.get(server + "/")
    state = fleet_loaded(browser, 0)
    assert (state["total"], state["rows"], state["offset"]) == (METERS, 50, 0)
    rows = browser.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "th").text for r in rows] == \
        [m["meter_id"] for m in fleet["meters"][:50]]
    assert browser.find_element(By.ID, "page-info").text == "1–50 of 10,000"
    wait(browser, "return window.lightmeter.summary !== null")
    summary = browser.find_element(By.ID, "fleet-summary").text
    assert summary == "10,000 meters · %s verified · %d rejected · %d gaps" % (
        format(fleet["summary"]["verified"], ","), fleet["summary"]["rejected"], fleet["summary"]["gaps"])

    browser.find_element(By.ID, "next").click()
    state = fleet_loaded(browser, state["loads"])
    assert state["offset"] == 50
    first = browser.find_element(By.CSS_SELECTOR, "#fleet tbody tr th").text
    assert first == fleet["meters"][50]["meter_id"]

    box = browser.find_element(By.ID, "q")
    box.send_keys("MTR-0999")
    wait(browser, "return window.lightmeter.fleet.q === 'MTR-0999'")
    state = fleet_loaded(browser, 0)
    assert (state["q"], state["total"], state["rows"], state["offset"]) == ("MTR-0999", 10, 10, 0)
    assert browser.find_element(By.ID, "page-info").text == "1–10 of 10 matching"
    assert browser.find_element(By.ID, "next").get_attribute("disabled") is not None

    calls = meters_calls(browser)
    assert calls and all(1 <= int(q["limit"]) <= 50 for q, _ in calls)
    assert ("MTR-0999", "0") in [(q.get("q"), q["offset"]) for q, _ in calls]
    # never the whole fleet: no answer near the size of 10,000 rows (about 2.5 MB)
    assert max(size for _, size in calls) < 40_000
    assert len(browser.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")) == 10


def test_the_page_plots_a_long_history_in_bounded_points(browser, server, fleet):
    from selenium.webdriver.common.by import By
    browser.get("about:blank")  # a fresh page: the figure starts with no points
    browser.get(server + "/#meter=MTR-00000")
    wait(browser, "return document.getElementById('plot-figure').dataset.points !== ''")
    got = browser.execute_script("const l = window.lightmeter;"
                                 "return {points: l.points, count: l.count, bucket: l.bucket,"
                                 " plotted: l.plot ? l.plot.data[0].length : 0}")
    assert got["count"] == PER_METER + HEAVY and 0 < got["points"] == got["plotted"] <= 1000
    assert got["bucket"] is not None
    caption = browser.find_element(By.ID, "plot-caption").text
    assert "3,002 readings" in caption and "drawn as %s points" % format(got["points"], ",") in caption
    # readings 1 to 3,002 of 1,000 kWh + 1.234 kWh a reading: the bars and the caption count from
    # the first reading, not from the first bucket's last
    assert "consumed in range: 3,703.234 kWh" in caption
    bars = browser.execute_script("return window.lightmeter.plot.data[2].reduce((a, b) => a + (b || 0), 0)")
    assert abs(bars - 3001 * 1.234) < 1e-6
    plots = [u for u, _ in browser.execute_script(API_CALLS) if "/plot" in u]
    assert plots and all("points=1000" in u for u in plots)
    assert not [u for u, _ in browser.execute_script(API_CALLS) if "/readings" in u]


def test_postgresql_answers_as_sqlite_at_fleet_size(built, server, pg_server):
    url = pg_server.new_database()
    t0 = time.time()
    summary = fleetdb.fill(url, built)
    assert summary["verified"] == METERS * PER_METER + HEAVY, time.time() - t0
    srv = ServerThread(web.create_app(url))
    try:
        assert api(srv.base, "/api/summary") == api(server, "/api/summary")
        for query in ({}, {"offset": 9990, "limit": 20}, {"q": "mtr-0999"}, {"q": "-0001", "limit": 100}):
            assert api(srv.base, "/api/meters", **query) == api(server, "/api/meters", **query), query
        for meter, query in (("MTR-00000", {"points": 300}), ("MTR-00098", {}), ("MTR-09999", {"points": 2})):
            assert api(srv.base, plot_path(meter), **query) == api(server, plot_path(meter), **query)
    finally:
        srv.stop()


# ---- the benchmark function (lightmeter bench --page), on a small fleet ----

def test_page_bench_measures_both_sizes_and_the_whole_table_peers():
    import os
    from lightmeter_host.collector import pagebench
    out = pagebench.run(quick=True, sizes=(120, 12), heavy=60)
    assert out["page_readings_120"] == 120 * 2 + 60 and out["page_readings_12"] == 12 * 2 + 60
    for name in ("meters_first", "meters_middle", "meters_search", "summary", "plot"):
        assert out["page_api_ms_%s_120" % name] > 0 and out["page_api_ratio_%s" % name] > 0
    assert out["page_whole_table_bytes_120"] > out["page_api_bytes_meters_first_120"]
    assert "page_postgresql" in out or (out["page_pg_api_ms_plot_120"] > 0 and out["page_pg_api_ratio_summary"] > 0)
    if os.path.exists(pagebench.CHROMIUM) and os.path.exists(pagebench.CHROMEDRIVER):
        assert out["page_load_ms_120"] > 0 and out["page_plot_load_ms_12"] > 0 and out["page_load_ratio"] > 0
