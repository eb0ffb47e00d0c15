"""`lightmeter demo`: node, virtual board and relay; readings signed, anchored, verified, collected."""

import argparse

from lightmeter_host.errors import UsageError


def add_parser(sub):
    fmt = argparse.RawDescriptionHelpFormatter
    dm = sub.add_parser("demo", help="node + virtual board + relay: readings signed, anchored, verified",
                        description="Starts a local node, a virtual board running the real firmware and "
                                    "the relay between them; the device signs readings, submits them and "
                                    "verifies on its own that they are on chain. Then the collector "
                                    "reads the chain, verifies and stores every reading with its "
                                    "evidence (SQLite) and re-verifies the database offline. Ends with a "
                                    "summary and how to open the collector's web page; exit 0 only if "
                                    "every reading was anchored, verified on the device and collected.",
                        formatter_class=fmt)
    dm.add_argument("--readings", type=int, default=3, metavar="N", help="readings to anchor (default 3)")
    dm.add_argument("--runtime", choices=("python", "micropython"), default="micropython",
                    help="run the firmware on MicroPython (WebAssembly, default) or CPython")
    dm.add_argument("--crypto", choices=("ecdsa", "sm"), default="ecdsa")
    dm.add_argument("--faults", action="store_true",
                    help="line noise, relay killed and restarted, node restarted, device reset")
    dm.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    dm.add_argument("--blocks-between", type=int, default=0, metavar="B",
                    help="a busy chain: B blocks between readings, one a second, each with %d "
                         "transactions of other contracts (default 0: a quiet chain)" % 50)
    dm.add_argument("--data", metavar="DIR",
                    help="keep the chain (node/), the device's flash (device/), fleet.json and the "
                         "collector's collector.db here; a new or empty directory (default: a new "
                         "temporary directory, printed at the end)")
    dm.add_argument("--batch", action="store_true",
                    help="through a data concentrator (proto/batch.md): readings anchored in batches; "
                         "one meter on a virtual board (--runtime), the others on CPython in process")
    dm.add_argument("--meters", type=int, default=1, metavar="M",
                    help="with --batch: how many meters the concentrator serves (default 1)")
    dm.add_argument("--walkthrough", action="store_true",
                    help="instead: verify the public FISCO BCOS example data on CPython and MicroPython")


def run(args):
    if args.walkthrough:
        from lightmeter_host import walkthrough
        return walkthrough.main()
    if args.readings < 1:
        raise UsageError("--readings must be at least 1")
    if args.batch or args.meters != 1:
        return _run_batch(args)
    from lightmeter_host import demo
    try:
        return demo.main(args.readings, args.runtime, args.crypto, args.faults, args.json, args.data,
                         args.blocks_between)
    except demo.DemoError as e:
        raise UsageError(str(e))


def _run_batch(args):
    import json

    from lightmeter_host import demobatch
    if not args.batch or args.faults or args.data or args.blocks_between or args.meters < 1:
        raise UsageError("--meters needs --batch, and --batch takes no --faults, --data or --blocks-between")
    summary = demobatch.run(args.meters, args.readings, args.runtime, args.crypto, quiet=args.json)
    if args.json:
        print(json.dumps(summary))
    else:
        for k, v in summary.items():
            print("%-22s %s" % (k, v))
    return 0 if summary["ok"] else 1
