"""Collector throughput: verified readings ingested per second, on the same code path as
`lightmeter collect` (ingest.Walker: header quorum, block completeness, transaction and receipt
proofs, device signature, Reading log, reading decode, evidence bundle, one database
transaction per block), fed by an in-memory source instead of a node.

The chain is built here in-process, as realistic blocks: four sealers (three sign, the quorum),
many fleet devices, `per_block` record() transactions per block with their receipts and the
MeterRegistry Reading log, JSON exactly as a node serves it (parsed again on every answer).
Building uses coincurve to sign, whichever backend is then measured.
"""

import hashlib
import json
import os
import shutil
import tempfile
import time

from lightmeter.chain import abi, fields, receipt as receipt_mod
from lightmeter.chain import merklebuild
from lightmeter.chain import headerwrite
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import trust as trust_mod
from lightmeter.chain import tx as tx_mod
from lightmeter.chain import txread
from lightmeter.chain.meter_registry import READING_EVENT, RECORD

from lightmeter_host.chain import backends, txbuild
from lightmeter_host.collector import db as db_mod, ingest, source as source_mod
from lightmeter_host.node import registry

T0 = 1_767_225_600_000


def _k(label, i):
    return hashlib.sha256(b"collector-bench:%s:%d" % (label, i)).digest()


def _signer():
    import coincurve

    def sign(priv, digest):
        return coincurve.PrivateKey(priv).sign_recoverable(digest, hasher=None)

    def public(priv):
        return coincurve.PrivateKey(priv).public_key.format(compressed=False)[1:]
    return sign, public


def _all_proofs(leaves, H):
    """merklebuild.proof(leaves, i, H) for every i, from one pass over the tree (not one per leaf)."""
    if len(leaves) == 1:
        return [[leaves[0]]]
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        lv = levels[-1]
        levels.append([H(b"".join(lv[i:i + 2])) for i in range(0, len(lv), 2)])
    out = []
    for index in range(len(leaves)):
        items, i = [], index
        for lv in levels[:-1]:
            start = i - (i % 2)
            group = lv[start:start + 2]
            items.append(merklebuild.count_slot(len(group)))
            items.extend(group)
            i //= 2
        out.append(items)
    return out


def build_chain(n, per_block=500, devices=50, sealers=4, plan=None):
    """(MemorySource, TRUST.json object, fleet entries) of ceil(n / per_block) blocks holding n
    readings (ecdsa suite).

    plan: the record() calls in chain order, each (device index, seq, meter id or None for the
    device's own); n is then its length. Default: the devices in turn, seqs 1, 2, 3... each."""
    from lightmeter.device import reading

    backends.install()  # fast hashes while building
    s = suite_mod.get("ecdsa")
    sign, public = _signer()
    nodes = sorted((public(k), k) for k in (_k(b"sealer", i) for i in range(sealers)))
    quorum_n = sealers - (sealers - 1) // 3
    genesis = headerwrite.new(0, extra_data=b"lightmeter collector bench")
    parent = genesis.hash(s)
    trust = {"chain_id": "chain0", "group_id": "group0", "crypto": "ecdsa",
             "sealers": [{"node_id": p.hex(), "weight": 1} for p, _ in nodes], "number": 0,
             "hash": fields.hex0x(parent)}
    devs = []
    for i in range(devices):
        k = _k(b"device", i)
        pub = public(k)
        devs.append((k, {"meter_id": "MTR-%05d" % i, "address": fields.hex0x(s.address(pub)),
                         "public_key": fields.hex0x(pub), "suite": "ecdsa", "board": "virtual",
                         "chain_id": "chain0", "group_id": "group0",
                         "registry": fields.hex0x(registry.ADDRESS), "provisioned_at": "2026-01-01T00:00:00Z"}))
    topic = abi.event_topic(READING_EVENT, s.hash)
    reg = registry.ADDRESS.hex()
    blocks, txs = {}, {}
    seqs = [0] * devices
    if plan is not None:
        plan = list(plan)
        n = len(plan)
    made, number = 0, 0
    while made < n:
        number += 1
        count = min(per_block, n - made)
        tx_list, receipts = [], []
        for j in range(count):
            if plan is None:
                d = (made + j) % devices
                seqs[d] += 1
                seq, meter = seqs[d], None
            else:
                d, seq, meter = plan[made + j]
            k, entry = devs[d]
            m = {reading.METER_ID: meter or entry["meter_id"], reading.FIRMWARE: "lightmeter-0.1", reading.SEQ: seq,
                 reading.TIME: T0 + 900_000 * seq, reading.CLOCK: 0, reading.OBIS: "1-0:1.8.0",
                 reading.VALUE: 1_000_000 + 1234 * seq, reading.SCALE: -3, reading.UNIT: "kWh",
                 reading.STATUS: 0, reading.SUITE: "ecdsa"}
            data = reading.encode(m)
            tx = txbuild.make("chain0", "group0", number + 500, "b-%d-%d" % (number, j), registry.ADDRESS,
                              abi.encode_call(RECORD, [seq, data], s.hash))
            digest = tx_mod.tx_hash(tx, s)
            tx["signature"] = sign(k, digest)
            sender = bytes.fromhex(entry["address"][2:])
            rc = {"version": 0, "contractAddress": "", "checksumContractAddress": "", "gasUsed": "31000",
                  "status": 0, "blockNumber": number, "output": "0x", "message": "",
                  "transactionHash": fields.hex0x(digest),
                  "logEntries": [{"address": reg, "topics": [fields.hex0x(topic), fields.hex0x(bytes(12) + sender),
                                                             fields.hex0x(seq.to_bytes(32, "big"))],
                                  "data": fields.hex0x(abi.encode(["bytes"], [data]))}]}
            rc["hash"] = fields.hex0x(receipt_mod.from_json(rc).hash(s))
            tx_list.append((digest, txread.to_json(tx, s, digest, sender)))
            receipts.append(rc)
        leaves = [d for d, _ in tx_list]
        rleaves = [bytes.fromhex(rc["hash"][2:]) for rc in receipts]
        h = headerwrite.new(number, parent, [p for p, _ in nodes], txs_root=merklebuild.root(leaves, s.hash),
                           receipts_root=merklebuild.root(rleaves, s.hash), state_root=bytes(32),
                           gas_used=str(31000 * count).encode(), timestamp=T0 + number * 1000,
                           sealer=number % sealers)
        digest = h.hash(s)
        h.signatures = [(i, sign(nodes[i][1], digest)) for i in range(quorum_n)]
        hj = headerwrite.to_json(h, digest)
        hj["transactions"] = [fields.hex0x(d) for d in leaves]
        blocks[number] = json.dumps(hj)
        tproofs, rproofs = _all_proofs(leaves, s.hash), _all_proofs(rleaves, s.hash)
        for i, ((d, tj), rc) in enumerate(zip(tx_list, receipts)):
            tj = dict(tj, txProof=[x.hex() for x in tproofs[i]])
            rc = dict(rc, txReceiptProof=[x.hex() for x in rproofs[i]])
            txs[fields.hex0x(d)] = (json.dumps(tj), json.dumps(rc))
        parent = digest
        made += count
    return source_mod.MemorySource(blocks, txs), trust, [e for _, e in devs]


def ingest_bench(n=5000, backend="native", db_url=None, per_block=500, devices=50):
    """Ingest n readings; {"readings", "blocks", "seconds", "readings_per_s", "backend", "database"}.

    db_url: a fresh database (default: a temporary SQLite file, removed afterwards)."""
    if backend not in ("native", "pure"):
        raise ValueError("backend must be native or pure")
    src, trust, entries = build_chain(n, per_block, devices)
    tmp = None
    if db_url is None:
        tmp = tempfile.mkdtemp(prefix="lightmeter-bench-")
        db_url = "sqlite://" + os.path.join(tmp, "collector.db")
    if backend == "native":
        backends.install()
    else:
        backends.uninstall()
    database = db_mod.open_db(db_url)
    try:
        w = ingest.open_walker(database, src, trust_mod.from_json(trust), entries)
        t0 = time.perf_counter()
        w.walk()
        dt = time.perf_counter() - t0
        got = w.totals["verified"]
    finally:
        database.close()
        backends.install()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if got != n:
        raise RuntimeError("bench: %d of %d readings verified" % (got, n))
    return {"readings": got, "blocks": len(src.blocks), "seconds": round(dt, 3),
            "readings_per_s": round(got / dt, 1), "backend": backend, "database": db_url.split(":")[0]}
