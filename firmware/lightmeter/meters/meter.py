"""Meter drivers behind one interface: what a device reads before it signs.

A driver has `read()`, which returns a list of measurements, each a tuple

    (obis, mantissa, scale, unit, status)

obis: the OBIS code as text ("1-0:1.8.0"); the value is mantissa * 10**scale, both integers (no
floats: the same bytes on every runtime, as in the signed reading, proto/reading.md); unit: text
("Wh", "kWh", "V", "A", "W", "m3"); status: lightmeter.device.reading FLAG_* bits. The first measurement
is always the meter's main energy register: the one a device signs (lightmeter.device.app).

`open(config, io=None, store=None)` builds the driver config["driver"] names, with the rest of
config as its options:

    simulated   a deterministic, monotonic energy register (demos, tests)
    dsmr_p1     a Dutch smart meter's P1 port (lightmeter.meters.dsmr)
    modbus_sdm  an Eastron SDM-style meter over Modbus RTU (lightmeter.meters.modbus)
    s0          an S0 pulse output counted on a pin (lightmeter.meters.s0)

io is the driver's link to the world: a UART-like object for dsmr_p1 and modbus_sdm (given None
on a board, the UART is opened from the options: "uart", "baudrate", ...); for s0 a machine.Pin,
None (opened from "pin") or s0.FED (edges fed by the caller); for simulated, a callable giving the reading number (the device passes its
reading counter). store is a lightmeter.device.store.Store, needed by s0 to keep its count.

Errors are typed: Malformed for bytes that are not a frame of the protocol (bad CRC, truncated,
garbage), Invalid for a meter that answers wrongly (wrong address, exception response, NaN),
NoAnswer for a meter that stays silent, Unsupported for a driver or option we do not have.
Driver modules are imported only when their driver is opened, and `machine` only on a board.
"""

from lightmeter.errors import LightmeterError, Malformed, Unsupported

DRIVERS = ("simulated", "dsmr_p1", "modbus_sdm", "s0")
# positions in a measurement tuple
OBIS, MANTISSA, SCALE, UNIT, STATUS = range(5)


class NoAnswer(LightmeterError):
    """The meter did not answer in time: nothing arrived (part of a frame is Malformed)."""


def measurement(obis, mantissa, scale, unit, status=0):
    """A measurement tuple, checked: an OBIS text, integer mantissa and scale, a unit text."""
    if not isinstance(obis, str) or not isinstance(unit, str):
        raise Malformed("measurement: obis and unit must be text")
    for x in (mantissa, scale, status):
        if isinstance(x, bool) or not isinstance(x, int):
            raise Malformed("measurement: mantissa, scale and status must be integers")
    return (obis, mantissa, scale, unit, status)


class Simulated:
    """A deterministic energy register that only goes up: value = start + step * n, where n is
    the reading number (given by `position`, a callable, or counted here from 1).

    With no options it is today's demo meter: 1-0:1.8.0, Wh, 1000000 + 1234 * seq, scale 0.
    """

    def __init__(self, options, position=None):
        self.start = _int_option(options, "start", 1000000, 0)
        self.step = _int_option(options, "step", 1234, 0)
        self.scale = _int_option(options, "scale", 0, -18)
        if self.scale > 18:
            raise Malformed("simulated: scale must be in -18..18")
        self.obis = _text_option(options, "obis", "1-0:1.8.0")
        self.unit = _text_option(options, "unit", "Wh")
        if position is not None and not callable(position):
            raise Malformed("simulated: io must be a callable giving the reading number")
        self._position = position
        self._n = 0

    def read(self):
        if self._position is not None:
            n = self._position()
        else:
            self._n += 1
            n = self._n
        return [measurement(self.obis, self.start + self.step * n, self.scale, self.unit, 0)]


def _int_option(options, name, default, low):
    v = options.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise Malformed("meter option %s: an integer >= %d, got %r" % (name, low, v))
    return v


def _text_option(options, name, default):
    v = options.get(name, default)
    if not isinstance(v, str) or not v:
        raise Malformed("meter option %s: text, got %r" % (name, v))
    return v


def drain(port):
    """Discard bytes already waiting on a UART-like port (pyserial: reset_input_buffer; a
    MicroPython UART: read while any()). A stale frame must not pass for the answer to a new
    request, nor an old telegram for the meter's present state."""
    reset = getattr(port, "reset_input_buffer", None)
    if reset is not None:
        reset()
        return
    waiting = getattr(port, "any", None)
    if waiting is not None:
        for _ in range(64):  # bounded: a port that never stops talking is not drained forever
            n = waiting()
            if not n:
                break
            port.read(n)


def board_uart(options, baudrate, bits=8, parity=None, stop=1):
    """The meter's port from options "uart" (required), "baudrate", "tx", "rx", "invert" ("rx":
    the P1 port's inverted signal) and "timeout_ms" (1000): a machine.UART when "uart" is a
    number (a MicroPython board), a pyserial port when it is a /dev/ path (Linux, CPython)."""
    if "uart" not in options:
        raise Malformed("meter option uart: the UART id or serial device path is required")
    rate = options.get("baudrate", baudrate)
    timeout = options.get("timeout_ms", 1000)
    if isinstance(options["uart"], str):
        try:
            import serial  # pyserial: only where the firmware runs on CPython (rpi_linux)
        except ImportError:
            raise Unsupported("meter: uart %r is a serial device path, which needs pyserial" % options["uart"])
        return serial.Serial(options["uart"], rate, bytesize=bits, parity="N" if parity is None else parity,
                             stopbits=stop, timeout=timeout / 1000)
    try:
        import machine
    except ImportError:
        raise Unsupported("meter: no machine module here; pass the UART as io")
    kw = {"baudrate": rate, "bits": bits, "parity": parity, "stop": stop, "timeout": timeout}
    for name in ("tx", "rx"):
        if name in options:
            kw[name] = machine.Pin(options[name])  # rp2 wants Pin objects; esp32 takes either
    if options.get("invert") == "rx":
        kw["invert"] = machine.UART.INV_RX
    return machine.UART(options["uart"], **kw)


def crc16_a001(data, crc):
    """CRC-16 with the reflected polynomial 0xA001 (x^16 + x^15 + x^2 + 1), bytes LSB first,
    from the initial value crc, no final XOR: CRC-16/ARC with crc=0 (DSMR P1), CRC-16/MODBUS with
    crc=0xFFFF (Reveng CRC catalogue check values of "123456789": 0xBB3D and 0x4B37)."""
    t = _NIBBLES
    for b in data:
        crc = (crc >> 4) ^ t[(crc ^ b) & 15]
        crc = (crc >> 4) ^ t[(crc ^ (b >> 4)) & 15]
    return crc


def _nibble_table():
    # The CRC of each 4-bit value, so a byte costs two lookups instead of eight shifts.
    out = []
    for i in range(16):
        c = i
        for _ in range(4):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        out.append(c)
    return tuple(out)


_NIBBLES = _nibble_table()


def open(config, io=None, store=None):  # noqa: A001 - the natural name: meter.open(config)
    """The driver config["driver"] names, built with config's other keys as its options."""
    if not isinstance(config, dict):
        raise Malformed("meter: config must be a map with a driver name")
    name = config.get("driver")
    if name == "simulated":
        return Simulated(config, io)
    if name == "dsmr_p1":
        from lightmeter.meters import dsmr
        return dsmr.P1Meter(config, io)
    if name == "modbus_sdm":
        from lightmeter.meters import modbus
        return modbus.SdmMeter(config, io)
    if name == "s0":
        from lightmeter.meters import s0
        return s0.S0Meter(config, io, store)
    raise Unsupported("meter: unknown driver %r; known drivers: %s" % (name, ", ".join(DRIVERS)))
