"""`lightmeter relay`: bridge devices' serial links to a node (lightmeter_host.relay)."""

import argparse

from lightmeter_host.errors import UsageError


def add_parser(sub):
    fmt = argparse.RawDescriptionHelpFormatter
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
    r.add_argument("--store", metavar="DIR",
                   help="with --batch: keep each batch's signed readings in DIR (default "
                        "~/.local/share/lightmeter/batches), so they outlive a restart")
    r.add_argument("--serve", metavar="HOST:PORT", default="127.0.0.1:8090",
                   help="with --batch: serve stored batches at http://HOST:PORT/batches/<root hex> "
                        "for collectors (default 127.0.0.1:8090; 'off' for none)")
    r.add_argument("--metrics", metavar="HOST:PORT",
                   help="with --batch: serve Prometheus metrics at http://HOST:PORT/metrics")


def run(args):
    import serial

    from lightmeter_host import relay

    try:
        if args.batch:
            import os

            from lightmeter_host import concentrator
            store = args.store or os.path.join(os.path.expanduser("~"), ".local", "share", "lightmeter", "batches")
            return concentrator.main(args.port, args.rpc, args.baud, args.noise, args.batch_max,
                                     args.batch_ms, args.metrics, store,
                                     None if args.serve == "off" else args.serve)
        return relay.main(args.port, args.rpc, args.baud, args.noise)
    except serial.SerialException as e:
        raise UsageError("cannot open port: %s" % e)
