"""`lightmeter provision`: give a flashed board its meter id, trust checkpoint and key."""

import argparse

from lightmeter_host.errors import UsageError
from lightmeter_host.verbs.flash import port_for


def add_parser(sub):
    fmt = argparse.RawDescriptionHelpFormatter
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


def run(args):
    from lightmeter_host.hardware import boards, provision
    profile = boards.load(args.board) if args.board else None
    if not args.port and profile is None:
        raise UsageError("give --port, or --board to find the port by its USB ids")
    port = port_for(profile, args.port) if profile is not None else args.port
    registry = args.registry
    if registry is None:
        from lightmeter_host.node import registry as node_registry
        registry = "0x" + node_registry.ADDRESS.hex()
    try:
        provision.provision(boards.load, port, args.trust, args.meter_id, registry, args.fleet,
                            args.board, args.new_key, args.config_extra, timeout=args.timeout)
    except provision.ProvisionError as e:
        raise UsageError(str(e))
    return 0
