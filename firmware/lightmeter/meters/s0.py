"""S0 pulse counting: the s0 driver, an energy register from a meter's pulse output.

An S0 output (IEC 62053-31: a pulse is at least 30 ms of conduction) closes once per
fixed amount of energy: the meter's constant in impulses per kWh (imp/kWh, e.g. 1000: one pulse
per Wh). The counter is fed edges, (time in ms, active) pairs: on a board from a pin interrupt
(machine.Pin.irq, set up by S0Meter when no pin object is given, imported only then); in tests
directly.

Debounce. A pulse counts when it ends, if it lasted at least `min_width_ms` (30); an edge that
starts a pulse less than `debounce_ms` (10) after the last counted pulse ended is contact bounce
and ignored, as is a pulse shorter than `min_width_ms` (a spike) and a repeated edge of the same
level.

Persistence (lightmeter.device.store: each write atomic). The count is written every `persist_every`
(K) pulses and by read() before it returns, so what read() hands out (and a device signs) is never
ahead of what is stored, and a power cut never rolls the count back. What a power cut can lose:
the pulses counted since the last completed write, at most K (the edge handler writes as soon as
K are pending; run it as a soft IRQ, MicroPython's default for Pin.irq, since a file write may
not run in a hard IRQ). Pulses that arrive while a write is under way are not written by the
handler (one write at a time); the next pulse or read() writes them, so only then can more than
K be pending. A stored count that does not read back intact stops the driver (Malformed):
starting again at 0 would be a roll-back.

Energy: pulses * 1000 / (imp/kWh) Wh, as an exact mantissa at the smallest scale 10**-k (k <= 6)
that makes one pulse a whole number (800 imp/kWh: 1.25 Wh, scale -2). A constant with no such k
(e.g. 3 imp/kWh) is rounded down at scale -6, never up.
"""

from lightmeter.errors import Malformed, Unsupported
from lightmeter.meters.meter import measurement

MAX_SCALE_DIGITS = 6
FED = "fed"  # as the driver's io: no pin; the caller feeds edges to .counter.edge()


def _ticks_diff(a, b):
    # a - b in ms; on MicroPython ticks wrap, and time.ticks_diff knows how
    try:
        import time
        return time.ticks_diff(a, b)
    except (ImportError, AttributeError):
        return a - b


def energy_scale(imp_per_kwh):
    """The k with 1000 * 10**k / imp_per_kwh whole (one pulse in Wh at scale -k), at most 6."""
    for k in range(MAX_SCALE_DIGITS + 1):
        if (1000 * 10 ** k) % imp_per_kwh == 0:
            return k
    return MAX_SCALE_DIGITS


class PulseCounter:
    """Counts S0 pulses from edges and keeps the count in store (file `name`)."""

    def __init__(self, store, name="s0", persist_every=10, min_width_ms=30, debounce_ms=10):
        for v in (persist_every, min_width_ms, debounce_ms):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise Malformed("s0: persist_every, min_width_ms and debounce_ms are integers >= 0")
        if persist_every < 1:
            raise Malformed("s0: persist_every must be at least 1")
        self.store, self.name = store, name
        self.persist_every = persist_every
        self.min_width_ms, self.debounce_ms = min_width_ms, debounce_ms
        raw = store.read(name)
        if raw is None:
            if store.exists(name):
                raise Malformed("s0: stored count %s does not read back; refusing to restart at 0" % name)
            self.stored = 0
        elif len(raw) != 8:
            raise Malformed("s0: stored count %s has %d bytes, expected 8" % (name, len(raw)))
        else:
            self.stored = int.from_bytes(raw, "big")
        self.count = self.stored
        self.ignored = 0  # edges taken for bounce or spikes
        self._writing = False  # a write is under way (the handler may interrupt one)
        self._start = None  # time the pulse under way began
        self._end = None  # time the last counted pulse ended

    def edge(self, t_ms, active):
        """An edge at t_ms: active True when the output starts conducting (pulse begins)."""
        if active:
            if self._start is not None or (self._end is not None
                                           and _ticks_diff(t_ms, self._end) < self.debounce_ms):
                self.ignored += 1
                return
            self._start = t_ms
            return
        if self._start is None:
            self.ignored += 1
            return
        width = _ticks_diff(t_ms, self._start)
        self._start = None
        if width < self.min_width_ms:
            self.ignored += 1  # a spike, not a pulse
            return
        self._end = t_ms
        self.count += 1
        if self.count - self.stored >= self.persist_every and not self._writing:
            self.persist()

    def persist(self):
        """Write the count if it moved since the last write."""
        n = self.count
        if n != self.stored:
            self._writing = True
            try:
                self.store.write(self.name, n.to_bytes(8, "big"))
            finally:
                self._writing = False
            self.stored = n

    def read(self):
        """The count, written first: the value returned is never ahead of the stored one."""
        self.persist()
        return self.stored


class S0Meter:
    """The s0 driver. Options: "imp_per_kwh" (1000), "obis" ("1-0:1.8.0"), "name" (file of the
    count, "s0"), "persist_every" (10), "min_width_ms" (30), "debounce_ms" (10), and on a board
    "pin" (number) and "active_low" (True: the output pulls an input with pull-up to ground).
    io: a machine.Pin to attach to, None to open options["pin"], or FED (edges fed by hand)."""

    def __init__(self, options, pin=None, store=None):
        if store is None:
            raise Malformed("s0: needs a store to keep its count")
        imp = options.get("imp_per_kwh", 1000)
        if isinstance(imp, bool) or not isinstance(imp, int) or not 1 <= imp <= 1000000:
            raise Malformed("s0: imp_per_kwh must be an integer in 1..1000000")
        self.imp = imp
        self.k = energy_scale(imp)
        self.obis = options.get("obis", "1-0:1.8.0")
        self.counter = PulseCounter(store, options.get("name", "s0"), options.get("persist_every", 10),
                                    options.get("min_width_ms", 30), options.get("debounce_ms", 10))
        self.pin = None
        if pin != FED:
            self.pin = self._attach(options, pin)

    def _attach(self, options, pin):
        # The pin's interrupt feeds the counter; the pin is opened here when none is given.
        try:
            import machine  # on a board only
        except ImportError:
            raise Unsupported("s0: no machine module here; pass io=s0.FED and feed edges")
        import time
        low = options.get("active_low", True)
        if pin is None:
            if "pin" not in options:
                raise Malformed("s0: option pin is required on a board")
            pin = machine.Pin(options["pin"], machine.Pin.IN, machine.Pin.PULL_UP if low else None)
        counter = self.counter

        def handler(p):
            counter.edge(time.ticks_ms(), (p.value() == 0) == low)

        pin.irq(handler=handler, trigger=machine.Pin.IRQ_RISING | machine.Pin.IRQ_FALLING)
        return pin

    def wh(self, pulses):
        """(mantissa, scale) of the energy of `pulses` pulses in Wh (rounded down if inexact)."""
        return pulses * 1000 * 10 ** self.k // self.imp, -self.k

    def read(self):
        mantissa, scale = self.wh(self.counter.read())
        return [measurement(self.obis, mantissa, scale, "Wh", 0)]
