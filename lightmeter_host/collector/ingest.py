"""`lightmeter collect`: walk the chain block by block, verify every reading, store it with its
evidence, and move the trust checkpoint forward as the light client does.

Per block n (the checkpoint is at n - 1):
  1. header n: its parent is the checkpoint's block, its signatures a quorum of the checkpoint's
     sealer set (lightmeter.client.transition.verify_next, by evidence.check_header); the block's
     transaction hashes must make its txsRoot, so the node can hide no transaction;
  2. each transaction must hash to its listed hash: other contracts' from the block's own copy
     (getBlockByNumber with whole transactions: no look-up for a busy chain's background
     traffic), ours and the precompile's from getTransaction with its proof; MeterRegistry
     record() calls are checked by evidence.check_reading (proofs, signature, the Reading log),
     then against the fleet (sender known, reading decodes, its meter id and sequence number);
  3. consensus-precompile transactions (with their receipts) move the sealer set
     (transition.apply_set_changes);
  4. the block's readings, rejections, gaps, any set change (for offline re-verification) and
     the new checkpoint are committed in one transaction: a crash stores a block whole or not at
     all, so no reading is stored twice and none is skipped.

MeterRegistry recordBatch transactions anchor batches of device-signed readings (proto/batch.md):
each is proven like a reading transaction, its contents fetched from the concentrators
(batches.Fetcher), checked against the anchored root and count, and its readings stored with the
block; contents withheld or not matching stay a pending batch, fetched again by later runs
(retry_batches) and stored whole. Several workers may share one database, each on its own block
range with its own resume point (collect_range; docs/collector.md "Several workers").

A node that lies (evidence.NodeLie: a hash, signature, proof or quorum fails) stops the walk:
the lie is recorded in rejections, nothing of that block is stored, and the resume point stays
before it, so an honest node later fills it in. What the chain really holds but is not a good
reading (unknown device, malformed reading, wrong meter id, replay, duplicate, a reverted
transaction) is recorded in rejections and the walk goes on; sequence gaps go to gaps.
"""

import sys
import time

from lightmeter.chain import fields, header as header_mod, merkle
from lightmeter.chain import merklebuild
from lightmeter.device import reading as reading_mod
from lightmeter.chain import receipt as receipt_mod
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import transition, trust as trust_mod
from lightmeter.chain import txread
from lightmeter.errors import LightmeterError, Malformed, Unsupported

from lightmeter_host.collector import batches as batches_mod, evidence
from lightmeter_host.collector.db import DUPLICATE_KINDS, Duplicate
from lightmeter_host.collector.evidence import NodeLie, Refused

PRECOMPILE = transition.CONSENSUS_ADDRESS.decode()
INT64 = 1 << 63
INT32 = 1 << 31
PROGRESS_SECONDS = 2.0
# meters whose last seq the walker keeps at most (a city's millions are read again as met)
LAST_SEQ_KEPT = 1000000


class CollectError(Exception):
    """The walk cannot start: bad trust, fleet or database state (a usage error)."""


class Stopped(Exception):
    """The walk stopped at a block the node lied about; `lie` is the evidence.NodeLie."""

    def __init__(self, number, lie):
        super().__init__("block %d: %s" % (number, lie))
        self.number = number
        self.lie = lie


def _now_ms():
    return int(time.time() * 1000)


def _to_hex(to_bytes):
    """A transaction's `to` as 40 lowercase hex digits (no 0x), or "" if it has none."""
    s = to_bytes.decode("ascii", "replace").lower()
    return s[2:] if s.startswith("0x") else s


def _tx_hashes(block):
    """The transaction hashes of a getBlockByNumber(n, false, true) answer: a list of hashes
    (a node may also give objects carrying "hash")."""
    out = []
    for x in fields.array(fields.get(block, "transactions"), "transactions", 1 << 20):
        out.append(fields.hexbytes(x.get("hash") if isinstance(x, dict) else x, "transaction hash", 32))
    return out


def _require_proof(obj, key):
    """CollectError when the node prints no proof at all (FISCO BCOS < 3.2.0): not a lie, but
    nothing the collector can verify a reading with."""
    if isinstance(obj, dict) and obj.get(key) is None:
        try:
            merkle.from_json(obj, key)
        except Unsupported as e:
            raise CollectError(str(e))


def _proof(items, name, memo):
    """merkle.parse_proof, each distinct item parsed once per block (proofs share their upper levels)."""
    fields.array(items, name, 1 + 3 * merkle.MAX_DEPTH)
    if not items:
        raise Malformed("%s: empty" % name)
    out = []
    for x in items:
        b = memo.get(x) if isinstance(x, str) else None
        if b is None:
            b = fields.hexbytes(x, name + "[]", 32)
            if isinstance(x, str):
                memo[x] = b
        out.append(b)
    return out


def fleet_index(entries, trust):
    """({20-byte address: entry}, {registry hex (no 0x)}) of the fleet entries for trust's chain."""
    devices, registries = {}, set()
    for e in entries:
        if e["chain_id"] != trust.chain_id or e["group_id"] != trust.group_id:
            continue  # provisioned for another chain: not ours to accept here
        if e["suite"] != trust.crypto:
            raise CollectError("fleet entry %s (meter %s) is suite %s, the chain is %s"
                               % (e["address"], e["meter_id"], e["suite"], trust.crypto))
        devices[bytes.fromhex(e["address"][2:])] = e
        registries.add(e["registry"][2:].lower())
    if not devices:
        raise CollectError("the fleet has no device for chain %s group %s" % (trust.chain_id, trust.group_id))
    return devices, registries


def value_of(mantissa, scale):
    """mantissa * 10**scale as the nearest double (decimal text is rounded exactly once)."""
    return float("%de%d" % (mantissa, scale))


class _CommitFailed(Exception):
    """Block number's commit, run behind the walk (Walker.overlap), failed with error."""

    def __init__(self, number, error):
        super().__init__("block %d: %s" % (number, error))
        self.number, self.error = number, error


class _LeafFacts:
    """What a batch leaf gives the fleet checks (the fields of evidence.Facts they read)."""

    __slots__ = ("sender", "registry", "public_key", "reading", "seq")


class Walker:
    """The collector's state between blocks: the checkpoint, the fleet, each meter's last seq."""

    def __init__(self, db, source, trust, entries, progress=None, hook=None, fetch=None, block_range=None):
        """trust: the lightmeter.client.trust.Trust to start from when the database has none.
        block_range: (first, last) of a worker's range (collect_range): then trust is that
        range's resume point, and each block moves the range's row, not the state's checkpoint."""
        self.db = db
        self.source = source
        self.suite = suite_mod.get(trust.crypto)
        self.block_range = block_range
        # look every reading's (meter, seq) up in the database, not only those at or below the
        # meter's last seq seen here: set while a block is checked again after another worker
        # stored one of its readings first (walk)
        self.check_all = False
        stored = db.get_state("checkpoint") if block_range is None else None
        if stored is not None:
            cp = trust_mod.from_json(stored)
            if (cp.chain_id, cp.group_id, cp.crypto) != (trust.chain_id, trust.group_id, trust.crypto):
                raise CollectError("the database collects chain %s group %s (%s), the trust checkpoint "
                                   "is for chain %s group %s (%s)" % (cp.chain_id, cp.group_id, cp.crypto,
                                                                      trust.chain_id, trust.group_id,
                                                                      trust.crypto))
            self.trust = cp
        else:
            if trust.number is None or trust.hash is None:
                raise CollectError("the trust checkpoint has no number and hash: collecting needs a "
                                   "checkpoint at a block")
            self.trust = trust
        self.devices, self.registries = fleet_index(entries, self.trust)
        db.put_devices([{"address": e["address"], "meter_id": e["meter_id"], "public_key": e["public_key"],
                         "suite": e["suite"]} for e in self.devices.values()])
        # each meter's highest stored seq (None: it has none), read from the database the first
        # time the walk meets the meter (_know_last) and moved by a block's readings once they
        # are stored (a worker: of its own range's blocks only, which it walks in order)
        self.last_seq = {}
        # Collected from genesis, a meter's first reading above 1 means readings 1.. are missing
        # from the chain; collected from a later block they may simply be older than it.
        anchor = db.get_state("anchor")
        self.whole_history = (anchor["number"] if anchor is not None else self.trust.number) == 0
        if block_range is not None:
            # a worker sees its own range only: a meter's first reading in it says nothing of gaps
            self.whole_history = self.whole_history and block_range[0] == 1
        self.progress = progress
        self.hook = hook  # hook(stage, number): tests crash the walk with it
        self.metrics = None  # a collector.metrics.Ingest, when collect exposes metrics
        # batch contents (proto/batch.md): batches.Fetcher over the concentrators' URLs
        self.fetch = fetch or batches_mod.Fetcher()
        self.pool = None  # a batches.Pool: leaves opened in worker processes (set_parallel)
        # commit each block in a thread while the next one is checked (_commit_behind): the
        # database's work overlaps the walk's; what needs the stored state waits (_settle)
        self.overlap = False
        self._inflight = None
        self.totals = {"readings": 0, "verified": 0, "rejected": 0, "gaps": 0, "duplicates": 0,
                       "batches": 0, "batches_pending": 0}
        self.first = self.last = None

    @property
    def next_block(self):
        return self.trust.number + 1

    # -- one block ---------------------------------------------------------------------------

    def _decode(self, what, fn, *args):
        try:
            return fn(*args)
        except (LightmeterError, KeyError, TypeError, AttributeError, ValueError) as e:
            raise NodeLie("malformed", "%s: %s" % (what, e))

    def block(self, n):
        """Verify block n and commit it; raises NodeLie (nothing stored) on a lie."""
        suite, trust = evidence.MemoSuite(self.suite), self.trust
        hexmemo = {}
        hj = self.source.block(n)
        h = self._decode("block %d" % n, header_mod.from_json, hj, suite.node_sig_len)
        if h.number != n:
            raise NodeLie("bad_header", "asked for block %d, got block %d" % (n, h.number))
        if h.parents[0][1] != trust.hash:
            raise NodeLie("bad_header", "block %d's parent is not the checkpoint's block" % n)
        res = evidence.check_header(h, trust, suite)
        hashes = self._decode("transactions", _tx_hashes, hj)
        listed = hj.get("transactions") if isinstance(hj, dict) else None
        if merklebuild.root(hashes, suite.hash) != h.txs_root:
            raise NodeLie("incomplete_block", "the block's transaction list does not make its txsRoot")
        parts = None
        readings, rejections, gaps, changes, change_json = [], [], [], [], []
        anchored = []  # batches.Anchored of the block's recordBatch transactions
        pending = {}  # (meter_id, seq) -> row, this block's
        block_last = {}  # meter_id -> highest seq among this block's rows
        seen = 0  # record() calls
        now = _now_ms()
        for i, digest in enumerate(hashes):
            f = None
            hx = fields.hex0x(digest)
            if isinstance(listed[i], dict) and self._others(listed[i], digest, hx, suite):
                continue  # another contract's, proven the listed one from the block's own copy
            txj = self.source.tx(hx)
            tx = self._decode("transaction %s" % hx, txread.from_json, txj)
            to = _to_hex(tx["to"])
            if to != PRECOMPILE and to not in self.registries:
                # not ours, but it must be the listed transaction (a node could hide a reading by
                # changing its to field); ours are bound to position i by their proofs below
                if not txread.prove_hash(tx, suite, digest):
                    raise NodeLie("tampered_tx", "transaction %s does not hash to its listed hash" % hx)
                continue
            _require_proof(txj, "txProof")
            proof = self._decode("txProof", _proof, txj.get("txProof"), "txProof", hexmemo)
            rj = self.source.receipt(hx)
            _require_proof(rj, "txReceiptProof")
            r = self._decode("receipt %s" % hx, receipt_mod.from_json, rj)
            rproof = self._decode("txReceiptProof", _proof, rj.get("txReceiptProof"), "txReceiptProof", hexmemo)
            if to == PRECOMPILE:
                _, _, pos = evidence.check_tx(tx, proof, h, trust, suite, i)
                try:
                    rdigest = evidence.check_receipt(r, rproof, h, suite, pos)
                except Refused:
                    continue  # a failed change changes nothing
                changes.append((tx, proof, r, rproof))
                change_json.append({"tx": evidence.tx_json(tx, suite, digest, txread.sender(tx, suite, digest), proof),
                                    "receipt": evidence.receipt_json(r, rdigest, rproof)})
                continue
            if batches_mod.batch_call(tx, suite) is not None:
                try:
                    anchored.append(batches_mod.check_anchor(h, trust, suite, tx, proof, r, rproof, i,
                                                             bytes.fromhex(to)))
                except Refused:
                    pass  # a batch the registry refused anchors nothing
                continue
            try:
                f = evidence.check_reading(h, trust, suite, tx, proof, r, rproof, i)
                if f is None:
                    continue  # another MeterRegistry method
                seen += 1
                if parts is None:
                    parts = evidence.block_parts(h, res.hash, trust.sealers)
                row = self._reading_row(f, h, parts, now, pending)
            except Refused as e:
                if f is None:
                    seen += 1  # a record() call that failed before its facts
                rejections.append(self._rejection(e, n, hx, f, now))
                continue
            gap = self._gap(row, block_last)
            if gap:
                gaps.append(gap)
            pending[(row["meter_id"], row["seq"])] = row
            readings.append(row)
        try:
            new = transition.apply_set_changes(trust, h, changes, suite)
        except LightmeterError as e:
            raise NodeLie("bad_set_change", str(e))
        block_rows, batch_rows = [], []
        if anchored:
            parts = parts or evidence.block_parts(h, res.hash, trust.sealers)
            block_rows.append({"block_number": n, "header": parts[0], "sealers": parts[1]})
            for a in anchored:
                batch_rows.append(self._batch(a, now, pending, block_last, readings, rejections, gaps))
                seen += a.count if batch_rows[-1]["state"] == "stored" else 0
        checkpoint = None
        if changes:
            checkpoint = {"block_number": n, "header": evidence.dumps(evidence.header_json(h, res.hash)),
                          "changes": evidence.dumps(change_json), "sealers": evidence.dumps(
                              evidence.sealers_json(new.sealers))}
        before = (lambda: self.hook("inside_commit", n)) if self.hook else None
        if self.block_range is None:
            state, moved = {"checkpoint": new.to_json()}, None
        else:
            state, moved = None, (self.block_range[0], new.to_json())
        args = (readings, rejections, gaps, checkpoint, state)
        kw = {"before_commit": before, "blocks": block_rows, "batches": batch_rows, "range_checkpoint": moved}

        def stored():
            # counted once stored: a crash before this point leaves no trace in the totals
            for row in readings:
                self._moved_last(row)
            self._count(seen, readings, rejections, gaps)
            for b in batch_rows:
                self.totals["batches" if b["state"] == "stored" else "batches_pending"] += 1
            self.trust = new
            if self.metrics is not None:
                self.metrics.block(seen, readings, rejections, gaps)
            self.first = n if self.first is None else self.first
            self.last = n
            if self.hook:
                self.hook("after_commit", n)
        self._settle()  # a block without readings has not waited for the one before yet
        if self.overlap:
            self._commit_behind(n, args, kw, stored)
            self.trust = new  # the next block's header is checked against it meanwhile
        else:
            self.db.commit_block(*args, **kw)
            stored()

    # -- the commit overlapped with the next block (overlap) ------------------------------------

    def _commit_behind(self, n, args, kw, stored):
        """Commit block n in a thread while the walk checks block n + 1's header, proofs and batch
        leaves (none of which reads the database or a meter's last seq); _settle waits for it."""
        import threading
        box = {}

        def run():
            try:
                self.db.commit_block(*args, **kw)
            except BaseException as e:  # noqa: BLE001 (handed to _settle, in the walk's thread)
                box["error"] = e
        t = threading.Thread(target=run, name="commit-%d" % n, daemon=True)
        self._inflight = (n, t, box, stored, self.trust)
        t.start()

    def _settle(self):
        """Wait for the block committing behind the walk: its bookkeeping once it is stored, or
        _CommitFailed with the walker put back before it (nothing of it stored)."""
        f, self._inflight = self._inflight, None
        if f is None:
            return
        n, t, box, stored, before = f
        t.join()
        if "error" in box:
            self.trust = before
            raise _CommitFailed(n, box["error"])
        stored()

    def _count(self, seen, readings, rejections, gaps):
        self.totals["readings"] += seen
        self.totals["verified"] += len(readings)
        self.totals["gaps"] += len(gaps)
        for rj in rejections:
            self.totals["duplicates" if rj["kind"] in DUPLICATE_KINDS else "rejected"] += 1

    # -- batches (proto/batch.md, docs/collector.md "Batches") ------------------------------------

    def _batch(self, a, now, pending, block_last, readings, rejections, gaps):
        """The batches row of a proven recordBatch; its readings, rejections and gaps added to the
        block's lists when its contents are had and make its root, else the batch is pending."""
        row = {"tx_hash": fields.hex0x(a.tx_hash), "block_number": a.block_number, "tx_index": a.index,
               "root": fields.hex0x(a.root), "count": a.count, "submitter": fields.hex0x(a.submitter),
               "registry": fields.hex0x(a.registry), "tx": a.tx_text, "receipt": a.receipt_text,
               "leaves": None, "state": "pending", "kind": None, "reason": None, "attempts": 1, "readings": 0,
               "collected_at": now}
        try:
            leaves, hashes = self.fetch(a.root, a.count, self.suite)
        except batches_mod.Unavailable as e:
            row["kind"], row["reason"] = e.kind, e.reason
            rejections.append({"meter_id": None, "address": None, "seq": None, "block_number": a.block_number,
                               "tx_hash": row["tx_hash"], "kind": e.kind, "reason": e.reason, "collected_at": now})
            return row
        rs, rj, gs = self._leaf_rows(a, leaves, hashes, now, pending, block_last)
        readings += rs
        rejections += rj
        gaps += gs
        row.update(state="stored", leaves=b"".join(hashes), readings=len(rs))
        return row

    def _leaf_rows(self, a, leaves, hashes, now, pending, block_last):
        """(readings, rejections, gaps) of a batch's checked contents: each signed reading opened
        (its signer from its signature) and put through the fleet checks of a reading transaction."""
        readings, rejections, gaps = [], [], []
        sm = self.suite.name == "sm"
        if self.pool is not None:
            opened = self.pool.open(leaves, self.trust.chain_id, self.trust.group_id, a.registry, self.suite)
        else:
            opened = batches_mod._open_chunk((self.trust.chain_id, self.trust.group_id, a.registry,
                                              self.suite.name, leaves))
        self._settle()  # opened while the block before was committing; the checks below need it stored
        self._know_last(self.devices[got[2]]["meter_id"] for got in opened
                        if len(got) == 4 and got[2] in self.devices)
        batch_tx = fields.hex0x(a.tx_hash)
        for i, got in enumerate(opened):
            lh = fields.hex0x(hashes[i])
            f = _LeafFacts()
            f.sender = f.seq = None
            try:
                if len(got) == 2:
                    raise Refused(*got)  # the leaf does not open: no signer
                f.reading, sig, f.sender, m = got
                f.public_key = bytes(sig[64:]) if sm else None
                f.registry = a.registry
                f.seq = m[reading_mod.SEQ] if m else None  # no m: _fleet_checks refuses it as malformed
                entry, m = self._fleet_checks(f, m)
                self._check_new(entry["meter_id"], entry["address"], f, pending)
            except Refused as e:
                rejections.append(self._rejection(e, a.block_number, lh, f if f.sender else None, now))
                continue
            row = self._row(entry, m, f.seq, a.block_number, a.index, lh, f.reading,
                            batches_mod.evidence_text(a.tx_hash, i, sig), now)
            row["batch_tx"], row["leaf_index"] = batch_tx, i
            gap = self._gap(row, block_last)
            if gap:
                gaps.append(gap)
            pending[(row["meter_id"], row["seq"])] = row
            readings.append(row)
        return readings, rejections, gaps

    def set_parallel(self, processes, threads=False):
        """Open large batches' leaves in this many worker processes (1: here, in this one), or
        in this many threads of this process (threads=True; batches.ThreadPool)."""
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        if processes > 1 and threads:
            self.pool = batches_mod.ThreadPool(processes)
        elif processes > 1:
            from lightmeter_host.chain import backends
            # the workers use the crypto this process uses (native unless --pure)
            self.pool = batches_mod.Pool(processes, backends.installed())

    def close(self):
        self.set_parallel(1)

    def retry_batches(self):
        """Fetch again the contents of every pending batch (withheld or mismatching before); each
        one whose contents now make its root is stored whole, in one transaction."""
        now = _now_ms()
        for b in self.db.pending_batches():
            a = batches_mod.Anchored()
            a.tx_hash, a.root = bytes.fromhex(b["tx_hash"][2:]), bytes.fromhex(b["root"][2:])
            a.registry, a.submitter = bytes.fromhex(b["registry"][2:]), bytes.fromhex(b["submitter"][2:])
            a.count, a.index, a.block_number = b["count"], b["tx_index"], b["block_number"]
            try:
                leaves, hashes = self.fetch(a.root, a.count, self.suite)
            except batches_mod.Unavailable as e:
                self.db.batch_failed(b["tx_hash"], e.kind, e.reason)
                continue
            rs, rj, gs = self._leaf_rows(a, leaves, hashes, now, {}, {})
            # a worker's sequence view is its own range's: a batch of another range opens no gap
            # and moves none of its meters' last seq
            mine = self.block_range is None or self.block_range[0] <= a.block_number <= self.block_range[1]
            if not mine:
                gs = []
            before = (lambda: self.hook("inside_batch", a.block_number)) if self.hook else None
            try:
                done = self.db.store_batch(b["tx_hash"], b"".join(hashes), rs, rj, gs, before_commit=before)
            except Duplicate:
                # a reading of it was stored meanwhile (another worker): look each one up, once more
                self.check_all = True
                try:
                    rs, rj, gs = self._leaf_rows(a, leaves, hashes, now, {}, {})
                finally:
                    self.check_all = False
                done = self.db.store_batch(b["tx_hash"], b"".join(hashes), rs, rj, gs if mine else [])
            if done:
                for row in rs if mine else ():
                    self._moved_last(row)
                self._count(len(leaves), rs, rj, gs)
                self.totals["batches"] += 1

    def _others(self, txj, digest, hx, suite):
        """True when a transaction object of the block (getBlockByNumber with whole transactions)
        goes to neither a registry nor the consensus precompile and hashes to its listed hash: the
        block's background traffic, settled without a look-up. Ours (False) are looked up with
        their proofs; an object that does not hash to its listed hash is the node's lie."""
        tx = self._decode("transaction %s" % hx, txread.from_json, txj)
        to = _to_hex(tx["to"])
        if to == PRECOMPILE or to in self.registries:
            return False
        if not txread.prove_hash(tx, suite, digest):
            raise NodeLie("tampered_tx", "transaction %s does not hash to its listed hash" % hx)
        return True

    def _rejection(self, e, n, hx, f, now):
        meter = address = None
        sender = f.sender if f is not None else getattr(e, "sender", None)
        seq = f.seq if f is not None else getattr(e, "seq", None)
        if sender is not None:
            address = fields.hex0x(sender)
            entry = self.devices.get(sender)
            meter = entry["meter_id"] if entry else None
        return {"meter_id": meter, "address": address, "seq": seq, "block_number": n, "tx_hash": hx,
                "kind": e.kind, "reason": e.reason, "collected_at": now}

    def _reading_row(self, f, h, parts, now, pending):
        self._settle()  # the fleet checks read the stored readings and each meter's last seq
        entry, m = self._fleet_checks(f)
        self._know_last((entry["meter_id"],))
        self._check_new(entry["meter_id"], entry["address"], f, pending)
        return self._row(entry, m, f.seq, h.number, f.index, fields.hex0x(f.tx_hash), f.reading,
                         evidence.bundle_text(parts, f, self.suite), now)

    def _fleet_checks(self, f, m=None):
        """(fleet entry, decoded reading) of a signed reading (f: sender, registry, public_key,
        reading, seq; m: the reading already decoded, if it was); Refused if it is no good
        reading of the fleet."""
        entry = self.devices.get(f.sender)
        if entry is None:
            raise Refused("unknown_device", "sender %s is not in the fleet" % fields.hex0x(f.sender))
        if entry["registry"][2:].lower() != f.registry.hex():
            raise Refused("wrong_registry", "the device of meter %s records to %s, not to 0x%s"
                          % (entry["meter_id"], entry["registry"], f.registry.hex()))
        if f.public_key is not None and fields.hex0x(f.public_key) != entry["public_key"]:
            raise Refused("unknown_device", "signed with a key that is not the fleet's for %s" % entry["address"])
        try:
            m = m or reading_mod.decode(f.reading)
        except LightmeterError as e:
            raise Refused("malformed", "reading: %s" % e)
        R = reading_mod
        if m[R.SEQ] != f.seq:
            raise Refused("seq_mismatch", "the reading says seq %d, the record() call %d" % (m[R.SEQ], f.seq))
        if m[R.METER_ID] != entry["meter_id"]:
            raise Refused("wrong_meter", "reading of meter %r signed by the device of meter %r"
                          % (m[R.METER_ID], entry["meter_id"]))
        if m[R.SUITE] != self.suite.name:
            raise Refused("malformed", "reading says suite %s on a %s chain" % (m[R.SUITE], self.suite.name))
        for k, name in ((R.VALUE, "value"), (R.TIME, "time")):
            if not -INT64 <= m[k] < INT64:
                raise Refused("unsupported", "reading %s %d does not fit 64 bits" % (name, m[k]))
        if m[R.STATUS] >= INT32:  # the status column is a 32-bit INTEGER (flags use bits 0-3)
            raise Refused("unsupported", "reading status %d does not fit 31 bits" % m[R.STATUS])
        if f.seq >= INT64:
            raise Refused("unsupported", "seq %d does not fit 64 bits" % f.seq)
        return entry, m

    def _row(self, entry, m, seq, block_number, tx_index, tx_hash, reading, evidence_text, now):
        R = reading_mod
        return {"meter_id": entry["meter_id"], "address": entry["address"], "seq": seq, "obis": m[R.OBIS],
                "value": value_of(m[R.VALUE], m[R.SCALE]), "mantissa": m[R.VALUE], "scale": m[R.SCALE],
                "unit": m[R.UNIT], "ts": m[R.TIME], "clock": m[R.CLOCK], "status": m[R.STATUS],
                "block_number": block_number, "tx_index": tx_index, "tx_hash": tx_hash,
                "reading": bytes(reading), "evidence": evidence_text, "verified": True, "collected_at": now}

    def _know_last(self, meters):
        """Read the last seq of the meters not yet known from the database (after _settle: the
        blocks before are stored). Known ones stay as the walk moved them; past LAST_SEQ_KEPT
        meters the lot is dropped and read again as met (the database holds every stored one)."""
        new = {m for m in meters if m not in self.last_seq}
        if not new:
            return
        if len(self.last_seq) + len(new) > LAST_SEQ_KEPT:
            self.last_seq.clear()
        self.last_seq.update(self.db.last_seqs(new, self.block_range))

    def _moved_last(self, row):
        """A stored row moves its meter's last seq, if the meter is known here (one that is not
        is read from the database when next met, this row included)."""
        m = row["meter_id"]
        if m in self.last_seq:
            last = self.last_seq[m]
            if last is None or row["seq"] > last:
                self.last_seq[m] = row["seq"]

    def _check_new(self, meter, address, f, pending):
        """Refused("replay" | "duplicate") if the meter already has a reading with this seq."""
        seq = f.seq
        old = pending.get((meter, seq))
        if old is None and (self.check_all or seq <= (self.last_seq.get(meter) or 0)):
            rows = self.db.query("SELECT tx_hash, reading FROM readings WHERE meter_id = ? AND seq = ?",
                                 (meter, seq))
            old = rows[0] if rows else None
            if old is None and self.db.query("SELECT id FROM readings WHERE address = ? AND seq = ?",
                                             (address, seq)):
                raise Refused("duplicate", "address %s already has a reading with seq %d" % (address, seq))
        if old is None:
            return
        if bytes(old["reading"]) == bytes(f.reading):
            raise Refused("replay", "meter %s's reading %d, already stored from %s, presented again"
                          % (meter, seq, old["tx_hash"]))
        raise Refused("duplicate", "meter %s already has another reading with seq %d (%s)"
                      % (meter, seq, old["tx_hash"]))

    def _gap(self, row, block_last):
        """The gap before row, if its seq jumps over the meter's last one (stored, or earlier in
        this block); block_last follows the block's rows."""
        meter, seq = row["meter_id"], row["seq"]
        last = block_last.get(meter, self.last_seq.get(meter))
        if last is None or seq > last:
            block_last[meter] = seq
        if last is None and not self.whole_history:
            return None  # its first reading since the anchor: nothing known before it
        last = last or 0
        if seq > last + 1:
            return {"meter_id": meter, "address": row["address"], "after_seq": last, "before_seq": seq,
                    "block_number": row["block_number"]}
        return None

    # -- the walk -----------------------------------------------------------------------------

    def record_lie(self, n, lie):
        """Store the node's lie as a rejection (its own transaction: the block itself is not stored)."""
        self.db.add_rejections([{"meter_id": None, "address": None, "seq": None, "block_number": n,
                                 "tx_hash": "", "kind": lie.kind, "reason": lie.reason,
                                 "collected_at": _now_ms()}])
        self.totals["rejected"] += 1
        if self.metrics is not None:
            self.metrics.lie(lie.kind)

    def walk(self, to=None):
        """Blocks from the checkpoint's next to `to` (default: the node's head). Raises Stopped."""
        try:
            head = self._walk(to)
            try:
                self._settle()
            except _CommitFailed as e:
                self._commit_failed(e)
            return head
        finally:
            if self._inflight is not None:  # the walk is leaving on another error
                try:
                    self._settle()
                except _CommitFailed as e:
                    raise e.error

    def _commit_failed(self, e):
        """A block committed behind the walk failed: the walker is back before it. Another worker's
        reading stored first (Duplicate, on a block range) is checked again as walk does; any
        other failure is the walk's."""
        if not isinstance(e.error, Duplicate) or self.block_range is None:
            raise e.error
        self.check_all, overlap, self.overlap = True, self.overlap, False  # this once, committed here
        try:
            self.block(e.number)
        finally:
            self.check_all, self.overlap = False, overlap

    def _walk(self, to):
        head = self.source.head() if to is None else to
        t_last = time.monotonic()
        start = self.next_block
        if self.block_range is not None:
            head = min(head, self.block_range[1])
        if self.metrics is not None:
            self.metrics.position(self.trust.number, head)
        while self.next_block <= head:
            n = self.next_block
            try:
                self.block(n)
            except _CommitFailed as e:  # the block before n, committed behind
                self._commit_failed(e)
                continue
            except NodeLie as lie:
                try:
                    self._settle()
                except _CommitFailed as e:
                    self._commit_failed(e)
                    continue  # block n is checked again after the one before it
                self.record_lie(n, lie)
                raise Stopped(n, lie)
            except Duplicate:
                if self.block_range is None:
                    raise
                # another worker stored one of this block's readings first (nothing of the block
                # is stored): check the block again, every reading looked up in the database
                self.check_all = True
                try:
                    self.block(n)
                finally:
                    self.check_all = False
            if self.metrics is not None:
                self.metrics.position(n, head)
            if self.progress and (time.monotonic() - t_last >= PROGRESS_SECONDS):
                t_last = time.monotonic()
                self.progress(n, head, start, self.totals)
        return head

    def summary(self):
        out = dict(self.totals)
        out["batches_pending"] = len(self.db.pending_batches())
        out["from_block"] = self.first
        out["to_block"] = self.last
        out["checkpoint"] = self.trust.number
        return out


def stderr_progress(n, head, start, totals):
    print("collect: block %d of %d (%d readings verified, %d rejected, %d gaps, %d duplicates)"
          % (n, head, totals["verified"], totals["rejected"], totals["gaps"], totals["duplicates"]),
          file=sys.stderr, flush=True)


def _sync_to(trust, rpc_url, number, progress):
    """trust moved to block number by lightmeter.client.sync (skipping) over the node's JSON-RPC."""
    import asyncio

    from lightmeter.client import sync
    from lightmeter_host.chain.rpc import Rpc
    from lightmeter_host.lightclient import syncsource
    src = syncsource.RpcSource(Rpc(rpc_url), suite_mod.get(trust.crypto))
    new, _ = asyncio.run(sync.sync(trust, suite_mod.get(trust.crypto), src, "skipping", number))
    return new


def open_walker(db, source, trust, entries, from_block=None, rpc_url=None, progress=None, hook=None, fetch=None):
    """A Walker on db, resuming from its stored checkpoint or starting from trust (or from block
    from_block, the checkpoint synced there by skipping over rpc_url). Stores the anchor."""
    if isinstance(trust, dict):
        try:
            trust = trust_mod.from_json(trust)
        except LightmeterError as e:
            raise CollectError("trust checkpoint: %s" % e)
    stored = db.get_state("checkpoint")
    if stored is None and db.ranges():
        raise CollectError("this database is collected by workers on block ranges (collect --range)")
    if stored is not None:
        nxt = stored["number"] + 1
        if from_block is not None and from_block != nxt:
            raise CollectError("the database resumes at block %d; --from %d would %s" % (
                nxt, from_block, "collect blocks twice" if from_block < nxt else "skip blocks"))
    elif from_block is not None:
        if trust.number is None:
            raise CollectError("the trust checkpoint has no number and hash to start from")
        if from_block <= trust.number:
            raise CollectError("--from %d is not above the trust checkpoint's block %d" % (from_block, trust.number))
        if from_block > trust.number + 1:
            if rpc_url is None:
                raise CollectError("--from above the checkpoint's next block needs a node to sync with")
            trust = _sync_to(trust, rpc_url, from_block - 1, progress)
    w = Walker(db, source, trust, entries, progress, hook, fetch)
    if stored is None:
        db.commit_block(state={"anchor": w.trust.to_json(), "checkpoint": w.trust.to_json()})
    return w


def collect(rpc_url, trust, fleet_entries, db_url, from_block=None, to_block=None, follow=False,
            interval=2.0, pure=False, progress=None, stop=None, source=None, batch_urls=(), fetch=None,
            parallel=1, metrics=None, threads=False, overlap=False):
    """Collect from the node at rpc_url into db_url; returns the summary dict.

    batch_urls: concentrators serving batch contents (proto/batch.md); pending batches are
    fetched again before each walk (fetch: a batches.Fetcher to use instead). parallel: worker
    processes that open large batches' leaves (1: none); threads: open them in that many threads
    of this process instead (batches.ThreadPool). overlap: commit each block in a thread while
    the next one is checked (Walker.overlap; a block asked of the node is then no sign that the
    one before it is stored).
    trust: a TRUST.json object (or Trust); fleet_entries: lightmeter_host.hardware.fleet entries. follow:
    keep polling every interval seconds until stop (a threading.Event) is set or Ctrl-C.
    The summary has "readings", "verified", "rejected", "gaps", "duplicates", "batches" (stored),
    "batches_pending" (in the database), "from_block", "to_block", "checkpoint", and "stopped"
    {block, kind, reason} when a node's lie stopped the walk. metrics: a collector.metrics.Ingest
    the walk keeps up to date. Raises CollectError (bad input), ConnectionError / chain.rpc.NodeError (node unreachable).
    """
    from lightmeter_host.chain import backends
    from lightmeter_host.collector import db as db_mod, source as source_mod

    if pure:
        backends.uninstall()
    else:
        backends.install()
    database = db_mod.open_db(db_url)
    try:
        src = source or source_mod.RpcSource(rpc_url)
        w = open_walker(database, src, trust, fleet_entries, from_block, rpc_url, progress,
                        fetch=fetch or batches_mod.Fetcher(batch_urls))
        w.set_parallel(parallel, threads)
        w.overlap = overlap
        w.metrics = metrics
        from lightmeter_host.chain.rpc import NodeError
        try:
            while True:
                try:
                    w.retry_batches()
                    w.walk(to_block)
                except (ConnectionError, NodeError) as e:
                    if not follow:
                        raise
                    if metrics is not None:
                        metrics.node_error()
                    # a follower outlives a node restart: what is stored stays, the walk resumes
                    print("collect: the node failed (%s); trying again in %g s" % (e, interval),
                          file=sys.stderr, flush=True)
                if not follow or (stop is not None and stop.is_set()):
                    break
                if stop is not None:
                    if stop.wait(interval):
                        break
                else:
                    time.sleep(interval)
        except Stopped as e:
            out = w.summary()
            out["stopped"] = {"block": e.number, "kind": e.lie.kind, "reason": e.lie.reason}
            return out
        except KeyboardInterrupt:
            pass
        finally:
            w.close()
        return w.summary()
    finally:
        database.close()


# -- several workers, one database (docs/collector.md "Several workers") ------------------------

class _CallRpc:
    """chain.rpc.Rpc's interface (call, head, received) over a source's call function, for
    lightmeter.client.sync's node source."""

    def __init__(self, call):
        self.call = call
        self.received = 0

    def __call__(self, method, *params):
        return self.call(method, *params)

    def head(self):
        return self.call("getBlockNumber")


def _sync_over(trust, source, number):
    """trust moved to block number by skipping sync, over the collector's source."""
    import asyncio

    from lightmeter.client import sync
    from lightmeter_host.lightclient import syncsource
    call = source.call if hasattr(source, "call") else source.rpc
    suite = suite_mod.get(trust.crypto)
    new, _ = asyncio.run(sync.sync(trust, suite, syncsource.RpcSource(_CallRpc(call), suite), "skipping", number))
    return new


def plan_ranges(first, last, workers):
    """[(first, last)] of `workers` contiguous block ranges covering first..last."""
    if last < first:
        return []
    size = -(-(last - first + 1) // workers)
    return [(a, min(a + size - 1, last)) for a in range(first, last + 1, size)]


def open_range(db, source, trust, entries, first, last, worker=None, progress=None, hook=None, fetch=None):
    """A Walker on block range first..last of db: resuming from the range's row, or (a new range)
    from trust moved to block first - 1 by skipping sync and stored as the range's row. The
    database's anchor is trust (the first range's start) when it has none. CollectError for a
    range that overlaps another or was planned with another end."""
    if isinstance(trust, dict):
        try:
            trust = trust_mod.from_json(trust)
        except LightmeterError as e:
            raise CollectError("trust checkpoint: %s" % e)
    if trust.number is None or first <= trust.number or last < first:
        raise CollectError("block range %d..%d is not above the trust checkpoint's block %s"
                           % (first, last, trust.number))
    if db.get_state("checkpoint") is not None:
        raise CollectError("this database is collected by one walker (state checkpoint): no block ranges")
    if db.get_state("anchor") is None:
        try:
            db.commit_block(state={"anchor": trust.to_json()})
        except Duplicate:
            pass  # another worker stored it a moment ago
    anchor = db.get_state("anchor")
    if anchor != trust.to_json():
        raise CollectError("the database's trust anchor is block %s, the trust checkpoint block %s: all "
                           "workers start from the same one" % (anchor.get("number"), trust.number))
    mine = None
    for r in db.ranges():
        if r["first_block"] == first:
            mine = r
        elif r["first_block"] <= last and first <= r["last_block"]:
            raise CollectError("block range %d..%d overlaps range %d..%d"
                               % (first, last, r["first_block"], r["last_block"]))
    if mine is None:
        start = trust if first == trust.number + 1 else _sync_over(trust, source, first - 1)
        try:
            db.add_range(first, last, start.to_json(), worker)
        except Duplicate:
            pass  # another worker made the very same range a moment ago: it is ours to resume
        mine = [r for r in db.ranges() if r["first_block"] == first][0]
    if mine["last_block"] != last:
        raise CollectError("block range %d.. ends at %d, not %d" % (first, mine["last_block"], last))
    cp = trust_mod.from_json(mine["checkpoint"])
    return Walker(db, source, cp, entries, progress, hook, fetch, block_range=(first, last))


def collect_range(source, trust, entries, db_url, first, last, batch_urls=(), worker=None, progress=None,
                  parallel=1, threads=False, overlap=False):
    """One worker: collect blocks first..last into db_url from its range's resume point; the summary.
    A range collected whole is done: running it again stores nothing."""
    from lightmeter_host.chain import backends
    from lightmeter_host.collector import db as db_mod

    backends.install()
    database = db_mod.open_db(db_url)
    try:
        w = open_range(database, source, trust, entries, first, last, worker, progress,
                       fetch=batches_mod.Fetcher(batch_urls))
        w.set_parallel(parallel, threads)
        w.overlap = overlap
        try:
            w.retry_batches()
            w.walk(last)
        except Stopped as e:
            out = w.summary()
            out["stopped"] = {"block": e.number, "kind": e.lie.kind, "reason": e.lie.reason}
            return out
        finally:
            w.close()
        return w.summary()
    finally:
        database.close()
