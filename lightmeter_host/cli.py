"""The `lightmeter` command: argument parsing only; each verb is a do_* function in commands.py."""

import argparse
import sys

from lightmeter_host import commands

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
                                   "coincurve and gmssl in the same run, header verification "
                                   "on MicroPython, and the collector's ingest rate on SQLite "
                                   "(collector_ingest_per_s).")
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
    b.add_argument("--collector", action="store_true",
                   help="measure the collector instead: verified readings ingested per second on "
                        "SQLite and on a throw-away PostgreSQL server (when one can be started), "
                        "with the native signature backends and on the pure-Python path")

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

    r.add_argument("--batch", action="store_true",
                   help="be a data concentrator (proto/batch.md): also take devices' signed readings "
                        "and anchor them in batches, one MeterRegistry.recordBatch per window")
    r.add_argument("--batch-max", type=int, default=256, metavar="N",
                   help="with --batch: close a window at N readings (default 256)")
    r.add_argument("--batch-ms", type=int, default=2000, metavar="MS",
                   help="with --batch: or MS milliseconds after its first reading (default 2000)")
    r.add_argument("--metrics", metavar="HOST:PORT",
                   help="with --batch: serve Prometheus metrics at http://HOST:PORT/metrics")

    fs = sub.add_parser("fleet", help="simulate a fleet of meters through concentrators",
                        description="Virtual meters running the real firmware device code on CPython, "
                                    "many in one process, through concentrators that anchor their "
                                    "readings in batches on a local node (proto/batch.md); every "
                                    "reading is verified on its own device.", formatter_class=fmt)
    fsub = fs.add_subparsers(dest="fleet_verb", required=True, metavar="ACTION")
    fss = fsub.add_parser("simulate", help="run M meters x N readings through C concentrators")
    fss.add_argument("--meters", type=int, required=True, metavar="M")
    fss.add_argument("--readings", type=int, default=1, metavar="N", help="readings per meter (default 1)")
    fss.add_argument("--concentrators", type=int, default=1, metavar="C", help="default 1")
    fss.add_argument("--crypto", choices=("ecdsa", "sm"), default="ecdsa")
    fss.add_argument("--batch-max", type=int, default=1024, metavar="N",
                     help="a concentrator's window closes at N readings (default 1024) ...")
    fss.add_argument("--batch-ms", type=int, default=5000, metavar="MS",
                     help="... or MS ms after its first reading (default 5000)")
    fss.add_argument("--json", action="store_true", help="print the summary as one JSON object")

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
    bv.add_argument("--module", default="lightmeter.device.app",
                    help="module whose coroutine run(uart, root) is the device program "
                         "(default lightmeter.device.app)")
    bv.add_argument("--path", action="append", default=[], metavar="DIR",
                    help="also import from this host directory (repeatable)")
    bv.add_argument("--baud", type=int, default=115200,
                    help="line rate the pty is paced to, 8N1 (default 115200; 0: no pacing)")
    bv.add_argument("--repl", action="store_true",
                    help="no device program: the UART is MicroPython's own REPL, as on a board "
                         "running stock MicroPython, so mpremote works on the pty (needs --runtime "
                         "micropython); the device's whole filesystem is --root, file for file")
    bv.add_argument("--flash-size", metavar="BYTES",
                    help="with --repl: the flash holds this many bytes (a multiple of 4096, K and M "
                         "suffixes allowed, e.g. 2M); a write past it fails on the device with "
                         "OSError 28 and os.statvfs reports it (default: no limit)")
    bv.add_argument("--transcript", metavar="FILE",
                    help="append every byte crossing the UART, both ways, to FILE (hex records)")

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

    bl = sub.add_parser("boards", help="list the board profiles (boards/*.json)",
                        description="List the board profiles in boards/: name, runtime, how the "
                                    "MicroPython image is written, meter driver. Every profile is "
                                    "checked against the schema (lightmeter_host/hardware/boards.py); a bad one "
                                    "is reported with its field. --json prints them whole.")
    bl.add_argument("--json", action="store_true", help="print the profiles as one JSON object")

    fl = sub.add_parser("flash", help="install MicroPython and the firmware on a board (mpremote)",
                        description="Install the firmware on a MicroPython board over its USB serial "
                                    "REPL:\n"
                                    "  1. --firmware IMAGE: write MicroPython first (esptool for "
                                    "ESP32/ESP32-S3,\n     copy to the RPI-RP2 drive for the Pico W); "
                                    "skipped on a virtual board\n"
                                    "  2. compile firmware/lightmeter/*.py with mpy-cross if the board "
                                    "loads .mpy\n"
                                    "  3. copy them with mpremote to LIB/lightmeter (the profile's lib "
                                    "dir)\n"
                                    "  4. read back every file's sha256 and compare\n"
                                    "  5. write a manifest of the hashes, import the package on the "
                                    "board\n"
                                    "  6. write /main.py, so that the board runs lightmeter at "
                                    "power-on (once provisioned)\n\n"
                                    "A marker file is written first and removed last: a flash cut "
                                    "short is found by\nthe next flash (which redoes it) and by "
                                    "provision and --check (which refuse it).\n\n"
                                    "Exit status: 0 flashed (or --check: complete), 1 --check found a "
                                    "half-done or\nmissing flash, 2 error (no board, board "
                                    "filesystem full, esptool failed...).",
                        epilog="examples:\n"
                               "  lightmeter flash --board esp32 --port /dev/ttyUSB0 --firmware "
                               "ESP32_GENERIC-20250415-v1.25.0.bin\n"
                               "  lightmeter flash --board pico_w --dry-run\n"
                               "  lightmeter flash --list",
                        formatter_class=fmt)
    fl.add_argument("--board", metavar="NAME", help="board profile (lightmeter boards lists them)")
    fl.add_argument("--port", metavar="PORT", help="the board's serial port (default: the one USB "
                                                   "port whose VID:PID the profile lists)")
    fl.add_argument("--firmware", metavar="IMAGE", help="MicroPython image to write first (.bin for "
                                                        "esptool, .uf2 for the Pico W)")
    fl.add_argument("--dry-run", action="store_true", help="print every step, touch nothing")
    fl.add_argument("--check", action="store_true", help="only check that the last flash completed "
                                                         "(every file matches the manifest)")
    fl.add_argument("--list", action="store_true", help="list the board profiles and exit")
    fl.add_argument("--timeout", type=float, default=5.0, metavar="S",
                    help="seconds to wait for the board's REPL (default 5)")

    pv = sub.add_parser("provision", help="give a flashed board its meter id, trust and key",
                        description="Provision a flashed board over its REPL. First, on the host, the "
                                    "trust file is\nparsed strictly (a bad one: nothing is written to "
                                    "the board). Then the board gets\nconfig.json (meter id, registry, "
                                    "meter driver from the board profile) and\ntrust.json, each "
                                    "written atomically in the profile's storage root, and makes\nits "
                                    "signing key itself from its own entropy unless it has one (kept "
                                    "unless\n--new-key). Only the public key and address come back; "
                                    "the host checks that the\naddress derives from the key and adds "
                                    "the device to the fleet manifest.\n\n"
                                    "Exit status: 0 provisioned, 2 error (bad input, board not "
                                    "flashed or half-flashed,\nno REPL, filesystem full).",
                        epilog="example:\n  lightmeter provision --port /dev/ttyUSB0 --trust trust.json "
                               "--meter-id MTR-0001 \\\n      --registry 0x1111111111111111111111111111111111111111 "
                               "--fleet fleet.json",
                        formatter_class=fmt)
    pv.add_argument("--port", metavar="PORT", help="the board's serial port (default: detected by "
                                                   "the profile's USB ids; needs --board)")
    pv.add_argument("--trust", required=True, metavar="TRUST.json", help="the trust checkpoint "
                                                                         "(proto/trust.md)")
    pv.add_argument("--meter-id", required=True, metavar="ID", help="the meter's identity (1-64 "
                                                                   "bytes), as in its readings")
    pv.add_argument("--registry", metavar="0xADDRESS",
                    help="the MeterRegistry contract address (default: the one `lightmeter node` "
                         "installs)")
    pv.add_argument("--fleet", metavar="FLEET", help="add the device to this fleet manifest "
                                                     "(.json or .csv)")
    pv.add_argument("--board", metavar="NAME", help="board profile (default: the one the board was "
                                                    "flashed as)")
    pv.add_argument("--new-key", action="store_true", help="replace the device's key with a new one "
                                                           "(the fleet gets an entry for the new "
                                                           "address)")
    pv.add_argument("--config-extra", metavar="JSON", help="more config.json settings, a JSON object "
                                                           "(e.g. '{\"readings\": 10}')")
    pv.add_argument("--timeout", type=float, default=5.0, metavar="S",
                    help="seconds to wait for the board's REPL (default 5)")

    _collector_parsers(sub, fmt)
    return p


DB_HELP = ("the database: sqlite:///ABS/PATH.db or postgresql://... (also "
           "postgresql:///DBNAME?host=/socket/dir); default sqlite:///DATA/collector.db")


def _db_args(p):
    p.add_argument("--db", metavar="URL", help=DB_HELP)
    p.add_argument("--data", metavar="DIR", help="data directory for the default database "
                                                 "(default ~/.local/share/lightmeter)")


def _collector_parsers(sub, fmt):
    """`lightmeter collect` and the `lightmeter collector ...` group."""
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
                                    "--json prints {readings, verified, rejected, gaps, duplicates,\n"
                                    "from_block, to_block} on stdout.\n\n"
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
    _db_args(co)
    co.add_argument("--from", dest="from_block", type=int, metavar="N",
                    help="start at block N on a new database (the checkpoint is synced to N - 1 by "
                         "skipping first)")
    co.add_argument("--to", dest="to_block", type=int, metavar="N", help="stop at block N (default: the head)")
    co.add_argument("--follow", action="store_true", help="keep polling for new blocks until Ctrl-C")
    co.add_argument("--interval", type=float, default=2.0, metavar="S",
                    help="with --follow: seconds between polls (default 2)")
    co.add_argument("--pure", action="store_true", help="pure-Python crypto (default: native backends)")
    co.add_argument("--json", action="store_true", help="end with one JSON summary on stdout")

    cg = sub.add_parser("collector", help="the collector's database: verify, export (and serve)",
                        description="Work on a collector database (lightmeter collect fills it).",
                        formatter_class=fmt)
    csub = cg.add_subparsers(dest="what", metavar="WHAT")
    csub.required = True
    cv = csub.add_parser("verify", help="re-verify every stored reading from its stored evidence alone",
                         description="Re-verify every stored reading offline (no node): the trust anchor is\n"
                                     "carried through the stored sealer-set changes, each re-proven; each\n"
                                     "reading's header quorum under the set in force, its transaction and\n"
                                     "receipt proofs, its signature and Reading log, and every column of the\n"
                                     "row against the signed reading. Names each bad row (id, meter_id, seq,\n"
                                     "the check that failed).\n\n"
                                     "Exit status: 0 all good, 1 something was tampered with, 2 usage or\n"
                                     "database error.",
                         formatter_class=fmt)
    _db_args(cv)
    cv.add_argument("--trust", metavar="TRUST.json",
                    help="the trust checkpoint the collection started from; the stored anchor must be it")
    cv.add_argument("--fleet", metavar="FLEET.json|.csv",
                    help="also require each reading's device to be in this fleet manifest")
    cv.add_argument("--mark", action="store_true",
                    help="write the result to the readings' verified column")
    cv.add_argument("--pure", action="store_true", help="pure-Python crypto (default: native backends)")
    cv.add_argument("--json", action="store_true", help="print the report as one JSON object")
    ce = csub.add_parser("export", help="stored readings as CSV, JSON or SenML (RFC 8428)",
                         description="Write stored readings with their verification status. Times as ISO\n"
                                     "8601 (no zone: UTC) or milliseconds since the epoch, both inclusive.\n"
                                     "senml: RFC 8428 JSON, base name urn:dev:os:PEN-METER:, names the\n"
                                     "OBIS codes, kWh converted to Wh, times in seconds (bt + t), the\n"
                                     "status in the ignorable field lm_verified.",
                         epilog="example:\n  lightmeter collector export --db sqlite:///tmp/c.db --meter MTR-1 "
                                "--from 2026-01-01 --format senml",
                         formatter_class=fmt)
    _db_args(ce)
    ce.add_argument("--meter", metavar="ID", help="only this meter")
    ce.add_argument("--from", dest="t_from", metavar="T", help="from this time (ISO 8601 or ms)")
    ce.add_argument("--to", dest="t_to", metavar="T", help="up to this time (ISO 8601 or ms)")
    ce.add_argument("--format", required=True, choices=("csv", "json", "senml"))
    ce.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")
    ce.add_argument("--pen", default="32473", metavar="N",
                    help="SenML: the IANA Private Enterprise Number in the base name (default 32473, "
                         "the documentation number)")
    cs = csub.add_parser("serve", help="a read-only web page of the fleet and each meter's readings",
                         description="Serve a web page over the collector's database: a fleet table (each\n"
                                     "meter's last reading, clock status, verified and rejected counts,\n"
                                     "gaps) and, per meter, its readings plotted over a chosen range (an\n"
                                     "energy register as its value and its consumption per interval).\n"
                                     "Needs no internet: uPlot comes from the project's node_modules.\n"
                                     "Only reads the database; a SQLite database must already exist.\n\n"
                                     "JSON API: GET /api/meters, /api/meters/ID/readings?from=&to=&limit=\n"
                                     "(times ISO 8601 or ms since the epoch, inclusive), /api/health.\n"
                                     "Prints the address on stderr, then serves until Ctrl-C or SIGTERM.\n"
                                     "See docs/collector.md.\n\n"
                                     "Exit status: 0 stopped, 2 usage, no database, uPlot missing or\n"
                                     "address in use.",
                         epilog="example:\n  lightmeter collector serve --db sqlite:///var/lib/lightmeter/"
                                "collector.db --listen 0.0.0.0:8080",
                         formatter_class=fmt)
    _db_args(cs)
    cs.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                    help="address to serve on (default 127.0.0.1:8080; port 0 picks a free one)")
    cs.add_argument("--quiet", action="store_true", help="no access log, warnings only")
    return csub


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
