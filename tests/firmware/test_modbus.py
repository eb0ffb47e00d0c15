"""Modbus RTU for SDM meters (lightmeter.meters.modbus): frames, CRC, float registers, the driver.

CRC-16/MODBUS check value: "123456789" -> 0x4B37 (Greg Cook, "Catalogue of parametrised CRC
algorithms", reveng.sourceforge.io). Frames: Modbus Application Protocol V1.1b3, 6.4 (function
0x04) and 7 (exception responses); RTU framing and CRC byte order: Modbus over Serial Line V1.02,
2.5.1 and 6.2.2. Float registers: IEEE 754 binary32, high word first (Eastron SDM protocol
documents). The pseudo-terminal test against a real Modbus server (pymodbus) is
tests/host/test_modbus_pty.py; here the meter is RtuMeter below, which builds its frames with
the bitwise reference CRC, never with the code under test.
"""

import struct

from lightmeter.meters import meter, modbus
from lightmeter.errors import Invalid, Malformed, Unsupported
from support import crc16_a001_bitwise, raises, unhex


def crc_modbus_bitwise(data):
    """CRC-16/MODBUS one bit at a time, from the definition."""
    return crc16_a001_bitwise(data, 0xFFFF)


def framed(body):
    c = crc_modbus_bitwise(body)
    return bytes(body) + bytes((c & 0xFF, c >> 8))


def f32(x):
    """(hi, lo) registers of x as IEEE 754 binary32, big-endian."""
    b = struct.pack(">f", x)
    return (b[0] << 8) | b[1], (b[2] << 8) | b[3]


def bits(u32):
    return u32 >> 16, u32 & 0xFFFF


class RtuMeter:
    """A Modbus RTU slave on the far side of a port: answers read-input-register requests from a
    register map, or as told (silence, exception, corruption)."""

    def __init__(self, slave=1, registers=None):
        self.slave = slave
        self.registers = registers or {}
        self.mode = "ok"
        self.out = b""
        self.requests = []

    def write(self, frame):
        frame = bytes(frame)
        self.requests.append(frame)
        if frame[0] != self.slave or crc_modbus_bitwise(frame) != 0 or self.mode == "silent":
            return len(frame)  # a real slave stays quiet
        first, count = (frame[2] << 8) | frame[3], (frame[4] << 8) | frame[5]
        if self.mode == "exception" or any(first + i not in self.registers for i in range(count)):
            self.out = framed(bytes((self.slave, 0x84, 2)))
            return len(frame)
        data = b""
        for i in range(count):
            data += struct.pack(">H", self.registers[first + i])
        reply = framed(bytes((self.slave, 0x04, 2 * count)) + data)
        if self.mode == "cut":
            reply = reply[:-3]
        elif self.mode == "flip":
            reply = reply[:4] + bytes((reply[4] ^ 0x10,)) + reply[5:]
        elif self.mode == "other_slave":
            reply = framed(bytes((self.slave + 1,)) + reply[1:-2])
        self.out = reply
        return len(frame)

    def read(self, n):
        got, self.out = self.out[:n], self.out[n:]
        return got


def sdm_registers(values):
    regs = {}
    for first, x in values.items():
        hi, lo = f32(x)
        regs[first], regs[first + 1] = hi, lo
    return regs


def test_crc16_modbus_check_value():
    assert crc_modbus_bitwise(b"123456789") == 0x4B37
    assert modbus.crc16(b"123456789") == 0x4B37
    for n in (0, 1, 5, 64, 300):
        data = bytes((i * 13 + 1) & 0xFF for i in range(n))
        assert modbus.crc16(data) == crc_modbus_bitwise(data)


def test_request_frame():
    # slave 1, function 4, registers 0x0000..0x0001; CRC low byte first
    assert modbus.read_request(1, 0x0000, 2) == framed(unhex("010400000002"))
    assert modbus.read_request(1, 0x0000, 2)[-2:] == unhex("71cb")
    assert modbus.read_request(0x11, 0x0156, 2) == framed(unhex("110401560002"))
    for bad in ((0, 0, 2), (248, 0, 2), (1, -1, 2), (1, 0, 0), (1, 0, 126), (1, 0xFFFF, 2)):
        raises(Malformed, modbus.read_request, *bad)


def test_float_registers_to_fixed_resolution():
    for u32, scale, want in (
            (0x43663333, -1, 2302),  # 230.2 V (230.19999694...) at 0.1 V
            (0x3F800000, -3, 1000),  # 1.0 kWh = 1000 Wh
            (0x461C4000, -3, 10000000),  # 10000 kWh
            (0x4B800000, -3, 16777216000),  # 2**24 kWh
            (0xC2C80000, 0, -100),  # -100 W
            (0x00000000, 0, 0), (0x80000000, -3, 0),
            (0x00000001, -6, 0),  # smallest subnormal
            (0x7F7FFFFF, 30, 340282347),  # largest finite, 3.4028234663852886e38
            (0x3DCCCCCD, -1, 1),  # 0.1 (0.100000001...) at 0.1
            (0x3E4CCCCD, -1, 2)):  # 0.2 at 0.1
        assert modbus.float32_to_decimal(*bits(u32), scale) == want, hex(u32)


def test_float_rounding_is_to_nearest_ties_to_even():
    for x, want in ((0.5, 0), (1.5, 2), (2.5, 2), (3.5, 4), (-0.5, 0), (-1.5, -2), (-2.5, -2),
                    (0.4999999701976776, 0), (2.5000002384185791, 3)):
        assert modbus.float32_to_decimal(*f32(x), 0) == want, x
    # 0.0625 kWh at 0.001: 62.5 -> 62 (even); 0.1875 -> 187.5 -> 188
    assert modbus.float32_to_decimal(*f32(0.0625), -3) == 62
    assert modbus.float32_to_decimal(*f32(0.1875), -3) == 188


def test_float_decoding_agrees_with_struct():
    # MicroPython's struct unpacks big-endian binary32 too; the driver decodes bits itself so the
    # result does not depend on the port's float precision.
    for u32 in (0x43663333, 0x3F800000, 0xC2C80000, 0x4B800000, 0x3DCCCCCD, 0x00000001, 0x007FFFFF,
                0x00800000, 0x47F12065, 0xBF000000):
        sign, m, e = modbus.float32_parts(*bits(u32))
        x = struct.unpack(">f", struct.pack(">I", u32))[0]
        assert sign * m * 2.0 ** e == x, hex(u32)


def test_nan_and_infinities_are_invalid():
    for u32 in (0x7FC00000, 0x7F800001, 0xFFC00000, 0x7F800000, 0xFF800000):
        raises(Invalid, modbus.float32_to_decimal, *bits(u32), 0)


def test_response_parsing():
    good = framed(unhex("0104084366333300000000"))
    assert modbus.parse_response(good, 1, 4) == [0x4366, 0x3333, 0, 0]
    raises(Invalid, modbus.parse_response, good, 2, 4)  # another slave
    raises(Invalid, modbus.parse_response, good, 1, 2)  # byte count for another request
    raises(Invalid, modbus.parse_response, framed(unhex("0103084366333300000000")), 1, 4)  # function 3
    raises(Malformed, modbus.parse_response, good[:-1], 1, 4)
    raises(Malformed, modbus.parse_response, good[:4], 1, 4)
    raises(Malformed, modbus.parse_response, good + b"\x00", 1, 4)
    raises(Malformed, modbus.parse_response, good[:-2] + bytes((good[-1], good[-2])), 1, 4)  # CRC order
    raises(Malformed, modbus.parse_response, framed(unhex("01040843663333000000")), 1, 4)  # short data
    raises(Malformed, modbus.parse_response, b"", 1, 4)


def test_exception_responses_are_typed():
    for code in (1, 2, 3, 4, 6, 11, 77):
        e = raises(modbus.ExceptionResponse, modbus.parse_response, framed(bytes((1, 0x84, code))), 1, 2)
        assert e.code == code and isinstance(e, Invalid)
    raises(Malformed, modbus.parse_response, framed(bytes((1, 0x84, 2, 0))), 1, 2)


VALUES = {0x0000: 230.2, 0x0006: 1.234, 0x000C: -345.6, 0x0048: 12345.678, 0x004A: 0.125,
          0x0156: 12345.803}


def test_driver_reads_an_sdm_meter():
    port = RtuMeter(1, sdm_registers(VALUES))
    m = meter.open({"driver": "modbus_sdm", "slave": 1}, io=port)
    ms = m.read()
    # the float32 nearest each value, rounded to the register's resolution
    assert ms == [("1-0:1.8.0", 12345678, -3, "kWh", 0), ("1-0:2.8.0", 125, -3, "kWh", 0),
                  ("1-0:15.8.0", 12345803, -3, "kWh", 0), ("1-0:32.7.0", 2302, -1, "V", 0),
                  ("1-0:31.7.0", 1234, -3, "A", 0), ("1-0:21.7.0", -346, 0, "W", 0)]
    assert port.requests[0] == framed(unhex("010400480002"))
    assert len(port.requests) == 6


def test_driver_register_choice():
    port = RtuMeter(3, sdm_registers(VALUES))
    m = modbus.SdmMeter({"slave": 3, "registers": ["total_energy", "power"]}, port)
    assert m.read() == [("1-0:15.8.0", 12345803, -3, "kWh", 0), ("1-0:21.7.0", -346, 0, "W", 0)]
    raises(Unsupported, modbus.SdmMeter, {"registers": ["reactive_power"]}, port)
    for bad in ({"slave": 0}, {"slave": 248}, {"slave": "1"}, {"registers": []}, {"registers": "power"}):
        raises(Malformed, modbus.SdmMeter, bad, port)


def test_driver_errors_are_typed():
    regs = sdm_registers(VALUES)
    for mode, err in (("silent", meter.NoAnswer), ("exception", modbus.ExceptionResponse),
                      ("cut", Malformed), ("flip", Malformed), ("other_slave", Invalid)):
        port = RtuMeter(1, regs)
        port.mode = mode
        raises(err, modbus.SdmMeter({}, port).read)
    raises(meter.NoAnswer, modbus.SdmMeter({"slave": 9}, RtuMeter(1, regs)).read)  # nobody there
    raises(modbus.ExceptionResponse, modbus.SdmMeter({}, RtuMeter(1, {})).read)  # unknown register
    nan = dict(regs)
    nan[0x0048], nan[0x0049] = 0x7FC0, 0
    raises(Invalid, modbus.SdmMeter({}, RtuMeter(1, nan)).read)


def test_board_uart_needs_a_board():
    # No `machine` here (CPython, MicroPython's WebAssembly port): give the transport as io.
    raises(Unsupported, meter.open, {"driver": "modbus_sdm", "uart": 1})
