"""`lightmeter board virtual`: the firmware on a virtual board, its UART or REPL on a pty."""

from lightmeter_host.errors import UsageError


def add_parser(sub):
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


def run(args):
    from lightmeter_host.vboard import board
    if args.baud < 0:
        raise UsageError("--baud must be positive (0: no pacing)")
    flash_size = None
    if args.flash_size is not None:
        if not args.repl:
            raise UsageError("--flash-size applies to --repl only")
        text = args.flash_size.strip().upper()
        scale = {"K": 1024, "M": 1024 * 1024}.get(text[-1:], 1)
        digits = text[:-1] if scale > 1 else text
        if not digits.isdigit():
            raise UsageError("--flash-size wants bytes (K and M suffixes allowed), not %r" % args.flash_size)
        flash_size = int(digits) * scale
    if args.repl:
        if args.runtime != "micropython":
            raise UsageError("--repl needs --runtime micropython (the REPL is MicroPython's)")
        if args.path or args.module != "lightmeter.device.app":
            raise UsageError("--repl runs no device program: --module and --path do not apply")
    try:
        return board.serve(runtime=args.runtime, root=args.root, module=args.module, baud=args.baud or None,
                           paths=args.path, repl=args.repl, flash_size=flash_size,
                           transcript=args.transcript)
    except ValueError as e:
        raise UsageError(str(e))
