"""`lightmeter bench`: verification speed and memory against peer libraries (lightmeter_host.bench)."""

import argparse


def add_parser(sub):
    b = sub.add_parser("bench", help="measure verification speed and memory against peers",
                       description="Benchmarks our pure-Python crypto against python-ecdsa, "
                                   "coincurve and gmssl in the same run, header verification "
                                   "on MicroPython, and the collector's ingest rate on SQLite "
                                   "(collector_ingest_per_s).")
    b.add_argument("--quick", action="store_true", help="fewer repetitions")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--batch", action="store_true",
                   help="batch vs single verification of a 15-of-21 secp256k1 quorum, "
                        "CPython and MicroPython")
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
    b.add_argument("--device-day", action="store_true",
                   help="instead: one device's day on a busy chain (96 readings 900 blocks apart, one "
                        "block a second, 50 background transactions a block, two set changes), "
                        "firmware on MicroPython over the link; headers and bytes per reading")
    b.add_argument("--readings", type=int, default=96, help=argparse.SUPPRESS)
    b.add_argument("--blocks-between", type=int, default=900, help=argparse.SUPPRESS)
    b.add_argument("--collector", action="store_true",
                   help="measure the collector instead: verified readings ingested per second on "
                        "SQLite and on a throw-away PostgreSQL server (when one can be started), "
                        "with the native signature backends and on the pure-Python path")
    b.add_argument("--page", action="store_true",
                   help="measure the collector's page instead: load time in headless Chromium and API "
                        "latency at 10,000 meters against 100, and against the whole-table answers")
    b.add_argument("--fleet", action="store_true",
                   help="instead: a city district (lightmeter fleet simulate, 10,000 meters x 4 readings, "
                        "each verified on its device), then the collector's ingest of its batches on "
                        "SQLite and PostgreSQL: fleet_meters, fleet_readings, fleet_verified_on_device, "
                        "chain_tx_per_reading, collector_ingest_per_s_pg (two collector workers on block "
                        "ranges, one a core; one walker: _one_walker), collector_ingest_per_s_sqlite")
    b.add_argument("--fleet-meters", type=int, default=10000, help=argparse.SUPPRESS)
    b.add_argument("--fleet-readings", type=int, default=4, help=argparse.SUPPRESS)
    b.add_argument("--fleet-runs", type=int, default=3, metavar="N",
                   help="with --fleet: runs of each PostgreSQL ingest variant; the median is the figure, "
                        "every run is listed under <figure>_runs (default 3)")
    b.add_argument("--fleet-dir", metavar="DIR",
                   help="with --fleet: keep the simulated fleet in DIR, or measure ingest on the one "
                        "already there")
    b.add_argument("--mcu", action="store_true",
                   help="measure the device cycle on the 32-bit port (mcu/, m0 in QEMU) instead: "
                        "smallest heap and guest instructions, 4 and 21 sealers, both suites")


def run(args):
    from lightmeter_host import bench
    if args.device_day:
        return bench.device_day_main(args.json, args.readings, args.blocks_between)
    return bench.main(quick=args.quick, as_json=args.json, node=args.node, link=args.link,
                      sync=args.sync, collector=args.collector, batch=args.batch, mcu=args.mcu,
                      page=args.page, fleet=args.fleet, fleet_meters=args.fleet_meters,
                      fleet_readings=args.fleet_readings, fleet_dir=args.fleet_dir, fleet_runs=args.fleet_runs)
