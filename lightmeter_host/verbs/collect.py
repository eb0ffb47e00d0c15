"""`lightmeter collect`: verified meter readings from the chain into a database (collector/)."""

import argparse

from lightmeter_host.verbs.collector import db_args


def add_parser(sub):
    fmt = argparse.RawDescriptionHelpFormatter
    co = sub.add_parser("collect", help="collect verified meter readings from the chain into a database",
                        description="Walk the chain from the stored resume point (or --from N, or the trust\n"
                                    "checkpoint's next block) to the head, as a light client: every header\n"
                                    "signed by a quorum of the sealer set in force (set changes proven by\n"
                                    "their consensus-precompile transactions), the block's transaction list\n"
                                    "making its txsRoot, each MeterRegistry record() transaction and its\n"
                                    "receipt proven by Merkle proof, signed by a fleet device, its Reading\n"
                                    "log matching the call, its reading decoding to the device's meter id.\n"
                                    "Each good reading is stored with its evidence (header, sealer set, tx\n"
                                    "and receipt with proofs), one transaction per block together with the\n"
                                    "resume point: a crash never stores a reading twice nor skips one.\n\n"
                                    "Unknown devices, malformed readings, replays and duplicates go to the\n"
                                    "rejections table, sequence gaps to gaps. A node that lies (a proof,\n"
                                    "hash or quorum fails) stops the walk: the lie is recorded, nothing of\n"
                                    "that block is stored, exit 1. Progress on stderr for long runs.\n"
                                    "MeterRegistry recordBatch transactions anchor batches (proto/batch.md):\n"
                                    "their signed readings come from --batches URLs, each checked against\n"
                                    "its on-chain root and its device's signature, a batch stored whole.\n"
                                    "--json prints {readings, verified, rejected, gaps, duplicates,\n"
                                    "batches, batches_pending, from_block, to_block} on stdout.\n\n"
                                    "Exit status: 0 collected, 1 the node lied (walk stopped), 2 usage,\n"
                                    "malformed input, node or database unreachable.",
                        epilog="example:\n  lightmeter collect --rpc http://127.0.0.1:20200 --trust trust.json "
                               "--fleet fleet.json \\\n      --db sqlite:///var/lib/lightmeter/collector.db --follow",
                        formatter_class=fmt)
    co.add_argument("--rpc", required=True, metavar="URL", help="the node's JSON-RPC URL")
    co.add_argument("--trust", required=True, metavar="TRUST.json",
                    help="the trust checkpoint to start from (with number and hash); once the database "
                         "has a resume point, only its chain, group and suite must match")
    co.add_argument("--fleet", required=True, metavar="FLEET.json|.csv",
                    help="the fleet manifest (lightmeter provision writes it): whose readings to accept")
    db_args(co)
    co.add_argument("--from", dest="from_block", type=int, metavar="N",
                    help="start at block N on a new database (the checkpoint is synced to N - 1 by "
                         "skipping first)")
    co.add_argument("--to", dest="to_block", type=int, metavar="N", help="stop at block N (default: the head)")
    co.add_argument("--parallel", type=int, default=1, metavar="N",
                    help="open large batches' signed readings (signature recovery, reading decode) in "
                         "N worker processes (default 1: in this one)")
    co.add_argument("--threads", action="store_true",
                    help="with --parallel N: open them in N threads of this process instead (the "
                         "native signature recovery runs outside Python's lock: no copying to processes)")
    co.add_argument("--overlap", action="store_true",
                    help="commit each block in a thread while the next one is checked (the database's "
                         "work overlaps the walk's; a crash still stores a block whole or not at all)")
    co.add_argument("--range", dest="block_range", metavar="FIRST:LAST",
                    help="be one of several workers on one database: collect blocks FIRST..LAST only, "
                         "from this range's own resume point (table ranges; a new range starts from the "
                         "trust checkpoint synced to FIRST - 1). Ranges must not overlap; a reading is "
                         "stored once whichever worker meets it")
    co.add_argument("--follow", action="store_true", help="keep polling for new blocks until Ctrl-C")
    co.add_argument("--interval", type=float, default=2.0, metavar="S",
                    help="with --follow: seconds between polls (default 2)")
    co.add_argument("--metrics", metavar="HOST:PORT",
                    help="serve Prometheus metrics at http://HOST:PORT/metrics (readings verified and "
                         "rejected by kind, blocks behind the head; docs/collector.md)")
    co.add_argument("--batches", action="append", metavar="URL",
                    help="a concentrator serving batch contents (lightmeter relay --batch --serve): "
                         "the signed readings of each recordBatch are fetched from URL/batches/<root> "
                         "(repeat for more; tried in order). A batch withheld or not matching its "
                         "root is recorded (batch_withheld, batch_mismatch) and fetched again on "
                         "every later run or poll")
    co.add_argument("--pure", action="store_true", help="pure-Python crypto (default: native backends)")
    co.add_argument("--json", action="store_true", help="end with one JSON summary on stdout")


def run(args):
    from lightmeter_host.collector import cmd
    return cmd.collect(args)
