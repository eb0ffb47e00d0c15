"""`lightmeter fleet simulate`: many virtual meters through concentrators (lightmeter_host.fleetsim)."""

import argparse

from lightmeter_host.errors import UsageError


def add_parser(sub):
    fs = sub.add_parser("fleet", help="simulate a fleet of meters through concentrators",
                        description="Virtual meters running the real firmware device code on CPython, "
                                    "many in one process, through concentrators that anchor their "
                                    "readings in batches on a local node (proto/batch.md); every "
                                    "reading is verified on its own device.",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    fsub = fs.add_subparsers(dest="fleet_verb", required=True, metavar="ACTION")
    s = fsub.add_parser("simulate", help="run M meters x N readings through C concentrators")
    s.add_argument("--meters", type=int, required=True, metavar="M")
    s.add_argument("--readings", type=int, default=1, metavar="N", help="readings per meter (default 1)")
    s.add_argument("--concentrators", type=int, default=1, metavar="C", help="default 1")
    s.add_argument("--crypto", choices=("ecdsa", "sm"), default="ecdsa")
    s.add_argument("--batch-max", type=int, default=1024, metavar="N",
                   help="a concentrator's window closes at N readings (default 1024) ...")
    s.add_argument("--batch-ms", type=int, default=5000, metavar="MS",
                   help="... or MS ms after its first reading (default 5000)")
    s.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args):
    from lightmeter_host import fleetsim
    if args.meters < 1 or args.readings < 1 or args.concentrators < 1:
        raise UsageError("--meters, --readings and --concentrators must be at least 1")
    if args.batch_max < 1 or args.batch_ms < 1:
        raise UsageError("--batch-max and --batch-ms must be at least 1")
    return fleetsim.main(args.meters, args.readings, args.concentrators, args.crypto, args.json,
                         args.batch_max, args.batch_ms)
