"""`lightmeter flash`: MicroPython and the firmware onto a board; --check that a flash completed."""

import argparse
import sys

from lightmeter_host.errors import UsageError
from lightmeter_host.verbs import boards as boards_verb


def add_parser(sub):
    fmt = argparse.RawDescriptionHelpFormatter
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


def port_for(profile, port, dry_run=False):
    """The port given, or the one detected by the profile's USB ids (said on stderr)."""
    if port:
        return port
    from lightmeter_host.hardware import ports
    try:
        found, desc = ports.detect(profile)
    except ports.PortError as e:
        if dry_run:
            print("port: %s" % e)
            return "PORT"
        raise UsageError(str(e))
    print("port: %s (the only port with a USB id of board %s)" % (desc, profile["name"]), file=sys.stderr)
    return found


def run(args):
    from lightmeter_host.hardware import flash
    if args.list:
        args.json = False
        return boards_verb.run(args)
    if not args.board:
        from lightmeter_host.hardware import boards
        raise UsageError("--board is required (known: %s)" % ", ".join(boards.known()))
    from lightmeter_host.hardware import boards
    profile = boards.load(args.board)
    if profile["runtime"] != "micropython":
        raise UsageError("board %s runs %s under Linux: install the package there (pip install .); "
                         "flash is for MicroPython boards" % (profile["name"], profile["runtime"]))
    if args.firmware and profile["firmware"]["method"] == "none":
        raise UsageError("board %s takes no MicroPython image" % profile["name"])
    if args.dry_run:
        print("board %s: %s" % (profile["name"], profile["description"]))
    elif args.firmware and profile["firmware"]["method"] == "uf2" and not args.port and not args.check:
        # in BOOTSEL mode a Pico has a drive but no serial port: copy the image, then find the port
        from lightmeter_host.hardware import ports
        flash.write_image(profile, None, args.firmware, print)
        try:
            port = flash.wait_for_port(profile)
        except ports.PortError as e:
            raise UsageError(str(e))
        flash.flash(profile, port, args.firmware, timeout=args.timeout, image_written=True)
        return 0
    port = port_for(profile, args.port, args.dry_run)
    if args.dry_run:
        flash.dry_run(profile, port, args.firmware)
        return 0
    if args.check:
        from lightmeter_host.hardware import devrepl
        with devrepl.Repl(port, timeout=args.timeout) as repl:
            st, _ = flash.state(repl, profile)
        if st == "ok":
            print("flash complete: every file matches %s/%s" % (flash.package_dir(profile), flash.MANIFEST))
            return 0
        print("lightmeter: %s" % (flash.INCOMPLETE if st == "incomplete" else
                                  "the firmware is not on the board: run lightmeter flash"), file=sys.stderr)
        return 1
    flash.flash(profile, port, args.firmware, timeout=args.timeout)
    return 0
