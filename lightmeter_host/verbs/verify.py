"""`lightmeter verify header|receipt|tx`: check chain data against a trust checkpoint.

Also the JSON report every check prints (emit, malformed), which `decode` shares.
"""

import argparse
import json
import sys

from lightmeter.client import check
from lightmeter.errors import LightmeterError, Malformed

from lightmeter_host.inputs import load_json


def add_parser(sub):
    fmt = argparse.RawDescriptionHelpFormatter
    v = sub.add_parser("verify", help="check a header, receipt or transaction against a trust checkpoint",
                       description="Recompute hashes from fields, check PBFT quorum signatures of "
                                   "trusted sealers and Merkle proofs. Prints one JSON object.",
                       formatter_class=fmt)
    vsub = v.add_subparsers(dest="what", metavar="WHAT")
    vsub.required = True
    vh = vsub.add_parser("header", help="a block header (getBlockByNumber / getBlockByHash output)")
    vh.add_argument("block", metavar="BLOCK.json")
    vh.add_argument("--trust", required=True, metavar="TRUST.json")
    _runtime(vh)
    vr = vsub.add_parser("receipt", help="a receipt with its proof (getTransactionReceipt ... true)")
    vr.add_argument("receipt", metavar="RECEIPT.json")
    vr.add_argument("--header", required=True, metavar="BLOCK.json")
    vr.add_argument("--trust", required=True, metavar="TRUST.json")
    _runtime(vr)
    vt = vsub.add_parser("tx", help="a transaction with its proof (getTransaction ... true)")
    vt.add_argument("tx", metavar="TX.json")
    vt.add_argument("--header", required=True, metavar="BLOCK.json")
    vt.add_argument("--trust", required=True, metavar="TRUST.json")
    _runtime(vt)


def _runtime(p):
    p.add_argument("--runtime", choices=("python", "micropython"), default="python",
                   help="run the firmware checks on CPython (default) or inside real "
                        "MicroPython (the WebAssembly port, via Node)")


# Reports print in this key order whichever runtime built them (MicroPython's
# dicts do not keep insertion order).
_ORDER = ("valid", "reason", "number", "hash", "signers", "weight", "quorum",
          "receipt_hash", "tx_hash", "sender", "index")


def emit(obj, reorder=True):
    if not reorder:
        print(json.dumps(obj, indent=2))
        return
    rank = {k: i for i, k in enumerate(_ORDER)}
    keys = sorted(obj, key=lambda k: (rank.get(k, len(rank)), k))
    print(json.dumps({k: obj[k] for k in keys}, indent=2))


def malformed(e):
    emit({"valid": False, "reason": "malformed: %s" % e})
    print("lightmeter: malformed input: %s" % e, file=sys.stderr)
    return 2


def run_check(name, inputs, runtime):
    """check.<name>(*inputs) on the chosen runtime; Malformed propagates on both."""
    if runtime == "micropython":
        from lightmeter_host.runtimes import mpcheck
        return mpcheck.run_check(name, inputs)
    from lightmeter_host.chain import backends
    backends.install()
    return getattr(check, name)(*inputs)


def run(args):
    trust = load_json(args.trust)
    if args.what == "header":
        name, inputs = "check_header", (load_json(args.block), trust)
    elif args.what == "receipt":
        name, inputs = "check_receipt", (load_json(args.receipt), load_json(args.header), trust)
    else:
        name, inputs = "check_tx", (load_json(args.tx), load_json(args.header), trust)
    try:
        out = run_check(name, inputs, args.runtime)
    except Malformed as e:
        return malformed(e)
    except LightmeterError as e:  # Unsupported
        return malformed(e)
    emit(out)
    return 0 if out["valid"] else 1
