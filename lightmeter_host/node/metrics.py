"""Prometheus metrics of the local node (`lightmeter node --metrics HOST:PORT`, docs/node.md).

Blocks sealed, transactions sealed (the pool's and background ones apart), JSON-RPC calls by
method and those answered with an error; read at each scrape: the chain's height and the
transactions waiting in the pool. Methods are counted by name only when the node knows them
("unknown" otherwise), so a client cannot grow the series without bound.
"""

from prometheus_client import Counter, Gauge

from lightmeter_host.metricserve import Exposed

PREFIX = "lightmeter_node_"


class Metrics(Exposed):
    def __init__(self):
        super().__init__()
        r = self.registry
        self.blocks = Counter(PREFIX + "blocks_sealed", "blocks sealed", registry=r)
        self.txs = Counter(PREFIX + "transactions_sealed", "pool transactions sealed into blocks", registry=r)
        self.background = Counter(PREFIX + "background_transactions_sealed",
                                  "background transactions sealed into blocks", registry=r)
        self.calls = Counter(PREFIX + "rpc_calls", "JSON-RPC calls, by method", ["method"], registry=r)
        self.errors = Counter(PREFIX + "rpc_errors", "JSON-RPC calls answered with an error, by method",
                              ["method"], registry=r)
        self.height = Gauge(PREFIX + "height", "the latest block number", registry=r)
        self.pool = Gauge(PREFIX + "pool_depth", "transactions admitted and not yet sealed", registry=r)

    def bind(self, chain, methods):
        """Count what this chain seals and what these Methods answer."""
        self.height.set_function(chain.height)
        self.pool.set_function(lambda: len(chain.pool))
        chain.on_seal = self.sealed
        methods.metrics = self

    def sealed(self, number, txs, background):
        self.blocks.inc()
        self.txs.inc(txs)
        self.background.inc(background)

    def rpc(self, method, failed):
        self.calls.labels(method=method).inc()
        if failed:
            self.errors.labels(method=method).inc()
