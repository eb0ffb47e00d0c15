"""`lightmeter demo` before the device link exists: verify real FISCO BCOS data.

Walks through the public example chain of FISCO-BCOS-DOC (a 4-node SM-crypto
chain, tests/vectors/) the way a device does: recompute the header hash, check
the sealers' SM2 quorum, prove the receipt into the header, and refuse forged
variants, first on CPython, then inside real MicroPython.
"""

import copy
import json
import os
import sys
import time

from lightmeter.client import check
from lightmeter.errors import Malformed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VECTORS = os.path.join(ROOT, "tests", "vectors")


def _load(name):
    with open(os.path.join(VECTORS, name)) as f:
        return json.load(f)


def _trust(block):
    return {"chain_id": "chain0", "group_id": "group0", "crypto": "sm",
            "sealers": [{"node_id": n, "weight": w}
                        for n, w in zip(block["result"]["sealerList"], block["result"]["consensusWeights"])]}


def cases():
    """(title, check name, inputs, expected validity) for the walkthrough."""
    block = _load("fisco-doc-sm-block2.json")
    genesis = _load("fisco-doc-sm-genesis.json")
    rcpt = _load("fisco-doc-sm-receipt2.json")
    trust = _trust(block)
    anchored = dict(trust, number=0, hash=genesis["result"]["hash"])
    tampered = copy.deepcopy(block)
    tampered["result"]["gasUsed"] = "1"
    dup = copy.deepcopy(block)
    dup["result"]["signatureList"][2] = dict(dup["result"]["signatureList"][0])
    short = copy.deepcopy(block)
    short["result"]["signatureList"].pop()
    return [
        ("genesis block, trusted by its hash", "check_header", (genesis, anchored), True),
        ("block 2 header: 3 SM2 signatures of 4 sealers", "check_header", (block, trust), True),
        ("block 2 receipt: Merkle proof into receiptsRoot", "check_receipt", (rcpt, block, trust), True),
        ("forged: gasUsed changed, original hash left in", "check_header", (tampered, trust), False),
        ("forged: one sealer's signature listed twice", "check_header", (dup, trust), False),
        ("forged: only 2 of the 3 signatures needed", "check_header", (short, trust), False),
    ]


def main(out=sys.stdout):
    from lightmeter_host.chain import backends
    from lightmeter_host.runtimes import mpcheck

    backends.install()
    ok = True
    for runtime in ("python", "micropython"):
        print("== verifying on %s" % ("CPython" if runtime == "python" else "MicroPython (WebAssembly)"), file=out)
        for title, name, inputs, expect in cases():
            t0 = time.perf_counter()
            try:
                if runtime == "python":
                    res = getattr(check, name)(*inputs)
                else:
                    res = mpcheck.run_check(name, inputs)
            except Malformed as e:
                res = {"valid": False, "reason": "malformed: %s" % e}
            ms = (time.perf_counter() - t0) * 1000
            good = res["valid"] == expect
            ok = ok and good
            verdict = "accepted" if res["valid"] else "rejected (%s)" % res.get("reason")
            print("  [%s] %-48s %s  %.0f ms" % ("ok" if good else "UNEXPECTED", title, verdict, ms), file=out)
    print("all checks behaved as expected" if ok else "SOME CHECKS DID NOT BEHAVE AS EXPECTED", file=out)
    return 0 if ok else 1
