"""Prometheus metrics of a concentrator (`lightmeter relay --batch --metrics HOST:PORT`).

Counters move as the concentrator works (lightmeter_host.concentrator calls `observe`): readings
received, sent again (duplicates), anchored, refused by kind; batch transactions that failed; the
size of each closed batch; and, read at each scrape, the readings held and not yet on chain.
Each Metrics has its own registry, so several concentrators in one process do not collide.
"""

from prometheus_client import Counter, Gauge, Histogram

from lightmeter_host.metricserve import Exposed

PREFIX = "lightmeter_concentrator_"
SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class Metrics(Exposed):
    def __init__(self):
        super().__init__()
        r = self.registry
        self.received = Counter(PREFIX + "readings_received", "signed readings taken into a window", registry=r)
        self.duplicates = Counter(PREFIX + "readings_duplicate", "readings sent again while held", registry=r)
        self.anchored = Counter(PREFIX + "readings_anchored", "readings whose batch is on chain", registry=r)
        self.rejected = Counter(PREFIX + "readings_rejected", "readings refused, by kind", ["kind"], registry=r)
        self.failed = Counter(PREFIX + "batches_failed", "batch transactions that did not land", registry=r)
        self.batch_size = Histogram(PREFIX + "batch_size", "readings per batch", buckets=SIZES, registry=r)
        self.queue_depth = Gauge(PREFIX + "queue_depth", "readings held and not yet on chain", registry=r)
        self._bound = None

    def observe(self, conc, what, n, kind=None):
        if self._bound is not conc:
            self._bound = conc
            self.queue_depth.set_function(conc.queue_depth)
        if what == "received":
            self.received.inc(n)
        elif what == "duplicate":
            self.duplicates.inc(n)
        elif what == "anchored":
            self.anchored.inc(n)
        elif what == "refused":
            self.rejected.labels(kind=kind or "other").inc(n)
        elif what == "failed":
            self.failed.inc(n)
        elif what == "batch":
            self.batch_size.observe(n)
