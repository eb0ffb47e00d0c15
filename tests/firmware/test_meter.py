"""The meter interface (lightmeter.meters.meter) and what the device signs from it (Device.take_reading).

Each driver has its own test file (test_dsmr, test_modbus, test_s0); here: meter.open, the
simulated register, the shared CRC-16 (check values from Greg Cook's "Catalogue of parametrised
CRC algorithms", reveng.sourceforge.io: CRC-16/ARC 0xBB3D, CRC-16/MODBUS 0x4B37 for
"123456789"), and the reading a device queues for each kind of meter.
"""

import io

from lightmeter.link import cbor
from lightmeter.device import app as device, reading, store
from lightmeter.meters import meter, s0
from lightmeter.crypto import suite
from lightmeter.errors import LightmeterError, Malformed, Unsupported
from support import load_vector, raises
from test_modbus import RtuMeter, sdm_registers
from test_store import PowerCutFs


def test_unknown_driver_names_the_known_ones():
    e = raises(Unsupported, meter.open, {"driver": "iec62056_21"})
    for name in ("simulated", "dsmr_p1", "modbus_sdm", "s0"):
        assert name in str(e)
    raises(Unsupported, meter.open, {})
    for bad in (None, "simulated", ["simulated"]):
        raises(Malformed, meter.open, bad)


def test_simulated_is_the_demo_register_by_default():
    m = meter.open({"driver": "simulated"})
    assert m.read() == [("1-0:1.8.0", 1000000 + 1234, 0, "Wh", 0)]
    assert m.read() == [("1-0:1.8.0", 1000000 + 2 * 1234, 0, "Wh", 0)]


def test_simulated_follows_the_reading_number_it_is_given():
    seq = [41]
    m = meter.open({"driver": "simulated"}, io=lambda: seq[0])
    assert m.read()[0][1] == 1000000 + 1234 * 41
    assert m.read()[0][1] == 1000000 + 1234 * 41  # same number, same value
    seq[0] = 42
    assert m.read()[0][1] == 1000000 + 1234 * 42


def test_simulated_options():
    m = meter.open({"driver": "simulated", "start": 5, "step": 2, "scale": -3, "unit": "kWh",
                    "obis": "1-0:2.8.0"})
    assert m.read() == [("1-0:2.8.0", 7, -3, "kWh", 0)]
    for bad in ({"start": -1}, {"step": 1.5}, {"scale": 19}, {"scale": -19}, {"unit": ""}, {"obis": 3},
                {"start": True}):
        opts = {"driver": "simulated"}
        opts.update(bad)
        raises(Malformed, meter.open, opts)


def test_shared_crc16_check_values():
    assert meter.crc16_a001(b"123456789", 0) == 0xBB3D
    assert meter.crc16_a001(b"123456789", 0xFFFF) == 0x4B37
    assert meter.crc16_a001(b"", 0x1234) == 0x1234


def test_measurement_is_checked():
    assert meter.measurement("1-0:1.8.0", 5, -3, "kWh") == ("1-0:1.8.0", 5, -3, "kWh", 0)
    for bad in ((1, 5, 0, "Wh"), ("x", 5.0, 0, "Wh"), ("x", 5, True, "Wh"), ("x", 5, 0, None)):
        raises(Malformed, meter.measurement, *bad)


def test_board_drivers_need_a_board():
    for cfg in ({"driver": "dsmr_p1", "uart": 1}, {"driver": "modbus_sdm", "uart": 2}):
        raises(Unsupported, meter.open, cfg)


def test_errors_are_lightmeter_errors():
    assert issubclass(meter.NoAnswer, LightmeterError)


# -- what the device signs ------------------------------------------------------------------------

def _device(meter_cfg=None, io_=None):
    """A Device holding only what take_reading uses (real store, counter, queue, meter, suite):
    __init__ would also need a trust checkpoint, a key and a link."""
    d = object.__new__(device.Device)
    st = store.Store("/dev0", PowerCutFs())
    d.cfg = {"meter_id": "meter-7", "registry": "0x" + "00" * 20}
    d.store = st
    d.counter = store.Counter(st)
    d.queue = store.Queue(st)
    d.suite = suite.get("ecdsa")
    d.clock = None
    d.register = ("1-0:1.8.0", "Wh")
    if meter_cfg is None:
        d.meter = meter.open({"driver": "simulated"}, d.counter.peek)
    else:
        d.meter = meter.open(meter_cfg, io_, st)
    return d


def _queued(d, seq):
    for _, raw in d.queue.items():
        rec = cbor.loads(raw)
        if rec[device.R_SEQ] == seq:
            return reading.decode(rec[device.R_READING])
    raise AssertionError("reading %d not queued" % seq)


def test_device_signs_the_simulated_register_as_before():
    d = _device()
    for _ in range(3):
        seq = d.take_reading()
        r = _queued(d, seq)
        assert (r[reading.OBIS], r[reading.VALUE], r[reading.SCALE], r[reading.UNIT], r[reading.STATUS]) \
            == ("1-0:1.8.0", 1000000 + 1234 * seq, 0, "Wh", 0)


def test_device_signs_the_first_measurement_of_a_dsmr_meter():
    t = load_vector("dsmr/telegrams.json")["esmr50-1phase-gas.txt"]["telegram"].encode()
    d = _device({"driver": "dsmr_p1", "drain": False}, io.BytesIO(t))
    r = _queued(d, d.take_reading())
    assert (r[reading.OBIS], r[reading.VALUE], r[reading.SCALE], r[reading.UNIT], r[reading.STATUS]) \
        == ("1-0:1.8.0", 8479409, -3, "kWh", 0)
    # the telegrams are used up: the next reading is flagged, under the last good register
    r = _queued(d, d.take_reading())
    assert (r[reading.OBIS], r[reading.VALUE], r[reading.SCALE], r[reading.UNIT], r[reading.STATUS]) \
        == ("1-0:1.8.0", 0, 0, "kWh", reading.FLAG_METER_ERROR)


def test_device_signs_a_modbus_meter_and_flags_a_silent_one():
    port = RtuMeter(1, sdm_registers({0x0048: 812.5, 0x004A: 0.0, 0x0156: 812.5, 0x0000: 229.9,
                                      0x0006: 0.5, 0x000C: 100.0}))
    d = _device({"driver": "modbus_sdm"}, port)
    r = _queued(d, d.take_reading())
    assert (r[reading.OBIS], r[reading.VALUE], r[reading.SCALE], r[reading.UNIT], r[reading.STATUS]) \
        == ("1-0:1.8.0", 812500, -3, "kWh", 0)
    port.mode = "silent"
    seq = d.take_reading()
    r = _queued(d, seq)
    assert r[reading.STATUS] == reading.FLAG_METER_ERROR and r[reading.VALUE] == 0
    assert seq == 2  # the failed read still used up its sequence number, on chain as a gap


def test_device_signs_an_s0_count_never_ahead_of_the_stored_one():
    d = _device({"driver": "s0", "imp_per_kwh": 1000, "persist_every": 100}, s0.FED)
    t = 0
    for _ in range(7):
        d.meter.counter.edge(t, True)
        d.meter.counter.edge(t + 40, False)
        t += 100
    r = _queued(d, d.take_reading())
    assert (r[reading.OBIS], r[reading.VALUE], r[reading.SCALE], r[reading.UNIT]) == ("1-0:1.8.0", 7, 0, "Wh")
    assert int.from_bytes(d.store.read("s0"), "big") == 7
