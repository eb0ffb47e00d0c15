"""The board's entry point: what /main.py runs at power-on (`lightmeter flash` writes that file).

It reads config.json in the device root, opens the link UART that provisioning copied from the
board profile ("link": uart id and tx/rx pins with a baud rate, or a /dev/ path under Linux), and
runs the device program (lightmeter.device.app) until the board is reset. Where there is no UART to
open (no `machine` module: a virtual board's REPL, a host), it says why and returns, so that the
REPL stays usable.
"""

import json

from lightmeter.errors import Malformed, Unsupported

# What lightmeter.device.app imports, leaves first, for `load` (tests/host/test_start_load.py): the
# resident modules (device/modules.py); each step of the device loads its own and releases them.
MODULES = ("lightmeter.chain.fields", "lightmeter.crypto.suite", "lightmeter.client.trust",
           "lightmeter.link.cbor", "lightmeter.device.store", "lightmeter.device.checkpoint",
           "lightmeter.link.frame", "lightmeter.link.session", "lightmeter.meters.meter",
           "lightmeter.device.devkey", "lightmeter.device.modules")

def load(names=MODULES):
    """Import names one at a time, with a collection after each.

    A board that loads the modules from .mpy files into RAM then frees one module's loading
    garbage before the next module's bytecode is placed, so the modules end up packed instead of
    scattered between holes: 7 KiB less heap for the 21-sealer device cycle (bench/RESULTS.md).
    """
    import gc

    for name in names:
        __import__(name)
        gc.collect()


class MachineUart:
    """A machine.UART as the link wants it: read() gives the bytes waiting, b"" when none."""

    def __init__(self, uart):
        self.uart = uart

    def read(self):
        n = self.uart.any()
        if not n:
            return b""
        return self.uart.read(n) or b""

    def write(self, data):
        self.uart.write(data)


class SerialUart:
    """A pyserial port (a Raspberry Pi under Linux) with the same read()/write()."""

    def __init__(self, port):
        self.port = port

    def read(self):
        return self.port.read(self.port.in_waiting or 1)

    def write(self, data):
        self.port.write(data)


def link_settings(cfg):
    """(uart, tx, rx, baud) of config's "link"; Malformed naming the field if it is not usable."""
    link = cfg.get("link") if isinstance(cfg, dict) else None
    if not isinstance(link, dict):
        raise Malformed("config.link: missing (provision the board again)")
    uart, baud = link.get("uart"), link.get("baud", 115200)
    if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
        raise Malformed("config.link.baud: expected a positive integer")
    if isinstance(uart, str):
        if not uart.startswith("/dev/"):
            raise Malformed("config.link.uart: a text port must be a /dev/ path")
        return uart, None, None, baud
    if isinstance(uart, bool) or not isinstance(uart, int) or uart < 0:
        raise Malformed("config.link.uart: expected a UART number or a /dev/ path")
    pins = []
    for name in ("tx", "rx"):
        p = link.get(name)
        if p is not None and (isinstance(p, bool) or not isinstance(p, int) or p < 0):
            raise Malformed("config.link.%s: expected a GPIO number" % name)
        pins.append(p)
    return uart, pins[0], pins[1], baud


def open_link(cfg):
    """The link UART of config, opened; Unsupported where this runtime cannot open it."""
    uart, tx, rx, baud = link_settings(cfg)
    if isinstance(uart, str):
        try:
            import serial
        except ImportError:
            raise Unsupported("config.link.uart is a /dev/ path but pyserial is not installed")
        return SerialUart(serial.Serial(uart, baud, timeout=0))
    try:
        import machine
    except ImportError:
        raise Unsupported("no machine module here: not a board with a UART to open")
    kw = {"baudrate": baud}
    if tx is not None:
        kw["tx"] = machine.Pin(tx)
    if rx is not None:
        kw["rx"] = machine.Pin(rx)
    return MachineUart(machine.UART(uart, **kw))


def main(root="/data"):
    """Run the device from root until reset; returns (with the reason printed) if it cannot start."""
    try:
        with open(root + "/config.json") as f:
            cfg = json.load(f)
        uart = open_link(cfg)
    except OSError:
        print("lightmeter: no %s/config.json: provision this board (lightmeter provision)" % root)
        return None
    except (Malformed, Unsupported, ValueError) as e:
        print("lightmeter: not starting:", e)
        return None
    import asyncio
    load()
    from lightmeter.device import app as device
    return asyncio.run(device.run(uart, root))
