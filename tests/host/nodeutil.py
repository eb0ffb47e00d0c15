"""A local node in the test process, a plain JSON-RPC client for it, the means to make it lie,
and a wait on a device's results."""

import json
import time
import urllib.request

from lightmeter_host.node.chain import Chain
from lightmeter_host.node.server import NodeServer


class Client:
    """JSON-RPC 2.0 over HTTP, as any FISCO BCOS client does it."""

    def __init__(self, url):
        self.url = url
        self.next_id = 1

    def raw(self, body):
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def request(self, method, params):
        self.next_id += 1
        return self.raw(json.dumps({"jsonrpc": "2.0", "method": method, "params": params,
                                    "id": self.next_id}).encode())

    def __call__(self, method, *params):
        """The result; AssertionError carrying the error if the node answered with one."""
        out = self.request(method, ["group0", ""] + list(params))
        assert "error" not in out, out
        return out["result"]


def start_node(**kw):
    """(server, client) for a fresh chain; stop with server.stop()."""
    kw.setdefault("seed", b"test-seed")
    srv = NodeServer(Chain(**kw), "127.0.0.1", 0).start()
    return srv, Client(srv.url)


def trust_of(client, crypto, chain_id="chain0", group_id="group0"):
    """A TRUST.json built from the node's own getSealerList."""
    return {"chain_id": chain_id, "group_id": group_id, "crypto": crypto,
            "sealers": [{"node_id": s["nodeID"], "weight": s["weight"]} for s in client("getSealerList")]}


def answer_with(table, method, fn, honest=None):
    """Answer `method` of a node's JSON-RPC method table with fn(real handler, *params); the real
    handler is honest's entry for it (default: the table's current one)."""
    count, optional, real = (honest or table)[method]
    table[method] = (count, optional, lambda *a: fn(real, *a))


def wait_results(root, done, timeout):
    """The device's results record (lightmeter.device.app) under root once done(record) holds, or the
    last one read (None if none yet) when timeout seconds have passed."""
    from lightmeter_host import demo
    deadline = time.time() + timeout
    res = None
    while time.time() < deadline:
        res = demo._results(str(root))
        if res and done(res):
            break
        time.sleep(0.2)
    return res


class LyingNode:
    """A node server whose JSON-RPC methods can be made to lie (lie) and honest again (restore).
    Subclasses set self.srv (a started NodeServer) and call self._keep_honest()."""

    def _keep_honest(self):
        self.url = self.srv.url
        self.methods = self.srv.httpd.methods
        self.honest = dict(self.methods.table)

    def lie(self, method, fn):
        """Answer method with fn(real handler, *params)."""
        answer_with(self.methods.table, method, fn, self.honest)

    def restore(self):
        self.methods.table.clear()
        self.methods.table.update(self.honest)

    def stop(self):
        self.srv.stop()


class SimulatedNode(LyingNode):
    """A chain built by lightmeter_host.node.simulate and served on a free port, with its genesis
    checkpoint, and the means to make the node lie (lie) and honest again (restore)."""

    def __init__(self, chain, blocks, changes, sim_seed):
        from lightmeter_host.node.simulate import simulate

        self.chain = c = chain
        self.genesis = {"chain_id": c.chain_id, "group_id": c.group_id, "crypto": c.crypto,
                        "sealers": [{"node_id": n.hex(), "weight": w} for n, w in c.sealer_list()],
                        "number": 0, "hash": "0x" + c.hashes[0].hex()}
        self.made = simulate(c, blocks, changes, sim_seed)
        self.srv = NodeServer(c, "127.0.0.1", 0).start()
        self._keep_honest()
