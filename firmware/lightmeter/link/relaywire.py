"""The relay's side of the chain data in link frames: header and receipt maps from the node's JSON.

The maps' layout (proto/link.md, "Chain data in binary") and the device's way back are
link/wire.py's; a device never builds these maps, so they live apart from it (a module loaded
from .mpy keeps its code in a board's RAM, bench/RESULTS.md).
"""

from lightmeter.chain import fields
from lightmeter.link.wire import HEADER_KEYS, RECEIPT_KEYS, R_HINTS


def header_to_wire(h, hint=None):
    """The header map of a header result from the node's JSON. hint: when a device asked for R
    hints, the function that makes one of a signature (crypto/batch.py r_hint, bytes or None);
    field 13 then carries them, if any signature has one (proto/link.md, "R hints")."""
    m = {}
    for i, k in enumerate(HEADER_KEYS):
        v = h[k]
        if k == "parentInfo":
            v = [[p["blockNumber"], fields.hexbytes(p["blockHash"], "blockHash", 32)] for p in v]
        elif k == "signatureList":
            v = [[s["sealerIndex"], fields.hexbytes(s["signature"], "signature")] for s in v]
        elif k == "sealerList":
            v = [fields.hexbytes(x, "sealerList[]", 64) for x in v]
        elif k in ("txsRoot", "receiptsRoot", "stateRoot", "extraData"):
            v = fields.hexbytes(v, k)
        m[i] = v
    if hint is not None:
        ys = [hint(sig) for _, sig in m[12]]
        if any(y is not None for y in ys):
            m[R_HINTS] = ys
    return m


def receipt_to_wire(r):
    """The receipt map of a receipt from the node's JSON."""
    m = {}
    for i, k in enumerate(RECEIPT_KEYS):
        if k not in r:
            continue
        v = r[k]
        if k == "contractAddress":
            v = fields.hexbytes(v, k, 20) if v else b""
        elif k == "output":
            v = fields.hexbytes(v, k)
        elif k == "logEntries":
            v = [[fields.hexbytes(e["address"], "address", 20),
                  [fields.hexbytes(t, "topic", 32) for t in e["topics"]],
                  fields.hexbytes(e["data"], "data")] for e in v]
        m[i] = v
    return m
