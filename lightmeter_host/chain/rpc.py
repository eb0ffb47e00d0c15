"""The JSON-RPC client of a FISCO BCOS 3.x node, and its errors.

Every host part that asks a node (relay, trust init, sync, collector, bench) goes through Rpc.
An unreachable node or an answer that is not JSON raises ConnectionError; an error answer
raises NodeError with the node's code. Nothing the node says is believed: callers verify.
"""

import json
import urllib.request

from lightmeter.client import transition
from lightmeter.errors import Malformed


class NodeError(Exception):
    """The node answered with a JSON-RPC error; .code is its code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class Rpc:
    """Blocking JSON-RPC client of a FISCO BCOS node (run in threads)."""

    def __init__(self, url, group="group0", timeout=30):
        self.url, self.group, self.timeout = url, group, timeout
        self.id = 0
        self.received = 0  # bytes of the node's answers

    def __call__(self, method, *params):
        self.id += 1
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": [self.group, ""] + list(params),
                           "id": self.id}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                raw = r.read()
                self.received += len(raw)
                out = json.loads(raw)
        except (OSError, ValueError) as e:
            raise ConnectionError(str(e))
        if "error" in out:
            raise NodeError(out["error"].get("code"), out["error"].get("message", ""))
        return out["result"]

    def head(self):
        """The latest block number (getBlockNumber); Malformed if the answer is not one."""
        n = self("getBlockNumber")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise Malformed("getBlockNumber: expected a number, got %r" % (n,))
        return n


PRECOMPILE = transition.CONSENSUS_ADDRESS.decode()


def _is_precompile(to):
    if not isinstance(to, str):
        return False
    to = to.lower()
    if to.startswith("0x"):
        to = to[2:]
    return to == PRECOMPILE


def block_changes_json(rpc, number):
    """[(getTransaction JSON, getTransactionReceipt JSON)] of block number's successful
    consensus-precompile transactions, both with proofs, in block order."""
    blk = rpc("getBlockByNumber", number, False, False)
    out = []
    for t in blk.get("transactions") or []:
        if not isinstance(t, dict) or not _is_precompile(t.get("to")):
            continue
        h = t["hash"]
        txj = rpc("getTransaction", h, True)
        rj = rpc("getTransactionReceipt", h, True)
        if rj.get("status") != 0:
            continue  # a failed change changes nothing (and could not be proven as a success)
        out.append((txj, rj))
    return out
