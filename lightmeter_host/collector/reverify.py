"""`lightmeter collector verify`: re-check every stored reading from its stored evidence alone.

No node is asked. The trust anchor the collection started from (stored, or TRUST.json, which
must then be that anchor) is carried forward through the stored sealer-set changes, each
re-proven (its header under the set before it, its precompile transactions and receipts by
Merkle proof: transition.apply_set_changes). Then each reading's bundle is re-verified
(evidence.verify_bundle: header quorum, proofs, signature, the Reading log, canonical text),
its sealer set must be the one the chain of changes gives for its block, and every column of
the row must be what the signed reading and the bundle say.

The report names each bad row: its id, meter_id, seq and the check that failed.
"""

import json
import sys
import time

from lightmeter.chain import batchtree, header as header_mod, merkle, receipt as receipt_mod
from lightmeter.client import batch as batch_mod
from lightmeter.device import reading as reading_mod
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import transition, trust as trust_mod
from lightmeter.chain import tx as tx_mod
from lightmeter.chain import txread
from lightmeter.errors import LightmeterError

from lightmeter_host.collector import evidence
from lightmeter_host.collector.ingest import value_of

BATCH = 500
PROGRESS_SECONDS = 2.0
COLUMNS = ("id", "meter_id", "address", "seq", "obis", "value", "mantissa", "scale", "unit", "ts", "clock",
           "status", "block_number", "tx_index", "tx_hash", "reading", "evidence", "batch_tx", "leaf_index")


class VerifyError(Exception):
    """Nothing to verify against: no anchor, or a TRUST.json that is not the anchor (usage)."""


def _checkpoint_sets(database, anchor, suite, problems):
    """[(number, sealers)]: the set that signs blocks above number, from the anchor on, as far
    as the stored changes re-verify. A change that fails is added to problems and ends the list."""
    sets = [(anchor.number, list(anchor.sealers))]
    current = evidence.trust_for(anchor, anchor.sealers)
    for cp in database.query("SELECT block_number, header, changes, sealers FROM checkpoints "
                             "ORDER BY block_number"):
        n = cp["block_number"]
        try:
            if n <= sets[-1][0]:
                raise evidence.Rejected("checkpoint", "not above the previous one")
            h = header_mod.from_json(json.loads(cp["header"]), suite.node_sig_len)
            res = evidence.check_header(h, current, suite)
            if h.number != n:
                raise evidence.Rejected("checkpoint", "header %d stored as block %d" % (h.number, n))
            items, rebuilt = [], []
            for c in json.loads(cp["changes"]):
                tx = txread.from_json(c["tx"])
                tp = merkle.parse_proof(c["tx"]["txProof"], "txProof")
                r = receipt_mod.from_json(c["receipt"])
                rp = merkle.parse_proof(c["receipt"]["txReceiptProof"], "txReceiptProof")
                items.append((tx, tp, r, rp))
                digest = tx_mod.tx_hash(tx, suite)
                rebuilt.append({"tx": evidence.tx_json(tx, suite, digest, txread.sender(tx, suite, digest), tp),
                                "receipt": evidence.receipt_json(r, r.hash(suite), rp)})
            new = transition.apply_set_changes(current, h, items, suite)
            if (evidence.dumps(evidence.header_json(h, res.hash)) != cp["header"]
                    or evidence.dumps(rebuilt) != cp["changes"]
                    or evidence.dumps(evidence.sealers_json(new.sealers)) != cp["sealers"]):
                raise evidence.Rejected("canonical", "the stored change is not the canonical text of its content")
        except evidence.Rejected as e:
            problems.append({"checkpoint": n, "check": e.kind, "reason": e.reason})
            break
        except (LightmeterError, ValueError, KeyError, TypeError, AttributeError) as e:
            problems.append({"checkpoint": n, "check": "checkpoint", "reason": str(e)})
            break
        sets.append((n, list(new.sealers)))
        current = evidence.trust_for(anchor, new.sealers)
    return sets


def _set_for(sets, block):
    """The sealer set that signs block (None below the anchor)."""
    found = None
    for number, sealers in sets:
        if number < block:
            found = sealers
        else:
            break
    return found


def check_row(row, anchor, suite, sets, devices, fleet=None):
    """None if the row is good, else (check, reason)."""
    try:
        got = evidence.verify_bundle(row["evidence"], anchor, suite)
    except evidence.Rejected as e:
        return e.kind, e.reason
    f, h = got.facts, got.header
    want = _set_for(sets, h.number)
    if want is None:
        return "sealers", "block %d is not above the trust anchor's block %d" % (h.number, anchor.number)
    if got.sealers != want:
        return "sealers", "the bundle's sealer set is not the one the trust anchor's chain gives for block %d" % h.number
    try:
        m = reading_mod.decode(f.reading)
    except LightmeterError as e:
        return "reading", str(e)
    R = reading_mod
    address = "0x" + f.sender.hex()
    expect = {"block_number": h.number, "tx_hash": "0x" + f.tx_hash.hex(), "tx_index": f.index,
              "address": address, "seq": f.seq, "reading": bytes(f.reading), "meter_id": m[R.METER_ID],
              "obis": m[R.OBIS], "unit": m[R.UNIT], "ts": m[R.TIME], "clock": m[R.CLOCK], "status": m[R.STATUS],
              "mantissa": m[R.VALUE], "scale": m[R.SCALE], "value": value_of(m[R.VALUE], m[R.SCALE])}
    if m[R.SEQ] != f.seq:
        return "seq", "the reading says seq %d, the record() call %d" % (m[R.SEQ], f.seq)
    for k, v in expect.items():
        have = bytes(row[k]) if k == "reading" else row[k]
        if have != v or type(have) is not type(v):
            return k, "column %s is %r, the signed reading says %r" % (k, have if k != "reading" else "...",
                                                                     v if k != "reading" else "...")
    if row.get("batch_tx") is not None or row.get("leaf_index") is not None:
        return "batch", "a reading of its own transaction that names a batch"
    return _device(address, m[R.METER_ID], f.public_key, f.registry, devices, fleet)


def _device(address, meter, public_key, registry, devices, fleet):
    """None if address is the stored fleet's (and the given manifest's) device of meter."""
    dev = devices.get(address)
    if dev is None or dev["meter_id"] != meter:
        return "device", "%s is not a fleet device of meter %s" % (address, meter)
    if public_key is not None and "0x" + public_key.hex() != dev["public_key"]:
        return "device", "signed with a key that is not the fleet's for %s" % address
    if fleet is not None:
        e = fleet.get(address)
        if e is None or e["meter_id"] != meter or e["registry"][2:].lower() != registry.hex():
            return "fleet", "%s is not in the fleet as meter %s of registry 0x%s" % (address, meter, registry.hex())
    return None


class _Batches:
    """Each stored batch re-proven once (its block's header under the set the anchor's chain
    gives, its recordBatch transaction, receipt and Batch log, its leaf hashes making the anchored
    root, every stored text canonical); then a batch reading is checked against its leaf."""

    def __init__(self, database, anchor, suite, sets):
        self.db, self.anchor, self.suite, self.sets = database, anchor, suite, sets
        self.done = {}

    def get(self, batch_tx):
        """(Anchored, leaf hashes) or raises evidence.Rejected."""
        got = self.done.get(batch_tx)
        if got is None:
            try:
                got = self._check(batch_tx)
            except evidence.Rejected as e:
                got = e
            except (LightmeterError, ValueError, KeyError, TypeError, AttributeError) as e:
                got = evidence.Rejected("batch", str(e))
            if len(self.done) > 4096:
                self.done.clear()
            self.done[batch_tx] = got
        if isinstance(got, evidence.Rejected):
            raise got
        return got

    def _check(self, batch_tx):
        from lightmeter_host.collector import batches
        suite = self.suite
        rows = self.db.query("SELECT * FROM batches WHERE tx_hash = ?", (batch_tx,))
        if not rows or rows[0]["state"] != "stored":
            raise evidence.Rejected("batch", "no stored batch %s" % batch_tx)
        b = rows[0]
        blocks = self.db.query("SELECT header, sealers FROM blocks WHERE block_number = ?", (b["block_number"],))
        if not blocks:
            raise evidence.Rejected("batch", "block %d of batch %s is not stored" % (b["block_number"], batch_tx))
        h = header_mod.from_json(json.loads(blocks[0]["header"]), suite.node_sig_len)
        sealers = evidence._decode_sealers(json.loads(blocks[0]["sealers"]))
        want = _set_for(self.sets, h.number)
        if want is None or sealers != want or h.number != b["block_number"]:
            raise evidence.Rejected("sealers", "block %d's sealer set is not the one the trust anchor's chain "
                                    "gives" % h.number)
        trust = evidence.trust_for(self.anchor, sealers)
        try:
            res = evidence.check_header(h, trust, suite)
            tx = txread.from_json(json.loads(b["tx"]))
            tp = merkle.parse_proof(json.loads(b["tx"]).get("txProof"), "txProof")
            r = receipt_mod.from_json(json.loads(b["receipt"]))
            rp = merkle.parse_proof(json.loads(b["receipt"]).get("txReceiptProof"), "txReceiptProof")
            if batches.batch_call(tx, suite) is None:
                raise evidence.Rejected("tx", "the batch transaction is not a recordBatch call")
            a = batches.check_anchor(h, trust, suite, tx, tp, r, rp, b["tx_index"], bytes.fromhex(b["registry"][2:]))
        except evidence.Rejected as e:
            raise evidence.Rejected(evidence._CHECK.get(e.kind, e.kind), e.reason)
        if (evidence.block_parts(h, res.hash, sealers) != (blocks[0]["header"], blocks[0]["sealers"])
                or a.tx_text != b["tx"] or a.receipt_text != b["receipt"]):
            raise evidence.Rejected("canonical", "batch %s's stored evidence is not the canonical text of "
                                    "its content" % batch_tx)
        if ("0x" + a.tx_hash.hex(), "0x" + a.root.hex(), a.count, "0x" + a.submitter.hex(), a.index) != \
                (b["tx_hash"], b["root"], b["count"], b["submitter"], b["tx_index"]):
            raise evidence.Rejected("batch", "batch %s's columns are not what its transaction says" % batch_tx)
        leaves = bytes(b["leaves"] or b"")
        if len(leaves) != 32 * a.count:
            raise evidence.Rejected("batch", "batch %s stores %d leaf hashes, it anchors %d"
                                    % (batch_tx, len(leaves) // 32, a.count))
        hashes = [leaves[i:i + 32] for i in range(0, len(leaves), 32)]
        if batchtree.root(hashes, suite.hash) != a.root:
            raise evidence.Rejected("batch", "batch %s's leaf hashes do not make its anchored root" % batch_tx)
        return a, hashes


def check_batch_row(row, batches_cache, devices, fleet=None):
    """None if a batch reading's row is good, else (check, reason)."""
    from lightmeter_host.collector import batches
    try:
        a, hashes = batches_cache.get(row["batch_tx"])
    except evidence.Rejected as e:
        return e.kind, e.reason
    i = row["leaf_index"]
    try:
        ev = json.loads(row["evidence"])
        sig = bytes.fromhex(ev["signature"][2:])
        if batches.evidence_text(a.tx_hash, ev["leaf"], sig) != row["evidence"] or ev["leaf"] != i:
            return "canonical", "the reading's evidence is not the canonical text of its content"
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        return "evidence", "not a batch reading's evidence: %s" % e
    if type(i) is not int or not 0 <= i < len(hashes):
        return "leaf_index", "leaf %r of a %d-leaf batch" % (i, len(hashes))
    suite = batches_cache.suite
    leaf = batch_mod.make_item(bytes(row["reading"]), sig)
    if suite.hash(b"\x00" + leaf) != hashes[i]:
        return "leaf", "the signed reading is not leaf %d of its batch" % i
    anchor = batches_cache.anchor
    try:
        reading, _, sender = batches.open_leaf(leaf, anchor.chain_id, anchor.group_id, a.registry, suite)
        m = reading_mod.decode(reading)
    except (evidence.Rejected, LightmeterError) as e:
        return "reading", str(e)
    R = reading_mod
    address = "0x" + sender.hex()
    expect = {"block_number": a.block_number, "tx_hash": "0x" + hashes[i].hex(), "tx_index": a.index,
              "address": address, "seq": m[R.SEQ], "reading": bytes(reading), "meter_id": m[R.METER_ID],
              "obis": m[R.OBIS], "unit": m[R.UNIT], "ts": m[R.TIME], "clock": m[R.CLOCK], "status": m[R.STATUS],
              "mantissa": m[R.VALUE], "scale": m[R.SCALE], "value": value_of(m[R.VALUE], m[R.SCALE]),
              "batch_tx": "0x" + a.tx_hash.hex(), "leaf_index": i}
    for k, v in expect.items():
        have = bytes(row[k]) if k == "reading" else row[k]
        if have != v or type(have) is not type(v):
            return k, "column %s is %r, the signed reading says %r" % (k, have if k != "reading" else "...",
                                                                     v if k != "reading" else "...")
    return _device(address, m[R.METER_ID], sig[64:] if suite.name == "sm" else None, a.registry, devices, fleet)


def verify_db(database, trust=None, fleet_entries=None, progress=None, pure=False):
    """The report {"ok", "readings", "good", "bad": [...], "checkpoints", "problems": [...]}."""
    from lightmeter_host.chain import backends
    if pure:
        backends.uninstall()
    else:
        backends.install()
    stored = database.get_state("anchor")
    total = database.query("SELECT COUNT(*) AS n FROM readings")[0]["n"]
    if stored is None:
        if total:
            raise VerifyError("the database holds readings but no trust anchor")
        return {"ok": True, "readings": 0, "good": 0, "bad": [], "checkpoints": 0, "problems": [],
                "good_ids": []}
    try:
        anchor = trust_mod.from_json(stored)
    except LightmeterError as e:
        raise VerifyError("the stored trust anchor is malformed: %s" % e)
    problems = []
    if trust is not None:
        try:
            given = trust_mod.from_json(trust)
        except LightmeterError as e:
            raise VerifyError("trust checkpoint: %s" % e)
        if given.to_json() != anchor.to_json():
            problems.append({"check": "anchor", "reason": "the database's trust anchor (block %s) is not the "
                             "given trust checkpoint (block %s)" % (anchor.number, given.number)})
    suite = suite_mod.get(anchor.crypto)
    sets = _checkpoint_sets(database, anchor, suite, problems)
    devices = {d["address"]: d for d in database.devices()}
    fleet = None
    if fleet_entries is not None:
        fleet = {e["address"]: e for e in fleet_entries}
    batches_cache = _Batches(database, anchor, suite, sets)
    bad, good, seen, last_id = [], [], 0, -1
    t_last = time.monotonic()
    while True:
        rows = database.query("SELECT %s FROM readings WHERE id > ? ORDER BY id LIMIT %d"
                              % (", ".join(COLUMNS), BATCH), (last_id,))
        if not rows:
            break
        for row in rows:
            last_id = row["id"]
            seen += 1
            if row["batch_tx"] is not None:
                failed = check_batch_row(row, batches_cache, devices, fleet)
            else:
                failed = check_row(row, anchor, suite, sets, devices, fleet)
            if failed is None:
                good.append(row["id"])
            else:
                bad.append({"id": row["id"], "meter_id": row["meter_id"], "seq": row["seq"],
                            "check": failed[0], "reason": failed[1]})
        if progress and time.monotonic() - t_last >= PROGRESS_SECONDS:
            t_last = time.monotonic()
            progress(seen, total)
    return {"ok": not bad and not problems, "readings": seen, "good": len(good), "bad": bad,
            "checkpoints": len(sets) - 1, "problems": problems, "good_ids": good}


def stderr_progress(seen, total):
    print("verify: %d of %d readings" % (seen, total), file=sys.stderr, flush=True)
