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

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


_MAX_SEALERS = const(256)


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
    chain_id = g(obj, "chain_id")
    group_id = g(obj, "group_id")
    _check_names(chain_id, group_id)
    crypto = g(obj, "crypto")
    _check_crypto(crypto)
    return make(chain_id, group_id, crypto, g(obj, "sealers"), obj.get("number"), obj.get("hash"),
                obj.get("timestamp"))


def _check_names(chain_id, group_id):
    for k, v in (("chain_id", chain_id), ("group_id", group_id)):
        if not isinstance(v, str) or not v or len(v) > 64:
            raise Malformed("trust.%s: expected a non-empty string" % k)


def _check_crypto(crypto):
    if crypto not in suite.NAMES:
        raise Malformed("trust.crypto: expected \"ecdsa\" or \"sm\"")


def make(chain_id, group_id, crypto, sealers, number=None, digest=None, timestamp=None):
    """A validated Trust from its fields, as TRUST.json holds them: the one set of rules for every
    stored form. sealers: a list of {"node_id", "weight"} objects or of (node id, weight) tuples;
    node ids and the hash as hex text or bytes."""
    _check_names(chain_id, group_id)
    _check_crypto(crypto)
    raw = fields.array(sealers, "trust.sealers", _MAX_SEALERS)
    if not raw:
        raise Malformed("trust.sealers: empty")
    g = fields.get
    out = []
    for i in range(len(raw)):
        s = raw[i]
        name = "trust.sealers[%d]" % i
        if isinstance(s, tuple):  # never from JSON, which has no tuples
            node = fields.hexbytes(s[0], name + ".node_id", 64)
            w = s[1]
        else:
            node = fields.hexbytes(g(s, "node_id"), name + ".node_id", 64)
            w = g(s, "weight")
        out.append((node, fields.integer(w, name + ".weight", 1, 1 << 32)))
    out.sort()
    for i in range(1, len(out)):
        if out[i - 1][0] == out[i][0]:
            raise Malformed("trust.sealers: node id listed twice")
    t = Trust()
    t.chain_id = chain_id
    t.group_id = group_id
    t.crypto = crypto
    t.sealers = out
    t.number = None if number is None else fields.integer(number, "trust.number")
    t.hash = None if digest is None else fields.hexbytes(digest, "trust.hash", 32)
    if t.hash is not None and t.number is None:
        raise Malformed("trust.hash needs trust.number")
    t.timestamp = None if timestamp is None else fields.integer(timestamp, "trust.timestamp", 0, (1 << 48) - 1)
    if t.timestamp is not None and t.hash is None:
        raise Malformed("trust.timestamp needs trust.number and trust.hash")
    return t
