"""Chain data in binary link frames (proto/link.md, "Chain data in binary").

Headers, receipts and transactions travel as CBOR maps with small integer keys
and byte strings. The device turns a received map back into the field names of
the node's JSON and hands it to the same strict decoders (header.from_json,
receipt.from_json), so both paths obey one set of rules. The device builds its
transaction's map with tx_to_wire; the relay builds header and receipt maps from the node's JSON
with link/relaywire.py (apart: a module loaded from .mpy keeps its code in a board's RAM).
"""

from lightmeter.chain import fields
from lightmeter.errors import Malformed

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


HEADER_KEYS = ("version", "parentInfo", "txsRoot", "receiptsRoot", "stateRoot", "number",
               "gasUsed", "timestamp", "sealer", "sealerList", "extraData", "consensusWeights",
               "signatureList")
RECEIPT_KEYS = ("version", "gasUsed", "contractAddress", "status", "output", "logEntries",
                "blockNumber", "effectiveGasPrice")
R_HINTS = const(13)  # the header map's optional field: each signature's R y (proto/link.md, "R hints")
_TX_KEYS = const(("version", "chainID", "groupID", "blockLimit", "nonce", "to", "input", "abi", "value",
                 "gasPrice", "gasLimit", "maxFeePerGas", "maxPriorityFeePerGas", "extension", "signature"))
_TX_TEXT = const(("chainID", "groupID", "abi", "value", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"))


def _named(m, keys, what):
    if not isinstance(m, dict):
        raise Malformed("%s: expected a map" % what)
    out = {}
    for k, v in m.items():
        if not isinstance(k, int) or not 0 <= k < len(keys):
            raise Malformed("%s: unknown key %r" % (what, k))
        out[keys[k]] = v
    return out


def _pairs(v, what):
    if not isinstance(v, list):
        raise Malformed("%s: expected an array" % what)
    for p in v:
        if not isinstance(p, list) or len(p) != 2:
            raise Malformed("%s: expected pairs" % what)
    return v


# -- device side: wire map -> the node's JSON field names ------------------------

def header_from_wire(m):
    """A dict header.from_json accepts, from a header map (R hints, field 13, as "rHints")."""
    hints = None
    if isinstance(m, dict) and R_HINTS in m:
        m = dict(m)
        hints = m.pop(R_HINTS)
    h = _named(m, HEADER_KEYS, "header")
    if hints is not None:
        h["rHints"] = hints
    if "parentInfo" in h:
        h["parentInfo"] = [{"blockNumber": n, "blockHash": d} for n, d in _pairs(h["parentInfo"], "parentInfo")]
    if "signatureList" in h:
        h["signatureList"] = [{"sealerIndex": i, "signature": s} for i, s in _pairs(h["signatureList"], "signatureList")]
    return h


def receipt_from_wire(m):
    """A dict receipt.from_json accepts, from a receipt map."""
    r = _named(m, RECEIPT_KEYS, "receipt")
    ca = r.get("contractAddress", b"")
    if not isinstance(ca, (bytes, bytearray)):
        raise Malformed("receipt contractAddress: expected bytes")
    r["contractAddress"] = fields.hex0x(fields.hexbytes(ca, "contractAddress", 20)) if ca else ""
    logs = r.get("logEntries", [])
    if not isinstance(logs, list):
        raise Malformed("receipt logEntries: expected an array")
    out = []
    for log in logs:
        if not isinstance(log, list) or len(log) != 3:
            raise Malformed("receipt log: expected [address, topics, data]")
        a = fields.hexbytes(log[0], "log address", 20)
        out.append({"address": fields.hex0x(a)[2:], "topics": log[1], "data": log[2]})
    r["logEntries"] = out
    return r


def tx_from_wire(m):
    """The firmware tx dict (lightmeter.chain.tx) from a transaction map (what the relay decodes)."""
    from lightmeter.chain import tx as txm

    named = _named(m, _TX_KEYS, "transaction")
    tx = txm.defaults()
    for k, v in named.items():
        if k in _TX_TEXT:
            v = fields.text(v, k, 1 << 16)
        elif k == "to":
            v = fields.hex0x(fields.hexbytes(v, "to", 20))[2:].encode() if v else b""
        elif k in ("version", "blockLimit", "gasLimit"):
            v = fields.integer(v, k)
        elif not isinstance(v, (bytes, bytearray)):
            raise Malformed("transaction %s: expected bytes" % k)
        tx[k] = bytes(v) if isinstance(v, bytearray) else v
    return tx


# -- relay / device side: -> wire maps -----------------------------------------------

def tx_to_wire(tx):
    """The transaction map of a firmware tx dict (what the device sends in send_tx)."""
    m = {}
    for i, k in enumerate(_TX_KEYS):
        v = tx.get(k)
        if k == "to":
            v = fields.hexbytes(v.decode(), "to", 20) if v else b""
        elif k in ("extension", "value", "gasPrice", "gasLimit", "maxFeePerGas",
                   "maxPriorityFeePerGas") and not v:
            continue  # defaults stay off the wire
        elif k in _TX_TEXT:
            v = v.decode()
        m[i] = v
    return m
