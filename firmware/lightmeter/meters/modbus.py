"""Modbus RTU client for Eastron SDM-style energy meters (SDM120, SDM630): the modbus_sdm driver.

Frames (Modbus over Serial Line Specification and Implementation Guide V1.02, modbus.org 2006,
section 2.5.1; Modbus Application Protocol Specification V1.1b3, 6.4 "Read Input Registers"):

    request   slave | 0x04 | first register (2, big-endian) | count (2) | CRC
    answer    slave | 0x04 | byte count (= 2 * count) | registers (2 bytes each, big-endian) | CRC
    exception slave | 0x84 | exception code | CRC

CRC-16/MODBUS: polynomial 0xA001 reflected, initial value 0xFFFF, sent low byte first.

Registers (Eastron "SDM630 Modbus Protocol" and "SDM120 Modbus Protocol" documents, input
register tables): each quantity is an IEEE-754 32-bit float in two registers, high word first.
    0x0000 phase 1 voltage V   0x0006 phase 1 current A   0x000C phase 1 active power W
    0x0048 import active energy kWh   0x004A export active energy kWh
    0x0156 total active energy kWh

Floats to integers. The float is decoded from its bits with integers only (no float arithmetic:
ESP32 ports compute in single precision, others in double, and a signed value must not depend on
the port). Each register has a fixed decimal resolution (SDM_REGISTERS: energy 0.001 kWh = 1 Wh,
voltage 0.1 V, current 0.001 A, power 1 W); the exact value of the float is rounded to that
resolution, to nearest with ties to even. NaN and infinities are refused (Invalid).

Transport: any object with write(bytes) and read(n) that returns fewer bytes (or None) when its
timeout passes: machine.UART on a board, a pyserial port on a host.
"""

from lightmeter.errors import Invalid, Malformed, Unsupported
from lightmeter.meters.meter import NoAnswer, board_uart, crc16_a001, drain, measurement

READ_INPUT_REGISTERS = 0x04
MAX_REGISTERS = 125  # per request (Application Protocol 6.4)

# name: (first register, OBIS code, unit, scale); measurements come in the order of "registers"
SDM_REGISTERS = {
    "import_energy": (0x0048, "1-0:1.8.0", "kWh", -3),
    "export_energy": (0x004A, "1-0:2.8.0", "kWh", -3),
    "total_energy": (0x0156, "1-0:15.8.0", "kWh", -3),
    "voltage": (0x0000, "1-0:32.7.0", "V", -1),
    "current": (0x0006, "1-0:31.7.0", "A", -3),
    "power": (0x000C, "1-0:21.7.0", "W", 0),
}
DEFAULT_REGISTERS = ("import_energy", "export_energy", "total_energy", "voltage", "current", "power")

EXCEPTIONS = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
              4: "server device failure", 5: "acknowledge", 6: "server device busy",
              8: "memory parity error", 10: "gateway path unavailable",
              11: "gateway target device failed to respond"}


class ExceptionResponse(Invalid):
    """The meter answered with a Modbus exception; .code is the exception code."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def crc16(data):
    """CRC-16/MODBUS of data."""
    return crc16_a001(data, 0xFFFF)


def _with_crc(frame):
    c = crc16(frame)
    return bytes(frame) + bytes((c & 0xFF, c >> 8))


def read_request(slave, first, count):
    """The RTU frame asking slave for `count` input registers from `first` (function 0x04)."""
    if not 1 <= slave <= 247:
        raise Malformed("modbus: slave address %r, expected 1..247" % (slave,))
    if not 0 <= first <= 0xFFFF or not 1 <= count <= MAX_REGISTERS or first + count > 0x10000:
        raise Malformed("modbus: registers %r+%r out of range" % (first, count))
    return _with_crc(bytes((slave, READ_INPUT_REGISTERS, first >> 8, first & 0xFF, count >> 8, count & 0xFF)))


def check_crc(frame):
    """Malformed unless the frame's last two bytes are the CRC of the rest (low byte first)."""
    if len(frame) < 4:
        raise Malformed("modbus: frame of %d bytes is too short" % len(frame))
    c = crc16(memoryview(frame)[:-2])
    if frame[-2] != c & 0xFF or frame[-1] != c >> 8:
        raise Malformed("modbus: CRC mismatch")


def parse_response(frame, slave, count):
    """The register values (list of ints) of an answer to read_request(slave, _, count).

    Malformed: short, long or bad CRC; Invalid: another slave, another function, a byte count
    that does not match; ExceptionResponse (an Invalid) for an exception answer."""
    frame = bytes(frame)
    if len(frame) < 5:
        raise Malformed("modbus: frame of %d bytes is too short" % len(frame))
    check_crc(frame)
    if frame[0] != slave:
        raise Invalid("modbus: answer from slave %d, asked %d" % (frame[0], slave))
    fn = frame[1]
    if fn == READ_INPUT_REGISTERS | 0x80:
        if len(frame) != 5:
            raise Malformed("modbus: exception frame of %d bytes" % len(frame))
        code = frame[2]
        raise ExceptionResponse("modbus: slave %d: exception %d (%s)"
                                % (slave, code, EXCEPTIONS.get(code, "unknown")), code)
    if fn != READ_INPUT_REGISTERS:
        raise Invalid("modbus: answer for function 0x%02x, asked 0x04" % fn)
    if frame[2] != 2 * count:
        raise Invalid("modbus: %d data bytes, asked %d registers" % (frame[2], count))
    if len(frame) != 5 + 2 * count:
        raise Malformed("modbus: frame of %d bytes, byte count says %d" % (len(frame), 5 + 2 * count))
    return [(frame[3 + 2 * i] << 8) | frame[4 + 2 * i] for i in range(count)]


def float32_parts(hi, lo):
    """(sign, m, e) with the float32 in registers hi, lo equal to sign * m * 2**e exactly.
    Invalid for NaN and infinities."""
    bits = (hi << 16) | lo
    sign = -1 if bits >> 31 else 1
    exp = (bits >> 23) & 0xFF
    frac = bits & 0x7FFFFF
    if exp == 0xFF:
        raise Invalid("modbus: meter returned %s" % ("NaN" if frac else "an infinity"))
    if exp == 0:
        return sign, frac, -149  # subnormal
    return sign, frac | 0x800000, exp - 150


def float32_to_decimal(hi, lo, scale):
    """The float32 in registers hi, lo as an integer mantissa at 10**scale: the exact value
    rounded to the nearest multiple of 10**scale, ties to even."""
    sign, m, e = float32_parts(hi, lo)
    # value / 10**scale = num / den exactly
    num, den = m, 1
    if e >= 0:
        num <<= e
    else:
        den <<= -e
    if scale <= 0:
        num *= 10 ** -scale
    else:
        den *= 10 ** scale
    q, r = divmod(num, den)
    if 2 * r > den or (2 * r == den and q & 1):
        q += 1
    return sign * q


def _read_exactly(port, n):
    # read(n) may return fewer bytes (MicroPython UART) or block up to its timeout (pyserial);
    # an empty answer means the timeout passed.
    got = b""
    while len(got) < n:
        chunk = port.read(n - len(got))
        if not chunk:
            break
        got += chunk
    return got


class SdmMeter:
    """The modbus_sdm driver. Options: "slave" (1), "registers" (names of SDM_REGISTERS, import
    energy first by default: the first is the register a device signs), and on a board "uart",
    "tx", "rx", "baudrate" (9600), "timeout_ms" (the answer timeout, default 1000)."""

    def __init__(self, options, port=None):
        self.slave = options.get("slave", 1)
        if isinstance(self.slave, bool) or not isinstance(self.slave, int) or not 1 <= self.slave <= 247:
            raise Malformed("modbus_sdm: slave must be 1..247")
        names = options.get("registers", DEFAULT_REGISTERS)
        if not isinstance(names, (list, tuple)) or not names:
            raise Malformed("modbus_sdm: registers must be a list of names")
        for n in names:
            if n not in SDM_REGISTERS:
                raise Unsupported("modbus_sdm: unknown register %r; known: %s"
                                  % (n, ", ".join(sorted(SDM_REGISTERS))))
        self.names = tuple(names)
        self.port = port if port is not None else board_uart(options, 9600)

    def registers(self, first, count):
        """count input registers from first (one request, one answer)."""
        drain(self.port)  # a late answer to an earlier request must not be taken for this one's
        self.port.write(read_request(self.slave, first, count))
        head = _read_exactly(self.port, 5)  # an exception frame, or the start of an answer
        if len(head) < 5:
            if not head:
                raise NoAnswer("modbus: no answer from slave %d" % self.slave)
            raise Malformed("modbus: answer cut off after %d bytes" % len(head))
        frame = head
        if head[1] == READ_INPUT_REGISTERS and head[2] <= 2 * MAX_REGISTERS:
            frame += _read_exactly(self.port, head[2])  # 5 + byte count in all
        return parse_response(frame, self.slave, count)

    def read_float(self, first, scale):
        hi, lo = self.registers(first, 2)
        return float32_to_decimal(hi, lo, scale)

    def read(self):
        out = []
        for n in self.names:
            first, obis, unit, scale = SDM_REGISTERS[n]
            out.append(measurement(obis, self.read_float(first, scale), scale, unit, 0))
        return out
