"""`lightmeter sync`: advance a trust checkpoint by verified headers (lightmeter_host.lightclient)."""

import argparse
import json
import sys

from lightmeter.errors import LightmeterError

from lightmeter_host.errors import CommandError, UsageError
from lightmeter_host.inputs import load_json


def add_parser(sub):
    fmt = argparse.RawDescriptionHelpFormatter
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


def run(args):
    from lightmeter_host.lightclient import synccmd
    from lightmeter.client import trust as trust_mod

    obj = load_json(args.trust)
    try:
        start = trust_mod.from_json(obj)
    except LightmeterError as e:
        raise UsageError("%s: %s" % (args.trust, e))
    if start.number is None or start.hash is None:
        raise UsageError("%s has no number and hash: sync needs a checkpoint at a block" % args.trust)
    if args.to is not None and args.to < start.number:
        raise UsageError("--to %d is below the checkpoint's block %d" % (args.to, start.number))
    run = synccmd.run_python if args.runtime == "python" else synccmd.run_micropython
    try:
        new, stats = run(obj, args.rpc, args.mode, args.to, quiet=False)
        witnesses = getattr(args, "witness", None) or []
        if witnesses:
            synccmd.cross_check(new, args.rpc, witnesses)
        if args.out:
            synccmd.write_checkpoint(args.out, new, start.number)
    except synccmd.SyncConflict as e:
        print("lightmeter: sync failed: %s; nothing written" % e, file=sys.stderr)
        evidence_path = getattr(args, "evidence", None)
        if evidence_path:
            try:
                with open(evidence_path, "w") as f:
                    json.dump(e.evidence, f, indent=2)
                    f.write("\n")
                print("lightmeter: wrote the evidence to %s" % evidence_path, file=sys.stderr)
            except OSError as err:
                print("lightmeter: cannot write %s: %s" % (evidence_path, err.strerror or err), file=sys.stderr)
        if args.json:
            print(json.dumps(e.evidence))
        else:
            sys.stdout.write(json.dumps(e.evidence, indent=2) + "\n")
        return 1
    except synccmd.SyncFailed as e:
        raise CommandError("sync failed: %s; nothing written" % e, status=1)
    except synccmd.SyncUsage as e:
        raise UsageError(str(e))
    except OSError as e:
        raise UsageError("cannot write %s: %s" % (args.out, e.strerror or e))
    summary = {"number": new["number"], "hash": new["hash"], "headers": stats["headers"],
               "proofs": stats["proofs"], "bytes": stats["bytes"]}
    if args.json:
        print(json.dumps(summary))
    else:
        print("synced to block %d (%s): %d headers, %d set-change proofs, %d bytes fetched"
              % (summary["number"], summary["hash"], summary["headers"], summary["proofs"], summary["bytes"]),
              file=sys.stderr)
        if not args.out:
            sys.stdout.write(json.dumps(new, indent=2) + "\n")
    if args.out:
        print("lightmeter: wrote %s (block %d)" % (args.out, new["number"]), file=sys.stderr)
    return 0
