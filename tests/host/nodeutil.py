"""A local node in the test process, and a plain JSON-RPC client for it."""

import json
import urllib.request

from host_tools.node.chain import Chain
from host_tools.node.server import NodeServer


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
