"""lightmeter.device.store under generated operation sequences and power cuts, checked against a model.

- A hypothesis state machine drives one device's store (files, counter, queue, checkpoint blob)
  on the in-memory PowerCutFs of tests/firmware/test_store.py, cutting the power at a random step
  of random operations (with the unwritten rest of a file left empty, erased or zeroed), rebooting
  and checking: every value is the old or the new one, the counter never repeats or goes back, the
  queue holds exactly the model's records in order, no temporary file survives a reboot.
- The same power cuts on the real filesystem (CPython's os, through a cutting OsFs subclass).
- Random sequences give the same results and the same files on the real filesystem and on
  PowerCutFs, so what the cut tests prove on the model holds for real files.
"""

import os
import tempfile

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from lightmeter.device import store
from lightmeter.errors import Invalid
from test_store import HEADER, PowerCut, PowerCutFs, PowerSwitch

ROOT = "/dev0"
CAPACITY = 4
NAMES = ("a", "b", "c")

cuts = st.none() | st.integers(0, 70)
fills = st.sampled_from([None, b"\xff", b"\x00"])
records = st.binary(max_size=40)


class DeviceStore(RuleBasedStateMachine):
    """One device: a Store with three files, a Counter, a Queue and a versioned Blob."""

    def __init__(self):
        super().__init__()
        self.fs = PowerCutFs()
        self.reserve = 1
        self.files = {}  # name -> bytes
        self.handed = 0  # highest counter value handed out
        self.queue_model = []  # [(key, record)]
        self.blob_model = None  # (version or None, data)
        self.open()

    def open(self):
        self.store = store.Store(ROOT, self.fs)
        self.counter = store.Counter(self.store, reserve=self.reserve)
        self.queue = store.Queue(self.store, capacity=CAPACITY)
        self.blob = store.Blob(self.store, "checkpoint")

    def attempt(self, cut, fill, fn):
        """fn() with the power cut before step `cut` (None: no cut); reboots after a cut.
        Returns (finished, fn's result)."""
        self.fs.budget, self.fs.fill = cut, fill
        try:
            result = fn()
            finished = True
        except PowerCut:
            result, finished = None, False
        self.fs.power_on()
        event("power cut" if not finished else "finished")
        if not finished:
            self.open()
            assert not self.fs.temporaries()
        return finished, result

    @initialize(reserve=st.sampled_from([1, 2, 5]))
    def choose_reserve(self, reserve):
        self.reserve = reserve
        self.open()

    @rule(name=st.sampled_from(NAMES), data=records, cut=cuts, fill=fills)
    def write(self, name, data, cut, fill):
        old = self.files.get(name)
        finished, _ = self.attempt(cut, fill, lambda: self.store.write(name, data))
        got = self.store.read(name)
        assert got == data if finished else got in (old, data)
        self.files[name] = got

    @rule(name=st.sampled_from(NAMES), cut=cuts)
    def remove(self, name, cut):
        old = self.files.get(name)
        finished, was = self.attempt(cut, None, lambda: self.store.remove(name))
        got = self.store.read(name)
        if finished:
            assert was == (old is not None) and got is None
        else:
            assert got in (old, None)
        self.files[name] = got

    @rule(cut=cuts, fill=fills)
    def counter_next(self, cut, fill):
        finished, value = self.attempt(cut, fill, self.counter.next)
        if finished:
            assert value > self.handed
            self.handed = value
        assert self.counter.peek() >= self.handed

    @rule(record=records, cut=cuts, fill=fills)
    def queue_append(self, record, cut, fill):
        before = self.queue_model
        if len(before) >= CAPACITY:
            with pytest.raises(Invalid, match="queue full"):
                self.queue.append(record)
            return
        finished, key = self.attempt(cut, fill, lambda: self.queue.append(record))
        items = self.queue.items()
        if finished:
            assert items == before + [(key, record)]
        elif items != before:
            assert items[:-1] == before and items[-1][1] == record
        if len(items) > len(before) and before:
            assert items[-1][0] > before[-1][0]
        self.queue_model = items

    @rule(index=st.integers(0, CAPACITY - 1), record=records, cut=cuts, fill=fills)
    def queue_replace(self, index, record, cut, fill):
        before = self.queue_model
        if not before:
            return
        i = index % len(before)
        key = before[i][0]
        after = before[:i] + [(key, record)] + before[i + 1:]
        finished, _ = self.attempt(cut, fill, lambda: self.queue.replace(key, record))
        items = self.queue.items()
        assert items == after if finished else items in (before, after)
        self.queue_model = items

    @rule(index=st.integers(0, CAPACITY - 1), cut=cuts)
    def queue_remove(self, index, cut):
        before = self.queue_model
        if not before:
            return
        i = index % len(before)
        after = before[:i] + before[i + 1:]
        finished, _ = self.attempt(cut, None, lambda: self.queue.remove(before[i][0]))
        items = self.queue.items()
        assert items == after if finished else items in (before, after)
        self.queue_model = items

    @rule(version=st.none() | st.integers(0, 6), data=records, cut=cuts, fill=fills)
    def blob_save(self, version, data, cut, fill):
        old = self.blob_model
        old_version = None if old is None else old[0]
        if old_version is not None and (version is None or version < old_version):
            with pytest.raises(Invalid):
                self.blob.save(data, version=version)
            assert (self.blob.version(), self.blob.load()) == old
            return
        finished, _ = self.attempt(cut, fill, lambda: self.blob.save(data, version=version))
        got = (self.blob.version(), self.blob.load())
        if finished:
            assert got == (version, data)
        else:
            assert got in ((None, None) if old is None else old, (version, data))
        self.blob_model = None if got[1] is None else got

    @rule()
    def reboot(self):
        self.open()

    @invariant()
    def matches_the_model(self):
        for name in NAMES:
            assert self.store.read(name) == self.files.get(name)
        assert self.queue.items() == self.queue_model
        assert len(self.queue) == len(self.queue_model)
        assert self.queue.keys() == [k for k, _ in self.queue_model]
        got = (self.blob.version(), self.blob.load())
        assert got == ((None, None) if self.blob_model is None else self.blob_model)
        assert self.counter.peek() >= self.handed
        assert not self.fs.temporaries()


DeviceStore.TestCase.settings = settings(max_examples=250, stateful_step_count=40, deadline=None)
TestDeviceStore = DeviceStore.TestCase


# -- the same power cuts on the real filesystem --------------------------------------------------

class CutOsFs(PowerSwitch, store.OsFs):
    """The real filesystem with a power switch, counting steps as PowerCutFs does (no fsync:
    a cut here is simulated, and a thousand fsyncs would only slow the test)."""

    def __init__(self, budget=None, fill=None):
        self.budget, self.fill, self.dead, self.steps = budget, fill, False, 0


    def open(self, path, mode):
        if self.dead:
            raise PowerCut()
        if "w" not in mode:
            return open(path, mode)
        self._step()
        return _CutFile(self, open(path, mode))

    def rename(self, src, dst):
        self._step()
        os.rename(src, dst)

    def remove(self, path):
        self._step()
        os.remove(path)

    def mkdir(self, path):
        self._step()
        os.mkdir(path)

    def flush(self, f):
        f.flush()

    def sync(self, directory):
        if self.dead:
            raise PowerCut()


class _CutFile:
    def __init__(self, fs, f):
        self.fs, self.f = fs, f

    def write(self, data):
        fs = self.fs
        if fs.dead:
            raise PowerCut()
        if fs.budget is None or fs.budget >= len(data):
            fs.steps += len(data)
            if fs.budget is not None:
                fs.budget -= len(data)
            return self.f.write(data)
        k = fs.budget
        self.f.write(data[:k] + (fs.fill * (len(data) - k) if fs.fill else b""))
        fs.steps += k
        fs.budget, fs.dead = 0, True
        raise PowerCut()

    def flush(self):
        if self.fs.dead:
            raise PowerCut()
        self.f.flush()

    def close(self):
        self.f.close()


def _real_cuts(tmp_path, setup, action, check):
    probe = tmp_path / "probe"
    setup(str(probe))
    fs = CutOsFs()
    action(str(probe), fs)
    total = fs.steps
    for fill in (None, b"\xff", b"\x00"):
        for k in range(total + 1):
            root = str(tmp_path / ("k%d-%s" % (k, fill.hex() if fill else "none")))
            setup(root)
            fs = CutOsFs(k, fill)
            try:
                result = action(root, fs)
                finished = True
            except PowerCut:
                result, finished = None, False
            assert finished == (k == total)
            check(root, finished, result)
            assert not [n for n in os.listdir(root) if n.endswith(".tmp")]
            if os.path.isdir(root + "/queue"):
                assert not [n for n in os.listdir(root + "/queue") if n.endswith(".tmp")]
    return total


def test_real_filesystem_write_survives_a_cut_at_every_byte(tmp_path):
    new = b"new value " * 5

    def check(root, finished, _):
        got = store.Store(root).read("v")
        assert got == new if finished else got in (b"old", new)
    total = _real_cuts(tmp_path, lambda r: store.Store(r).write("v", b"old"),
                       lambda r, fs: store.Store(r, fs).write("v", new), check)
    assert total == 1 + HEADER + len(new) + 1


def test_real_filesystem_counter_survives_a_cut_at_every_byte(tmp_path):
    def setup(root):
        c = store.Counter(store.Store(root))
        for _ in range(3):
            c.next()

    def check(root, finished, result):
        v = store.Counter(store.Store(root)).next()
        assert v > 3 and (not finished or v > result)
    _real_cuts(tmp_path, setup, lambda r, fs: store.Counter(store.Store(r, fs)).next(), check)


def test_real_filesystem_queue_survives_a_cut_at_every_byte(tmp_path):
    def setup(root):
        q = store.Queue(store.Store(root))
        q.append(b"one")
        q.append(b"two")

    def action(root, fs):
        q = store.Queue(store.Store(root, fs))
        q.replace(1, b"one, signed")
        q.remove(2)
        return q.append(b"three")

    states = [[(1, b"one"), (2, b"two")], [(1, b"one, signed"), (2, b"two")],
              [(1, b"one, signed")], [(1, b"one, signed"), (3, b"three")]]

    def check(root, finished, result):
        items = store.Queue(store.Store(root)).items()
        assert items == states[-1] if finished else items in states
    _real_cuts(tmp_path, setup, action, check)


# -- PowerCutFs is a faithful model of the real filesystem ---------------------------------------

operations = st.lists(st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), records),
    st.tuples(st.just("remove"), st.sampled_from(NAMES)),
    st.tuples(st.just("next")),
    st.tuples(st.just("append"), records),
    st.tuples(st.just("replace"), st.integers(0, 9), records),
    st.tuples(st.just("pop"), st.integers(0, 9)),
    st.tuples(st.just("save"), st.none() | st.integers(0, 3), records),
    st.tuples(st.just("reopen")),
), max_size=30)


class _Device:
    def __init__(self, root, fs):
        self.root, self.fs = root, fs
        self.open()

    def open(self):
        self.store = store.Store(self.root, self.fs)
        self.counter = store.Counter(self.store, reserve=2)
        self.queue = store.Queue(self.store, capacity=CAPACITY)
        self.blob = store.Blob(self.store, "checkpoint")

    def do(self, op):
        try:
            kind = op[0]
            if kind == "write":
                return self.store.write(op[1], op[2])
            if kind == "remove":
                return self.store.remove(op[1])
            if kind == "next":
                return self.counter.next()
            if kind == "append":
                return self.queue.append(op[1])
            if kind in ("replace", "pop"):
                keys = self.queue.keys()
                if not keys:
                    return "empty"
                key = keys[op[1] % len(keys)]
                return self.queue.replace(key, op[2]) if kind == "replace" else self.queue.remove(key)
            if kind == "save":
                return self.blob.save(op[2], version=op[1])
            return self.open()
        except Invalid as e:
            return "Invalid: %s" % e

    def tree(self):
        out = {}
        for name in self.fs.listdir(self.root):
            path = self.root + "/" + name
            if name == "queue":
                for rec in self.fs.listdir(path):
                    with self.fs.open(path + "/" + rec, "rb") as f:
                        out["queue/" + rec] = f.read()
            else:
                with self.fs.open(path, "rb") as f:
                    out[name] = f.read()
        return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_power_cut_fs_and_the_real_filesystem_agree(ops):
    with tempfile.TemporaryDirectory() as tmp:
        real = _Device(tmp + "/dev", store.OsFs())
        model = _Device(ROOT, PowerCutFs())
        for op in ops:
            assert real.do(op) == model.do(op), op
            assert real.tree() == model.tree(), op
        assert real.queue.items() == model.queue.items()


@settings(max_examples=150, deadline=None)
@given(value=st.binary(max_size=600), cuts_at=st.lists(st.integers(0, 600), max_size=6),
       k=st.integers(0, 700), flip=st.one_of(st.none(), st.tuples(st.integers(0, 700), st.integers(1, 255))))
def test_pieces_peek_and_split_agree_with_the_whole_value_and_refuse_any_damage(value, cuts_at, k, flip):
    # a value written in any pieces reads back whole; peek and read_split give its parts; one
    # changed byte anywhere in the file makes all three refuse it
    fs = PowerCutFs()
    s = store.Store(ROOT, fs)
    bounds = sorted(set([0, len(value)] + [c for c in cuts_at if c <= len(value)]))
    s.write("v", [value[a:b] for a, b in zip(bounds, bounds[1:])])
    assert s.read("v") == value
    assert s.peek("v", k) == value[:k]
    assert s.read_split("v", k) == (value[:k], value[k:])
    if flip is not None:
        with fs.open(ROOT + "/v", "rb") as f:
            raw = bytearray(f.read())
        i, x = flip[0] % len(raw), flip[1]
        raw[i] ^= x
        with fs.open(ROOT + "/v", "wb") as f:
            f.write(bytes(raw))
        event("damaged")
        assert s.read("v") is None and s.peek("v", k) is None and s.read_split("v", k) is None
