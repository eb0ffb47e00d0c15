"""The persistent store (lightmeter.device.store): atomic files, the reading counter, the queue, blobs.

Happy paths and restarts run on the real filesystem (a fresh directory per test). Power cuts run
on PowerCutFs, an in-memory filesystem that stops after a chosen number of steps (opening a file
for writing, each byte written, each rename, remove or mkdir is one step): every operation is run
once to count its steps, then again from the same state with the power cut before each step in
turn, and, for writes, with the unwritten rest of the file left as nothing, as 0xFF (erased
flash) or as zeros. After each cut the device "reboots" (new objects on the same files) and the
test checks: no exception, old or new value and never a mix, no counter value handed out twice,
queue intact, no temporary file left.
"""

import io
import os

from lightmeter.device import store
from lightmeter.errors import Invalid, Malformed
from support import raises

FILLS = (None, b"\xff", b"\x00")  # what a cut write leaves after its written prefix

# The record format as device/store.py's docstring states it, pinned here (the module keeps these
# as compiler constants): magic, 12-byte head (magic, length, CRC), largest payload, NAME.tmp.
MAGIC = b"LMs1"
HEADER = 12
MAX_PAYLOAD = 65536
TMP = ".tmp"


# -- the real filesystem: one fresh directory per test -------------------------------------------

try:
    import tempfile
    _BASE = "%s/lmstore-%d" % (tempfile.gettempdir(), os.getpid())
except ImportError:  # MicroPython: no tempfile
    _BASE = (os.getcwd() if hasattr(os, "getcwd") else "").rstrip("/") + "/tmp_store"
_made = [0]


def _isdir(path):
    return os.stat(path)[0] & 0x4000 != 0


def rmtree(path):
    try:
        if not _isdir(path):
            os.remove(path)
            return
    except OSError:
        return
    for n in os.listdir(path):
        rmtree(path + "/" + n)
    os.rmdir(path)


def fresh_dir():
    """A directory path that does not exist yet (a Store creates it)."""
    try:
        os.stat(_BASE)
    except OSError:
        os.mkdir(_BASE)
    _made[0] += 1
    path = "%s/t%d" % (_BASE, _made[0])
    rmtree(path)
    return path


def cleanup(path):
    """Remove a test's directory, and the base directory once it is empty."""
    rmtree(path)
    try:
        os.rmdir(_BASE)
    except OSError:
        pass


def files_in(path):
    return sorted(os.listdir(path))


# -- an in-memory filesystem with a power switch -------------------------------------------------

class PowerCut(Exception):
    """The power went; the operation stopped here."""


def _enoent():
    return OSError(2, "no such file")


class _Writer:
    def __init__(self, fs, path):
        self.fs, self.path = fs, path

    def write(self, data):
        fs = self.fs
        if fs.dead:
            raise PowerCut()
        data = bytes(data)
        n = len(data)
        if fs.budget is None or fs.budget >= n:
            fs.files[self.path] = fs.files[self.path] + data
            fs.steps += n
            if fs.budget is not None:
                fs.budget -= n
            return n
        k = fs.budget
        rest = fs.fill * (n - k) if fs.fill else b""
        fs.files[self.path] = fs.files[self.path] + data[:k] + rest
        fs.steps += k
        fs.budget = 0
        fs.dead = True
        raise PowerCut()

    def flush(self):
        if self.fs.dead:
            raise PowerCut()

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PowerSwitch:
    """Counts the steps of file operations and cuts the power before step number `budget`."""

    budget = None
    dead = False
    steps = 0

    def _step(self):
        if self.dead:
            raise PowerCut()
        if self.budget is not None:
            if self.budget == 0:
                self.dead = True
                raise PowerCut()
            self.budget -= 1
        self.steps += 1


class PowerCutFs(PowerSwitch):
    """Files and directories in dicts; the power goes before step number `budget` (None: never).

    Implements what lightmeter.device.store.OsFs does (open "rb"/"wb", rename over an existing file,
    remove, listdir, mkdir, stat, flush, sync) with the real filesystem's errors (OSError).
    """

    def __init__(self, files=None, dirs=None):
        self.files = {} if files is None else files  # path -> bytes
        self.dirs = set() if dirs is None else dirs
        self.split_rename = False  # True: rename over a file is remove + move, two steps
        self.budget = None
        self.fill = None
        self.dead = False
        self.steps = 0

    def snapshot(self):
        return (dict(self.files), set(self.dirs))

    @classmethod
    def restore(cls, snap, split_rename=False):
        fs = cls(dict(snap[0]), set(snap[1]))
        fs.split_rename = split_rename
        return fs

    def power_on(self):
        """Reboot: the files stay as the cut left them; the power stays on from now."""
        self.budget = None
        self.dead = False


    def _alive(self):
        if self.dead:
            raise PowerCut()

    @staticmethod
    def _parent(path):
        return path.rsplit("/", 1)[0] if "/" in path else ""

    def _dir_ok(self, path):
        parent = self._parent(path)
        if parent and parent not in self.dirs:
            raise _enoent()

    def open(self, path, mode):
        if "w" in mode:
            self._dir_ok(path)
            if path in self.dirs:
                raise OSError(21, "is a directory")
            self._step()
            self.files[path] = b""
            return _Writer(self, path)
        self._alive()
        if path not in self.files:
            raise _enoent()
        return io.BytesIO(self.files[path])

    def rename(self, src, dst):
        if src not in self.files:
            self._alive()
            raise _enoent()
        self._dir_ok(dst)
        if self.split_rename and dst in self.files:
            self._step()
            del self.files[dst]
        self._step()
        self.files[dst] = self.files.pop(src)

    def remove(self, path):
        if path not in self.files:
            self._alive()
            raise _enoent()
        self._step()
        del self.files[path]

    def listdir(self, path):
        self._alive()
        if path not in self.dirs:
            raise _enoent()
        prefix = path + "/"
        return [p[len(prefix):] for p in list(self.files) + list(self.dirs)
                if p.startswith(prefix) and "/" not in p[len(prefix):]]

    def mkdir(self, path):
        if path in self.dirs or path in self.files:
            self._alive()
            raise OSError(17, "exists")
        self._dir_ok(path)
        self._step()
        self.dirs.add(path)

    def stat(self, path):
        self._alive()
        if path in self.dirs:
            return (0x4000 | 0o755, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if path in self.files:
            return (0x8000 | 0o644, 0, 0, 0, 0, 0, len(self.files[path]), 0, 0, 0)
        raise _enoent()

    def flush(self, f):
        f.flush()

    def sync(self, directory):
        self._alive()

    def temporaries(self):
        return [p for p in self.files if p.endswith(TMP)]


ROOT = "/dev0"


def cut_everywhere(setup, action, check, fills=FILLS, split_rename=False):
    """Cut the power before every step of action, from the state setup leaves; returns the number
    of cut points tried (one per step, plus the uncut run, for each fill).

    setup(fs) builds the state (power on). action(fs) opens the objects it needs and does the
    operation, returning its result. check(fs, done, result) runs after the reboot: done says
    whether the action finished (result is what it returned, else None).
    """
    fs = PowerCutFs()
    setup(fs)
    snap = fs.snapshot()
    probe = PowerCutFs.restore(snap, split_rename)
    action(probe)
    total = probe.steps
    tried = 0
    for fill in fills:
        for k in range(total + 1):
            fs = PowerCutFs.restore(snap, split_rename)
            fs.budget = k
            fs.fill = fill
            result = None
            try:
                result = action(fs)
                done = True
            except PowerCut:
                done = False
            assert done == (k == total), (k, total)
            fs.power_on()
            check(fs, done, result)
            assert not fs.temporaries(), (k, fill, fs.temporaries())
            tried += 1
    return tried


# -- records -------------------------------------------------------------------------------------

def test_record_frame_round_trips():
    for payload in (b"", b"x", bytes(range(256)) * 3):
        framed = store.encode_record(payload)
        assert len(framed) == HEADER + len(payload)
        assert framed[:4] == MAGIC
        assert store.decode_record(framed) == payload


def test_record_frame_detects_every_single_byte_change_and_every_truncation():
    framed = store.encode_record(b"reading 42: 1234 Wh")
    for i in range(len(framed)):
        for bit in (0x01, 0x80):
            bad = bytearray(framed)
            bad[i] ^= bit
            assert store.decode_record(bytes(bad)) is None, (i, bit)
    for n in range(len(framed)):
        assert store.decode_record(framed[:n]) is None, n
    assert store.decode_record(framed + b"\x00") is None
    # a length that disagrees with the file, even under a CRC that matches the bytes present
    for n in (len(framed) - 13, len(framed) - 11):
        head = MAGIC + n.to_bytes(4, "big")
        body = framed[HEADER:]
        crc = store.crc32(body, store.crc32(head)) & 0xFFFFFFFF
        assert store.decode_record(head + crc.to_bytes(4, "big") + body) is None, n


def test_erased_and_zeroed_files_are_not_records():
    for n in (0, 4, 12, 13, 64):
        assert store.decode_record(b"\xff" * n) is None
        assert store.decode_record(b"\x00" * n) is None


# -- Store on the real filesystem ----------------------------------------------------------------

def test_store_creates_its_directory_and_reads_back_after_restart():
    root = fresh_dir()
    try:
        s = store.Store(root + "/deep/er")
        assert s.read("checkpoint") is None
        s.write("checkpoint", b"trusted")
        s.write("empty", b"")
        assert s.read("checkpoint") == b"trusted"
        s2 = store.Store(root + "/deep/er/")
        assert s2.read("checkpoint") == b"trusted"
        assert s2.read("empty") == b""
        s2.write("checkpoint", b"newer")
        assert store.Store(root + "/deep/er").read("checkpoint") == b"newer"
        assert files_in(root + "/deep/er") == ["checkpoint", "empty"]
        assert s2.names() == ["checkpoint", "empty"]
    finally:
        cleanup(root)


def test_store_remove():
    root = fresh_dir()
    try:
        s = store.Store(root)
        s.write("a", b"1")
        assert s.exists("a")
        assert s.remove("a") is True
        assert s.remove("a") is False
        assert not s.exists("a")
        assert s.read("a") is None
        assert files_in(root) == []
    finally:
        cleanup(root)


def test_leftover_temporary_file_is_removed_on_open_and_never_read():
    root = fresh_dir()
    try:
        s = store.Store(root)
        s.write("cfg", b"old")
        for name, body in (("cfg.tmp", store.encode_record(b"new, complete")), ("new.tmp", b"torn")):
            with open(root + "/" + name, "wb") as f:
                f.write(body)
        s2 = store.Store(root)
        assert sorted(s2.recovered) == ["cfg.tmp", "new.tmp"]
        assert s2.read("cfg") == b"old"
        assert s2.read("new") is None
        assert files_in(root) == ["cfg"]
    finally:
        cleanup(root)


def test_corrupt_file_reads_as_absent():
    root = fresh_dir()
    try:
        s = store.Store(root)
        s.write("v", b"value")
        with open(root + "/v", "rb") as f:
            good = f.read()
        for bad in (good[:-1], good + b"!", good[:12] + b"VALUE", b"", b"\xff" * len(good)):
            with open(root + "/v", "wb") as f:
                f.write(bad)
            assert s.read("v") is None
    finally:
        cleanup(root)


def test_bad_names_and_data_are_refused():
    root = fresh_dir()
    try:
        s = store.Store(root)
        for name in ("", "a/b", ".", "..", "x.tmp", None):
            raises(Malformed, s.write, name, b"")
            raises(Malformed, s.read, name)
        raises(Malformed, s.write, "a", "text")
        raises(Invalid, s.write, "a", bytes(MAX_PAYLOAD + 1))
        assert s.names() == []
    finally:
        cleanup(root)


def test_commit_hook_sees_every_durable_change():
    root = fresh_dir()
    seen = []
    old = store.set_commit_hook(seen.append)
    try:
        s = store.Store(root)
        s.write("a", b"1")
        s.remove("a")
        s.remove("a")  # nothing there: no change
        c = store.Counter(s)
        c.next()
        c.next()
        q = store.Queue(s, capacity=2)
        k = q.append(b"r")
        q.replace(k, b"r2")
        q.remove(k)
        store.Blob(s, "key").save(b"k")
        qp = root + "/queue/%010d" % k
        assert seen == [[root + "/a"], [root + "/a"], [root + "/counter.a"], [root + "/counter.b"],
                        [qp], [qp], [qp], [root + "/key"]]
    finally:
        store.set_commit_hook(old)
        cleanup(root)
    assert store.set_commit_hook(old) is old


# -- Counter -------------------------------------------------------------------------------------

def test_counter_starts_at_one_and_continues_after_restart():
    root = fresh_dir()
    try:
        s = store.Store(root)
        c = store.Counter(s)
        assert c.peek() == 0
        assert [c.next() for _ in range(5)] == [1, 2, 3, 4, 5]
        assert c.peek() == 5
        c2 = store.Counter(store.Store(root))
        assert c2.peek() == 5
        assert c2.next() == 6
        assert files_in(root) == ["counter.a", "counter.b"]
        other = store.Counter(s, "other")
        assert other.next() == 1
    finally:
        cleanup(root)


def test_counter_with_reserve_writes_once_per_reserve_and_skips_on_restart():
    root = fresh_dir()
    seen = []
    old = store.set_commit_hook(seen.append)
    try:
        c = store.Counter(store.Store(root), reserve=4)
        assert [c.next() for _ in range(6)] == [1, 2, 3, 4, 5, 6]
        assert len(seen) == 2  # ceilings 4 and 8
        c2 = store.Counter(store.Store(root), reserve=4)
        assert c2.peek() == 8
        assert c2.next() == 9
    finally:
        store.set_commit_hook(old)
        cleanup(root)


def test_counter_takes_the_newest_valid_slot():
    root = fresh_dir()
    try:
        s = store.Store(root)
        c = store.Counter(s)
        for _ in range(3):
            c.next()  # a: 1, b: 2, a: 3
        with open(root + "/counter.b", "wb") as f:
            f.write(b"garbage")
        assert store.Counter(s).next() == 4  # written to b, over the garbage
        for slot in ("a", "b"):
            with open(root + "/counter." + slot, "wb") as f:
                f.write(b"garbage")
        # both slots unreadable: cannot happen by a power cut; starting again would repeat values
        raises(Malformed, store.Counter, s)
    finally:
        cleanup(root)


# -- Queue ---------------------------------------------------------------------------------------

def test_queue_append_items_get_replace_remove_and_restart():
    root = fresh_dir()
    try:
        s = store.Store(root)
        q = store.Queue(s, capacity=3)
        assert len(q) == 0 and q.items() == []
        k1 = q.append(b"one")
        k2 = q.append(b"two")
        k3 = q.append(b"three")
        assert k1 < k2 < k3
        assert q.items() == [(k1, b"one"), (k2, b"two"), (k3, b"three")]
        assert str(raises(Invalid, q.append, b"four")) == "queue full"
        assert len(q) == 3
        q.replace(k2, b"two, signed")
        assert q.get(k2) == b"two, signed"
        q.remove(k1)
        assert q.get(k1) is None and k1 not in q and k2 in q
        raises(KeyError, q.remove, k1)
        raises(KeyError, q.replace, k1, b"x")
        k4 = q.append(b"four")
        assert k4 > k3
        q2 = store.Queue(store.Store(root), capacity=3)
        assert q2.items() == [(k2, b"two, signed"), (k3, b"three"), (k4, b"four")]
        assert q2.keys() == [k2, k3, k4]
        raises(Invalid, q2.append, b"five")
        q2.remove(k3)
        assert q2.append(b"five") > k4
    finally:
        cleanup(root)


def test_queue_order_is_numeric_across_many_keys():
    root = fresh_dir()
    try:
        q = store.Queue(store.Store(root), capacity=12)
        keys = [q.append(bytes([i])) for i in range(12)]
        for k in keys[:10]:
            q.remove(k)
        assert [r for _, r in store.Queue(store.Store(root)).items()] == [b"\x0a", b"\x0b"]
    finally:
        cleanup(root)


def test_queue_record_size_limit():
    root = fresh_dir()
    try:
        q = store.Queue(store.Store(root))
        q.append(bytes(2048))
        raises(Invalid, q.append, bytes(2049))
        raises(Malformed, q.append, "text")
        assert len(q) == 1
    finally:
        cleanup(root)


def test_queue_drops_unreadable_record_files_on_open():
    root = fresh_dir()
    try:
        q = store.Queue(store.Store(root))
        k1 = q.append(b"good")
        k2 = q.append(b"to be torn")
        path = root + "/queue/%010d" % k2
        with open(path, "rb") as f:
            body = f.read()
        with open(path, "wb") as f:
            f.write(body[:-3])
        with open(root + "/queue/%010d.tmp" % (k2 + 1), "wb") as f:
            f.write(b"half")
        seen = []
        old = store.set_commit_hook(seen.append)
        try:
            q2 = store.Queue(store.Store(root))
        finally:
            store.set_commit_hook(old)
        assert q2.items() == [(k1, b"good")]
        assert seen == [[path]]
        assert files_in(root + "/queue") == ["%010d" % k1]
    finally:
        cleanup(root)


# -- Blob ----------------------------------------------------------------------------------------

def _file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def test_a_value_in_pieces_is_written_as_their_concatenation():
    root = fresh_dir()
    try:
        s = store.Store(root)
        s.write("joined", b"abcdefgh", b"\x01")
        s.write("pieces", [b"ab", bytearray(b"cde"), memoryview(b"fgh"), b""], b"\x01")
        assert s.read("pieces") == b"\x01abcdefgh"
        assert _file_bytes(root + "/pieces") == _file_bytes(root + "/joined")
        s.write("none", [])
        assert s.read("none") == b""
        for bad in ([b"ab", "cd"], [b"ab", 3], (b"ab",), "text"):
            raises(Malformed, s.write, "bad", bad)
        assert not s.exists("bad") and s.names() == ["joined", "none", "pieces"]
    finally:
        cleanup(root)


def test_peek_and_read_split_give_the_parts_of_an_intact_value():
    root = fresh_dir()
    try:
        s = store.Store(root)
        # lengths across the 128-byte pieces a peek reads in
        for n in (0, 1, 8, 9, 10, 127, 128, 129, 300):
            value = bytes((i * 7 + n) & 0xFF for i in range(n))
            s.write("v", value)
            for k in (0, 1, 9, 128, 200, 1000):
                assert s.peek("v", k) == value[:k], (n, k)
                assert s.read_split("v", k) == (value[:k], value[k:]), (n, k)
        assert s.peek("absent", 9) is None and s.read_split("absent", 9) is None
    finally:
        cleanup(root)


def test_peek_and_read_split_refuse_every_damaged_record():
    # as read(): a flipped byte anywhere (the CRC covers what a peek does not keep), a cut file,
    # a byte too many
    root = fresh_dir()
    try:
        s = store.Store(root)
        value = bytes(range(256)) + b"tail"
        s.write("v", value)
        good = _file_bytes(root + "/v")
        damaged = [good[:i] for i in range(len(good))] + [good + b"\x00"]
        for i in range(0, len(good), 7):
            bad = bytearray(good)
            bad[i] ^= 0x10
            damaged.append(bytes(bad))
        for bad in damaged:
            with open(root + "/v", "wb") as f:
                f.write(bad)
            assert s.read("v") is None and s.peek("v", 9) is None and s.read_split("v", 9) is None
    finally:
        cleanup(root)


def test_blob_save_load_and_version_guard():
    root = fresh_dir()
    try:
        s = store.Store(root)
        b = store.Blob(s, "checkpoint")
        assert b.load() is None and b.version() is None
        b.save(b"block 100", version=100)
        b.save(b"block 100 again", version=100)
        raises(Invalid, b.save, b"block 50", version=50)
        raises(Invalid, b.save, b"no version")
        raises(Malformed, b.save, b"x", version=-1)
        b.save(b"block 200", version=200)
        b2 = store.Blob(store.Store(root), "checkpoint")
        assert b2.load() == b"block 200" and b2.version() == 200
        k = store.Blob(s, "key")
        k.save(b"secret")
        k.save(b"")
        assert k.load() == b"" and k.version() is None
        k.save(b"versioned now", version=0)
        assert k.version() == 0
        assert k.clear() is True and k.load() is None
    finally:
        cleanup(root)


def test_blob_refuses_a_versioned_save_over_an_unreadable_value():
    root = fresh_dir()
    try:
        s = store.Store(root)
        b = store.Blob(s, "checkpoint")
        b.save(b"block 200", version=200)
        with open(root + "/checkpoint", "wb") as f:
            f.write(b"rot")
        assert b.load() is None
        raises(Invalid, b.save, b"block 50", version=50)
        b.clear()
        b.save(b"block 50", version=50)  # a deliberate reprovisioning
        assert b.load() == b"block 50"
    finally:
        cleanup(root)


# -- power cuts ----------------------------------------------------------------------------------

def test_power_cut_fs_behaves_like_a_filesystem():
    fs = PowerCutFs()
    s = store.Store(ROOT + "/a", fs)
    s.write("x", b"1")
    s.write("x", b"2")
    assert fs.listdir(ROOT) == ["a"] and fs.listdir(ROOT + "/a") == ["x"]
    assert store.Store(ROOT + "/a", fs).read("x") == b"2"
    assert raises(OSError, fs.open, ROOT + "/nope", "rb")
    fs.budget = 0
    raises(PowerCut, s.write, "y", b"3")
    raises(PowerCut, s.read, "x")  # dead until power_on
    fs.power_on()
    assert s.read("x") == b"2" and s.read("y") is None


def test_power_cut_while_creating_the_directories():
    def check(fs, done, result):
        s = store.Store(ROOT + "/a/b", fs)
        s.write("x", b"1")
        assert store.Store(ROOT + "/a/b", fs).read("x") == b"1"
    tried = cut_everywhere(lambda fs: None, lambda fs: store.Store(ROOT + "/a/b", fs), check, (None,))
    assert tried == 4


NEW = b"the new value, longer than the old"


def _write_cases(old):
    def setup(fs):
        s = store.Store(ROOT, fs)
        if old is not None:
            s.write("v", old)

    def action(fs):
        store.Store(ROOT, fs).write("v", NEW)

    def check(fs, done, result):
        got = store.Store(ROOT, fs).read("v")
        assert got in (old, NEW)
        if done:
            assert got == NEW
        assert store.Store(ROOT, fs).names() == ([] if got is None else ["v"])
    return cut_everywhere(setup, action, check)


def test_power_cut_at_every_byte_of_a_first_write():
    assert _write_cases(None) == 3 * (1 + 12 + len(NEW) + 1 + 1)


def test_power_cut_at_every_byte_of_a_replacing_write():
    assert _write_cases(b"old") == 3 * (1 + 12 + len(NEW) + 1 + 1)


COUNTER_WRITE = 1 + HEADER + 16 + 1  # open, frame, rename


def _counter_cases(before, reserve, split_rename=False):
    """Cut the power anywhere in two next() calls of one session, after `before` values."""
    handed = []  # by the setup
    during = []  # by the action, until the power went

    def setup(fs):
        c = store.Counter(store.Store(ROOT, fs), reserve=reserve)
        for _ in range(before):
            handed.append(c.next())

    def action(fs):
        during.clear()
        c = store.Counter(store.Store(ROOT, fs), reserve=reserve)
        for _ in range(2):
            during.append(c.next())

    def check(fs, done, result):
        seen = max(handed + during + [0])
        c = store.Counter(store.Store(ROOT, fs), reserve=reserve)
        assert c.peek() >= seen
        v = c.next()
        assert v > seen, (v, handed, during)
        w = c.next()
        assert w == v + 1
        assert store.Counter(store.Store(ROOT, fs), reserve=reserve).next() > w
    return cut_everywhere(setup, action, check, split_rename=split_rename)


def test_power_cut_at_every_byte_of_a_counter_step():
    # before = 0..3: the slots written are a b, b a, a b, b a
    for before in range(4):
        assert _counter_cases(before, 1) == 3 * (2 * COUNTER_WRITE + 1), before


def test_power_cut_at_every_byte_of_a_counter_step_with_reserve():
    # a counter opened after a restart writes its first ceiling at once; the next value is in it
    for before in range(6):
        assert _counter_cases(before, 3) == 3 * (COUNTER_WRITE + 1), before


def test_counter_survives_a_rename_that_is_not_atomic():
    # If a filesystem replaced a file by removing it first, a cut between the two steps would
    # lose the slot being written; the other slot still holds the newest ceiling.
    for before in range(4):
        removes = min(before, 2)  # renames over an existing slot: one more step each
        assert _counter_cases(before, 1, True) == 3 * (2 * COUNTER_WRITE + removes + 1), before


def test_counter_never_repeats_over_a_chain_of_power_cuts():
    fs = PowerCutFs()
    handed = []
    total = COUNTER_WRITE
    for reserve in (1, 2, 5):
        for fill in FILLS:
            for k in range(total + 1):
                c = store.Counter(store.Store(ROOT, fs), reserve=reserve)
                handed.append(c.next())
                fs.budget = k
                fs.fill = fill
                try:
                    while True:
                        handed.append(c.next())
                except PowerCut:
                    pass
                fs.power_on()
                store.Store(ROOT, fs)
                assert not fs.temporaries()
    for a, b in zip(handed, handed[1:]):
        assert b > a, (a, b)


def _queue_setup(fs):
    q = store.Queue(store.Store(ROOT, fs), capacity=4)
    q.append(b"first reading")
    q.append(b"second reading")
    q.append(b"third reading")
    q.remove(2)


BEFORE = [(1, b"first reading"), (3, b"third reading")]


def _queue_check(expect_new):
    def check(fs, done, result):
        q = store.Queue(store.Store(ROOT, fs), capacity=4)
        items = q.items()
        assert items in (BEFORE, expect_new), items
        if done:
            assert items == expect_new
        assert len(q) == len(items)
        assert all(fs.files[ROOT + "/queue/%010d" % k] for k, _ in items)
        assert len(fs.listdir(ROOT + "/queue")) == len(items)
        k = q.append(b"after")
        assert k > max(key for key, _ in items)
        assert store.Queue(store.Store(ROOT, fs)).items() == items + [(k, b"after")]
    return check


def test_power_cut_at_every_byte_of_a_queue_append():
    rec = b"a fourth reading, signed"
    tried = cut_everywhere(_queue_setup, lambda fs: store.Queue(store.Store(ROOT, fs)).append(rec),
                           _queue_check(BEFORE + [(4, rec)]))
    assert tried == 3 * (1 + 12 + len(rec) + 1 + 1)


def test_power_cut_at_every_byte_of_a_queue_replace():
    rec = b"third reading + signed transaction"
    tried = cut_everywhere(_queue_setup, lambda fs: store.Queue(store.Store(ROOT, fs)).replace(3, rec),
                           _queue_check([(1, b"first reading"), (3, rec)]))
    assert tried == 3 * (1 + 12 + len(rec) + 1 + 1)


def test_power_cut_during_a_queue_remove():
    tried = cut_everywhere(_queue_setup, lambda fs: store.Queue(store.Store(ROOT, fs)).remove(1),
                           _queue_check([(3, b"third reading")]), (None,))
    assert tried == 2


def test_power_cut_at_every_byte_of_a_versioned_blob_save():
    def setup(fs):
        store.Blob(store.Store(ROOT, fs), "checkpoint").save(b"block 100", version=100)

    def action(fs):
        store.Blob(store.Store(ROOT, fs), "checkpoint").save(b"block 200", version=200)

    def check(fs, done, result):
        b = store.Blob(store.Store(ROOT, fs), "checkpoint")
        got = (b.version(), b.load())
        assert got in ((100, b"block 100"), (200, b"block 200")), got
        if done:
            assert got == (200, b"block 200")
        raises(Invalid, b.save, b"block 99", version=99)
    tried = cut_everywhere(setup, action, check)
    assert tried == 3 * (1 + 12 + 9 + 9 + 1 + 1)


def test_looking_only_leaves_another_writers_temporary_file():
    fs = PowerCutFs()
    st = store.Store(ROOT, fs)
    st.write("v", b"old")
    with fs.open(st.path("v") + ".tmp", "wb") as f:  # a write in progress elsewhere
        f.write(b"partial")
    look = store.Store(ROOT, fs, recover=False)
    assert look.read("v") == b"old" and look.recovered == []
    assert fs.temporaries()
    assert store.Store(ROOT, fs).recovered == ["v.tmp"] and not fs.temporaries()
