"""Trust checkpoints: what a light client believes before it checks anything.

TRUST.json (documented in proto/trust.md):

    {"chain_id": "chain0", "group_id": "group0", "crypto": "sm" | "ecdsa",
     "sealers": [{"node_id": "<128 hex, 0x optional>", "weight": 1}, ...],
     "number": N, "hash": "0x...",            # number/hash optional
     "timestamp": T}                          # optional: header N's timestamp, ms

Sealers are kept sorted by node id, the order FISCO BCOS uses in headers
(ConsensusConfig sorts the consensus list by node id), so index i of a
header's signature list means sealers[i].
"""

from lightmeter.chain import fields
from lightmeter.crypto import suite
from lightmeter.errors import Malformed

MAX_SEALERS = 256


class Trust:
    """A decoded checkpoint; sealers is [(node_id bytes, weight)] sorted by node id.

    timestamp is the timestamp (ms) of header `number` when known: the trusting period of
    skipping sync counts from it (lightmeter.client.sync.check_fresh)."""

    __slots__ = ("chain_id", "group_id", "crypto", "sealers", "number", "hash", "timestamp")

    def __init__(self):
        self.number = None
        self.hash = None
        self.timestamp = None

    def total_weight(self):
        t = 0
        for _, w in self.sealers:
            t += w
        return t

    def to_json(self):
        d = {
            "chain_id": self.chain_id, "group_id": self.group_id, "crypto": self.crypto,
            "sealers": [{"node_id": n.hex(), "weight": w} for n, w in self.sealers],
        }
        if self.number is not None:
            d["number"] = self.number
        if self.hash is not None:
            d["hash"] = fields.hex0x(self.hash)
        if self.timestamp is not None and self.number is not None:
            d["timestamp"] = self.timestamp
        return d


def quorum(total):
    """Weight a header's signers must reach: total - (total - 1) // 3 (PBFTConfig::updateQuorum)."""
    return total - (total - 1) // 3


def from_json(obj):
    """Decode and validate a TRUST.json object."""
    if not isinstance(obj, dict):
        raise Malformed("trust: expected a JSON object")
    g = fields.get
    t = Trust()
    t.chain_id = g(obj, "chain_id")
    t.group_id = g(obj, "group_id")
    for k in ("chain_id", "group_id"):
        v = obj[k]
        if not isinstance(v, str) or not v or len(v) > 64:
            raise Malformed("trust.%s: expected a non-empty string" % k)
    t.crypto = g(obj, "crypto")
    if t.crypto not in suite.NAMES:
        raise Malformed("trust.crypto: expected \"ecdsa\" or \"sm\"")
    raw = fields.array(g(obj, "sealers"), "trust.sealers", MAX_SEALERS)
    if not raw:
        raise Malformed("trust.sealers: empty")
    sealers = []
    for i, s in enumerate(raw):
        name = "trust.sealers[%d]" % i
        node = fields.hexbytes(g(s, "node_id"), name + ".node_id", 64)
        sealers.append((node, fields.integer(g(s, "weight"), name + ".weight", 1, 1 << 32)))
    sealers.sort()
    for i in range(1, len(sealers)):
        if sealers[i - 1][0] == sealers[i][0]:
            raise Malformed("trust.sealers: node id listed twice")
    t.sealers = sealers
    n = obj.get("number")
    t.number = None if n is None else fields.integer(n, "trust.number")
    h = obj.get("hash")
    t.hash = None if h is None else fields.hexbytes(h, "trust.hash", 32)
    if t.hash is not None and t.number is None:
        raise Malformed("trust.hash needs trust.number")
    ts = obj.get("timestamp")
    t.timestamp = None if ts is None else fields.integer(ts, "trust.timestamp", 0, (1 << 48) - 1)
    if t.timestamp is not None and t.hash is None:
        raise Malformed("trust.timestamp needs trust.number and trust.hash")
    return t
