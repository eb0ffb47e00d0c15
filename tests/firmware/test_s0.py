"""S0 pulse counting (lightmeter.meters.s0): IEC 62053-31 pulses, debounce, persistence, energy.

Edges are fed by hand, as a pin interrupt would. Persistence runs on the real filesystem and, for
power cuts, on PowerCutFs (tests/firmware/test_store.py), which stops the power before any chosen
step of a write; after each cut the device "reboots" on the files as the cut left them.
"""

from lightmeter.meters import meter, s0
from lightmeter.device import store
from lightmeter.errors import Malformed, Unsupported
from support import raises
from test_store import PowerCut, PowerCutFs, cleanup, fresh_dir

ROOT = "/dev0"


def pulses(counter, n, t0=0, width=40, gap=60):
    """n clean pulses starting at t0 ms; returns the time after the last."""
    t = t0
    for _ in range(n):
        counter.edge(t, True)
        counter.edge(t + width, False)
        t += width + gap
    return t


def mem_store(fs=None):
    return store.Store(ROOT, fs or PowerCutFs())


def test_clean_pulses_count():
    c = s0.PulseCounter(mem_store(), persist_every=1000)
    pulses(c, 25)
    assert c.count == 25 and c.ignored == 0


def test_contact_bounce_is_one_pulse():
    c = s0.PulseCounter(mem_store(), min_width_ms=30, debounce_ms=10)
    # bounce at the start (short drops), a long pulse, bounce after its end
    for t, level in ((0, True), (1, False), (2, True), (3, False), (4, True), (50, False),
                     (52, True), (53, False), (55, True), (56, False)):
        c.edge(t, level)
    assert c.count == 1
    assert c.ignored > 0


def test_spikes_and_repeated_edges_are_ignored():
    c = s0.PulseCounter(mem_store(), min_width_ms=30, debounce_ms=10)
    c.edge(0, True)
    c.edge(29, False)  # 29 ms: under the minimum width
    c.edge(100, False)  # an end with no start
    c.edge(200, True)
    c.edge(210, True)  # a second start
    c.edge(230, False)  # 30 ms from the first start: counts
    assert c.count == 1
    c.edge(239, True)  # 9 ms after the last pulse ended: bounce
    c.edge(300, False)
    assert c.count == 1
    c.edge(240, True)  # 10 ms after: a new pulse
    c.edge(270, False)
    assert c.count == 2


def test_count_is_persisted_every_k_pulses_and_on_read():
    st = mem_store()
    c = s0.PulseCounter(st, persist_every=5)
    t = pulses(c, 4)
    assert c.stored == 0 and st.read("s0") is None
    t = pulses(c, 1, t)
    assert c.stored == 5 and int.from_bytes(st.read("s0"), "big") == 5
    pulses(c, 3, t)
    assert c.read() == 8  # read() writes before it answers
    assert int.from_bytes(st.read("s0"), "big") == 8
    again = s0.PulseCounter(mem_store(st.fs), persist_every=5)
    assert again.count == 8  # a restart carries on from the stored count


def test_count_survives_restarts_on_the_real_filesystem():
    root = fresh_dir()
    try:
        c = s0.PulseCounter(store.Store(root), persist_every=3)
        pulses(c, 7)
        assert c.read() == 7
        c = s0.PulseCounter(store.Store(root), persist_every=3)
        pulses(c, 2)
        assert c.read() == 9
    finally:
        cleanup(root)


def test_power_cut_never_rolls_back_and_never_runs_ahead_of_what_was_signed():
    k = 4
    # count the steps of a persisting pulse and of a read, then cut before each of them in turn
    for op in ("pulse", "read"):
        cut = 0
        while True:
            fs = PowerCutFs()
            c = s0.PulseCounter(mem_store(fs), persist_every=k)
            t = pulses(c, k)  # stored: k
            t = pulses(c, k - 1 if op == "pulse" else 2, t)  # k-1 or 2 pending, in RAM only
            fs.budget = cut
            handed = None
            try:
                if op == "pulse":
                    pulses(c, 1, t)  # the k-th pending pulse writes 2k
                else:
                    handed = c.read()
                finished = True
            except PowerCut:
                finished = False
            fs.power_on()
            after = s0.PulseCounter(mem_store(fs), persist_every=k).count  # reboot
            assert after in (k, 2 * k if op == "pulse" else k + 2), (op, cut, after)
            if handed is not None:
                assert after >= handed  # what read() handed out is stored
            if finished:
                assert after == (2 * k if op == "pulse" else k + 2)
                break
            cut += 1
        assert cut > 3  # a write has several steps: the cuts really fell inside it


def test_pulses_during_a_write_wait_for_the_next_one():
    class Interrupting(PowerCutFs):
        """A filesystem during whose writes pulses arrive (the pin interrupt runs between steps)."""
        counter = None
        t = 10000

        def open(self, path, mode):
            if "w" in mode and self.counter is not None:
                c, self.counter = self.counter, None  # one interruption, no recursion
                self.t = pulses(c, 3, self.t)
                self.counter = c
            return PowerCutFs.open(self, path, mode)

        def rename(self, src, dst):
            PowerCutFs.rename(self, src, dst)
            self.stored.append(int.from_bytes(store.decode_record(self.files[dst]), "big"))

    fs = Interrupting()
    fs.stored = []  # the count in the file after each write
    c = s0.PulseCounter(mem_store(fs), persist_every=2)
    fs.counter = c
    pulses(c, 2)  # the 2nd pulse writes 2; 3 more arrive during that write, unwritten
    assert c.stored == 2 and c.count == 5
    fs.counter = None
    pulses(c, 1, fs.t)  # the next pulse writes them all
    assert c.stored == 6
    assert s0.PulseCounter(mem_store(fs)).count == 6
    assert fs.stored == [2, 6]  # one write at a time: the file never went back


def test_a_stored_count_that_does_not_read_back_is_refused():
    fs = PowerCutFs()
    st = mem_store(fs)
    c = s0.PulseCounter(st, persist_every=1)
    pulses(c, 3)
    path = st.path("s0")
    fs.files[path] = fs.files[path][:-1] + b"\x07"  # CRC no longer matches
    raises(Malformed, s0.PulseCounter, mem_store(fs))
    st.write("s0", b"\x00\x05")
    raises(Malformed, s0.PulseCounter, mem_store(fs))


def test_options_are_checked():
    for kw in ({"persist_every": 0}, {"min_width_ms": -1}, {"debounce_ms": "10"}, {"persist_every": True}):
        raises(Malformed, s0.PulseCounter, mem_store(), **kw)
    for opts in ({"imp_per_kwh": 0}, {"imp_per_kwh": 2.5}, {"imp_per_kwh": 10 ** 7}):
        raises(Malformed, s0.S0Meter, opts, s0.FED, mem_store())
    raises(Malformed, s0.S0Meter, {}, s0.FED, None)  # no store: the count could not be kept


def test_energy_in_wh_exactly():
    for imp, n, want in ((1000, 7, (7, 0)), (500, 3, (6, 0)), (800, 3, (375, -2)),  # 1.25 Wh each
                         (10000, 3, (3, -1)), (2000, 1, (5, -1)), (3, 1, (333333333, -6)),  # floor
                         (1, 2, (2000, 0)), (64000, 5, (78125, -6))):
        m = s0.S0Meter({"imp_per_kwh": imp}, s0.FED, mem_store())
        assert m.wh(n) == want, (imp, n, m.wh(n))


def test_driver_reads_through_meter_open():
    st = mem_store()
    m = meter.open({"driver": "s0", "imp_per_kwh": 800, "obis": "1-0:1.8.0"}, io=s0.FED, store=st)
    assert m.read() == [("1-0:1.8.0", 0, -2, "Wh", 0)]
    pulses(m.counter, 4)
    assert m.read() == [("1-0:1.8.0", 500, -2, "Wh", 0)]
    assert int.from_bytes(st.read("s0"), "big") == 4


def test_a_pin_needs_a_board():
    raises(Unsupported, meter.open, {"driver": "s0", "pin": 4}, None, mem_store())
