"""Prometheus metrics of the local node (`lightmeter node --metrics HOST:PORT`, docs/node.md).

Blocks sealed, transactions sealed (the pool's and background ones apart), JSON-RPC calls by
method and those answered with an error; read at each scrape: the chain's height and the
transactions waiting in the pool. Methods are counted by name only when the node knows them
("unknown" otherwise), so a client cannot grow the series without bound.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

PREFIX = "lightmeter_node_"


class Metrics:
    def __init__(self):
        self.registry = r = CollectorRegistry()
        self.blocks = Counter(PREFIX + "blocks_sealed", "blocks sealed", registry=r)
        self.txs = Counter(PREFIX + "transactions_sealed", "pool transactions sealed into blocks", registry=r)
        self.background = Counter(PREFIX + "background_transactions_sealed",
                                  "background transactions sealed into blocks", registry=r)
        self.calls = Counter(PREFIX + "rpc_calls", "JSON-RPC calls, by method", ["method"], registry=r)
        self.errors = Counter(PREFIX + "rpc_errors", "JSON-RPC calls answered with an error, by method",
                              ["method"], registry=r)
        self.height = Gauge(PREFIX + "height", "the latest block number", registry=r)
        self.pool = Gauge(PREFIX + "pool_depth", "transactions admitted and not yet sealed", registry=r)
        self.server = None

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

    def text(self):
        """The exposition text a scrape gets."""
        return generate_latest(self.registry).decode()

    def serve(self, host, port):
        """Serve /metrics over HTTP from a thread; returns the port (port 0: a free one)."""
        from prometheus_client import start_http_server
        got = start_http_server(port, addr=host, registry=self.registry)
        self.server = got[0] if isinstance(got, tuple) else None
        return self.server.server_address[1] if self.server is not None else port

    def close(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
