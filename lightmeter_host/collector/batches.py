"""Batch-anchored readings (proto/batch.md): the on-chain half of a batch, its contents fetched
from a concentrator, and the checks that bind the two (docs/collector.md, "Batches").

A MeterRegistry `recordBatch(root, count)` transaction, proven into a quorum-signed header like
any reading transaction, with its receipt and the registry's one `Batch(submitter, root, count)`
log, anchors a batch; the chain holds no reading of it. The collector fetches the contents
(`GET <url>/batches/<root hex>`, the CBOR array of signed readings) and believes none of it:
the array's length must be the anchored count and its leaf hashes must rebuild the anchored
root (else the batch is `batch_mismatch`); a concentrator that answers nothing usable is
`batch_withheld`. Each leaf then opens to a reading and its signer (lightmeter.client.batch)
and goes through the same fleet checks as a reading transaction (ingest.Walker).
"""

import urllib.error
import urllib.request

from lightmeter.chain import abi, batchtree, fields
from lightmeter.chain.meter_registry import BATCH_EVENT, RECORD_BATCH
from lightmeter.client import batch as batch_mod
from lightmeter.errors import LightmeterError
from lightmeter.link import cbor

from lightmeter_host.collector import evidence
from lightmeter_host.collector.evidence import NodeLie, Refused

WITHHELD = "batch_withheld"
MISMATCH = "batch_mismatch"
EVIDENCE_VERSION = 2  # a batch reading's evidence: {"batch", "leaf", "signature", "v": 2}
FETCH_TIMEOUT = 10.0

_CONSTANTS = {}


def _constants(suite):
    c = _CONSTANTS.get(suite.name)
    if c is None:
        c = _CONSTANTS[suite.name] = (abi.selector(RECORD_BATCH, suite.hash), abi.event_topic(BATCH_EVENT, suite.hash))
    return c


class Unavailable(Exception):
    """The batch's contents could not be had; kind is WITHHELD or MISMATCH."""

    def __init__(self, kind, reason):
        super().__init__("%s: %s" % (kind, reason))
        self.kind, self.reason = kind, reason


class Anchored:
    """A proven recordBatch: where it is, who sent it, what it anchors, its evidence texts."""

    __slots__ = ("tx_hash", "submitter", "index", "registry", "root", "count", "block_number",
                 "tx_text", "receipt_text")


def batch_call(tx, suite):
    """(root, count) of a recordBatch call, None for another method. A recordBatch whose call
    data is not canonical is no batch (the registry would not log it as one)."""
    data = bytes(tx["input"])
    if data[:4] != _constants(suite)[0] or len(data) != 68 or data[36:64] != bytes(28):
        return None
    return data[4:36], int.from_bytes(data[64:68], "big")


def check_anchor(h, trust, suite, tx, proof, r, rproof, index, registry):
    """Anchored for a recordBatch transaction at index of header h (already verified under trust).

    NodeLie for a proof, hash or log that fails; evidence.Refused("reverted") for a batch the
    registry refused (it anchors nothing)."""
    root, count = batch_call(tx, suite)
    digest, sender, pos = evidence.check_tx(tx, proof, h, trust, suite, index)
    rdigest = evidence.check_receipt(r, rproof, h, suite, pos)
    want = [_constants(suite)[1], bytes(12) + sender, root]
    reg = registry.hex().encode()
    found = 0
    for address, topics, data in r.logs:
        if address == reg and topics[:1] == want[:1]:
            if topics != want or data != count.to_bytes(32, "big"):
                raise NodeLie("tampered_log", "the Batch log does not match the recordBatch call")
            found += 1
    if found != 1:
        raise NodeLie("tampered_log", "%d Batch logs for the recordBatch call, expected 1" % found)
    a = Anchored()
    a.tx_hash, a.submitter, a.index, a.registry = digest, sender, pos, registry
    a.root, a.count, a.block_number = root, count, h.number
    a.tx_text = evidence.dumps(evidence.tx_json(tx, suite, digest, sender, proof))
    a.receipt_text = evidence.dumps(evidence.receipt_json(r, rdigest, rproof))
    return a


def leaves_of(data, root, count, suite):
    """The signed readings of a batch's contents, checked against the anchored root and count;
    Unavailable(MISMATCH) otherwise. Returns (leaves, leaf hashes)."""
    data = bytes(data)
    leaves = _split(data)
    if leaves is None:  # not the one canonical shape: the firmware's decoder says what it is
        leaves = _slow_leaves(data)
    if len(leaves) != count:
        raise Unavailable(MISMATCH, "%d signed readings served, %d anchored" % (len(leaves), count))
    H = suite.hash
    hashes = [H(b"\x00" + x) for x in leaves]
    if batchtree.root(hashes, H) != root:
        raise Unavailable(MISMATCH, "the signed readings served do not make the anchored root")
    return leaves, hashes


def _split(data):
    """The byte strings of a canonical CBOR array of byte strings (shortest lengths, nothing
    after it), split by hand; None for anything else."""
    if not data:
        return None
    ib, pos = data[0], 1
    if 0x80 <= ib < 0x98:
        n = ib - 0x80
    elif ib == 0x98 and len(data) > 1 and data[1] >= 24:
        n, pos = data[1], 2
    elif ib == 0x99 and len(data) > 2 and data[1] << 8 | data[2] >= 256:
        n, pos = data[1] << 8 | data[2], 3
    elif ib == 0x9a and len(data) > 4 and int.from_bytes(data[1:5], "big") >= 65536:
        n, pos = int.from_bytes(data[1:5], "big"), 5
    else:
        return None
    if n > batchtree.MAX_COUNT:
        return None
    out = []
    for _ in range(n):
        got = _bstr(data, pos)
        if got is None:
            return None
        out.append(got[0])
        pos = got[1]
    return out if pos == len(data) else None


def _slow_leaves(data):
    try:
        leaves = cbor.loads(data)
    except (LightmeterError, ValueError, TypeError, IndexError) as e:
        raise Unavailable(MISMATCH, "the contents are not CBOR: %s" % e)
    if not isinstance(leaves, list) or not all(isinstance(x, bytes) for x in leaves):
        raise Unavailable(MISMATCH, "the contents are not an array of signed readings")
    if cbor.dumps(leaves) != data:
        raise Unavailable(MISMATCH, "the contents are not canonical CBOR")
    return leaves


class Fetcher:
    """Batch contents from concentrators' HTTP stores (lightmeter_host.batchstore), tried in order."""

    def __init__(self, urls=(), timeout=FETCH_TIMEOUT):
        self.urls = [u.rstrip("/") for u in urls]
        self.timeout = timeout

    def __call__(self, root, count, suite):
        """(leaves, leaf hashes) of the batch with this root, checked; Unavailable if no
        concentrator serves contents that make it (MISMATCH if one served wrong contents)."""
        if not self.urls:
            raise Unavailable(WITHHELD, "no concentrator to fetch batch %s from (collect --batches URL)"
                              % root.hex()[:16])
        withheld, wrong = [], []
        limit = 5 + count * (3 + batch_mod.MAX_ITEM)  # the array's head, each leaf's head and bytes
        for url in self.urls:
            try:
                data = self.get(url, root, limit)
            except Unavailable as e:
                (wrong if e.kind == MISMATCH else withheld).append(e.reason)
                continue
            try:
                return leaves_of(data, root, count, suite)
            except Unavailable as e:
                wrong.append("%s: %s" % (url, e.reason))
        if wrong:
            raise Unavailable(MISMATCH, "; ".join(wrong))
        raise Unavailable(WITHHELD, "; ".join(withheld))

    def get(self, url, root, limit=None):
        """The bytes served for root at url; Unavailable(WITHHELD) on any HTTP failure,
        Unavailable(MISMATCH) for more than limit bytes (more than count leaves can take)."""
        where = "%s/batches/%s" % (url, root.hex())
        try:
            with urllib.request.urlopen(where, timeout=self.timeout) as resp:
                data = resp.read() if limit is None else resp.read(limit + 1)
            if limit is not None and len(data) > limit:
                raise Unavailable(MISMATCH, "%s: more bytes than the anchored count of readings can take" % where)
            return data
        except urllib.error.HTTPError as e:
            raise Unavailable(WITHHELD, "%s: HTTP %d" % (where, e.code))
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise Unavailable(WITHHELD, "%s: %s" % (where, getattr(e, "reason", e)))


def open_leaf(leaf, chain_id, group_id, registry, suite):
    """(reading, signature, signer address) of a signed reading; evidence.Refused("malformed")."""
    try:
        reading, sender = batch_mod.open_item(leaf, chain_id, group_id, registry, suite)
    except LightmeterError as e:
        raise Refused("malformed", "signed reading: %s" % e)
    return reading, cbor.loads(leaf)[1], sender


def _bstr(data, pos):
    """(bytes, next position) of a canonical CBOR byte string at data[pos], or None."""
    if pos >= len(data):
        return None
    ib = data[pos]
    if 0x40 <= ib < 0x58:
        n, pos = ib - 0x40, pos + 1
    elif ib == 0x58 and pos + 1 < len(data) and data[pos + 1] >= 24:
        n, pos = data[pos + 1], pos + 2
    elif ib == 0x59 and pos + 2 < len(data) and data[pos + 1] << 8 | data[pos + 2] >= 256:
        n, pos = data[pos + 1] << 8 | data[pos + 2], pos + 3
    else:
        return None
    return (data[pos:pos + n], pos + n) if pos + n <= len(data) else None


# suite name -> {64-byte public key: address}: a fleet's devices sign reading after reading, and
# the address is a hash of the key (suite.address), so it is worked out once per key
_ADDRESSES = {}
ADDRESSES_MAX = 1 << 17  # keys kept per suite, above a large fleet's devices


class LeafOpener:
    """open_leaf for the many leaves of one batch, faster: a leaf of the one canonical shape
    (CBOR [bstr, bstr], shortest lengths) is split by hand and its signing input built from a
    prefix encoded once (proto/batch.md: ["lightmeter/reading/1", chain, group, registry,
    reading]); any other leaf goes to open_leaf, whose answer (or refusal) is the rule. The
    signer's address is looked up by its recovered key once seen (_ADDRESSES). The two agree leaf
    for leaf (tests/host/test_collector_batches.py)."""

    def __init__(self, chain_id, group_id, registry, suite):
        self.args = (chain_id, group_id, registry, suite)
        self.suite = suite
        self.addresses = _ADDRESSES.setdefault(suite.name, {})
        whole = cbor.dumps([batch_mod.PURPOSE, chain_id, group_id, bytes(registry), b""])
        self.prefix = whole[:-1]  # all but the empty reading's 0x40

    def __call__(self, leaf):
        if len(leaf) > batch_mod.MAX_ITEM or leaf[:1] != b"\x82":
            return open_leaf(leaf, *self.args)
        a = _bstr(leaf, 1)
        b = _bstr(leaf, a[1]) if a else None
        if b is None or b[1] != len(leaf) or not a[0]:
            return open_leaf(leaf, *self.args)
        reading, sig = a[0], b[0]
        suite = self.suite
        n = len(reading)
        head = bytes([0x40 + n]) if n < 24 else (bytes([0x58, n]) if n < 256 else bytes([0x59, n >> 8, n & 255]))
        try:
            pub = bytes(suite.tx_signer(suite.hash(self.prefix + head + reading), sig))
            sender = self.addresses.get(pub)
            if sender is None:
                sender = suite.address(pub)
                if len(self.addresses) >= ADDRESSES_MAX:
                    self.addresses.clear()  # keys that sign once (forgeries) must not pile up
                self.addresses[pub] = sender
        except LightmeterError as e:
            raise Refused("malformed", "signed reading: %s" % e)
        return reading, sig, sender


_INT = 1 << 64


def decode_reading(data):
    """lightmeter.device.reading.decode, faster for the canonical case: cbor2 (C) decodes, the
    firmware's own field checks run, and the bytes must be the canonical encoding of what was
    decoded (then they are the firmware's too: a map of small integer keys to integers of at most
    64 bits and text has one deterministic encoding). With integer keys below 24 in ascending
    order, canonical CBOR is cbor2's plain encoding (shortest integers, definite lengths, the map
    in its order), so no sorting re-encode is needed. Anything else, including every error, is
    the firmware's decode's to answer."""
    from lightmeter.device import reading as reading_mod
    try:
        import cbor2
        m = cbor2.loads(data)
        if type(m) is dict and len(data) <= reading_mod.MAX_BYTES:
            reading_mod._check(m)  # keys 0..13, text or (non-bool) integer values
            keys = list(m)
            if (all(type(k) is int for k in keys) and keys == sorted(keys)
                    and all(-_INT <= v < _INT for v in m.values() if type(v) is int)
                    and cbor2.dumps(m) == data):
                return m
    except Exception:  # noqa: BLE001 (the firmware's decode below says what is wrong)
        pass
    return reading_mod.decode(data)


def evidence_text(batch_tx, index, signature):
    """A batch reading's own evidence; the batch's and the block's are stored once, beside it."""
    return '{"batch":"%s","leaf":%d,"signature":"%s","v":%d}' % (
        fields.hex0x(batch_tx), index, fields.hex0x(signature), EVIDENCE_VERSION)


# -- several processes -------------------------------------------------------------------------

PARALLEL_MIN = 256  # leaves in a batch before opening them in worker processes pays


def _worker_init(native):
    """A worker process's crypto: the native backends when the collector runs on them."""
    from lightmeter_host.chain import backends
    if native:
        backends.install()
    else:
        backends.uninstall()


def _open_chunk(args):
    """(reading, signature, sender, decoded reading or None) or (kind, reason) per leaf, with the
    crypto this process has installed."""
    from lightmeter.crypto import suite as suite_mod
    chain_id, group_id, registry, suite_name, leaves = args
    opener = LeafOpener(chain_id, group_id, registry, suite_mod.get(suite_name))
    out = []
    for leaf in leaves:
        try:
            reading, sig, sender = opener(leaf)
        except Refused as e:
            out.append((e.kind, e.reason))
            continue
        try:
            m = decode_reading(reading)
        except LightmeterError:
            m = None
        out.append((reading, sig, sender, m))
    return out


class Pool:
    """Leaves opened (signature recovered, reading decoded) in `processes` worker processes,
    in order; a batch smaller than PARALLEL_MIN is opened here."""

    def __init__(self, processes, native=True):
        import concurrent.futures
        import multiprocessing
        self.processes = processes
        # forkserver: the collector has threads (HTTP, a web page) that a fork would copy mid-step
        self.ex = concurrent.futures.ProcessPoolExecutor(processes, multiprocessing.get_context("forkserver"),
                                                         initializer=_worker_init, initargs=(native,))
        # start them now, imports and all, so that the first batch does not pay for it
        list(self.ex.map(_open_chunk, [("", "", bytes(20), "ecdsa", [])] * processes))

    def open(self, leaves, chain_id, group_id, registry, suite):
        if len(leaves) < PARALLEL_MIN:
            return _open_chunk((chain_id, group_id, registry, suite.name, leaves))
        step = -(-len(leaves) // (2 * self.processes))
        chunks = [(chain_id, group_id, bytes(registry), suite.name, leaves[i:i + step])
                  for i in range(0, len(leaves), step)]
        out = []
        for part in self.ex.map(_open_chunk, chunks):
            out += part
        return out

    def close(self):
        self.ex.shutdown()


class ThreadPool(Pool):
    """Pool's leaf opening in `threads` threads of this process: libsecp256k1 (cffi) and the
    Keccak core release the GIL while they work, and a signature recovery is most of a leaf's
    cost, so threads use both cores without a worker process's copying of leaves and results
    (bench/RESULTS.md, "Collector ingest of a fleet's batches")."""

    def __init__(self, threads):
        import concurrent.futures
        self.processes = threads
        self.ex = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="leaves")
