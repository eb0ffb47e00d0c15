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
  lightmeter trust init --rpc http://127.0.0.1:20200 --out trust.json
  lightmeter sync --rpc http://127.0.0.1:20200 --trust trust.json --mode skipping --out trust.json
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

    t = sub.add_parser("trust", help="make a trust checkpoint (TRUST.json)",
                       description="Make a trust checkpoint (TRUST.json, proto/trust.md).")
    tsub = t.add_subparsers(dest="what", metavar="WHAT")
    tsub.required = True
    ti = tsub.add_parser("init", help="take one from a node, for an operator to confirm",
                         description="Ask a FISCO BCOS node (JSON-RPC) for its chain id, group id, crypto\n"
                                     "suite, sealer set and a block header; check that its answers agree\n"
                                     "(the header's hash recomputed, its sealer list equal to getSealerList,\n"
                                     "its signatures a quorum of that set); show them and ask\n"
                                     "\"Trust this sealer set? [y/N]\" on stdin (unless --yes); then print\n"
                                     "the TRUST.json (proto/trust.md). Or: --genesis FILE makes it from a\n"
                                     "genesis config text (block 0, no node needed), --hash 0x... from the\n"
                                     "node's header with that hash.\n\n"
                                     "Exit status: 0 written, 1 declined, 2 error (node unreachable or\n"
                                     "inconsistent, no answer on stdin).",
                         formatter_class=fmt)
    ti.add_argument("--rpc", metavar="URL", help="the node's JSON-RPC URL, e.g. "
                                                 "http://127.0.0.1:20200")
    ti.add_argument("--genesis", metavar="FILE", help="make the checkpoint at block 0 from this genesis "
                    "config text (the genesis extraData), no node needed; with --rpc, the node's "
                    "block 0 must have the same hash")
    ti.add_argument("--version", metavar="V", help="with --genesis: the genesis header's version "
                                                   "(default 0x03030000)")
    ti.add_argument("--hash", metavar="0xHASH", help="with --rpc: take the checkpoint at the header "
                    "with this hash (from a source you trust); the node's header must hash to it")
    ti.add_argument("--number", type=int, metavar="N", help="take the checkpoint at block N "
                                                           "(default: the latest block)")
    ti.add_argument("--group-id", default="group0", help="the group to ask about (default group0)")
    ti.add_argument("--yes", action="store_true", help="do not ask: trust what the node shows")
    ti.add_argument("--out", metavar="FILE", help="write the TRUST.json here (atomically) "
                                                  "instead of stdout")

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
    b.add_argument("--link", action="store_true",
                   help="measure the device link instead: frame bytes against the node's JSON for "
                        "the same data, and the demo's bytes and seconds per reading on MicroPython")
    b.add_argument("--sync", action="store_true",
                   help="measure sync memory instead: the smallest MicroPython heap (Unix port, "
                        "real GC) that syncs a checkpoint over 20 and 160 simulated blocks "
                        "(--quick: 10 and 40), strictly and by skipping")

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
    n.add_argument("--simulate", type=int, default=0, metavar="BLOCKS",
                   help="first append BLOCKS blocks of simulated meter readings (progress on "
                        "stderr), then serve; deterministic for a given --seed")
    n.add_argument("--set-changes", type=int, default=0, metavar="K",
                   help="with --simulate: K sealer-set changes (addSealer, setWeight, remove "
                        "through the consensus precompile) spread over the blocks (default 0)")
    n.add_argument("--verbose", action="store_true", help="log every HTTP request")

    r = sub.add_parser("relay", help="bridge devices' serial links to a FISCO BCOS node",
                       description="Reads the device link protocol (proto/link.md) from each port and "
                                   "turns requests into FISCO BCOS JSON-RPC calls. Stateless: kill and "
                                   "restart it at will; devices resend. Logs every request to stderr.",
                       formatter_class=fmt)
    r.add_argument("--port", action="append", required=True, metavar="URL",
                   help="a serial port as pyserial opens it: /dev/ttyUSB0, a pseudo-terminal path, "
                        "socket://host:port, loop:// (repeat for more ports)")
    r.add_argument("--rpc", default="http://127.0.0.1:20200", metavar="URL",
                   help="the node's JSON-RPC URL (default http://127.0.0.1:20200)")
    r.add_argument("--baud", type=int, default=115200)
    r.add_argument("--noise", type=float, default=0.0, metavar="RATE",
                   help="FOR TESTS ONLY: drop or flip each byte with this probability")

    bd = sub.add_parser("board", help="run the firmware on a virtual board with its UART on a pty",
                        description="Start a virtual board: the device program runs on CPython or on "
                                    "MicroPython (WebAssembly port) with its UART on a pseudo-terminal, "
                                    "which a relay opens like a USB serial port. Prints the pty path as "
                                    "the first line of stdout, then the device log on stderr until "
                                    "Ctrl-C or SIGTERM. SIGHUP resets the board (same pty path).")
    bdsub = bd.add_subparsers(dest="kind", metavar="KIND")
    bdsub.required = True
    bv = bdsub.add_parser("virtual", help="a board simulated on this host")
    bv.add_argument("--runtime", choices=("python", "micropython"), default="python",
                    help="run the device program on CPython (default) or inside real MicroPython")
    bv.add_argument("--root", metavar="DIR", help="the device's flash: a host directory of its files "
                                                   "(default: a fresh temporary one, deleted at exit)")
    bv.add_argument("--module", default="lightmeter.device",
                    help="module whose coroutine run(uart, root) is the device program "
                         "(default lightmeter.device)")
    bv.add_argument("--path", action="append", default=[], metavar="DIR",
                    help="also import from this host directory (repeatable)")
    bv.add_argument("--baud", type=int, default=115200,
                    help="line rate the pty is paced to, 8N1 (default 115200; 0: no pacing)")

    sy = sub.add_parser("sync", help="advance a trust checkpoint to the latest block (or --to N)",
                        description="Move a checkpoint (TRUST.json) forward, checking every step:\n"
                                    "  strict    every header, each signed by a quorum of the set its\n"
                                    "            parent left, and every sealer-set change proven by its\n"
                                    "            consensus-precompile transaction and receipt\n"
                                    "  skipping  as few headers as possible: a later header is accepted if\n"
                                    "            its own quorum signed it and signers the checkpoint trusts\n"
                                    "            hold more than a third of its weight; otherwise halve the gap\n\n"
                                    "--runtime micropython runs the device's path: the firmware on a virtual\n"
                                    "board (MicroPython) asks a relay over its serial link.\n\n"
                                    "The new checkpoint goes to --out (atomically, only on success, never\n"
                                    "over a newer one) or to stdout. Progress on stderr for long syncs.\n"
                                    "--json prints {number, hash, headers, proofs, bytes} on stdout.\n"
                                    "--witness URL cross-checks the header at the target height with\n"
                                    "other nodes; a conflict prints {conflict, number, headers, evidence}.\n\n"
                                    "Exit status: 0 synced, 1 a check failed (nothing written), 2 usage,\n"
                                    "malformed input or node unreachable.",
                        epilog="example:\n  lightmeter sync --rpc http://127.0.0.1:20200 --trust trust.json "
                               "--mode skipping --out trust.json",
                        formatter_class=fmt)
    sy.add_argument("--rpc", required=True, metavar="URL", help="the node's JSON-RPC URL")
    sy.add_argument("--trust", required=True, metavar="TRUST.json",
                    help="the checkpoint to start from (needs number and hash)")
    sy.add_argument("--runtime", choices=("python", "micropython"), default="python",
                    help="CPython over JSON-RPC (default), or the firmware on MicroPython over the link")
    sy.add_argument("--mode", choices=("strict", "skipping"), default="strict",
                    help="strict: every header (default); skipping: bisect, far fewer headers")
    sy.add_argument("--to", type=int, metavar="N", help="stop at block N (default: the latest block)")
    sy.add_argument("--out", metavar="NEW_TRUST.json", help="write the new checkpoint here "
                                                             "(may be TRUST.json itself)")
    sy.add_argument("--json", action="store_true", help="print a one-line JSON summary on stdout")
    sy.add_argument("--witness", action="append", default=[], metavar="URL",
                    help="another node's JSON-RPC URL (repeatable): after the sync, its header at the "
                         "target height must match; another header signed by a quorum of that height's "
                         "sealers is a conflict (exit 1, nothing written, both headers reported as "
                         "evidence); an invalid, missing or unreachable one only warns")
    sy.add_argument("--evidence", metavar="FILE",
                    help="on a conflict, also write the evidence JSON here")

    dm = sub.add_parser("demo", help="node + virtual board + relay: readings signed, anchored, verified",
                        description="Starts a local node, a virtual board running the real firmware and "
                                    "the relay between them; the device signs readings, submits them and "
                                    "verifies on its own that they are on chain. Ends with a summary; "
                                    "exit 0 only if every reading was anchored and verified.",
                        formatter_class=fmt)
    dm.add_argument("--readings", type=int, default=3, metavar="N", help="readings to anchor (default 3)")
    dm.add_argument("--runtime", choices=("python", "micropython"), default="micropython",
                    help="run the firmware on MicroPython (WebAssembly, default) or CPython")
    dm.add_argument("--crypto", choices=("ecdsa", "sm"), default="ecdsa")
    dm.add_argument("--faults", action="store_true",
                    help="line noise, relay killed and restarted, node restarted, device reset")
    dm.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    dm.add_argument("--walkthrough", action="store_true",
                    help="instead: verify the public FISCO BCOS example data on CPython and MicroPython")
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
