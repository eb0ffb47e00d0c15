"""proto/vectors/batch.json: a small batch of each suite, computed by the firmware code.

    .venv/bin/python -m lightmeter_host.batchvectors           # rewrites proto/ and tests/ copies
    .venv/bin/python -m lightmeter_host.batchvectors --check   # exit 1 if either is stale

Five devices (keys from SHA-256 of a label) each sign one reading for chain0/group0 and the
local node's MeterRegistry; the batch tree over their signed readings gives the root and each
leaf's path (lightmeter.client.batch, lightmeter.chain.batchtree). tests/host/test_batch_vectors.py
recomputes the tree with an independent few-line RFC 9162 implementation.
"""

import hashlib
import json
import sys

from lightmeter.chain import batchtree
from lightmeter.client import batch
from lightmeter.crypto import suite as suite_mod
from lightmeter.device import reading

from lightmeter_host import batchstore
from lightmeter_host.paths import PROJECT_ROOT

REGISTRY = bytes.fromhex("6c6d657465720000000000000000000000000001")
CHAIN_ID, GROUP_ID = "chain0", "group0"
FILES = (PROJECT_ROOT / "proto" / "vectors" / "batch.json", PROJECT_ROOT / "tests" / "vectors" / "batch.json")


def device_key(i):
    return hashlib.sha256(b"lightmeter batch vector device %d" % i).digest()


def _reading(i, suite_name):
    return reading.encode({reading.METER_ID: "vector-meter-%d" % i, reading.FIRMWARE: "lightmeter-0.1",
                           reading.SEQ: 1, reading.TIME: 1700000000000 + i * 900000,
                           reading.CLOCK: reading.CLOCK_SYNCED, reading.OBIS: "1-0:1.8.0",
                           reading.VALUE: 12345 + i, reading.SCALE: -1, reading.UNIT: "Wh",
                           reading.STATUS: 0, reading.SUITE: suite_name})


def batch_of(suite_name, n=5):
    s = suite_mod.get(suite_name)
    leaves, out = [], []
    for i in range(n):
        r = _reading(i, suite_name)
        key = device_key(i)
        digest = batch.signing_digest(r, CHAIN_ID, GROUP_ID, REGISTRY, s)
        item = batch.make_item(r, s.sign_tx(key, digest))
        leaves.append(item)
        out.append({"device": "0x" + s.address(s.public_key(key)).hex(), "private_key": key.hex(),
                    "reading": r.hex(), "signing_digest": digest.hex(), "leaf": item.hex(),
                    "leaf_hash": batchtree.leaf_hash(item, s.hash).hex()})
    hashes = [batchtree.leaf_hash(x, s.hash) for x in leaves]
    root = batchtree.root(hashes, s.hash)
    for i, o in enumerate(out):
        o["index"] = i
        o["path"] = [p.hex() for p in batchtree.path(hashes, i, s.hash)]
    return {"suite": suite_name, "chain_id": CHAIN_ID, "group_id": GROUP_ID, "registry": "0x" + REGISTRY.hex(),
            "count": n, "root": root.hex(), "record_batch_input": batch.batch_call(root, n, s).hex(),
            "contents": batchstore.contents(leaves).hex(),
            "leaves": out}


def vectors():
    return {"description": "Batches of device-signed readings (proto/batch.md), computed by the firmware "
                           "(lightmeter.client.batch, lightmeter.chain.batchtree): leaf = the signed "
                           "reading's bytes, contents = canonical CBOR array of the leaves as served at "
                           "GET /batches/<root hex>, leaf hash = H(0x00 || leaf), inner = H(0x01 || left || right), "
                           "RFC 9162 tree shape, H = keccak256 (ecdsa) or SM3 (sm). Cross-checked by "
                           "tests/host/test_batch_vectors.py.",
            "batches": [batch_of("ecdsa"), batch_of("sm")]}


def text():
    return json.dumps(vectors(), indent=1) + "\n"


def main(argv):
    t = text()
    if "--check" in argv:
        stale = [str(f) for f in FILES if not f.exists() or f.read_text() != t]
        for f in stale:
            print("stale: %s" % f, file=sys.stderr)
        return 1 if stale else 0
    for f in FILES:
        f.write_text(t)
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
