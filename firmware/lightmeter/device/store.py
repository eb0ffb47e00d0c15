"""The device's persistent state: atomic files, a counter that never repeats, a durable queue.

Everything here survives a power cut at any byte of any write. Runs on MicroPython (littlefs on
ESP32/RP2040, the unix port, the WebAssembly port's in-memory FS) and CPython, using only `open`
and os.rename / remove / listdir / stat / mkdir, through a small filesystem object (`OsFs`) that
tests replace to cut the power at a chosen byte.

Files. `Store.write` frames each value as a record,

    b"LMs1" | payload length (uint32 BE) | CRC-32 of the first 8 bytes and the payload (uint32 BE)
    | payload

(a payload of at most 65536 bytes) and writes it to NAME.tmp, makes it durable (flush; fsync on
CPython, os.sync where a MicroPython port has it), then renames it over NAME. The rename is the
commit: on littlefs, POSIX (unix port, CPython) and Emscripten's FS it replaces the target
atomically, so NAME always holds a whole old or a whole new record. A leftover .tmp (the power went
before the rename) is removed when a Store opens its directory and is never read. A file whose
frame is wrong (short, long, bad magic, bad CRC) reads as absent, never as data. FAT, where rename
refuses an existing target, is not supported: `write` then raises OSError rather than replace
non-atomically.

Counter scheme: two slots, NAME.a and NAME.b, each a (ceiling, generation) record written with the
atomic write above. A value is handed out only after a slot holding a ceiling >= that value is
durable; a write always goes to the slot that does *not* hold the newest generation, so the newest
durable ceiling is never touched while a write is under way. On open the counter takes the valid
slot with the higher generation and continues above its ceiling. So whatever byte the power stops
at, the ceiling read back is >= every value handed out, and the next value is above it: values
never repeat and never go back (a cut may skip the value being handed out; it never reuses one).
`reserve` > 1 persists a ceiling that many values ahead, so only one write in `reserve` readings
touches flash (less wear); a power cut then skips up to reserve - 1 values.

Commit hook: `set_commit_hook(fn)` makes every durable change (a write or a remove of a store file,
so every queue append / replace / remove, counter write and blob save) call fn(paths) with the
list of paths written or removed (a path that no longer exists was removed). Temporary files are
never reported. A virtual board mirrors files to the host with it; on a device it is unset.
"""

try:
    import os
except ImportError:  # a port without os (mcu/'s measuring port): give the Store its own fs
    os = None
from binascii import crc32

from lightmeter.errors import Invalid, Malformed

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


_MAGIC = const(b"LMs1")
_HEADER = const(12)  # magic, length, CRC
_MAX_PAYLOAD = const(65536)  # largest value a file may hold (a trust checkpoint with 21 sealers is ~2 KB)
_TMP = const(".tmp")
_PIECE = const(128)  # bytes a peek reads at a time

_commit_hook = None


def set_commit_hook(fn):
    """Call fn(list of paths) after every durable change; None unsets it. Returns the old hook."""
    global _commit_hook
    old = _commit_hook
    _commit_hook = fn
    return old


def _committed(paths):
    if _commit_hook is not None:
        _commit_hook(paths)


def _u32(n):
    return n.to_bytes(4, "big")


def encode_record(payload):
    """The framed bytes of a file holding payload."""
    head = _MAGIC + _u32(len(payload))
    return head + _u32(crc32(payload, crc32(head)) & 0xFFFFFFFF) + payload


def decode_record(data):
    """The payload of framed bytes, or None if they are not exactly one intact record."""
    if len(data) < _HEADER or data[:4] != _MAGIC:
        return None
    n = int.from_bytes(data[4:8], "big")
    if n > _MAX_PAYLOAD or len(data) != _HEADER + n:
        return None
    payload = bytes(data[_HEADER:])
    if crc32(payload, crc32(data[:8])) & 0xFFFFFFFF != int.from_bytes(data[8:12], "big"):
        return None
    return payload


class OsFs:
    """The real filesystem: builtin open and the os module. Tests pass another object with the
    same methods to a Store (one that cuts the power after a chosen number of bytes)."""

    def open(self, path, mode):
        return open(path, mode)

    def rename(self, src, dst):
        os.rename(src, dst)

    def remove(self, path):
        os.remove(path)

    def listdir(self, path):
        return os.listdir(path)

    def mkdir(self, path):
        os.mkdir(path)

    def stat(self, path):
        return os.stat(path)

    def flush(self, f):
        """Make what was written to the open file f durable."""
        f.flush()
        fsync = getattr(os, "fsync", None)  # CPython; MicroPython commits on close / os.sync
        if fsync is not None:
            fsync(f.fileno())

    def sync(self, directory):
        """Make renames and removes in directory durable."""
        fsync = getattr(os, "fsync", None)
        if fsync is not None:
            try:
                fd = os.open(directory, os.O_RDONLY)
            except (AttributeError, OSError):  # no directory handles (Windows)
                return
            try:
                fsync(fd)
            except OSError:
                pass
            finally:
                os.close(fd)
            return
        sync = getattr(os, "sync", None)
        if sync is not None:
            sync()


def _check_name(name):
    if (not isinstance(name, str) or not name or "/" in name or name in (".", "..")
            or name.endswith(_TMP)):
        raise Malformed("store: bad file name %r" % (name,))


def _as_bytes(data, what):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise Malformed("%s: data must be bytes" % what)
    return data if isinstance(data, bytes) else bytes(data)


def _as_pieces(data, what):
    # data as a list of byte pieces: one bytes-like value, or a list of them (a value encoded in
    # pieces is written without ever being joined: no copy of it needs one block of the heap)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return [data]
    if isinstance(data, list) and all(isinstance(p, (bytes, bytearray, memoryview)) for p in data):
        return data
    raise Malformed("%s: data must be bytes or a list of bytes" % what)


class Store:
    """A directory of atomically replaced, CRC-framed files. Opening it removes leftover .tmp files.

    recover=False opens it to look only (a host reading a running device's files): a .tmp file
    may then be another process's write in progress, so it is left alone.
    """

    def __init__(self, root, fs=None, recover=True):
        if not isinstance(root, str) or not root:
            raise Malformed("store: bad root %r" % (root,))
        while len(root) > 1 and root.endswith("/"):
            root = root[:-1]
        self.root = root
        self.fs = fs if fs is not None else OsFs()
        self._makedirs(root)
        self.recovered = self.recover() if recover else []

    def _makedirs(self, root):
        parts = root.split("/")
        path = ""
        for i, part in enumerate(parts):
            path = part if i == 0 else path + "/" + part
            if not path or part in ("", "."):
                continue
            try:
                self.fs.stat(path)
            except OSError:
                self.fs.mkdir(path)

    def path(self, name):
        """The file path of name in this store."""
        return ("" if self.root == "/" else self.root) + "/" + name

    def recover(self):
        """Remove temporary files left by an interrupted write; returns their names."""
        gone = []
        for n in self.fs.listdir(self.root):
            if n.endswith(_TMP):
                self.fs.remove(self.path(n))
                gone.append(n)
        if gone:
            self.fs.sync(self.root)
        return gone

    def names(self):
        """Sorted names in the store (temporary files excluded; subdirectories included)."""
        return sorted(n for n in self.fs.listdir(self.root) if not n.endswith(_TMP))

    def exists(self, name):
        """Whether a file name is present, readable or not."""
        _check_name(name)
        try:
            self.fs.stat(self.path(name))
        except OSError:
            return False
        return True

    def read(self, name):
        """The bytes last written to name, or None if absent or not an intact record."""
        got = self._scan(name, None, 0)
        return None if got is None else got[1]

    def read_split(self, name, split):
        """(the first split bytes, the rest) of name's value, read apart so that neither is a
        copy cut from the other (the rest is the larger: a value behind a short prefix), or
        None if absent or not an intact record."""
        return self._scan(name, None, split)

    def peek(self, name, count):
        """The first count bytes of name's value (fewer if it is shorter), or None if absent or
        not an intact record. The whole record is checked, in small pieces: a value's version
        is read without holding the value (the device's heap, bench/RESULTS.md)."""
        got = self._scan(name, count, 0)
        return None if got is None else got[0]

    def _scan(self, name, keep, split):
        # (first, rest) of an intact record, or None. keep: stream the body in pieces and keep its
        # first keep bytes only; else read first (split bytes) and rest in one read each.
        _check_name(name)
        try:
            f = self.fs.open(self.path(name), "rb")
        except OSError:
            return None
        try:
            head = f.read(_HEADER)
            if len(head) != _HEADER or head[:4] != _MAGIC:
                return None
            n = int.from_bytes(head[4:8], "big")
            if n > _MAX_PAYLOAD:
                return None
            crc = crc32(head[:8])
            first = b""
            rest = b""
            size = 0
            if keep is None:
                if split:
                    first = f.read(min(split, n))
                    size = len(first)
                    crc = crc32(first, crc)
                # One byte more than the length: trailing bytes are refused. One read, and no
                # copy unless the file system returns it in pieces.
                rest = f.read(n + 1 - size)
                while size + len(rest) <= n:
                    chunk = f.read(n + 1 - size - len(rest))
                    if not chunk:
                        break
                    rest += chunk
                size += len(rest)
                crc = crc32(rest, crc)
            else:
                while size <= n:
                    chunk = f.read(min(_PIECE, n + 1 - size))
                    if not chunk:
                        break
                    if size < keep:
                        first += chunk[:keep - size]
                    size += len(chunk)
                    crc = crc32(chunk, crc)
        finally:
            f.close()
        if size != n or crc & 0xFFFFFFFF != int.from_bytes(head[8:12], "big"):
            return None
        return first, rest

    def write(self, name, data, prefix=b""):
        """Replace name with prefix + data atomically: after a power cut, name holds the old or the
        new value. The prefix (a few bytes) is written ahead of data without joining them; data
        is bytes-like or a list of bytes-like pieces, written one after the other."""
        _check_name(name)
        pieces = _as_pieces(data, "store")
        size = len(prefix)
        for p in pieces:
            size += len(p)
        if size > _MAX_PAYLOAD:
            raise Invalid("store: %d bytes is more than a file may hold" % size)
        path = self.path(name)
        tmp = path + _TMP
        fs = self.fs
        head = _MAGIC + _u32(size)
        crc = crc32(prefix, crc32(head))
        for p in pieces:
            crc = crc32(p, crc)
        try:
            f = fs.open(tmp, "wb")
            try:
                f.write(head + _u32(crc & 0xFFFFFFFF) + prefix)
                for p in pieces:
                    f.write(p)
                fs.flush(f)
            finally:
                f.close()
            fs.rename(tmp, path)
        except BaseException:
            try:  # an ordinary error (disk full...); after a real power cut recover() does this
                fs.remove(tmp)
            except BaseException:
                pass
            raise
        fs.sync(self.root)
        _committed([path])

    def remove(self, name):
        """Remove name; True if it was there."""
        _check_name(name)
        path = self.path(name)
        try:
            self.fs.remove(path)
        except OSError:
            if self.exists(name):
                raise
            return False
        self.fs.sync(self.root)
        _committed([path])
        return True


class Counter:
    """A reading sequence number that never repeats and never goes back, across power cuts.

    Two slots NAME.a / NAME.b hold (ceiling, generation); see the module docstring for why a cut
    at any byte cannot make a value come back. next() starts at 1.
    """

    def __init__(self, store, name="counter", reserve=1):
        _check_name(name)
        if not isinstance(reserve, int) or reserve < 1:
            raise Malformed("counter: reserve must be an integer >= 1")
        self._store = store
        self._slots = (name + ".a", name + ".b")
        self._reserve = reserve
        best = None  # (generation, ceiling, slot index)
        present = False
        for i in (0, 1):
            slot = self._slots[i]
            raw = store.read(slot)
            if raw is None:
                present = present or store.exists(slot)
                continue
            if len(raw) != 16:
                present = True
                continue
            ceiling = int.from_bytes(raw[:8], "big")
            gen = int.from_bytes(raw[8:], "big")
            if best is None or gen > best[0]:
                best = (gen, ceiling, i)
        if best is None:
            if present:
                # Not something a power cut can cause (slots are replaced atomically): starting
                # again at 1 would repeat values, so refuse.
                raise Malformed("counter: no readable slot in %s" % store.root)
            best = (0, 0, 1)
        self._gen, self._ceiling, newest = best
        self._last = self._ceiling
        self._slot = 1 - newest  # the slot the next write goes to

    def next(self):
        """A new value, greater than every value this counter has handed out."""
        value = self._last + 1
        if value > self._ceiling:
            ceiling = self._last + self._reserve
            if ceiling >= 1 << 64:
                raise Invalid("counter: exhausted")
            gen = self._gen + 1
            self._store.write(self._slots[self._slot], ceiling.to_bytes(8, "big") + gen.to_bytes(8, "big"))
            self._gen, self._ceiling, self._slot = gen, ceiling, 1 - self._slot
        self._last = value
        return value

    def peek(self):
        """The last value handed out (0 if none). After a restart with reserve > 1, the persisted
        ceiling: an upper bound of the values handed out before the restart."""
        return self._last


_KEY_DIGITS = const(10)


def _key_name(key):
    return "%010d" % key


def _parse_key(name):
    if len(name) != _KEY_DIGITS or not name.isdigit():
        return None
    return int(name)


class Queue:
    """A bounded durable queue of records (bytes), one file per record in directory ROOT/NAME.

    Keys are increasing integers, kept in the file names, so append order survives restarts.
    A key is never reused while the queue holds a record; after the queue has been emptied and the
    device restarted, numbering may start again at 1. items() reads every record into memory
    (capacity x max_record bytes at worst): on a small heap walk keys() and get() instead.
    """

    def __init__(self, store, name="queue", capacity=64, max_record=2048):
        _check_name(name)
        self.capacity = capacity
        self.max_record = max_record
        self._dir = Store(store.path(name), store.fs)
        keys = []
        for n in self._dir.names():
            key = _parse_key(n)
            if key is None:
                continue  # not ours
            if self._dir.read(n) is None:
                self._dir.remove(n)  # unreadable: never parsed as a reading
            else:
                keys.append(key)
        keys.sort()
        self._keys = keys
        self._next = keys[-1] + 1 if keys else 1

    def __len__(self):
        return len(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def _record(self, record):
        record = _as_bytes(record, "queue")
        if len(record) > self.max_record:
            raise Invalid("queue: record of %d bytes, at most %d" % (len(record), self.max_record))
        return record

    def append(self, record):
        """Store record at the end; returns its key. Invalid("queue full") at capacity."""
        record = self._record(record)
        if len(self._keys) >= self.capacity:
            raise Invalid("queue full")
        key = self._next
        self._next = key + 1
        name = _key_name(key)
        try:
            self._dir.write(name, record)
        except BaseException:
            if self._dir.exists(name):  # committed before the error: keep the index true
                self._keys.append(key)
            raise
        self._keys.append(key)
        return key

    def keys(self):
        """Keys in append order."""
        return list(self._keys)

    def get(self, key):
        """The record stored under key, or None."""
        if key not in self._keys:
            return None
        return self._dir.read(_key_name(key))

    def items(self):
        """[(key, record)] in append order (records that no longer read intact are left out)."""
        out = []
        for key in self._keys:
            rec = self._dir.read(_key_name(key))
            if rec is not None:
                out.append((key, rec))
        return out

    def replace(self, key, record):
        """Atomically replace the record under key (KeyError if there is none)."""
        record = self._record(record)
        if key not in self._keys:
            raise KeyError(key)
        self._dir.write(_key_name(key), record)

    def remove(self, key):
        """Remove the record under key (KeyError if there is none)."""
        if key not in self._keys:
            raise KeyError(key)
        self._dir.remove(_key_name(key))
        self._keys.remove(key)


def _blob_head(first):
    # (version or None, prefix length) of a blob's first bytes: 0, or 1 and an 8-byte version;
    # None if they are neither (or None: absent or unreadable)
    if first and first[0] == 0:
        return None, 1
    if first and first[0] == 1 and len(first) == 9:
        return int.from_bytes(first[1:9], "big"), 9
    return None


class Blob:
    """A single atomically replaced value (trust checkpoint, key, config).

    save(data, version=n) refuses (Invalid) to replace a stored value with a higher version, or a
    versioned value with an unversioned one, or an unreadable stored value (clear() it first):
    an older trust checkpoint can never replace a newer one.
    """

    def __init__(self, store, name):
        _check_name(name)
        self._store = store
        self.name = name

    def _read(self):
        """(version or None, data), or None if absent or unreadable."""
        # the prefix read apart: a versioned value (a checkpoint, ~1.5 KB) comes back as read,
        # not cut out of a copy twice its size
        got = self._store.read_split(self.name, 9)
        head = _blob_head(None if got is None else got[0])
        if head is None:
            return None
        if head[1] == 1:
            return None, got[0][1:] + got[1]  # an unversioned value: a key, a few dozen bytes
        return head[0], got[1]

    def load(self):
        """The stored bytes, or None."""
        got = self._read()
        return None if got is None else got[1]

    def version(self):
        """The stored value's version, or None (absent, unreadable or saved without one)."""
        got = _blob_head(self._store.peek(self.name, 9))  # the value itself not read
        return None if got is None else got[0]

    def save(self, data, version=None):
        """Store data atomically, guarded by version (an int >= 0) when one is given."""
        data = _as_pieces(data, "blob")
        got = _blob_head(self._store.peek(self.name, 9))  # the value itself not read
        if got is None and self._store.exists(self.name) and version is not None:
            raise Invalid("blob %s: stored value is unreadable; clear() it first" % self.name)
        old = None if got is None else got[0]
        if version is None:
            if old is not None:
                raise Invalid("blob %s: stored value has version %d; give a version" % (self.name, old))
            self._store.write(self.name, data, b"\x00")
            return
        if not isinstance(version, int) or not 0 <= version < 1 << 64:
            raise Malformed("blob: version must be an integer in 0..2**64-1")
        if old is not None and old > version:
            raise Invalid("blob %s: stored version %d is newer than %d" % (self.name, old, version))
        self._store.write(self.name, data, b"\x01" + version.to_bytes(8, "big"))

    def clear(self):
        """Remove the stored value; True if there was one."""
        return self._store.remove(self.name)
