"""The host's sync source: lightmeter.client.sync over a node's JSON-RPC (the python runtime of
`lightmeter sync`). Nothing here is trusted: lightmeter.client.sync checks every header and proof.

The block's proven set changes come from chain.rpc.block_changes_json, which the relay also answers
get_changes with (proto/link.md).
"""

from lightmeter.chain import header as header_mod, merkle, receipt as receipt_mod
from lightmeter.chain import txread

from lightmeter_host.chain.rpc import block_changes_json


class RpcSource:
    """head / header / changes of lightmeter.client.sync from a chain.rpc.Rpc; `bytes`: JSON bytes received."""

    def __init__(self, rpc, suite):
        self.rpc = rpc
        self.suite = suite

    @property
    def bytes(self):
        return self.rpc.received

    async def head(self):
        return self.rpc.head()

    async def header(self, n):
        return header_mod.from_json(self.rpc("getBlockByNumber", n, True, True), self.suite.node_sig_len)

    async def changes(self, n):
        out = []
        for txj, rj in block_changes_json(self.rpc, n):
            out.append((txread.from_json(txj), merkle.from_json(txj, "txProof"),
                        receipt_mod.from_json(rj), merkle.from_json(rj, "txReceiptProof")))
        return out
