"""The concentrator's Prometheus metrics move as readings arrive, are refused and are anchored
(lightmeter_host.relaymetrics); scraped over HTTP as Prometheus would."""

import time

from lightmeter.client import batch
from lightmeter.link import session as L

from lightmeter_host import relaymetrics
from test_concentrator import Rig
from test_metrics import scrape


def _scrape(port):
    return scrape("http://127.0.0.1:%d/metrics" % port)


def test_counters_move_and_a_scrape_sees_them(tmp_path):
    rig = Rig(tmp_path, n=4)
    m = relaymetrics.Metrics()
    port = m.serve("127.0.0.1", 0)
    try:
        c = rig.concentrator(batch_max=4, metrics=m)
        before = _scrape(port)
        assert before.get("lightmeter_concentrator_readings_received_total", 0) == 0
        c.handle(None, L.SUBMIT_READING, {0: batch.make_item(b"\xa0", b"\x01" * 65)})  # refused
        rig.connect(c)
        rig.work(20)
        assert rig.verified() == 4
        deadline = time.time() + 5
        while True:
            got = _scrape(port)
            if got.get("lightmeter_concentrator_readings_anchored_total") == 4 or time.time() > deadline:
                break
            time.sleep(0.1)
        assert got["lightmeter_concentrator_readings_received_total"] == 4
        assert got["lightmeter_concentrator_readings_anchored_total"] == 4
        assert sum(v for k, v in got.items() if k.startswith("lightmeter_concentrator_readings_rejected_total{")) == 1
        assert got["lightmeter_concentrator_batch_size_count"] == 1
        assert got["lightmeter_concentrator_batch_size_sum"] == 4
        assert got["lightmeter_concentrator_queue_depth"] == 0
        assert got["lightmeter_concentrator_readings_duplicate_total"] >= 0
    finally:
        m.close()
        rig.close()
