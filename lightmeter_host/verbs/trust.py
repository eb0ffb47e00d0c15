"""`lightmeter trust init`: make a trust checkpoint (TRUST.json) from a node or a genesis file."""

import argparse
import sys

from lightmeter.errors import LightmeterError

from lightmeter_host.errors import CommandError, UsageError


def add_parser(sub):
    fmt = argparse.RawDescriptionHelpFormatter
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


def run(args):
    from lightmeter_host.chain.rpc import NodeError, Rpc
    from lightmeter_host.lightclient import trustinit
    from lightmeter.chain import fields

    if args.number is not None and args.number < 0:
        raise UsageError("--number must not be negative")
    if not args.rpc and not args.genesis:
        raise UsageError("trust init needs --rpc URL or --genesis FILE")
    if args.hash is not None and (not args.rpc or args.genesis or args.number is not None):
        raise UsageError("--hash needs --rpc, and goes with neither --genesis nor --number")
    if args.genesis and args.number is not None:
        raise UsageError("--genesis makes the checkpoint at block 0: --number does not apply")
    if args.version is not None and not args.genesis:
        raise UsageError("--version applies only with --genesis")
    digest = version = None
    if args.hash is not None:
        try:
            digest = fields.hexbytes(args.hash, "--hash", 32)
        except LightmeterError as e:
            raise UsageError("--hash must be 32 bytes of hex (0x optional): %s" % e)
    if args.version is not None:
        try:
            version = int(args.version, 0)
        except ValueError:
            raise UsageError("--version takes an integer such as 0x03030000, not %r" % args.version)
        if not 0 <= version <= 0x7FFFFFFF:
            raise UsageError("--version must be between 0 and 0x7fffffff")
    source, label = args.rpc, "Node"
    try:
        if args.genesis:
            try:
                with open(args.genesis, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise UsageError("cannot read %s: %s" % (args.genesis, e.strerror or e))
            info = trustinit.from_genesis(data, trustinit.GENESIS_VERSION if version is None else version)
            source, label = args.genesis, "Genesis"
            if args.rpc:
                trustinit.check_genesis_on_node(Rpc(args.rpc, group=args.group_id), info)
                source = "%s (matches block 0 of %s)" % (args.genesis, args.rpc)
        elif digest is not None:
            info = trustinit.from_hash(Rpc(args.rpc, group=args.group_id), digest)
        else:
            info = trustinit.fetch(Rpc(args.rpc, group=args.group_id), args.number)
        obj = trustinit.to_json(info)
    except trustinit.TrustInitError as e:
        raise UsageError(str(e))
    except ConnectionError as e:
        raise UsageError("cannot reach the node at %s: %s" % (args.rpc, e))
    except NodeError as e:
        raise UsageError("the node at %s answered an error: %s (%s)" % (args.rpc, e, e.code))
    except (LightmeterError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise UsageError("the node's answers are malformed: %s" % e)
    print(trustinit.describe(info, source, label), file=sys.stderr)
    if not args.yes:
        print("Trust this sealer set? [y/N] ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline()
        if not answer:
            print(file=sys.stderr)
            raise UsageError("no answer on stdin%s: confirm interactively or pass --yes"
                             % ("" if sys.stdin.isatty() else " (not a terminal)"))
        if answer.strip().lower() not in ("y", "yes"):
            raise CommandError("not trusted; nothing written", status=1)
    text = trustinit.dumps(obj)
    if args.out:
        try:
            trustinit.write_atomic(args.out, text)
        except OSError as e:
            raise UsageError("cannot write %s: %s" % (args.out, e.strerror or e))
        print("lightmeter: wrote %s (block %d)" % (args.out, obj["number"]), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
