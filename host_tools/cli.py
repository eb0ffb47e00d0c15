"""The `lightmeter` command: argument parsing only; each verb is a do_* function in commands.py."""

import argparse
import sys

from host_tools import commands

DESCRIPTION = """\
lightmeter: a light client for FISCO BCOS 3.x chains, for field devices and test rigs.

Inputs are what a FISCO BCOS 3.x node returns over JSON-RPC: the whole response
or just its "result". A trust checkpoint (TRUST.json, see proto/trust.md) names
the chain, group, crypto suite and sealer set you trust.

Exit status: 0 valid, 1 invalid, 2 malformed input or usage.
"""

EPILOG = """\
examples:
  lightmeter verify header block.json --trust trust.json
  lightmeter verify receipt receipt.json --header block.json --trust trust.json --runtime micropython
  lightmeter decode tx @tx.hex --crypto sm
  lightmeter bench --quick --json
"""


def _runtime(p):
    p.add_argument("--runtime", choices=("python", "micropython"), default="python",
                   help="run the firmware checks on CPython (default) or inside real "
                        "MicroPython (the WebAssembly port, via Node)")


def build_parser():
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="lightmeter", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=fmt)
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")
    sub.required = True

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

    d = sub.add_parser("decode", help="decode wire data", description="Decode wire data.")
    dsub = d.add_subparsers(dest="what", metavar="WHAT")
    dsub.required = True
    dt = dsub.add_parser("tx", help="a Tars-encoded transaction, as sent to sendTransaction",
                         description="Decode a Tars-encoded FISCO BCOS transaction, recompute its "
                                     "hash and recover its sender. Exit 1 if the signature does "
                                     "not verify.")
    dt.add_argument("data", metavar="HEX|@FILE", help="hex (0x optional), or @FILE holding hex or raw bytes")
    dt.add_argument("--crypto", required=True, choices=("sm", "ecdsa"))

    b = sub.add_parser("bench", help="measure verification speed and memory against peers",
                       description="Benchmarks our pure-Python crypto against python-ecdsa, "
                                   "coincurve and gmssl in the same run, and header verification "
                                   "on MicroPython.")
    b.add_argument("--quick", action="store_true", help="fewer repetitions")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--node", action="store_true",
                   help="measure `lightmeter node` instead: sustained sendTransaction rate and "
                        "proof-serving latency")

    n = sub.add_parser("node", help="run a local FISCO BCOS 3.x-compatible chain",
                       description="A local chain that speaks FISCO BCOS 3.x JSON-RPC: N sealers with "
                                   "real PBFT signatures, blocks only when transactions are pending, "
                                   "Tars sendTransaction, a real EVM, MeterRegistry installed at start, "
                                   "state kept in SQLite under --data. See docs/node.md.",
                       formatter_class=fmt)
    n.add_argument("--crypto", choices=("ecdsa", "sm"), default="ecdsa",
                   help="ecdsa: keccak256 + secp256k1; sm: SM3 + SM2 (default ecdsa)")
    n.add_argument("--chain-id", default="chain0")
    n.add_argument("--group-id", default="group0")
    n.add_argument("--sealers", type=int, default=4, help="initial number of sealers (default 4)")
    n.add_argument("--data", metavar="DIR", help="keep the chain here (SQLite); restart resumes it. "
                                                 "Without it the chain lives in memory")
    n.add_argument("--listen", default="127.0.0.1:20200", metavar="HOST:PORT",
                   help="JSON-RPC address (default 127.0.0.1:20200; port 0 picks a free one)")
    n.add_argument("--seed", help="derive sealer keys from this text, for a reproducible chain "
                                  "(default: random, stored under --data)")
    n.add_argument("--sign", choices=("quorum", "all"), default="quorum",
                   help="which sealers sign each block: just a quorum (default) or all")
    n.add_argument("--faulty", choices=("few", "duplicate"),
                   help="FOR TESTS ONLY: sign with too little weight, or reach quorum only by "
                        "listing one signer twice; light clients must reject these blocks")
    n.add_argument("--verbose", action="store_true", help="log every HTTP request")

    sub.add_parser("demo", help="walk through verifying real FISCO BCOS data",
                   description="Verifies the public FISCO BCOS example chain data shipped with "
                               "lightmeter on CPython and on MicroPython.")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    fn = getattr(commands, "do_" + args.verb)
    try:
        return fn(args)
    except commands.UsageError as e:
        print("lightmeter: %s" % e, file=sys.stderr)
        return 2
    except RuntimeError as e:  # a runtime we need is missing or broke (MicroPython, node)
        print("lightmeter: %s" % str(e).splitlines()[0], file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
