"""One Prometheus registry with its exposition text and, on request, an HTTP server of its own:
the base of the concentrator's, the collector's and the node's metrics. Each object has its own
registry, so several in one process (tests, a fleet simulation) do not collide."""

from prometheus_client import CollectorRegistry, generate_latest


class Exposed:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.server = None

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
