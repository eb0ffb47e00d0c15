"""The host's sync source: lightmeter.client.sync over a node's JSON-RPC (the python runtime of
`lightmeter sync`). Nothing here is trusted: lightmeter.client.sync checks every header and proof.

block_changes_json is also what the relay answers get_changes with (proto/link.md).
"""

from lightmeter.chain import header as header_mod, merkle, receipt as receipt_mod, tx as tx_mod
from lightmeter.client import transition

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
            out.append((tx_mod.from_json(txj), merkle.from_json(txj, "txProof"),
                        receipt_mod.from_json(rj), merkle.from_json(rj, "txReceiptProof")))
        return out
