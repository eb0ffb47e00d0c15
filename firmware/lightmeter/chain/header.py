"""FISCO BCOS 3.x block headers: strict decoding from node JSON and the header hash.

The hash is H(preimage) where the preimage is a raw concatenation with no
length prefixes (bcos-tars-protocol impl/TarsHashable.h):

    int32 version | per parent: int64 number, hash | txsRoot | receiptsRoot |
    stateRoot | int64 number | gasUsed as decimal ASCII | int64 timestamp |
    int64 sealer | 64-byte node ids | extraData | int64 weight per sealer

Because nothing delimits the fields, the decoder pins every width and count so
that one byte string can be read back into exactly one header:
- number > 0 has exactly one parent, numbered number - 1; genesis has none;
- roots are 32 bytes, node ids 64 bytes, as many weights as sealers, at least
  one sealer;
- gasUsed is canonical decimal digits and the timestamp is below 2**48 ms, so
  the first timestamp byte (0x00) ends the digits;
- extraData of a non-genesis header is shorter than one sealer entry (72 bytes),
  so the sealer count is fixed by the preimage length.
The genesis header (number 0) hashes empty roots and an empty gasUsed (the
node never sets them, Ledger.cpp buildGenesisBlock) and carries no signatures:
it is trusted by hash only.

Header versions (docs/fisco-versions.md §1): 3.x sealers write the chain's
compatibility version, 0x03000000 (v3.0.0) and up, all hashed as above; a genesis
header of a chain whose compatibility version is below 3.1.0 keeps version 0.
Versions 0 to 4 above genesis come from the pre-releases v3.0.0-rc1 to rc4, which
hash headers by other rules (Tars; rc4: 32-bit integers) and build 16-ary roots:
they are refused as Unsupported, never checked under the 3.x rule.
"""

from lightmeter.chain import fields
from lightmeter.errors import Malformed, Unsupported

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


_MAX_SEALERS = const(256)
_MAX_TIMESTAMP = const((1 << 48) - 1)
_MAX_EXTRA = const(71)
_MAX_GENESIS_EXTRA = const(1 << 16)
ZERO32 = bytes(32)
V3_0_0 = 0x03000000  # the first header version a 3.x release writes


class Header:
    """A decoded header. Byte fields are bytes; `signatures` is [(index, sig)]; `r_hints` is
    None or, from the link, each signature's R y as the relay claims it (bytes or None each:
    crypto/batch.py checks a hint before it uses it, so it is not part of what is verified)."""

    __slots__ = (
        "version", "parents", "txs_root", "receipts_root", "state_root", "number",
        "gas_used", "timestamp", "sealer", "sealer_list", "extra_data", "weights",
        "signatures", "claimed_hash", "r_hints",
    )

    def preimage(self):
        """The exact bytes FISCO BCOS hashes for this header."""
        ib = fields.int_be
        parts = [ib(self.version, 4)]
        for num, h in self.parents:
            parts.append(ib(num, 8))
            parts.append(h)
        if self.number == 0:
            # Genesis quirk: roots and gasUsed were never set, so they hash as empty.
            parts.append(ib(0, 8))
        else:
            parts.append(self.txs_root)
            parts.append(self.receipts_root)
            parts.append(self.state_root)
            parts.append(ib(self.number, 8))
            parts.append(self.gas_used)
        parts.append(ib(self.timestamp, 8))
        parts.append(ib(self.sealer, 8))
        parts.extend(self.sealer_list)
        parts.append(self.extra_data)
        for w in self.weights:
            parts.append(ib(w, 8))
        return b"".join(parts)

    def hash(self, suite):
        """The header hash, recomputed from the fields (never the transmitted one)."""
        return suite.hash(self.preimage())


def from_json(obj, node_sig_len=None):
    """Decode a header from getBlockByNumber/ByHash JSON (the response or its result).

    node_sig_len, when given (65 ecdsa, 64 sm), pins every signature's length.
    Raises Malformed on any deviation from the shapes described above.
    """
    obj = fields.unwrap(obj)
    g = fields.get
    h = Header()
    h.version = fields.integer(g(obj, "version"), "version", 0, fields.INT32_MAX)
    h.number = n = fields.integer(g(obj, "number"), "number")
    if h.version < V3_0_0 and (n != 0 or h.version != 0):
        raise Unsupported("pre-release header format (version %d), not supported: FISCO BCOS "
                          "3.0.0-rc1 to rc4 hash headers by other rules" % h.version)
    h.timestamp = fields.integer(g(obj, "timestamp"), "timestamp", 0, _MAX_TIMESTAMP)

    parents = fields.array(g(obj, "parentInfo"), "parentInfo", 8)
    if n == 0:
        if parents:
            raise Malformed("parentInfo: the genesis header has no parent")
        h.parents = []
    else:
        if len(parents) != 1:
            raise Malformed("parentInfo: a header above genesis has exactly one parent")
        p = parents[0]
        pn = fields.integer(g(p, "blockNumber"), "parentInfo.blockNumber")
        if pn != n - 1:
            raise Malformed("parentInfo.blockNumber: %d is not number - 1" % pn)
        h.parents = [(pn, fields.hexbytes(g(p, "blockHash"), "parentInfo.blockHash", 32, True))]

    h.txs_root = fields.hexbytes(g(obj, "txsRoot"), "txsRoot", 32, True)
    h.receipts_root = fields.hexbytes(g(obj, "receiptsRoot"), "receiptsRoot", 32, True)
    h.state_root = fields.hexbytes(g(obj, "stateRoot"), "stateRoot", 32, True)
    h.gas_used = fields.decimal(g(obj, "gasUsed"), "gasUsed")

    sealers = fields.array(g(obj, "sealerList"), "sealerList", _MAX_SEALERS)
    h.sealer_list = [fields.hexbytes(s, "sealerList[%d]" % i, 64, True) for i, s in enumerate(sealers)]
    weights = fields.array(g(obj, "consensusWeights"), "consensusWeights", _MAX_SEALERS)
    if len(weights) != len(sealers):
        raise Malformed("consensusWeights: %d weights for %d sealers" % (len(weights), len(sealers)))
    h.weights = [fields.integer(w, "consensusWeights[%d]" % i, 1) for i, w in enumerate(weights)]
    h.sealer = fields.integer(g(obj, "sealer"), "sealer")
    extra = g(obj, "extraData")
    if n == 0:
        h.extra_data = fields.hexbytes(extra, "extraData", None, True)
        if len(h.extra_data) > _MAX_GENESIS_EXTRA:
            raise Malformed("extraData: longer than %d bytes" % _MAX_GENESIS_EXTRA)
        if h.sealer != 0:
            raise Malformed("sealer: the genesis header has no sealer")
        # The node shows the unset roots and gasUsed as zero; anything else is not a genesis.
        if h.txs_root != ZERO32 or h.receipts_root != ZERO32 or h.state_root != ZERO32:
            raise Malformed("genesis roots must be zero")
        if h.gas_used != b"0":
            raise Malformed("genesis gasUsed must be 0")
    else:
        h.extra_data = fields.hexbytes(extra, "extraData", None, True)
        if len(h.extra_data) > _MAX_EXTRA:
            raise Malformed("extraData: over %d bytes would make the preimage ambiguous" % _MAX_EXTRA)
        if not sealers:
            raise Malformed("sealerList: empty above genesis")
        if h.sealer >= len(sealers):
            raise Malformed("sealer: index %d outside the sealer list" % h.sealer)
        for i in range(1, len(h.sealer_list)):
            if h.sealer_list[i - 1] >= h.sealer_list[i]:
                raise Malformed("sealerList: not in ascending node id order (or repeated)")

    sigs = fields.array(obj.get("signatureList", []), "signatureList", _MAX_SEALERS)
    h.signatures = []
    for i, s in enumerate(sigs):
        name = "signatureList[%d]" % i
        idx = fields.integer(g(s, "sealerIndex"), name + ".sealerIndex")
        sig = fields.hexbytes(g(s, "signature"), name + ".signature", None, True)
        if node_sig_len is not None and len(sig) != node_sig_len:
            raise Malformed("%s.signature: expected %d bytes, got %d" % (name, node_sig_len, len(sig)))
        h.signatures.append((idx, sig))

    hints = obj.get("rHints")
    if hints is not None:
        fields.array(hints, "rHints", _MAX_SEALERS)
        for y in hints:
            if y is not None and not isinstance(y, (bytes, bytearray)):
                raise Malformed("rHints: expected byte strings or null")
    h.r_hints = hints

    claimed = obj.get("hash")
    h.claimed_hash = None if claimed is None else fields.hexbytes(claimed, "hash", 32, True)
    return h
