"""FISCO BCOS 3.x block headers written: made from field values, and as a node's JSON.

For chains we build (the local node, tests, benches) and for what a host serves; chain/header.py
reads headers and hashes them, all a device does with one. Apart from it because a module loaded
from .mpy keeps its code in RAM (bench/RESULTS.md).
"""

from lightmeter.chain import fields
from lightmeter.chain.header import ZERO32, Header


def to_json(h, digest=None):
    """The node's JSON result object for header h (what getBlockByNumber returns)."""
    hx = fields.hex0x
    zero = "0x" + "00" * 32
    genesis = h.number == 0
    out = {
        "consensusWeights": list(h.weights),
        "extraData": hx(h.extra_data),
        "gasUsed": "0" if genesis else h.gas_used.decode(),
        "number": h.number,
        "parentInfo": [{"blockHash": hx(ph), "blockNumber": pn} for pn, ph in h.parents],
        "receiptsRoot": zero if genesis else hx(h.receipts_root),
        "sealer": h.sealer,
        "sealerList": [hx(n) for n in h.sealer_list],
        "signatureList": [{"sealerIndex": i, "signature": hx(s)} for i, s in h.signatures],
        "stateRoot": zero if genesis else hx(h.state_root),
        "timestamp": h.timestamp,
        "txsRoot": zero if genesis else hx(h.txs_root),
        "version": h.version,
    }
    if digest is not None:
        out["hash"] = hx(digest)
    return out


def new(number, parent_hash=None, sealers=(), weights=None, txs_root=ZERO32,
        receipts_root=ZERO32, state_root=ZERO32, gas_used=b"0", timestamp=0, sealer=0,
        extra_data=b"", version=0x03030000):
    """A Header from field values (for chains we build: tests and the local node)."""
    h = Header()
    h.version = version
    h.number = number
    h.parents = [] if number == 0 else [(number - 1, parent_hash)]
    h.txs_root, h.receipts_root, h.state_root = txs_root, receipts_root, state_root
    h.gas_used = gas_used
    h.timestamp = timestamp
    h.sealer = sealer
    h.sealer_list = list(sealers)
    h.weights = [1] * len(h.sealer_list) if weights is None else list(weights)
    h.extra_data = extra_data
    h.signatures = []
    h.claimed_hash = None
    h.r_hints = None
    return h
