"""Where the collector reads the chain from: a node's JSON-RPC, or blocks held in memory.

A source answers four questions with the JSON a FISCO BCOS 3.x node gives (results only):
head() -> latest block number; block(n) -> getBlockByNumber(n, false, false) (the header and
its transactions, whole, so that other contracts' traffic needs no look-up; a source may give
their hashes only, getBlockByNumber(n, false, true)); tx(h) -> getTransaction(h, true) (with txProof); receipt(h) ->
getTransactionReceipt(h, true) (with txReceiptProof). Nothing a source says is believed.
"""

import json


class RpcSource:
    """A node's JSON-RPC through chain.rpc.Rpc (ConnectionError / chain.rpc.NodeError pass up)."""

    def __init__(self, url, timeout=30):
        from lightmeter_host.chain.rpc import Rpc
        self.url = url
        self.rpc = Rpc(url, timeout=timeout)

    def head(self):
        return self.rpc.head()

    def block(self, n):
        return self.rpc("getBlockByNumber", n, False, False)

    def tx(self, h):
        return self.rpc("getTransaction", h, True)

    def receipt(self, h):
        return self.rpc("getTransactionReceipt", h, True)


class MemorySource:
    """Blocks held as JSON text, parsed on every answer as a client parses a node's reply.

    blocks: {number: block JSON text}; txs: {tx hash "0x...": (tx JSON text, receipt JSON text)}.
    """

    def __init__(self, blocks, txs):
        self.blocks = blocks
        self.txs = txs

    def head(self):
        return max(self.blocks)

    def block(self, n):
        return json.loads(self.blocks[n])

    def tx(self, h):
        return json.loads(self.txs[h][0])

    def receipt(self, h):
        return json.loads(self.txs[h][1])


class CallSource:
    """A node's JSON-RPC methods behind any call(method, *params) (chain.rpc.Rpc's call
    interface; fleetsim.InProcessRpc for a node in this process)."""

    def __init__(self, call):
        self.call = call

    def head(self):
        return self.call("getBlockNumber")

    def block(self, n):
        return self.call("getBlockByNumber", n, False, True)

    def tx(self, h):
        return self.call("getTransaction", h, True)

    def receipt(self, h):
        return self.call("getTransactionReceipt", h, True)
