"""Prometheus metrics of `collect --follow`, `collector serve` and `lightmeter node`, scraped over
HTTP as Prometheus would: the counters move with what each one does (docs/collector.md "Metrics",
docs/node.md). The concentrator's are in test_relay_metrics.py."""

import json
import re
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from collector_chain import STANDARD_DUPLICATES, STANDARD_REJECTED, FleetChain, reading_bytes
from lightmeter_host.collector import db as db_mod, ingest, metrics as collector_metrics, web
from lightmeter_host.node import metrics as node_metrics
from lightmeter_host.paths import PROJECT_ROOT


def scrape(url):
    """{series: value} of lightmeter_* samples at url."""
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.headers["content-type"].startswith("text/plain")
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("lightmeter_") and " " in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def until(fn, seconds=30):
    deadline = time.time() + seconds
    while True:
        got = fn()
        if got or time.time() > deadline:
            return got
        time.sleep(0.05)


def by_label(samples, prefix, label):
    """{label value: count} of the series prefix{label="..."}."""
    out = {}
    for k, v in samples.items():
        m = re.fullmatch(re.escape(prefix) + r'\{%s="([^"]*)"\}' % label, k)
        if m:
            out[m.group(1)] = v
    return out


def test_collect_follow_counts_readings_by_kind_and_blocks_behind(tmp_path):
    fc = FleetChain().standard()
    nm = node_metrics.Metrics()
    nm.bind(fc.chain, fc.srv.httpd.methods)
    m = collector_metrics.Ingest()
    port = m.serve("127.0.0.1", 0)
    node_port = nm.serve("127.0.0.1", 0)
    url = "sqlite://" + str(tmp_path / "c.db")
    stop = threading.Event()
    result = {}
    t = threading.Thread(target=lambda: result.update(ingest.collect(
        fc.url, fc.genesis, fc.entries, url, follow=True, interval=0.05, stop=stop, metrics=m)))
    try:
        base = "http://127.0.0.1:%d/metrics" % port
        assert scrape(base).get("lightmeter_collector_readings_verified_total", 0) == 0
        t.start()
        got = until(lambda: (lambda s: s if s.get("lightmeter_collector_checkpoint") == 5 else None)(scrape(base)))
        assert got, scrape(base)
        # the STANDARD script: 9 good readings, 15 record() calls, rejections by kind, 2 gaps
        assert got["lightmeter_collector_readings_verified_total"] == 9
        assert got["lightmeter_collector_readings_seen_total"] == 15
        assert got["lightmeter_collector_gaps_total"] == 2
        assert got["lightmeter_collector_blocks_total"] == 5
        assert by_label(got, "lightmeter_collector_readings_rejected_total", "kind") == \
            {k: float(v) for k, v in {**STANDARD_REJECTED, **STANDARD_DUPLICATES}.items()}
        assert got["lightmeter_collector_head"] == 5 and got["lightmeter_collector_blocks_behind"] == 0
        assert got["lightmeter_collector_block_readings_sum"] == 9
        # The node sealed those 5 blocks (the chain was built with metrics bound after, so none
        # counted yet); one more block moves both sides.
        node = "http://127.0.0.1:%d/metrics" % node_port
        before = scrape(node)
        assert before["lightmeter_node_height"] == 5 and before.get("lightmeter_node_blocks_sealed_total", 0) == 0
        calls = by_label(before, "lightmeter_node_rpc_calls_total", "method")
        assert calls["getBlockByNumber"] >= 5 and calls["getTransaction"] >= 15
        fc.block([fc.record("d0", 6, reading_bytes("m0", 6, "ecdsa"))])
        got = until(lambda: (lambda s: s if s.get("lightmeter_collector_checkpoint") == 6 else None)(scrape(base)))
        assert got["lightmeter_collector_readings_verified_total"] == 10
        assert got["lightmeter_collector_blocks_total"] == 6
        after = scrape(node)
        assert after["lightmeter_node_blocks_sealed_total"] == 1
        assert after["lightmeter_node_transactions_sealed_total"] == 1
        assert after["lightmeter_node_height"] == 6
        assert by_label(after, "lightmeter_node_rpc_calls_total", "method")["getBlockByNumber"] > \
            calls["getBlockByNumber"]
    finally:
        stop.set()
        t.join(30)
        m.close()
        nm.close()
        fc.stop()
    assert result["verified"] == 10


def test_a_node_lie_is_counted_by_its_kind_and_behind_stays_up(tmp_path):
    fc = FleetChain(seed=b"metrics-lie")
    try:
        fc.device("d0", "f0")
        for s in (1, 2):
            fc.block([fc.record("d0", s, reading_bytes("f0", s, "ecdsa"))])
        fc.lie("getBlockByNumber", lambda real, n, *rest: dict(real(n, *rest), signatureList=[]) if n == 2
               else real(n, *rest))
        m = collector_metrics.Ingest()
        out = ingest.collect(fc.url, fc.genesis, fc.entries, "sqlite://" + str(tmp_path / "c.db"), metrics=m)
        assert out["stopped"]["block"] == 2
        text = m.text()
        got = {k: float(v) for k, v in (ln.rsplit(" ", 1) for ln in text.splitlines()
                                        if ln.startswith("lightmeter_"))}
        kinds = by_label(got, "lightmeter_collector_readings_rejected_total", "kind")
        assert kinds == {out["stopped"]["kind"]: 1.0}
        assert got["lightmeter_collector_readings_verified_total"] == 1
        assert got["lightmeter_collector_head"] == 2 and got["lightmeter_collector_blocks_behind"] == 1
    finally:
        fc.stop()


def test_node_counts_unknown_methods_under_one_name():
    fc = FleetChain(seed=b"metrics-rpc")
    nm = node_metrics.Metrics()
    nm.bind(fc.chain, fc.srv.httpd.methods)
    try:
        for method in ("getBlockNumber", "noSuchMethod", "another-made-up-name"):
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": ["group0"]}).encode()
            urllib.request.urlopen(urllib.request.Request(fc.url, body, {"Content-Type": "application/json"}),
                                   timeout=10).read()
        got = {k: float(v) for k, v in (ln.rsplit(" ", 1) for ln in nm.text().splitlines()
                                        if ln.startswith("lightmeter_"))}
        assert by_label(got, "lightmeter_node_rpc_calls_total", "method") == {"getBlockNumber": 1, "unknown": 2}
        assert by_label(got, "lightmeter_node_rpc_errors_total", "method") == {"unknown": 2}
    finally:
        fc.stop()


def test_serve_counts_requests_by_route_and_status(tmp_path):
    from test_collector_web import ServerThread, fill, make_fleet
    url = "sqlite://" + str(tmp_path / "c.db")
    now = int(time.time() * 1000) // 60000 * 60000
    fill(url, make_fleet(now), now)
    srv = ServerThread(web.create_app(url))
    try:
        base = srv.base + "/metrics"
        before = scrape(base)
        for path in ("/api/meters", "/api/meters/MTR-0001/readings", "/api/meters/MTR-0002/readings",
                     "/api/meters/nope/readings", "/api/meters/MTR-0001/readings?limit=0", "/nowhere"):
            try:
                urllib.request.urlopen(srv.base + path, timeout=10).read()
            except urllib.error.HTTPError:
                pass
        got = scrape(base)
        route = "/api/meters/{meter_id:path}/readings"
        assert before.get('lightmeter_collector_http_requests_total{route="%s",status="200"}' % route, 0) == 0
        assert got['lightmeter_collector_http_requests_total{route="%s",status="200"}' % route] == 2
        assert got['lightmeter_collector_http_requests_total{route="%s",status="404"}' % route] == 1
        assert got['lightmeter_collector_http_requests_total{route="%s",status="400"}' % route] == 1
        assert got['lightmeter_collector_http_requests_total{route="/api/meters",status="200"}'] == 1
        assert got['lightmeter_collector_http_requests_total{route="other",status="404"}'] == 1
        assert got['lightmeter_collector_http_request_seconds_count{route="%s"}' % route] == 4
        # no series names a meter: their ids are device data
        assert not [k for k in got if "MTR-" in k or "nope" in k]
    finally:
        srv.stop()


def test_cli_collect_follow_and_node_serve_metrics(tmp_path):
    """`lightmeter node --metrics` and `lightmeter collect --follow --metrics`, end to end."""
    root = str(PROJECT_ROOT)
    node = subprocess.Popen([sys.executable, "-m", "lightmeter_host.cli", "node", "--listen", "127.0.0.1:0",
                             "--metrics", "127.0.0.1:0", "--seed", "metrics-cli"], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    coll = None
    try:
        lines = {}
        while "metrics" not in lines or "MeterRegistry" not in lines:
            line = node.stdout.readline()
            assert line, "the node ended"
            parts = line.split()
            if parts:
                lines[parts[0]] = parts[-1]
        rpc, node_metrics_url = lines["JSON-RPC"], lines["metrics"]
        assert scrape(node_metrics_url)["lightmeter_node_height"] == 0
        trust = tmp_path / "trust.json"
        r = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "trust", "init", "--rpc", rpc, "--yes",
                            "--out", str(trust)], cwd=root, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        fc_entry = _fleet_entry(json.loads(trust.read_text()))
        fleet_path = tmp_path / "fleet.json"
        fleet_path.write_text(json.dumps({"version": 1, "devices": [fc_entry]}))
        coll = subprocess.Popen([sys.executable, "-m", "lightmeter_host.cli", "collect", "--rpc", rpc, "--trust",
                                 str(trust), "--fleet", str(fleet_path), "--db", "sqlite://" + str(tmp_path / "c.db"),
                                 "--follow", "--interval", "0.1", "--metrics", "127.0.0.1:0"], cwd=root,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = coll.stderr.readline()
        assert line.startswith("collect: metrics at http://127.0.0.1:"), line
        url = line.split()[-1]
        assert until(lambda: "lightmeter_collector_head" in scrape(url))
        assert scrape(url).get("lightmeter_collector_readings_verified_total", 0) == 0
        _send_reading(rpc, fc_entry)
        got = until(lambda: (lambda s: s if s.get("lightmeter_collector_readings_verified_total") == 1
                             else None)(scrape(url)), 60)
        assert got and got["lightmeter_collector_blocks_behind"] == 0
        n = scrape(node_metrics_url)
        assert n["lightmeter_node_blocks_sealed_total"] == 1 and n["lightmeter_node_transactions_sealed_total"] == 1
        assert by_label(n, "lightmeter_node_rpc_calls_total", "method")["sendTransaction"] == 1
    finally:
        for p in (coll, node):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(30)


_KEY = bytes.fromhex("11" * 32)


def _fleet_entry(trust):
    from lightmeter.chain import fields
    from lightmeter.crypto import suite as suite_mod
    from lightmeter_host.hardware import fleet
    from lightmeter_host.node import registry
    s = suite_mod.get(trust["crypto"])
    pub = s.public_key(_KEY)
    return fleet.check({"meter_id": "MTR-CLI", "address": fields.hex0x(s.address(pub)),
                        "public_key": fields.hex0x(pub), "suite": trust["crypto"], "board": "virtual",
                        "chain_id": trust["chain_id"], "group_id": trust["group_id"],
                        "registry": fields.hex0x(registry.ADDRESS), "provisioned_at": "2026-01-01T00:00:00Z"})


def _send_reading(rpc, entry):
    from lightmeter.chain import abi
    from lightmeter.crypto import suite as suite_mod
    from lightmeter_host.chain import txbuild
    from lightmeter_host.chain.rpc import Rpc
    from lightmeter_host.node import registry
    s = suite_mod.get(entry["suite"])
    node = Rpc(rpc)
    data = abi.encode_call("record(uint64,bytes)", [1, reading_bytes("MTR-CLI", 1, entry["suite"])], s.hash)
    tx = txbuild.make("chain0", "group0", node.head() + 100, "m-1", registry.ADDRESS, data)
    raw = txbuild.sign(tx, entry["suite"], _KEY)[1]
    node("sendTransaction", "0x" + raw.hex(), False)
