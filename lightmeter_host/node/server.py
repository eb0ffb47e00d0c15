"""HTTP transport of the local node: JSON-RPC 2.0 by POST, as a FISCO BCOS node serves it
on its RPC port (20200 by default)."""

import os
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lightmeter_host.node.jsonrpc import Methods

MAX_BODY = 16 << 20


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lightmeter-node"

    def do_POST(self):
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.send_error(413 if n > MAX_BODY else 400)
            return
        body = self.rfile.read(n)
        out = self.server.methods.handle_bytes(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        self.send_error(405, "JSON-RPC takes POST")

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = 256  # many devices' relays connect at once; 5 would reset them
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that goes away mid-answer (a relay killed, a collector stopped) is normal
        # operation, not a fault of the node: no traceback for it; anything else in one line.
        import sys
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            return
        sys.stderr.write("node: request from %s:%s failed: %s: %s\n"
                         % (client_address[0], client_address[1], type(exc).__name__, exc))


class NodeServer:
    """A chain's RPC server and its sealer thread; start() returns once listening."""

    def __init__(self, chain, host="127.0.0.1", port=20200, verbose=False, metrics=None):
        """metrics: a node.metrics.Metrics to count what this node seals and answers."""
        self.chain = chain
        self.httpd = _HTTPServer((host, port), _Handler)
        self.httpd.methods = Methods(chain)
        if metrics is not None:
            metrics.bind(chain, self.httpd.methods)
        self.httpd.verbose = verbose
        self.stop_event = threading.Event()
        self._threads = []

    @property
    def url(self):
        host, port = self.httpd.server_address[:2]
        return "http://%s:%d" % (host, port)

    def start(self):
        for target in (self.httpd.serve_forever, lambda: self.chain.run_sealer(self.stop_event)):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        self.stop_event.set()
        self.chain.closing = True  # a run of blocks in the sealer thread (after_block) ends early
        self.httpd.shutdown()
        self.httpd.server_close()
        for t in self._threads:
            t.join(60)
        if any(t.is_alive() for t in self._threads):
            # closing SQLite under a thread still writing to it crashes the interpreter
            raise RuntimeError("node: the sealer thread did not stop")
        self.chain.store.close()


def serve(crypto, chain_id, group_id, sealers, data_dir, host, port, seed, sign_mode, verbose,
          simulate=0, set_changes=0, fisco_version=None, interval_ms=1000, background=0,
          readings=True, metrics=None):
    """Run a node in the foreground until interrupted (the `lightmeter node` command).

    With simulate, first append that many blocks (with set_changes sealer-set changes) to
    the chain, reporting progress on stderr, then serve. metrics: HOST:PORT to serve Prometheus
    metrics at (node.metrics)."""
    import signal
    import sys

    from lightmeter_host.chain import backends
    from lightmeter_host.node import registry
    from lightmeter_host.node.chain import Chain

    backends.install()  # native crypto: the node is a host program
    if data_dir is not None and os.path.exists(data_dir) and not os.path.isdir(data_dir):
        raise RuntimeError("--data %s is not a directory" % data_dir)
    try:
        chain = Chain(crypto=crypto, chain_id=chain_id, group_id=group_id, sealers=sealers,
                      data_dir=data_dir, seed=seed.encode() if seed is not None else None,
                      sign_mode=sign_mode, release=fisco_version)
    except OSError as e:
        raise RuntimeError("cannot keep the chain in --data %s: %s" % (data_dir, e.strerror or e))
    except (sqlite3.Error, ValueError, KeyError, TypeError) as e:
        raise RuntimeError("--data %s does not hold a chain this node can resume: %s"
                           % (data_dir, str(e).splitlines()[0] if str(e) else type(e).__name__))
    chain.background_per_block = background
    if simulate:
        _simulate(chain, simulate, set_changes, seed, interval_ms, readings)
    exposed = None
    if metrics is not None:
        from lightmeter_host.node import metrics as metrics_mod
        exposed = metrics_mod.Metrics()
        m_host, _, m_port = metrics.rpartition(":")
        try:
            m_port = exposed.serve(m_host.strip("[]") or "127.0.0.1", int(m_port))
        except OSError as e:
            raise RuntimeError("cannot serve metrics on %s: %s" % (metrics, e.strerror or e))
    try:
        srv = NodeServer(chain, host, port, verbose, exposed).start()
    except OSError as e:
        raise RuntimeError("cannot listen on %s:%d: %s" % (host, port, e.strerror or e))
    print("lightmeter node: %s chain %s/%s at height %d, %d sealers, signing: %s"
          % (chain.crypto, chain.chain_id, chain.group_id, chain.height(), len(chain.consensus), sign_mode))
    print("  answers as    FISCO BCOS %s (compatibility_version %s)"
          % (chain.release.name, chain.release.compatibility))
    print("  JSON-RPC      %s" % srv.url)
    if exposed is not None:
        print("  metrics       http://%s:%d/metrics" % (m_host.strip("[]") or "127.0.0.1", m_port))
    print("  MeterRegistry 0x%s" % registry.ADDRESS.hex())
    print("  data          %s" % (data_dir or "in memory (lost on exit)"))
    for n, w in chain.sealer_list():
        print("  sealer        %s weight %d" % (n.hex(), w))
    sys.stdout.flush()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    srv.stop()
    if exposed is not None:
        exposed.close()
    return 0


def _simulate(chain, blocks, set_changes, seed, interval_ms=1000, readings=True):
    import sys

    from lightmeter_host.node import simulate

    if seed is None:  # the chain's own (stored) seed: rerunning on a copy gives the same blocks
        seed = chain.store.get_meta()["seed"]
    step = max(1, blocks // 20)

    def progress(done, total, number):
        if done == total or done % step == 0:
            print("lightmeter node: simulated %d/%d blocks (height %d)" % (done, total, number),
                  file=sys.stderr, flush=True)

    print("lightmeter node: simulating %d blocks with %d sealer-set changes from height %d"
          % (blocks, set_changes, chain.height()), file=sys.stderr, flush=True)
    for number, name, node, weight in simulate.simulate(chain, blocks, set_changes, seed, progress,
                                                                  interval_ms, None, readings):
        print("lightmeter node:   block %d: %s %s…%s%s" % (number, name, node.hex()[:8], node.hex()[-4:],
                                                           "" if weight is None else " weight %d" % weight),
              file=sys.stderr, flush=True)
