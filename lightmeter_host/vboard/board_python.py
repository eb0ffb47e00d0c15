"""The CPython side of a virtual board: run the device program with its UART on two inherited pipes.

    python -m lightmeter_host.vboard.board_python --root DIR --module lightmeter.device.app --rx-fd N --tx-fd M [--path DIR]...

lightmeter_host/vboard/board.py starts this and moves bytes between the pipes and the pseudo-terminal (at the
line rate). The device program is the coroutine `run(uart, root)` of --module; `uart.read()`
returns the bytes waiting (b"" when none, never blocks), `uart.write(data)` sends. --root is the
device's flash: the host directory itself (files written there are on the host at once, so a
power cut loses nothing that was written, unlike the micropython runtime; see board.py). The
working directory is --root. stdout and stderr are the device log, never the UART.
End of input on --rx-fd means the board's host is gone: the process exits.
"""

import argparse
import asyncio
import os
import sys


class PipeUart:
    """The device's UART over two file descriptors: rx (made non-blocking here) and tx."""

    def __init__(self, rx_fd, tx_fd):
        self._rx = rx_fd
        self._tx = tx_fd
        os.set_blocking(rx_fd, False)

    def read(self):
        """Every byte received so far; b"" if none."""
        chunks = []
        while True:
            try:
                chunk = os.read(self._rx, 65536)
            except BlockingIOError:
                break
            if not chunk:  # the host closed the line: the board is being taken down
                sys.stderr.flush()
                os._exit(0)
            chunks.append(chunk)
        return b"".join(chunks)

    def write(self, data):
        """Send all of DATA (blocks while the line's buffer is full, like a UART's TX FIFO)."""
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(self._tx, view):]
        return len(data)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m lightmeter_host.vboard.board_python",
                                description="Run a device program with its UART on two pipes.")
    p.add_argument("--root", required=True, help="the device's flash (a host directory)")
    p.add_argument("--module", default="lightmeter.device.app", help="module with `async def run(uart, root)`")
    p.add_argument("--rx-fd", type=int, required=True, help="the UART's receive side (inherited fd)")
    p.add_argument("--tx-fd", type=int, required=True, help="the UART's transmit side (inherited fd)")
    p.add_argument("--path", action="append", default=[], help="put DIR first on sys.path (repeatable)")
    args = p.parse_args(argv)

    root = os.path.abspath(args.root)
    sys.path[:0] = [os.path.abspath(d) for d in args.path]
    uart = PipeUart(args.rx_fd, args.tx_fd)
    os.chdir(root)
    module = __import__(args.module, None, None, ["run"])
    asyncio.run(module.run(uart, root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
