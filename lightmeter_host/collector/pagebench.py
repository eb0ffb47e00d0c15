"""`lightmeter bench --page`: the collector's page at 10,000 meters against the same page at 100
meters, and the paged answers against the whole-table ones they replace (bench/RESULTS.md).

Both databases are made by collector.fleetdb (the collector's own walk over signed readings),
with the same history per meter: two readings each, 3,000 more for the first meter. Each is
served by `collector serve`'s app under uvicorn in this process. Measured, median of several runs:

- page load: headless Chromium (Debian's chromium and chromium-driver, through Selenium) opens
  `/` until the first page of the fleet and its totals are shown (the page's own
  performance.now() marks, from navigation start; static files warm in the cache), and
  `/#meter=MTR-00000` until its plot is drawn;
- API latency over HTTP: a page of the fleet (first, middle), a search, the totals, the first
  meter's plot (3,002 readings, 1,000 points);
- the whole-table peers: db.meters() with its JSON (what /api/meters answered before paging) and
  every reading of the first meter (/readings, what the plot fetched before it was bounded);
- the API figures again on a throw-away PostgreSQL server (collector.pgtemp), when one starts.
"""

import json
import os
import shutil
import statistics
import tempfile
import threading
import time
import urllib.request

from lightmeter_host.collector import db as db_mod, fleetdb, web

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SIZES = (10_000, 100)
HEAVY = 3000
HEAVY_METER = "MTR-00000"


class _Server:
    """The page's app under uvicorn in a thread, on a free port."""

    def __init__(self, url):
        import uvicorn
        sock = web.bind("127.0.0.1", 0)
        self.base = "http://127.0.0.1:%d" % sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(web.create_app(url), lifespan="on", log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.sock = sock
        self.thread.start()

    def stop(self):
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


def _get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def _interleaved(fns, runs):
    """{key: median ms of fn()} over runs rounds, every fn once a round: load that comes and
    goes on a shared machine falls on both sizes alike."""
    times = {k: [] for k in fns}
    for _ in range(runs):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t0) * 1000)
    return {k: round(statistics.median(v), 2) for k, v in times.items()}


def _apis(meters):
    middle = meters // 2
    return {"meters_first": "/api/meters?offset=0&limit=50",
            "meters_middle": "/api/meters?offset=%d&limit=50" % middle,
            "meters_search": "/api/meters?q=mtr-0009&limit=50",
            "summary": "/api/summary",
            "plot": "/api/meters/%s/plot?points=1000" % HEAVY_METER}


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1280,1100"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _page_ms(driver, url, ready, mark):
    """The page's own mark (ms since navigation start) once `ready` holds, on a fresh load."""
    from selenium.webdriver.support.ui import WebDriverWait
    driver.get("about:blank")
    driver.get(url)
    WebDriverWait(driver, 120, poll_frequency=0.02).until(lambda d: d.execute_script(ready))
    return driver.execute_script(mark)


FLEET_READY = "const l = window.lightmeter; return !!l && l.fleet.loads > 0 && l.summaryMs !== null"
FLEET_MARK = "const l = window.lightmeter; return Math.max(l.fleet.ms, l.summaryMs)"
PLOT_READY = "const l = window.lightmeter; return !!l && l.drawnMs !== null"
PLOT_MARK = "return window.lightmeter.drawnMs"


def _postgresql(chains, runs):
    """The same API figures on a throw-away PostgreSQL server (Unix socket), when one starts here."""
    from lightmeter_host.collector.pgtemp import PgServer, PgUnavailable
    try:
        pg = PgServer()
    except PgUnavailable as e:
        return {"page_postgresql": "not measured: %s" % e}
    out, servers = {}, {}
    try:
        for n, built in chains.items():
            url = pg.new_database()
            fleetdb.fill(url, built)
            servers[n] = _Server(url)
        fns = {}
        for n, srv in servers.items():
            for name, path in _apis(n).items():
                _get(srv.base + path)  # warm
                fns["page_pg_api_ms_%s_%d" % (name, n)] = lambda u=srv.base + path: _get(u)
        out.update(_interleaved(fns, runs))
        big, small = chains
        for name in _apis(big):
            out["page_pg_api_ratio_%s" % name] = round(out["page_pg_api_ms_%s_%d" % (name, big)] /
                                                       out["page_pg_api_ms_%s_%d" % (name, small)], 2)
        return out
    finally:
        for srv in servers.values():
            srv.stop()
        pg.stop()


def run(quick=False, sizes=SIZES, heavy=HEAVY):
    """The figures as a dict (see the module docstring); keys end in the fleet size. sizes: the
    fleet and its peer; heavy: the first meter's readings beyond two."""
    runs, page_runs = (5, 3) if quick else (21, 7)
    tmp = tempfile.mkdtemp(prefix="lightmeter-pagebench-")
    out = {"page_sizes": list(sizes), "page_heavy_readings": heavy + 2}
    servers = {}
    try:
        chains = {}
        for n in sizes:
            url = "sqlite://" + os.path.join(tmp, "fleet-%d.db" % n)
            t0 = time.perf_counter()
            chains[n] = fleetdb.chain(n, 2, heavy)
            summary = fleetdb.fill(url, chains[n])
            out["page_build_s_%d" % n] = round(time.perf_counter() - t0, 1)
            out["page_readings_%d" % n] = summary["verified"]
            servers[n] = (url, _Server(url))
        fns, dbs = {}, []
        for n, (url, srv) in servers.items():
            for name, path in _apis(n).items():
                _get(srv.base + path)  # warm
                fns["page_api_ms_%s_%d" % (name, n)] = lambda u=srv.base + path: _get(u)
            fns["page_readings_all_ms_%d" % n] = \
                lambda u=srv.base + "/api/meters/%s/readings" % HEAVY_METER: _get(u)
            out["page_api_bytes_meters_first_%d" % n] = len(_get(srv.base + _apis(n)["meters_first"]))
        out.update(_interleaved(fns, runs))
        # the whole-table peer: what /api/meters answered before paging
        try:
            for n, (url, srv) in servers.items():
                d = db_mod.open_db(url, read_only=True)
                dbs.append(d)
                out["page_whole_table_bytes_%d" % n] = len(json.dumps(d.meters(), separators=(",", ":")))
            out.update(_interleaved({"page_whole_table_ms_%d" % n: (lambda d=d: json.dumps(d.meters()))
                                     for n, d in zip(servers, dbs)}, max(3, runs // 3)))
        finally:
            for d in dbs:
                d.close()
        big, small = sizes
        for name in _apis(big):
            out["page_api_ratio_%s" % name] = round(out["page_api_ms_%s_%d" % (name, big)] /
                                                    out["page_api_ms_%s_%d" % (name, small)], 2)
        out["page_whole_table_vs_page_%d" % big] = round(out["page_whole_table_ms_%d" % big] /
                                                        out["page_api_ms_meters_first_%d" % big], 1)
        out["page_readings_all_vs_plot_%d" % big] = round(out["page_readings_all_ms_%d" % big] /
                                                         out["page_api_ms_plot_%d" % big], 2)
        out.update(_postgresql(chains, runs))
        if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
            out["page_load"] = "not measured: needs %s and %s" % (CHROMIUM, CHROMEDRIVER)
            return out
        driver = _browser()
        loads = {}
        try:
            for n, (url, srv) in servers.items():
                _page_ms(driver, srv.base + "/", FLEET_READY, FLEET_MARK)  # static files cached
            for _ in range(page_runs):
                for n, (url, srv) in servers.items():
                    loads.setdefault("page_load_ms_%d" % n, []).append(
                        _page_ms(driver, srv.base + "/", FLEET_READY, FLEET_MARK))
                    loads.setdefault("page_plot_load_ms_%d" % n, []).append(
                        _page_ms(driver, srv.base + "/#meter=" + HEAVY_METER, PLOT_READY, PLOT_MARK))
        finally:
            driver.quit()
        out.update({k: round(statistics.median(v), 1) for k, v in loads.items()})
        out["page_load_ratio"] = round(out["page_load_ms_%d" % big] / out["page_load_ms_%d" % small], 2)
        out["page_plot_load_ratio"] = round(out["page_plot_load_ms_%d" % big] / out["page_plot_load_ms_%d" % small], 2)
        return out
    finally:
        for _, srv in servers.values():
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
