"""DSMR P1 telegrams: parse, check, frame from a UART, and read as meter measurements.

Format (Netbeheer Nederland, "Dutch Smart Meter Requirements 5.0.2 — P1 Companion Standard",
2016, chapter 6: the telegram's layout, its CRC, and the table of data objects with their OBIS
codes and units; DSMR 4.x uses the same framing). A telegram is CR LF separated lines:

    /XXXZ<identification>            header: 3-letter manufacturer, baud-rate digit, meter type
    <empty line>
    1-0:1.8.1(001234.567*kWh)        data: OBIS code, then one or more (value) groups
    0-1:24.2.1(101209112500W)(12785.123*m3)     gas: capture time YYMMDDhhmmssX, then the value
    !EF2F                            "!" and the CRC, 4 upper-case hex digits, then CR LF

The CRC is CRC-16/ARC (polynomial x^16 + x^15 + x^2 + 1, reflected, initial value 0) over every
byte from "/" through "!" inclusive. Values become an integer mantissa and a decimal exponent
exactly as written ("001234.567" -> 1234567, -3: the meter's resolution is kept, no floats).

What is refused (Malformed): a bad CRC, anything after the CRC but CR LF, a truncated telegram,
bytes that are not printable ASCII, bare LF line ends, lines or telegrams over the limits, data
lines that are not OBIS(...)..., a repeated OBIS code. Older telegrams without a CRC (DSMR 2.2,
3.0) and their continuation lines are not supported.

What real meters send and is read: a CRC without its leading zeros (a Warmtelink heat meter
ends "!B9F"; dsmr_parser accepts it); an M-Bus channel with no device behind it
("0-1:24.2.1(700101010000W)(00000000)": no unit); Belgian (Fluvius e-MUCS) gas on 0-n:24.2.3;
a telegram with no electricity register at all (a heat meter), whose main register is then its
first M-Bus value. Only the main register is required: an optional line that does not read
(a wrong unit, a bad value or time stamp) is left out and named in Telegram.skipped, never the
reason a reading is lost.
"""

from lightmeter.errors import Invalid, Malformed
from lightmeter.meters.meter import NoAnswer, board_uart, crc16_a001, drain, measurement

MAX_TELEGRAM = 8192  # bytes from "/" through the final LF
MAX_LINE = 2100  # 0-0:96.13.0 carries up to 1024 characters of text as hex (5.0.2, ch. 6)
MAX_DIGITS = 18  # in a value: keeps mantissas well inside 64 bits
MAX_UNIT = 8
TAIL = 6  # after "!": 4 hex digits, CR, LF (fewer digits: a CRC sent without leading zeros)

# What a telegram maps to, in the order measurements() returns them (OBIS codes: 5.0.2, ch. 6).
IMPORT_TARIFFS = ("1-0:1.8.1", "1-0:1.8.2")  # electricity delivered to the client, tariff 1, 2
EXPORT_TARIFFS = ("1-0:2.8.1", "1-0:2.8.2")  # electricity delivered by the client
IMPORT_TOTAL, EXPORT_TOTAL = "1-0:1.8.0", "1-0:2.8.0"
POWER = ("1-0:1.7.0", "1-0:2.7.0")  # actual power delivered (+P), received (-P)
VOLTAGE = ("1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0")  # L1, L2, L3
CURRENT = ("1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0")
# M-Bus channels 1-4: 24.2.1 (DSMR 5), 24.2.3 (Fluvius e-MUCS gas, temperature-corrected)
MBUS = ("0-1:24.2.1", "0-1:24.2.3", "0-2:24.2.1", "0-2:24.2.3", "0-3:24.2.1", "0-3:24.2.3",
        "0-4:24.2.1", "0-4:24.2.3")
GAS = MBUS
MBUS_UNITS = ("m3", "GJ")  # gas or water; heat (Warmtelink)
ENERGY_UNITS = ("kWh", "Wh")
POWER_UNITS = ("kW", "W")

_CR_LF = "\r\n"
_HEX = "0123456789ABCDEF"


def crc16(data):
    """CRC-16/ARC of data (the DSMR P1 telegram CRC)."""
    return crc16_a001(data, 0)


def _ascii(data):
    for b in data:
        if b > 126 or (b < 32 and b != 13 and b != 10):
            raise Malformed("dsmr: byte 0x%02x is not printable ASCII" % b)


def _check_obis(code):
    # a-b:c.d.e, each part 1-3 digits (IEC 62056-61 value groups A to E)
    if len(code) > 19:
        return False
    dash = code.find("-")
    colon = code.find(":")
    if dash < 1 or colon < dash + 2:
        return False
    parts = [code[:dash], code[dash + 1:colon]] + code[colon + 1:].split(".")
    if len(parts) != 5:
        return False
    for p in parts:
        if not 1 <= len(p) <= 3 or not p.isdigit():
            return False
    return True


def _groups(rest, n):
    out = []
    i = 0
    while i < len(rest):
        if rest[i] != "(":
            raise Malformed("dsmr: line %d: expected '(' at column %d" % (n, i))
        j = rest.find(")", i)
        if j < 0:
            raise Malformed("dsmr: line %d: unclosed '('" % n)
        g = rest[i + 1:j]
        if "(" in g:
            raise Malformed("dsmr: line %d: '(' inside a value" % n)
        out.append(g)
        i = j + 1
    if not out:
        raise Malformed("dsmr: line %d: no value" % n)
    return out


def parse_value(text):
    """(mantissa, scale, unit) of a value group like "001234.567*kWh" (unit "" if none)."""
    star = text.find("*")
    number, unit = (text, "") if star < 0 else (text[:star], text[star + 1:])
    if star >= 0 and (not 1 <= len(unit) <= MAX_UNIT or not _alnum(unit)):
        raise Malformed("dsmr: bad unit in %r" % text)
    dot = number.find(".")
    digits = number if dot < 0 else number[:dot] + number[dot + 1:]
    if not 1 <= len(digits) <= MAX_DIGITS or not digits.isdigit() or dot == 0 or dot == len(number) - 1:
        raise Malformed("dsmr: bad number in %r" % text)
    return int(digits), (0 if dot < 0 else dot + 1 - len(number)), unit


def _alnum(s):
    for c in s:
        if not (c.isalpha() or c.isdigit()):
            return False
    return True


def check_timestamp(text):
    """text if it is a DSMR time stamp YYMMDDhhmmssX (X: S summer, W winter time), else Malformed."""
    if len(text) != 13 or not text[:12].isdigit() or text[12] not in "SW":
        raise Malformed("dsmr: bad time stamp %r" % text)
    mo, d, h, mi, s = (int(text[k:k + 2]) for k in (2, 4, 6, 8, 10))
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 59):
        raise Malformed("dsmr: time stamp out of range %r" % text)
    return text


class Telegram:
    """A checked telegram: .header (after "/"), .crc, .objects {OBIS code: [value groups]};
    after measurements(), .skipped: [(OBIS code, reason)] of optional lines left out."""

    def __init__(self, header, objects, crc):
        self.header, self.objects, self.crc = header, objects, crc
        self.skipped = []

    def value(self, obis):
        """(mantissa, scale, unit) of the last group of obis (the value; gas puts its capture
        time first), or None if the telegram has no such line."""
        groups = self.objects.get(obis)
        return None if groups is None else parse_value(groups[-1])

    def timestamp(self, obis):
        """The capture time (YYMMDDhhmmssX) of a two-group line such as gas, or None."""
        groups = self.objects.get(obis)
        if groups is None or len(groups) < 2:
            return None
        return check_timestamp(groups[0])


def parse(data):
    """The Telegram in data: "/" through "!", the CRC and CR LF, exactly. Malformed otherwise."""
    if not isinstance(data, (bytes, bytearray)):
        raise Malformed("dsmr: telegram must be bytes")
    n = len(data)
    if n > MAX_TELEGRAM:
        raise Malformed("dsmr: telegram of %d bytes, limit %d" % (n, MAX_TELEGRAM))
    if n < 1 or data[0] != 0x2F:  # "/"
        raise Malformed("dsmr: a telegram starts with '/'")
    bang = data.find(b"!")
    if bang < 0:
        raise Malformed("dsmr: truncated telegram (no '!')")
    if not bang + 1 + 3 <= n <= bang + 1 + TAIL:
        raise Malformed("dsmr: truncated, or bytes after the CRC line (%d after '!', expected %d)"
                        % (n - bang - 1, TAIL))
    _ascii(data)
    tail = bytes(data[bang + 1:]).decode()
    digits = tail[:-2]
    if tail[-2:] != _CR_LF:
        raise Malformed("dsmr: the CRC line must end with CR LF")
    for c in digits:
        if c not in _HEX:
            raise Malformed("dsmr: CRC %r is not 4 upper-case hex digits" % digits)
    got = int(digits, 16) if digits else -1
    if len(digits) < 4 and (not digits or digits[0] == "0"):
        # fewer than 4 digits only as the CRC's value without leading zeros ("!B9F")
        raise Malformed("dsmr: CRC %r is not 4 upper-case hex digits" % digits)
    want = crc16(memoryview(data)[:bang + 1])
    if got != want:
        raise Malformed("dsmr: CRC mismatch (telegram says %04X, bytes give %04X)" % (got, want))
    lines = bytes(data[:bang]).decode().split(_CR_LF)
    # header, empty line, data lines, and "" after the CR LF that ends the last data line
    if len(lines) < 3 or lines[1] != "" or lines[-1] != "":
        raise Malformed("dsmr: expected a header line, an empty line, and CR LF before '!'")
    header = lines[0][1:]
    # "XXXZ": manufacturer and baud-rate digit; a Warmtelink sends "/NWA-WARMTELINK" (no digit)
    if (len(header) < 5 or len(header) > 96 or not header[:3].isalpha()
            or not (header[3].isdigit() or header[3] == "-") or "\r" in header or "\n" in header):
        raise Malformed("dsmr: bad header line %r" % lines[0][:40])
    objects = {}
    for k in range(2, len(lines) - 1):
        line = lines[k]
        if len(line) > MAX_LINE:
            raise Malformed("dsmr: line %d is %d characters, limit %d" % (k + 1, len(line), MAX_LINE))
        if "\r" in line or "\n" in line:
            raise Malformed("dsmr: line %d: a line ends with CR LF only" % (k + 1))
        p = line.find("(")
        obis = line[:p] if p > 0 else line
        if p < 0 or not _check_obis(obis):
            raise Malformed("dsmr: line %d is not an OBIS line" % (k + 1))
        if obis in objects:
            raise Malformed("dsmr: OBIS code %s repeated" % obis)
        objects[obis] = _groups(line[p:], k + 1)
    return Telegram(header, objects, got)


def _register(t, obis, units):
    v = t.value(obis)
    if v is None:
        return None
    if v[2] not in units:
        raise Invalid("dsmr: %s in %r, expected %s" % (obis, v[2], "/".join(units)))
    return measurement(obis, v[0], v[1], v[2], 0)


def _sum(a, b, obis):
    # a + b exactly, at the finer of the two scales; same unit required
    if a[3] != b[3]:
        raise Invalid("dsmr: tariff registers in %s and %s" % (a[3], b[3]))
    s = min(a[2], b[2])
    return measurement(obis, a[1] * 10 ** (a[2] - s) + b[1] * 10 ** (b[2] - s), s, a[3], 0)


def _total(t, total, tariffs):
    # The meter's own total if it sends one (e.g. Belgian e-MUCS meters), else tariff 1 + 2
    # (DSMR 5.0.2 defines exactly these two tariffs).
    m = _register(t, total, ENERGY_UNITS)
    if m is not None:
        return m
    parts = [_register(t, o, ENERGY_UNITS) for o in tariffs]
    if parts[0] is None or parts[1] is None:
        return None
    return _sum(parts[0], parts[1], total)


def _mbus(t, obis):
    # an M-Bus value with its capture time; None if the line is absent
    m = _register(t, obis, MBUS_UNITS)
    if m is not None:
        t.timestamp(obis)  # the value must carry a valid capture time
    return m


def _optional(t, fn, obis, *args):
    # fn(t, obis, ...), or None with the line named in t.skipped if it does not read
    try:
        return fn(t, obis, *args)
    except (Invalid, Malformed) as e:
        t.skipped.append((obis, str(e)))
        return None


def _has_electricity(t):
    for obis in (IMPORT_TOTAL,) + IMPORT_TARIFFS:
        if obis in t.objects:
            return True
    return False


def measurements(t):
    """Measurements of a Telegram, main register first: total import energy (1-0:1.8.0: the
    meter's, or the sum of tariffs 1 and 2); a telegram with no electricity register at all (a
    heat or gas meter's) has its first M-Bus value as the main register. Then total export, the
    four tariff registers, power, voltage and current per phase, each M-Bus channel.

    Invalid or Malformed only if the main register is missing or does not read; any other line
    that does not read is left out and named in t.skipped."""
    t.skipped = []
    mbus = [o for o in MBUS if o in t.objects]
    if _has_electricity(t) or not mbus:
        first = _total(t, IMPORT_TOTAL, IMPORT_TARIFFS)
        if first is None:
            raise Invalid("dsmr: telegram has no electricity import register (1-0:1.8.x)")
    else:
        first = _mbus(t, mbus[0])
        mbus = mbus[1:]
    out = [first]
    m = _optional(t, _total, EXPORT_TOTAL, EXPORT_TARIFFS)
    if m is not None:
        out.append(m)
    for codes, units in ((IMPORT_TARIFFS + EXPORT_TARIFFS, ENERGY_UNITS), (POWER, POWER_UNITS),
                         (VOLTAGE, ("V",)), (CURRENT, ("A",))):
        for obis in codes:
            m = _optional(t, _register, obis, units)
            if m is not None:
                out.append(m)
    for obis in mbus:
        m = _optional(t, _mbus, obis)
        if m is not None:
            out.append(m)
    return out


class Framer:
    """Finds whole telegrams in a byte stream: feed it bytes as they come from the UART.

    A telegram runs from "/" to the LF after "!" and its CRC. A "/" always starts a new telegram
    (it appears nowhere else in one), so after noise, a cut-off telegram or an over-long run the
    framer is back in step at the next "/". Whatever is thrown away is counted in .dropped (one
    per abandoned telegram). feed() does not check CRCs: parse() does.
    """

    def __init__(self, limit=MAX_TELEGRAM):
        self.limit = limit
        self.dropped = 0
        self._buf = None  # bytearray of the telegram under way, None between telegrams
        self._bang = -1  # index of its "!", -1 before it arrives

    def feed(self, data):
        """Whole telegrams (bytes) completed by data, in order."""
        data = bytes(data)
        out = []
        i, n = 0, len(data)
        while i < n:
            buf = self._buf
            if buf is None:
                s = data.find(b"/", i)
                if s < 0:
                    break
                self._buf, self._bang, i = bytearray(b"/"), -1, s + 1
                continue
            # how far this step may take bytes: up to "!", then up to the LF of the CRC line
            if self._bang < 0:
                e = data.find(b"!", i)
                stop = n if e < 0 else e + 1
            else:
                stop = min(n, i + TAIL - (len(buf) - 1 - self._bang))
                lf = data.find(b"\n", i, stop)
                if lf >= 0:
                    stop = lf + 1
            s = data.find(b"/", i, stop)
            if s >= 0:
                self._drop()  # a new telegram starts before this one ended
                i = s
                continue
            if len(buf) + stop - i > self.limit:
                self._drop()
                i = stop
                continue
            buf.extend(data[i:stop])
            i = stop
            if self._bang < 0:
                if buf[-1] == 0x21:  # "!"
                    self._bang = len(buf) - 1
            elif buf[-1] == 0x0A:
                out.append(bytes(buf))
                self._buf = None
            elif len(buf) - 1 - self._bang >= TAIL:
                self._drop()  # no LF where the CRC line should end
        return out

    def _drop(self):
        self.dropped += 1
        self._buf = None
        self._bang = -1


def _read_some(uart, buf):
    # bytes now available (b"" after the UART's timeout): readinto if it has one (no allocation
    # on a board), else read(n)
    into = getattr(uart, "readinto", None)
    if into is not None:
        k = into(buf)
        return bytes(buf[:k]) if k else b""
    return uart.read(len(buf)) or b""


class P1Meter:
    """The dsmr_p1 driver: reads the next good telegram from the P1 port.

    Options: "idle_reads" (12: empty reads in a row before NoAnswer; with a UART timeout of 1 s
    that covers DSMR 4's 10 s telegram interval), "max_bytes" (3 * MAX_TELEGRAM: how much may
    arrive without a good telegram before giving up), "drain" (True: discard bytes already
    waiting before reading), and on a board "uart", "rx", "tx", "baudrate" (115200, DSMR 5),
    "invert" ("rx": the P1 data line is inverted; else an inverting transistor is needed).
    """

    def __init__(self, options, uart=None):
        self.idle_reads = options.get("idle_reads", 12)
        self.max_bytes = options.get("max_bytes", 3 * MAX_TELEGRAM)
        self.drain_first = options.get("drain", True)
        self.uart = uart if uart is not None else board_uart(options, 115200)
        self.framer = Framer()
        self.rejected = 0  # telegrams that arrived whole but failed parse()
        self.last = None  # the last good Telegram
        self._pending = []  # whole telegrams framed but not yet taken
        self._buf = bytearray(256)

    def telegram(self):
        """The next telegram that parses and checks. A bad one (CRC...) is skipped and counted.
        If none comes: the last telegram's error (Malformed), Malformed if bytes came but no
        whole telegram, NoAnswer if nothing came."""
        if self.drain_first:
            drain(self.uart)  # old bytes would give an old telegram the new reading's time
            self.framer = Framer()
            self._pending = []
        error = None
        idle = got = 0
        while True:
            while self._pending:
                try:
                    self.last = parse(self._pending.pop(0))
                    return self.last
                except Malformed as e:
                    self.rejected += 1
                    error = e
            if idle >= self.idle_reads or got > self.max_bytes:
                break
            data = _read_some(self.uart, self._buf)
            if not data:
                idle += 1
                continue
            idle = 0
            got += len(data)
            self._pending = self.framer.feed(data)
        if error is not None:
            raise error
        if got:
            raise Malformed("dsmr: %d bytes without a whole telegram" % got)
        raise NoAnswer("dsmr: no telegram from the P1 port")

    def read(self):
        return measurements(self.telegram())


def telegrams(uart, idle_reads=12):
    """Yield each good Telegram arriving on uart (read(n) or readinto), in order, until the line
    stays quiet for idle_reads reads; bad ones are skipped (Malformed if nothing good came)."""
    p1 = P1Meter({"drain": False, "idle_reads": idle_reads}, uart)
    while True:
        try:
            yield p1.telegram()
        except NoAnswer:
            return
        except Malformed:
            if p1.last is None:
                raise
            return
