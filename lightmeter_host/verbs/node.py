"""`lightmeter node`: serve a local FISCO BCOS 3.x-compatible chain (lightmeter_host.node)."""

import argparse

from lightmeter_host.errors import UsageError
from lightmeter_host.node import releases as node_releases


def add_parser(sub):
    fmt = argparse.RawDescriptionHelpFormatter
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
    n.add_argument("--fisco-version", metavar="X.Y", choices=node_releases.names(),
                   help="answer as that FISCO BCOS release (3.0 to 3.16) prints and accepts: "
                        "nonce spelling, proofs, contractAddress, header and tx versions "
                        "(docs/fisco-versions.md; default: the newest, on a 3.3.0 chain)")
    n.add_argument("--interval-ms", type=int, default=1000, metavar="MS",
                   help="with --simulate: block interval of the simulated timestamps (default 1000)")
    n.add_argument("--background", type=int, default=0, metavar="N",
                   help="N transactions of other contracts in every block from now on (real hashes, "
                        "roots and proofs, no EVM), as on a shared chain (default 0)")
    n.add_argument("--no-readings", action="store_true",
                   help="with --simulate and --background: no meter readings, so a block without a "
                        "set change is background only (fast: thousands of blocks a minute)")
    n.add_argument("--metrics", metavar="HOST:PORT",
                   help="serve Prometheus metrics at http://HOST:PORT/metrics: blocks and transactions "
                        "sealed, JSON-RPC calls by method, height, pool depth")
    n.add_argument("--verbose", action="store_true", help="log every HTTP request")


def run(args):
    from lightmeter_host.node import server as node_server

    host, _, port = args.listen.rpartition(":")
    try:
        port = int(port)
    except ValueError:
        raise UsageError("--listen takes HOST:PORT, got %r" % args.listen)
    if args.sealers < 1 or args.sealers > 32:
        raise UsageError("--sealers must be between 1 and 32")
    if args.simulate < 0 or args.set_changes < 0:
        raise UsageError("--simulate and --set-changes must not be negative")
    if args.set_changes and not args.simulate:
        raise UsageError("--set-changes needs --simulate BLOCKS")
    if args.interval_ms < 1 or args.background < 0:
        raise UsageError("--interval-ms must be positive and --background not negative")
    if args.metrics is not None:
        m_port = args.metrics.rpartition(":")[2]
        if ":" not in args.metrics or not m_port.isdigit() or int(m_port) > 65535:
            raise UsageError("--metrics takes HOST:PORT, got %r" % args.metrics)
    if args.no_readings and not args.background:
        raise UsageError("--no-readings needs --background N")
    return node_server.serve(crypto=args.crypto, chain_id=args.chain_id, group_id=args.group_id,
                             sealers=args.sealers, data_dir=args.data, host=host or "127.0.0.1",
                             port=port, seed=args.seed, sign_mode=args.faulty or args.sign,
                             verbose=args.verbose, simulate=args.simulate, set_changes=args.set_changes,
                             fisco_version=args.fisco_version,
                             interval_ms=args.interval_ms, background=args.background,
                             readings=not args.no_readings, metrics=args.metrics)
