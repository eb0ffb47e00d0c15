"""The modbus_sdm driver against a real Modbus RTU server (pymodbus) over pseudo-terminals.

The meter is pymodbus's RTU serial server, holding an Eastron SDM register map (input registers,
IEEE 754 binary32, high word first: SDM120 / SDM630 Modbus protocol documents) on one
pseudo-terminal; our driver talks to it through pyserial on a second one. Between the two, a
thread copies bytes master to master like a null-modem cable (a pty's master side has no path a
serial library could open, so each side gets a pty of its own). The server has slave id 1 and
ignores other ids, as a meter on an RS-485 bus does: a request to another id gets no answer.
"""

import asyncio
import os
import select
import struct
import threading
import time
import tty

import pytest
import serial
from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from lightmeter.meters import meter, modbus

SLAVE = 1
# register -> float value, as an SDM630 would hold them
VALUES = {0x0000: 231.7, 0x0006: 4.217, 0x000C: 977.25, 0x0048: 48213.062, 0x004A: 1502.5,
          0x0156: 49715.562}


def _expected(first, scale):
    """The binary32 nearest VALUES[first], rounded to 10**scale (ties to even), in exact
    arithmetic: Python's Fraction and round() do both."""
    from fractions import Fraction
    x = struct.unpack(">f", struct.pack(">f", VALUES[first]))[0]
    return round(Fraction(x) / Fraction(10) ** scale)


class NullModem:
    """Two pseudo-terminals whose masters are joined by a copying thread."""

    def __init__(self):
        self.fds = [os.openpty(), os.openpty()]
        for _, slave in self.fds:
            tty.setraw(slave)  # no echo, no line discipline, before anyone opens the path
        self.paths = [os.ttyname(slave) for _, slave in self.fds]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._copy, daemon=True)
        self._thread.start()

    def _copy(self):
        a, b = self.fds[0][0], self.fds[1][0]
        other = {a: b, b: a}
        while not self._stop.is_set():
            ready, _, _ = select.select([a, b], [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if data:
                    os.write(other[fd], data)

    def close(self):
        self._stop.set()
        self._thread.join()
        for m, s in self.fds:
            os.close(m)
            os.close(s)


def _only_our_slave(sending, frame):
    if sending and frame and frame[0] != SLAVE:
        return b""
    return frame


class PymodbusMeter:
    """pymodbus's RTU server on `path`, in a thread with its own event loop.

    The float registers are encoded by pymodbus (simulator FLOAT32 input registers, high word
    first), so our decoding is checked against its encoding.

    Only slave SLAVE is on this bus. pymodbus 3.16 answers a request for any other id with
    exception 4 even with ignore_missing_devices (its SimCore looks the id up with a KeyError
    where NoSuchIdException is handled), which no meter on an RS-485 bus does: the trace_packet
    hook keeps the server's frames for other ids off the line, so those requests go unanswered."""

    def __init__(self, path, values):
        ir = [SimData(address=first, values=[x], datatype=DataType.FLOAT32)
              for first, x in sorted(values.items())]
        bits = [SimData(address=0, values=[False], datatype=DataType.BITS)]  # no block may be empty
        holding = [SimData(address=0, values=[0], datatype=DataType.REGISTERS)]
        device = SimDevice(id=SLAVE, simdata=(bits, bits, holding, ir))
        self.loop = asyncio.new_event_loop()
        self.server = None
        ready = threading.Event()

        async def main():
            self.server = ModbusSerialServer(device, framer=FramerType.RTU, port=path, baudrate=115200,
                                             ignore_missing_devices=True, trace_packet=_only_our_slave)
            ready.set()
            await self.server.serve_forever()

        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(main()), daemon=True)
        self.thread.start()
        ready.wait(10)

    def close(self):
        fut = asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop)
        fut.result(10)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def sdm_port():
    modem = NullModem()
    server = PymodbusMeter(modem.paths[0], VALUES)
    port = serial.Serial(modem.paths[1], 115200, timeout=0.3)
    # the server opens its port asynchronously: ask until it answers (bounded)
    driver = modbus.SdmMeter({"slave": SLAVE, "registers": ["voltage"]}, port)
    deadline = time.monotonic() + 10
    while True:
        try:
            driver.read()
            break
        except meter.NoAnswer:
            if time.monotonic() > deadline:
                raise
    yield port
    port.close()
    server.close()
    modem.close()


def test_driver_reads_the_registers_pymodbus_holds(sdm_port):
    m = meter.open({"driver": "modbus_sdm", "slave": SLAVE}, io=sdm_port)
    got = m.read()
    want = [(obis, _expected(first, scale), scale, unit, 0)
            for first, obis, unit, scale in (modbus.SDM_REGISTERS[n] for n in modbus.DEFAULT_REGISTERS)]
    assert got == want
    assert got[0] == ("1-0:1.8.0", 48213062, -3, "kWh", 0)  # 48213.0625 as binary32: tie, to even


def test_a_wrong_slave_id_times_out_cleanly(sdm_port):
    with pytest.raises(meter.NoAnswer, match="no answer from slave 7"):
        modbus.SdmMeter({"slave": 7}, sdm_port).read()
    # and the line is usable at once afterwards
    assert modbus.SdmMeter({"slave": SLAVE, "registers": ["power"]}, sdm_port).read() == \
        [("1-0:21.7.0", _expected(0x000C, 0), 0, "W", 0)]


def test_a_linux_device_path_opens_a_pyserial_port(sdm_port):
    # the rpi_linux board profile: "uart" is a /dev/ path, opened by the driver itself
    sdm_port.close()  # one reader at a time on the pty
    try:
        m = meter.open({"driver": "modbus_sdm", "uart": sdm_port.port, "baudrate": 115200,
                        "timeout_ms": 300, "registers": ["import_energy"]})
        try:
            assert isinstance(m.port, serial.Serial) and m.port.timeout == 0.3
            assert m.read() == [("1-0:1.8.0", 48213062, -3, "kWh", 0)]
        finally:
            m.port.close()
    finally:
        sdm_port.open()


def test_an_unsupported_register_is_an_exception_response(sdm_port):
    m = modbus.SdmMeter({"slave": SLAVE}, sdm_port)
    with pytest.raises(modbus.ExceptionResponse) as e:
        m.registers(0x0100, 2)  # not in the map
    assert e.value.code == 2  # illegal data address
