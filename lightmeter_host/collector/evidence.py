"""A stored reading's evidence: the checks that prove it is on chain, and its canonical bundle.

One check, two callers: the collector runs `check_reading` on what the node answered, and
`collector verify` runs it again, years later and offline, on the stored bundle. The bundle is
canonical JSON (sorted keys, no spaces) of exactly what the checks use:

    {"header":  the block header as getBlockByNumber shows it, signatures sorted by sealer index,
     "index":   the transaction's position in the block,
     "receipt": the receipt's hashed fields + "hash" + "txReceiptProof",
     "sealers": [{"node_id", "weight"}] the sealer set that signs this block,
     "tx":      the transaction's hashed fields + "hash", "from", "signature" + "txProof",
     "v": 1}

Every value in it is bound by a hash, a signature, a proof or a comparison, and the verifier
rebuilds the text from what it decoded and requires the stored text to be exactly that; so no
change to a bundle, not even a harmless-looking one, goes unnoticed.

Failures raise Rejected subclasses with a `kind`: NodeLie when what the node showed cannot be
what the chain holds (a hash, signature or proof fails: nothing of that block can be believed),
Refused when the chain really holds it but it is not a valid reading of our fleet.
"""

import json

from lightmeter.chain import abi, abidecode, fields, header as header_mod, merkle, receipt as receipt_mod
from lightmeter.chain import headerwrite
from lightmeter.client import trust as trust_mod, verify
from lightmeter.chain import txread
from lightmeter.chain.meter_registry import READING_EVENT, RECORD
from lightmeter.errors import LightmeterError, Malformed

VERSION = 1
_TX_UNHASHED = ("importTime", "extraData")  # shown by the node, bound by nothing: left out
_KEYS = ["header", "index", "receipt", "sealers", "tx", "v"]


class Rejected(Exception):
    """A reading (or block) that is not stored; kind names the failed check."""

    def __init__(self, kind, reason):
        super().__init__("%s: %s" % (kind, reason))
        self.kind = kind
        self.reason = reason


class NodeLie(Rejected):
    """What the node showed is not what the chain holds: stop, trust nothing of the block."""


class Refused(Rejected):
    """On chain, proven, but not a valid reading of the fleet: record it and go on."""


class MemoSuite:
    """A suite whose hash remembers its answers: the proofs of one block share their upper
    levels, so each inner node is hashed once per block instead of once per proof. Everything
    else is the suite's own."""

    def __init__(self, suite, limit=1 << 17):
        self._suite = suite
        self._memo = {}
        self._limit = limit
        self.name = suite.name
        self.node_sig_len = suite.node_sig_len

    def __getattr__(self, name):
        return getattr(self._suite, name)

    def hash(self, data):
        data = bytes(data)
        d = self._memo.get(data)
        if d is None:
            if len(self._memo) >= self._limit:
                self._memo.clear()
            d = self._memo[data] = self._suite.hash(data)
        return d


def dumps(obj):
    """The canonical JSON text of obj."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


# -- canonical JSON of decoded objects -------------------------------------------------------

def header_json(h, digest):
    out = headerwrite.to_json(h, digest)
    out["signatureList"] = sorted(out["signatureList"], key=lambda s: s["sealerIndex"])
    return out


def tx_json(tx, suite, digest, sender, proof):
    out = txread.to_json(tx, suite, digest, sender)
    for k in _TX_UNHASHED:
        out.pop(k, None)
    out["txProof"] = [x.hex() for x in proof]
    return out


def receipt_json(r, digest, proof):
    out = {"version": r.version, "gasUsed": r.gas_used.decode(),
           "contractAddress": "0x" + r.contract_address.decode() if r.contract_address else "",
           "status": r.status, "output": fields.hex0x(r.output),
           "logEntries": [{"address": a.decode(), "topics": [fields.hex0x(t) for t in ts],
                           "data": fields.hex0x(d)} for a, ts, d in r.logs],
           "blockNumber": r.block_number, "hash": fields.hex0x(digest),
           "txReceiptProof": [x.hex() for x in proof]}
    if r.version >= 1:
        out["effectiveGasPrice"] = r.effective_gas_price.decode()
    return out


def sealers_json(sealers):
    return [{"node_id": n.hex(), "weight": w} for n, w in sealers]


def trust_for(anchor, sealers):
    """A Trust holding anchor's chain, group and suite and this sealer set (no block pinned)."""
    t = trust_mod.Trust()
    t.chain_id, t.group_id, t.crypto = anchor.chain_id, anchor.group_id, anchor.crypto
    t.sealers = list(sealers)
    t.number = t.hash = None
    return t


# -- the checks ---------------------------------------------------------------------------------

def check_header(h, trust, suite):
    """verify_header, with a kind: short_quorum or bad_header (NodeLie)."""
    try:
        return verify.verify_header(h, trust, suite)
    except verify.QuorumNotReached as e:
        raise NodeLie("short_quorum", str(e))
    except LightmeterError as e:
        raise NodeLie("bad_header", str(e))


class Facts:
    """What check_reading established about one transaction."""

    __slots__ = ("tx_hash", "sender", "index", "seq", "reading", "registry", "receipt_hash", "tx",
                 "tx_proof", "receipt", "receipt_proof", "public_key")


def _tx_failure(tx, proof, h, suite, e):
    claimed = tx.get("claimed_hash")
    if claimed is not None and all(d != claimed for _, d in txread.hashes(tx, suite)):
        return NodeLie("tampered_tx", str(e))
    try:
        txread.prove(tx, suite, lambda d: merkle.verify(proof, d, h.txs_root, suite.hash))
    except LightmeterError as pe:
        return NodeLie("bad_proof", "transaction: %s" % pe)
    return NodeLie("bad_tx", str(e))


def check_tx(tx, proof, h, trust, suite, index=None):
    """(digest, sender, position) of a transaction in header h (already verified)."""
    try:
        digest, sender, pos = verify.verify_tx(tx, proof, h, trust, suite)
    except LightmeterError as e:
        raise _tx_failure(tx, proof, h, suite, e)
    if index is not None and pos != index:
        raise NodeLie("bad_proof", "the transaction's proof is for position %d, not %d" % (pos, index))
    return digest, sender, pos


def check_receipt(r, proof, h, suite, pos):
    """The receipt's hash, proven at the transaction's position; Refused("reverted") if it failed."""
    digest = r.hash(suite)
    if r.claimed_hash is not None and r.claimed_hash != digest:
        raise NodeLie("tampered_log", "the receipt's fields do not hash to the receipt's hash")
    if r.block_number != h.number:
        raise NodeLie("bad_proof", "receipt is for block %d, header is block %d" % (r.block_number, h.number))
    try:
        got = merkle.verify(proof, digest, h.receipts_root, suite.hash, pos)
    except LightmeterError as e:
        raise NodeLie("bad_proof", "receipt: %s" % e)
    if got != pos:
        raise NodeLie("bad_proof", "the receipt is at position %d, its transaction at %d" % (got, pos))
    if r.status != 0:
        raise Refused("reverted", "the transaction failed on chain with status %d" % r.status)
    return digest


_CONSTANTS = {}


def _constants(suite):
    """(record() selector, Reading event topic) under the suite's hash, computed once."""
    c = _CONSTANTS.get(suite.name)
    if c is None:
        c = _CONSTANTS[suite.name] = (abi.selector(RECORD, suite.hash), abi.event_topic(READING_EVENT, suite.hash))
    return c


def record_call(tx, suite):
    """(seq, reading bytes) of a MeterRegistry record() call, None for another method;
    Refused("malformed") for a record() whose arguments do not decode."""
    data = tx["input"]
    if bytes(data[:4]) != _constants(suite)[0]:
        return None
    try:
        seq, reading = abidecode.decode(["uint64", "bytes"], data[4:])
    except LightmeterError as e:
        raise Refused("malformed", "record() call data: %s" % e)
    return seq, reading


def check_log(r, registry, sender, seq, reading, suite):
    """The receipt must hold MeterRegistry's Reading(sender, seq, reading) log, exactly once."""
    want_topics = [_constants(suite)[1], bytes(12) + sender, seq.to_bytes(32, "big")]
    want_data = abi.encode(["bytes"], [reading])
    reg = registry.hex().encode()
    found = 0
    for address, topics, data in r.logs:
        if address == reg and topics[:1] == want_topics[:1]:
            if topics != want_topics or data != want_data:
                raise NodeLie("tampered_log", "the Reading log does not match the record(%d, ...) call" % seq)
            found += 1
    if found != 1:
        raise NodeLie("tampered_log", "%d Reading logs for the record(%d, ...) call, expected 1" % (found, seq))


def check_reading(h, trust, suite, tx, tx_proof, r, r_proof, index=None):
    """Facts of a record() transaction in header h (already verified under trust), or None if
    the transaction is not a record() call. Raises NodeLie / Refused."""
    digest, sender, pos = check_tx(tx, tx_proof, h, trust, suite, index)
    call = None
    try:
        call = record_call(tx, suite)
        if call is None:
            return None
        rdigest = check_receipt(r, r_proof, h, suite, pos)
    except Refused as e:
        e.sender, e.seq = sender, (call[0] if call else None)
        raise
    try:
        to = tx["to"].decode()
        registry = fields.hexbytes(to[2:] if to[:2] in ("0x", "0X") else to, "to", 20)
    except (LightmeterError, UnicodeError) as e:
        raise NodeLie("bad_tx", "the transaction's to field: %s" % e)
    check_log(r, registry, sender, call[0], call[1], suite)
    f = Facts()
    f.tx_hash, f.sender, f.index, f.registry, f.receipt_hash = digest, sender, pos, registry, rdigest
    f.seq, f.reading = call
    f.tx, f.tx_proof, f.receipt, f.receipt_proof = tx, tx_proof, r, r_proof
    f.public_key = bytes(tx["signature"][64:]) if suite.name == "sm" else None
    return f


# -- the bundle -----------------------------------------------------------------------------------

def block_parts(h, digest, sealers):
    """The canonical texts shared by every bundle of one block: (header, sealers)."""
    return dumps(header_json(h, digest)), dumps(sealers_json(sealers))


def bundle_text(parts, facts, suite):
    """The canonical bundle of one reading: the same text as dumps() of the bundle object."""
    header_text, sealers_text = parts
    t = dumps(tx_json(facts.tx, suite, facts.tx_hash, facts.sender, facts.tx_proof))
    r = dumps(receipt_json(facts.receipt, facts.receipt_hash, facts.receipt_proof))
    return '{"header":%s,"index":%d,"receipt":%s,"sealers":%s,"tx":%s,"v":%d}' % (
        header_text, facts.index, r, sealers_text, t, VERSION)


def _decode_sealers(value):
    if not isinstance(value, list) or not value:
        raise Malformed("sealers: expected a non-empty list")
    out = []
    for i, s in enumerate(value):
        if not isinstance(s, dict) or set(s) != {"node_id", "weight"}:
            raise Malformed("sealers[%d]: expected {node_id, weight}" % i)
        out.append((fields.hexbytes(s["node_id"], "sealers[%d].node_id" % i, 64, False),
                    fields.integer(s["weight"], "sealers[%d].weight" % i, 1)))
    return out


class Checked:
    """What verify_bundle established: the header, the facts, the sealer set it used."""

    __slots__ = ("header", "facts", "sealers")


def verify_bundle(text, anchor, suite):
    """Re-check a stored bundle on its own. anchor gives chain, group and suite.

    Returns Checked. Raises Rejected whose kind names the failed check: "evidence" (not a
    bundle), "header" / "short_quorum", "tx", "receipt", "log", "canonical"."""
    try:
        obj = json.loads(text)
    except (ValueError, TypeError) as e:
        raise Rejected("evidence", "not JSON: %s" % e)
    if not isinstance(obj, dict) or sorted(obj) != _KEYS or obj["v"] != VERSION or type(obj["v"]) is not int:
        raise Rejected("evidence", "not a version %d bundle" % VERSION)
    if type(obj["index"]) is not int or obj["index"] < 0:
        raise Rejected("evidence", "index: expected a position")
    try:
        sealers = _decode_sealers(obj["sealers"])
        h = header_mod.from_json(obj["header"], suite.node_sig_len)
        tx = txread.from_json(obj["tx"])
        tx_proof = merkle.parse_proof(obj["tx"].get("txProof"), "txProof")
        r = receipt_mod.from_json(obj["receipt"])
        r_proof = merkle.parse_proof(obj["receipt"].get("txReceiptProof"), "txReceiptProof")
    except (LightmeterError, AttributeError, TypeError) as e:
        raise Rejected("evidence", str(e))
    trust = trust_for(anchor, sealers)
    try:
        res = check_header(h, trust, suite)
        facts = check_reading(h, trust, suite, tx, tx_proof, r, r_proof, obj["index"])
    except Rejected as e:
        raise Rejected(_CHECK.get(e.kind, e.kind), e.reason)
    except LightmeterError as e:
        raise Rejected("evidence", str(e))
    if facts is None:
        raise Rejected("tx", "the transaction is not a record() call")
    # The text must be exactly what the decoded evidence gives: nothing unbound hides in it.
    if bundle_text(block_parts(h, res.hash, sealers), facts, suite) != text:
        raise Rejected("canonical", "the bundle is not the canonical text of its own content")
    out = Checked()
    out.header, out.facts, out.sealers = h, facts, sealers
    return out


# kinds of the live checks -> the name of the check a stored bundle failed
_CHECK = {"bad_header": "header", "short_quorum": "header", "tampered_tx": "tx", "bad_tx": "tx",
          "bad_proof": "proof", "tampered_log": "log", "reverted": "receipt", "malformed": "tx"}
