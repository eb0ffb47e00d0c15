"""DSMR P1 telegrams (lightmeter.meters.dsmr): DSMR 5.0.2 P1 Companion Standard, chapter 6.

Vectors: tests/vectors/dsmr/telegrams.json (see its README): two telegrams published with their
CRCs (dsmr_parser's test suite) and three of ours. CRCs are checked against a bitwise CRC-16/ARC
written here from its definition (polynomial 0xA001 reflected, init 0), itself checked against
the catalogue check value: CRC-16/ARC("123456789") = 0xBB3D (Greg Cook, "Catalogue of
parametrised CRC algorithms", reveng.sourceforge.io).
"""

import io

from lightmeter.meters import dsmr, meter
from lightmeter.errors import Invalid, Malformed
from support import crc16_a001_bitwise, load_vector, raises

VECTORS = load_vector("dsmr/telegrams.json")


def crc_arc_bitwise(data):
    """CRC-16/ARC one bit at a time, from the definition."""
    return crc16_a001_bitwise(data, 0)


def telegram(lines, crc=None):
    """Telegram bytes of header + data lines, with its CRC from the bitwise reference."""
    body = ("\r\n".join(lines) + "\r\n!").encode()
    c = crc_arc_bitwise(body) if crc is None else crc
    return body + ("%04X\r\n" % c).encode()


LINES = ["/XMX5LGF0010444444444", "", "1-3:0.2.8(50)", "0-0:1.0.0(240315143005W)",
         "1-0:1.8.1(004512.388*kWh)", "1-0:1.8.2(003967.021*kWh)",
         "1-0:2.8.1(000000.000*kWh)", "1-0:2.8.2(000000.000*kWh)", "1-0:1.7.0(00.412*kW)",
         "0-1:24.2.1(240315143000W)(02814.733*m3)"]


def _vector(name):
    return VECTORS[name]["telegram"].encode()


def test_crc16_arc_check_value():
    assert crc_arc_bitwise(b"123456789") == 0xBB3D
    assert dsmr.crc16(b"123456789") == 0xBB3D


def test_crc16_agrees_with_the_bitwise_reference():
    for name in VECTORS:
        raw = _vector(name)
        upto = raw[:raw.index(b"!") + 1]
        assert dsmr.crc16(upto) == crc_arc_bitwise(upto) == int(VECTORS[name]["crc"], 16), name
    for n in (0, 1, 2, 255, 256, 1000):
        data = bytes((i * 7 + 3) & 0xFF for i in range(n))
        assert dsmr.crc16(data) == crc_arc_bitwise(data)


def test_published_telegrams_carry_the_crc_we_compute():
    # CRCs computed by others: a match means our CRC is the one meters use
    assert VECTORS["dsmr_parser-v5.txt"]["telegram"].endswith("!6EEE\r\n")
    assert VECTORS["dsmr_parser-sagemcom-t210-d-r.txt"]["telegram"].endswith("!7EF9\r\n")
    published = [n for n in VECTORS if n.startswith("dsmr_parser-")]
    assert len(published) == 6
    for name in published:
        t = dsmr.parse(_vector(name))
        assert t.crc == int(VECTORS[name]["crc"], 16)


def test_vectors_read_as_their_text_says():
    for name, v in VECTORS.items():
        t = dsmr.parse(_vector(name))
        assert t.header == v["header"], name
        got = [list(m) for m in dsmr.measurements(t)]
        assert got == v["measurements"], (name, got)
        for obis, when in v["gas_time"].items():
            assert t.timestamp(obis) == when


def test_values_become_exact_mantissa_and_scale():
    for text, want in (("001234.567*kWh", (1234567, -3, "kWh")), ("0.48*A", (48, -2, "A")),
                       ("0230.0*V", (2300, -1, "V")), ("12785.123*m3", (12785123, -3, "m3")),
                       ("001*A", (1, 0, "A")), ("006545766*Wh", (6545766, 0, "Wh")),
                       ("00004", (4, 0, "")), ("999999999999999999*kWh", (999999999999999999, 0, "kWh"))):
        assert dsmr.parse_value(text) == want, text


def test_bad_values_are_malformed():
    for text in ("", "*kWh", ".5*kWh", "5.*kWh", "1.2.3*kWh", "-1*kWh", "+1*kWh", "1e3*kWh", " 1*kWh",
                 "1*", "1*k W", "1*kWh*", "1*abcdefghi", "1234567890123456789*kWh", "12,5*kWh"):
        raises(Malformed, dsmr.parse_value, text)


def test_sum_of_tariffs_is_exact_across_scales():
    lines = LINES[:4] + ["1-0:1.8.1(1.5*kWh)", "1-0:1.8.2(000002.250*kWh)"]
    ms = dsmr.measurements(dsmr.parse(telegram(lines)))
    assert ms[0] == ("1-0:1.8.0", 3750, -3, "kWh", 0)
    lines = LINES[:4] + ["1-0:1.8.1(1.5*kWh)", "1-0:1.8.2(2*Wh)"]
    raises(Invalid, dsmr.measurements, dsmr.parse(telegram(lines)))


def test_the_meters_own_total_comes_first():
    lines = LINES[:4] + ["1-0:1.8.0(000010.000*kWh)", "1-0:1.8.1(000004.000*kWh)",
                         "1-0:1.8.2(000005.000*kWh)"]
    assert dsmr.measurements(dsmr.parse(telegram(lines)))[0] == ("1-0:1.8.0", 10000, -3, "kWh", 0)


def test_no_import_register_or_a_wrong_unit_on_it_is_invalid():
    raises(Invalid, dsmr.measurements, dsmr.parse(telegram(LINES[:4] + ["1-0:1.7.0(00.412*kW)"])))
    raises(Invalid, dsmr.measurements, dsmr.parse(telegram(LINES[:4] + ["1-0:1.8.0(1*m3)"])))
    raises(Invalid, dsmr.measurements, dsmr.parse(telegram(LINES[:4] + ["1-0:1.8.1(1*kWh)", "1-0:1.8.2(1*m3)"])))


def test_a_bad_optional_line_never_loses_the_main_register():
    for bad in ("1-0:2.7.0(00.412*kWh)", "1-0:32.7.0(230.0*A)", "1-0:2.8.0(1*m3)", "1-0:31.7.0(1,5*A)",
                "0-2:24.2.1(240315143000W)(12.5*kWh)"):
        t = dsmr.parse(telegram(LINES + [bad]))
        ms = dsmr.measurements(t)
        assert ms[0] == ("1-0:1.8.0", 8479409, -3, "kWh", 0), bad
        obis = bad[:bad.index("(")]
        assert obis not in [m[0] for m in ms] and [s[0] for s in t.skipped] == [obis], bad


def test_gas_without_a_valid_capture_time_is_left_out():
    for stamp in ("240315143000X", "24031514300W", "241315143000W", "240315246000W", "2403151430000"):
        lines = LINES[:-1] + ["0-1:24.2.1(%s)(02814.733*m3)" % stamp]
        t = dsmr.parse(telegram(lines))
        ms = dsmr.measurements(t)
        assert ms[0][0] == "1-0:1.8.0" and "0-1:24.2.1" not in [m[0] for m in ms]
        assert t.skipped and t.skipped[0][0] == "0-1:24.2.1" and "time stamp" in t.skipped[0][1]


def test_an_unconnected_mbus_channel_keeps_the_reading():
    # dsmr_parser TELEGRAM_V5_TWO_MBUS: channel 1 sends 0-1:24.2.1(700101010000W)(00000000)
    t = dsmr.parse(_vector("dsmr_parser-v5-two-mbus.txt"))
    ms = dsmr.measurements(t)
    assert ms[0] == ("1-0:1.8.0", 2375582, -3, "kWh", 0)  # 2130.115 + 245.467 kWh
    assert ms[-1] == ("0-2:24.2.1", 246138, -3, "m3", 0)
    assert [s[0] for s in t.skipped] == ["0-1:24.2.1"]


def test_a_crc_without_leading_zeros_is_read():
    # dsmr_parser TELEGRAM_UNPADDED_CRC: a Warmtelink heat meter ends "!B9F" (CRC 0x0B9F)
    t = dsmr.parse(_vector("dsmr_parser-warmtelink-unpadded-crc.txt"))
    assert t.crc == 0x0B9F and t.header == "NWA-WARMTELINK"
    assert dsmr.measurements(t) == [("0-1:24.2.1", 240860, -3, "GJ", 0)]  # heat is the main register
    good = _vector("dsmr_parser-warmtelink-unpadded-crc.txt")
    raises(Malformed, dsmr.parse, good[:-5] + b"09F\r\n")  # a short CRC with a leading zero
    raises(Malformed, dsmr.parse, good[:-5] + b"B9E\r\n")  # the wrong value
    raises(Malformed, dsmr.parse, good[:-5] + b"\r\n")  # no CRC at all


def test_belgian_gas_on_24_2_3_is_read():
    # dsmr_parser TELEGRAM_FLUVIUS_V171(_ALT): Fluvius e-MUCS gas on 0-1:24.2.3
    for name, gas, when in (("dsmr_parser-fluvius-v171.txt", 112384, "200512134558S"),
                            ("dsmr_parser-fluvius-v171-alt.txt", 92287, "231102121002W")):
        t = dsmr.parse(_vector(name))
        ms = dsmr.measurements(t)
        assert ("0-1:24.2.3", gas, -3, "m3", 0) in ms and not t.skipped, name
        assert t.timestamp("0-1:24.2.3") == when


def test_a_bad_crc_is_rejected():
    good = telegram(LINES)
    c = crc_arc_bitwise(good[:good.index(b"!") + 1])
    for wrong in (c ^ 1, c ^ 0x8000, (c + 1) & 0xFFFF):
        raises(Malformed, dsmr.parse, telegram(LINES, wrong))
    lower = good[:-6] + ("%04x" % c).encode() + b"\r\n"
    if lower != good:
        raises(Malformed, dsmr.parse, lower)
    raises(Malformed, dsmr.parse, good[:-6] + b"G" + good[-5:])


def test_every_truncation_is_rejected():
    good = _vector("esmr50-1phase-gas.txt")
    assert dsmr.parse(good)
    for k in range(len(good)):
        raises(Malformed, dsmr.parse, good[:k])


def test_trailing_bytes_are_rejected():
    good = telegram(LINES)
    for extra in (b"\r\n", b"x", b"/"):
        raises(Malformed, dsmr.parse, good + extra)


def test_garbage_is_rejected():
    for junk in (b"", b"/", b"!", b"hello world", bytes(range(256)), b"\xff" * 40, b"/!0000\r\n",
                 b"/ABC5\r\n\r\n!" + b"0000\r\n"):
        raises(Malformed, dsmr.parse, junk)
    raises(Malformed, dsmr.parse, "/ABC5 text, not bytes")


def test_structure_rules():
    bad = [
        LINES[:1] + LINES[2:],  # no empty line after the header
        ["XMX5LGF0010444444444"] + LINES[1:],  # no "/"
        ["/X5"] + LINES[1:],  # header too short
        ["/1235meter"] + LINES[1:],  # manufacturer is letters
        LINES + ["1-0:1.8.1(000001.000*kWh)"],  # a repeated OBIS code
        LINES + ["1-0:1.8(1*kWh)"],  # not an OBIS code
        LINES + ["1-0:1.8.1"],  # no value
        LINES + ["1-0:1.8.1(1*kWh"],  # unclosed
        LINES + ["1-0:1.8.1(1*kWh)x"],  # text after the values
        LINES + ["1-0:1.8.1((1*kWh)"],
        LINES + ["(00001.001)"],  # DSMR 3 continuation line
        LINES + [""],  # an empty data line
        LINES + ["1-0:99.99.9\n(1)"],  # a bare LF
    ]
    for lines in bad:
        raises(Malformed, dsmr.parse, telegram(lines))
    body = ("\r\n".join(LINES) + "\r\n").replace("\r\n1-3", "\n1-3").encode() + b"!"
    raises(Malformed, dsmr.parse, body + ("%04X\r\n" % crc_arc_bitwise(body)).encode())  # right CRC, bare LF


def test_non_ascii_is_rejected_even_with_a_right_crc():
    body = ("\r\n".join(LINES) + "\r\n").encode() + "0-0:96.13.0(\u00e9)\r\n!".encode()
    raw = body + ("%04X\r\n" % crc_arc_bitwise(body)).encode()
    raises(Malformed, dsmr.parse, raw)


def test_limits():
    long_line = "0-0:96.13.0(" + "3" * dsmr.MAX_LINE + ")"
    raises(Malformed, dsmr.parse, telegram(LINES + [long_line]))
    fits = "0-0:96.13.0(" + "3" * (dsmr.MAX_LINE - 13) + ")"
    assert dsmr.parse(telegram(LINES + [fits]))
    many = ["0-0:96.13.%d(%s)" % (i, "3" * 2000) for i in range(5)]
    raises(Malformed, dsmr.parse, telegram(LINES + many))


# -- framing a byte stream -----------------------------------------------------------------------

def _stream():
    return [_vector(n) for n in sorted(VECTORS)]


def test_framer_whole_split_and_byte_by_byte_agree():
    ts = _stream()
    s = b"".join(ts)
    for step in (len(s), 1, 2, 7, 64, 255):
        f = dsmr.Framer()
        got = []
        for i in range(0, len(s), step):
            got += f.feed(s[i:i + step])
        assert got == ts and f.dropped == 0, step


def test_framer_resynchronises_after_garbage_and_cut_telegrams():
    a, b, c = _stream()[:3]
    noise = b"\x00\xff garbage ! 1234\r\n" * 3
    f = dsmr.Framer()
    assert f.feed(noise + a + noise + b[:200] + c + noise) == [a, c]
    assert f.dropped == 1  # b, cut off by c's "/"
    f = dsmr.Framer()
    # cut inside the CRC line, and a telegram whose CRC line runs on without LF
    assert f.feed(a[:-3] + b + a[:-2] + b"XXXXXXXX" + c) == [b, c]
    assert f.dropped == 2


def test_framer_bounds_what_it_holds():
    f = dsmr.Framer()
    run = b"/" + b"1" * (3 * dsmr.MAX_TELEGRAM)
    for i in range(0, len(run), 500):
        assert f.feed(run[i:i + 500]) == []
        assert f._buf is None or len(f._buf) <= dsmr.MAX_TELEGRAM
    assert f.dropped == 1
    a = _stream()[0]
    assert f.feed(a) == [a]


# -- the dsmr_p1 driver on a byte stream -----------------------------------------------------------

def test_driver_reads_the_first_good_telegram():
    a = _vector("esmr50-1phase-gas.txt")
    port = io.BytesIO(b"tail of an earlier one!1234\r\n" + a + _vector("dsmr42-no-gas.txt"))
    m = meter.open({"driver": "dsmr_p1", "drain": False}, io=port)
    ms = m.read()
    assert ms[0] == ("1-0:1.8.0", 8479409, -3, "kWh", 0)
    assert ("0-1:24.2.1", 2814733, -3, "m3", 0) in ms
    assert m.read()[0] == ("1-0:1.8.0", 1419896, -3, "kWh", 0)


def test_driver_skips_a_bad_telegram():
    a = _vector("esmr50-1phase-gas.txt")
    bad = a.replace(b"004512.388", b"004512.389")
    m = dsmr.P1Meter({"drain": False}, io.BytesIO(bad + a))
    assert m.read()[0][1] == 8479409
    assert m.rejected == 1


def test_driver_errors_are_typed():
    a = _vector("esmr50-1phase-gas.txt")
    bad = a.replace(b"004512.388", b"004512.389")
    raises(Malformed, dsmr.P1Meter({"drain": False}, io.BytesIO(bad)).read)
    raises(meter.NoAnswer, dsmr.P1Meter({"drain": False}, io.BytesIO(b"")).read)
    raises(Malformed, dsmr.P1Meter({"drain": False}, io.BytesIO(b"no telegram here")).read)
    raises(Malformed, dsmr.P1Meter({"drain": False}, io.BytesIO(a[:-1])).read)
    m = dsmr.P1Meter({"drain": False, "max_bytes": 1000}, io.BytesIO(b"/" + b"9" * 5000 + a))
    raises(Malformed, m.read)


def test_incremental_reader_yields_each_good_telegram():
    a, b, c = _stream()[:3]
    bad = b.replace(b"1-0:", b"1-1:", 1)
    line = io.BytesIO(b"\xff\x00noise" + a + b"noise" + bad + c[:100] + b + c)
    got = list(dsmr.telegrams(line))
    assert [t.crc for t in got] == [dsmr.parse(x).crc for x in (a, b, c)]
    assert list(dsmr.telegrams(io.BytesIO(b""))) == []
    gen = dsmr.telegrams(io.BytesIO(bad))
    raises(Malformed, lambda: next(gen))


def test_the_driver_drains_what_a_uart_holds_first():
    class Uart:
        """MicroPython's UART: any() and read(n), no reset_input_buffer. `waiting` is in its
        buffer now; `later` arrives while a read waits."""

        def __init__(self, waiting, later):
            self.waiting, self.later = waiting, list(later)

        def any(self):
            return len(self.waiting)

        def read(self, n=-1):
            if not self.waiting and self.later:
                self.waiting = self.later.pop(0)
            got, self.waiting = self.waiting[:n], self.waiting[n:]
            return got or None

    stale, fresh = _vector("dsmr42-no-gas.txt"), _vector("esmr50-1phase-gas.txt")
    u = Uart(stale, [])
    meter.drain(u)
    assert u.waiting == b""
    assert dsmr.P1Meter({}, Uart(stale, [fresh])).read()[0][1] == 8479409  # not 1419896
    assert dsmr.P1Meter({"drain": False}, Uart(stale, [fresh])).read()[0][1] == 1419896
