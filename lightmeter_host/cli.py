"""The `lightmeter` command: a table of verbs. Each verb is a module of lightmeter_host.verbs with
add_parser(subparsers) (its arguments and --help) and run(args) (its exit status), as mpremote
lists its commands."""

import argparse
import sys

from lightmeter_host.errors import CommandError
from lightmeter_host.verbs import (bench, board, boards, collect, collector, decode, demo, flash, fleet,
                                   node, provision, relay, sync, trust, verify)

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


# name: the module that adds its parser and runs it, in the order --help lists them.
VERBS = {
    "verify": verify,
    "trust": trust,
    "decode": decode,
    "bench": bench,
    "node": node,
    "relay": relay,
    "board": board,
    "sync": sync,
    "demo": demo,
    "fleet": fleet,
    "boards": boards,
    "flash": flash,
    "provision": provision,
    "collect": collect,
    "collector": collector,
}


class _Parser(argparse.ArgumentParser):
    """A usage error is one line on stderr, exit status 2, like every other error of the command."""

    def error(self, message):
        self.exit(2, "lightmeter: %s (see `%s --help`)\n" % (message, self.prog))


def build_parser():
    p = _Parser(prog="lightmeter", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")
    sub.required = True
    for verb in VERBS.values():
        verb.add_parser(sub)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return VERBS[args.verb].run(args)
    except CommandError as e:  # says its own exit status
        print("lightmeter: %s" % e, file=sys.stderr)
        return e.status
    except RuntimeError as e:  # a runtime we need is missing or broke (MicroPython, node)
        print("lightmeter: %s" % str(e).splitlines()[0], file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
