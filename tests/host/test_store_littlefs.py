"""The device store's power-cut claims (lightmeter.device.store: CRC-framed files replaced by
rename, the two-slot counter) on real littlefs (littlefs-python, the C littlefs the boards run),
over a block device this test controls: the power is cut at every block program and erase of a
save, then the image is mounted again. After each cut: the store opens, nothing acknowledged is
lost, the counter never goes back. And a save into a full filesystem fails without harm."""

import littlefs
import pytest

from lightmeter.device import store as store_mod

BLOCK, BLOCKS = 512, 64


class Flash(littlefs.UserContext):
    """A RAM flash whose power goes just before program/erase number `budget` (None: never): the
    image as it was at that moment is kept in .at_cut. Writes after it still succeed in RAM (the
    C library aborts on errors it does not expect), but only .at_cut is mounted again."""

    def __init__(self, buffer):
        super().__init__(buffer=buffer)
        self.budget = None
        self.ops = 0
        self.at_cut = None

    def _op(self):
        self.ops += 1
        if self.budget is not None and self.ops == self.budget and self.at_cut is None:
            self.at_cut = bytearray(self.buffer)

    def prog(self, cfg, block, off, data):
        self._op()
        return super().prog(cfg, block, off, data)

    def erase(self, cfg, block):
        self._op()
        return super().erase(cfg, block)


def _os_error(fn):
    # littlefs errors as MicroPython's VFS raises them: OSError with the errno (LFS_ERR_* = -errno)
    def call(*a):
        try:
            return fn(*a)
        except littlefs.LittleFSError as e:
            raise OSError(-getattr(e, "code", -5), str(e)) from None
    return call


class LfsAdapter:
    """littlefs-python's LittleFS as the store's fs object (store.OsFs's methods)."""

    def __init__(self, lfs):
        self.lfs = lfs
        for name in ("open", "rename", "remove", "listdir", "mkdir", "stat"):
            setattr(self, name, _os_error(getattr(lfs, name)))

    def flush(self, f):
        _os_error(f.flush)()

    def sync(self, directory):
        pass


def mount(buffer):
    flash = Flash(buffer)
    lfs = littlefs.LittleFS(context=flash, block_size=BLOCK, block_count=BLOCKS, mount=True)
    return flash, lfs


def fresh_image():
    buf = bytearray(b"\xff" * (BLOCK * BLOCKS))
    flash = Flash(buf)
    littlefs.LittleFS(context=flash, block_size=BLOCK, block_count=BLOCKS, mount=False).format()
    return buf


def _errors():
    return (OSError, littlefs.LittleFSError)


def test_a_power_cut_at_every_program_and_erase_of_a_save_loses_nothing_acknowledged():
    buf = fresh_image()
    flash, lfs = mount(buf)
    st = store_mod.Store("/dev", fs=LfsAdapter(lfs))
    st.write("value", b"v0")
    counter = store_mod.Counter(st)
    handed = [counter.next() for _ in range(3)]
    # how many operations one save takes, measured on a copy
    probe = bytearray(buf)
    pf, plfs = mount(probe)
    ps = store_mod.Store("/dev", fs=LfsAdapter(plfs))
    before = pf.ops
    ps.write("value", b"v1" * 40)
    store_mod.Counter(ps).next()
    total = pf.ops - before
    assert total > 0
    for cut in range(1, total + 2):
        image = bytearray(buf)
        f, l = mount(image)
        s = store_mod.Store("/dev", fs=LfsAdapter(l))
        f.budget = f.ops + cut
        s.write("value", b"v1" * 40)
        value_acked = f.at_cut is None  # the write returned before the power went
        n = store_mod.Counter(s).next()
        count_acked = f.at_cut is None
        # power back: mount the image as it was at the cut
        f2, l2 = mount(f.at_cut if f.at_cut is not None else image)
        s2 = store_mod.Store("/dev", fs=LfsAdapter(l2))
        got = s2.read("value")
        assert got in (b"v0", b"v1" * 40), cut
        if value_acked:
            assert got == b"v1" * 40, cut
        nxt = store_mod.Counter(s2).next()
        assert nxt > max(handed), cut
        if count_acked:
            assert nxt > n, cut


def test_a_full_filesystem_fails_the_save_and_keeps_the_old_value():
    buf = fresh_image()
    flash, lfs = mount(buf)
    st = store_mod.Store("/dev", fs=LfsAdapter(lfs))
    st.write("value", b"old")
    for i in range(BLOCKS):  # fill it, one block-sized file at a time, until littlefs says full
        try:
            f = lfs.open("/filler%d" % i, "wb")
            f.write(b"\x00" * BLOCK)
            f.close()
        except _errors():
            break
    with pytest.raises(_errors()):
        st.write("value", b"new" * 2000)
    _, l2 = mount(buf)
    assert store_mod.Store("/dev", fs=LfsAdapter(l2)).read("value") == b"old"
