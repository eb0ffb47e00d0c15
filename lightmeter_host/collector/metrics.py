"""Prometheus metrics of the collector: `lightmeter collect --metrics HOST:PORT` and the page's
`/metrics` (`lightmeter collector serve`), docs/collector.md "Metrics".

Ingest (`Ingest`): blocks stored, record() calls seen, readings verified, rejected by kind (node
lies included, by their kind), gaps, readings per block, node failures a follower rode out, and
the chain position: the node's head, the resume checkpoint and the blocks between them.
The page (`Page`): HTTP requests by route and status and their latency.
Each object has its own registry, so several in one process (tests) do not collide.
"""

from prometheus_client import Counter, Gauge, Histogram

from lightmeter_host.metricserve import Exposed

PREFIX = "lightmeter_collector_"
PER_BLOCK = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Ingest(Exposed):
    """What `collect` does, block by block (ingest.Walker calls block, lie and position)."""

    def __init__(self):
        super().__init__()
        r = self.registry
        self.blocks = Counter(PREFIX + "blocks", "blocks verified and stored", registry=r)
        self.seen = Counter(PREFIX + "readings_seen", "MeterRegistry record() calls seen", registry=r)
        self.verified = Counter(PREFIX + "readings_verified", "readings verified and stored", registry=r)
        self.rejected = Counter(PREFIX + "readings_rejected", "submissions and node answers refused, "
                                "by kind (docs/collector.md)", ["kind"], registry=r)
        self.gaps = Counter(PREFIX + "gaps", "jumps in a meter's sequence numbers", registry=r)
        self.node_errors = Counter(PREFIX + "node_errors", "node failures a follower retried", registry=r)
        self.per_block = Histogram(PREFIX + "block_readings", "readings stored per block", buckets=PER_BLOCK,
                                   registry=r)
        self.head = Gauge(PREFIX + "head", "the node's latest block number, as last asked", registry=r)
        self.checkpoint = Gauge(PREFIX + "checkpoint", "the last block stored (the resume point)", registry=r)
        self.behind = Gauge(PREFIX + "blocks_behind", "blocks between the resume point and the head", registry=r)

    def block(self, seen, readings, rejections, gaps):
        self.blocks.inc()
        self.seen.inc(seen)
        self.verified.inc(len(readings))
        self.per_block.observe(len(readings))
        self.gaps.inc(len(gaps))
        for rj in rejections:
            self.rejected.labels(kind=rj["kind"]).inc()

    def lie(self, kind):
        self.rejected.labels(kind=kind).inc()

    def position(self, checkpoint, head):
        self.checkpoint.set(checkpoint)
        if head is not None:
            self.head.set(head)
            self.behind.set(max(0, head - checkpoint))

    def node_error(self):
        self.node_errors.inc()


class Page(Exposed):
    """The web page's requests: counted by route template (never the raw path: meter ids are
    device data, and one series per meter would grow without bound) and status."""

    def __init__(self):
        super().__init__()
        r = self.registry
        self.requests = Counter(PREFIX + "http_requests", "HTTP requests served, by route and status",
                                ["route", "status"], registry=r)
        self.seconds = Histogram(PREFIX + "http_request_seconds", "time to answer, by route", ["route"],
                                 buckets=SECONDS, registry=r)

    def request(self, route, status, seconds):
        self.requests.labels(route=route, status=str(status)).inc()
        self.seconds.labels(route=route).observe(seconds)
