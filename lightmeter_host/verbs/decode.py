"""`lightmeter decode tx`: decode a Tars-encoded transaction and recover its sender."""

from lightmeter.errors import LightmeterError

from lightmeter_host.errors import UsageError
from lightmeter_host.verbs.verify import emit, malformed


def add_parser(sub):
    d = sub.add_parser("decode", help="decode wire data", description="Decode wire data.")
    dsub = d.add_subparsers(dest="what", metavar="WHAT")
    dsub.required = True
    dt = dsub.add_parser("tx", help="a Tars-encoded transaction, as sent to sendTransaction",
                         description="Decode a Tars-encoded FISCO BCOS transaction, recompute its "
                                     "hash and recover its sender. Exit 1 if the signature does "
                                     "not verify.")
    dt.add_argument("data", metavar="HEX|@FILE", help="hex (0x optional), or @FILE holding hex or raw bytes")
    dt.add_argument("--crypto", required=True, choices=("sm", "ecdsa"))


def run(args):
    from lightmeter_host.chain import txdecode
    try:
        raw = txdecode.read_input(args.data)
        out = txdecode.describe(raw, args.crypto)
    except OSError as e:
        raise UsageError("cannot read %s: %s" % (args.data[1:], e.strerror or e))
    except LightmeterError as e:
        return malformed(e)
    emit(out, reorder=False)
    return 0 if out["signature_valid"] else 1
