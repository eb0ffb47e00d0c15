"""`lightmeter demo --blocks-between B` on a busy chain, scaled down (B = 30): the summary reports
headers and line bytes per reading, and the collector walks blocks full of other contracts'
transactions with one getBlockByNumber a block and look-ups only for the registry's."""

from lightmeter_host import demo
from lightmeter_host.collector import ingest
from lightmeter_host.node import jsonrpc


def test_a_busy_demo_reports_per_reading_figures_and_the_collector_looks_up_only_ours(monkeypatch):
    calls = {}
    collecting = [False]
    real_handle = jsonrpc.Methods.handle

    def counting(self, req):
        if collecting[0] and isinstance(req, dict):
            calls[req.get("method")] = calls.get(req.get("method"), 0) + 1
        return real_handle(self, req)
    monkeypatch.setattr(jsonrpc.Methods, "handle", counting)
    real_collect = ingest.collect

    def collect(*a, **kw):
        collecting[0] = True
        try:
            return real_collect(*a, **kw)
        finally:
            collecting[0] = False
    monkeypatch.setattr(ingest, "collect", collect)

    readings, between = 3, 30
    s = demo.run(readings=readings, runtime="python", quiet=True, timeout=600, blocks_between=between)
    assert s["ok"], s
    assert s["collected"] == readings and s["collector_verified"] == readings
    assert s["blocks"] >= readings * between
    # a quiet reading costs the device one header; every reading stays under the 3 KB goal
    assert s["headers_per_reading"] == 1
    assert 0 < s["bytes_per_reading"] <= 3 * 1024
    assert all(p["headers"] == 1 and p["bytes"] <= 3 * 1024 for p in s["per_reading"])
    assert all(p["by_type"].get("out 12", 0) > 0 for p in s["per_reading"])  # each had its receipt
    # the collector: every block read once, whole; only the registry's transactions looked up
    # (readings of them), none of the 50 background transactions in each of the blocks
    assert calls["getBlockByNumber"] >= s["blocks"]
    assert calls.get("getTransaction", 0) == readings
    assert calls.get("getTransactionReceipt", 0) == readings
    assert sum(calls.values()) <= calls["getBlockByNumber"] + 2 * readings + 20
