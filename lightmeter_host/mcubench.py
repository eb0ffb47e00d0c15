"""`lightmeter bench --mcu`: the device cycle on the 32-bit measuring port (mcu/).

One device cycle, as the firmware runs it after a reading's transaction is mined:

1. decode: the relay's `receipt` answer arrives on the UART as link frames (COBS + CRC-32 +
   canonical CBOR, proto/link.md); the Deframer takes it in 64-byte chunks, the body is
   unpacked and the header map decoded strictly;
2. header: the stored checkpoint (an older block, same sealer set) is loaded from the store and
   moved to the answer's header by one skipping step (transition.verify_skip: its quorum of
   signatures, every one checked, and the trusted set's overlap);
3. proofs: the transaction and receipt Merkle proofs into that header, and the registry's log of
   the reading (client.anchor.verify_proofs);
4. store: the new checkpoint saved, the reading taken off the queue;
5. sign: the next reading taken, its MeterRegistry transaction signed with the device key and
   queued, and its `send_tx` request framed for the UART.

The input is built here on the host (signed headers, transactions, receipts and proofs from the
firmware's own code) and written to a folder the guest script reads with open(); the device
store runs on an in-memory filesystem whose initial files are read from that folder on demand
(the port has no os module); the answer's UART bytes are one small file per 64-byte read, since
the port's open() reads a whole file into the heap. Heap is bisected with real MemoryErrors
(runtimes.mcu.smallest_heap), modules loaded from .mpy (compiled as `lightmeter flash` writes them,
runtimes/build.py's MPY_FLAGS) into RAM one at a time with a collection
after each (as device/start.py loads them); the "frozen" figure is that heap minus what the imported
modules keep (gc.mem_alloc() after importing everything the cycle uses and collecting): an
estimate of what a board with the modules frozen in flash would need. Instructions are counted by
QEMU (m0, -icount): a lower bound on cycles, not a time.

The cycle runs as the device runs it (PER_STEP_SCRIPT, the default): the resident modules loaded
first (device/modules.py), each step's own loaded for it and released after; the .mpy figure and
the instructions are that run's. The "frozen" estimate comes from the same cycle with every module
loaded first (CYCLE_SCRIPT, per_step=False), as a board with frozen modules holds them all.
"""

import hashlib
import json
import os
import re
import tempfile

from lightmeter.chain import abi, meter_registry, receipt as receipt_mod, tx as txm
from lightmeter.chain import merklebuild
from lightmeter.chain import headerwrite
from lightmeter.client import trust as trust_mod
from lightmeter.crypto import suite as suite_mod
from lightmeter.device import checkpoint, modules, reading, store as store_mod
from lightmeter.link import frame, wire
from lightmeter.link import relaywire
from lightmeter_host.runtimes import build

ROOT = "lm"  # the store's folder on the device
REGISTRY = bytes.fromhex("6c6d657465720000000000000000000000000001")
BLOCK = 1000  # the answer's block; the stored checkpoint is SKIP blocks below it
SKIP = 100
TXS_IN_BLOCK = 20  # the device's transaction at POSITION among them (two proof levels)
POSITION = 5
SEQ = 7  # the queued reading's sequence number
RID = 41  # the request id the answer carries
RECEIPT = 12  # link message type of a receipt answer (link/session.py)
UART_CHUNK = 64  # bytes the device takes off its UART at a time
HEAP_MIB_FREE = 256 * 1024  # bisection top (m0's largest heap)
CLOCK_HZ = 133000000  # RP2040's nominal clock, for the one-instruction-per-cycle bound
FIRMWARE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware")

# The modules the cycle uses; the guest imports them all before measuring its baseline and
# reports any module the cycle loads beyond them.
MODULES = ("lightmeter.errors", "lightmeter.chain.fields", "lightmeter.chain.abi",
           "lightmeter.chain.meter_registry",
           "lightmeter.chain.header", "lightmeter.chain.merkle", "lightmeter.chain.receipt",
           "lightmeter.chain.tx", "lightmeter.client.trust", "lightmeter.client.verify",
           "lightmeter.client.transition", "lightmeter.client.anchor", "lightmeter.link.cbor",
           "lightmeter.link.frame", "lightmeter.link.wire", "lightmeter.device.store",
           "lightmeter.device.checkpoint", "lightmeter.device.reading", "lightmeter.crypto.suite",
           "lightmeter.crypto.rfc6979", "lightmeter.crypto.ec")
SUITE_MODULES = {"ecdsa": ("lightmeter.crypto.keccak", "lightmeter.crypto.secp256k1"),
                 "sm": ("lightmeter.crypto.sm3", "lightmeter.crypto.sm2")}
_OTHER_SUITE = {"ecdsa": SUITE_MODULES["sm"], "sm": SUITE_MODULES["ecdsa"]}
# the curve's generator tables, which signing imports (crypto/ec.py): in the every-module baseline
SUITE_TABLES = {name: modules.step("sign", name)[:1] for name in SUITE_MODULES}
# every module a step of the cycle loads (device/modules.py)
_STEP_MODULES = tuple(sorted(set(sum((modules.step(k) for k in ("decode", "header", "proofs", "reading", "tx", "frame")), ())
                                 + modules.step("sign", "ecdsa") + modules.step("sign", "sm"))))


class HostFs:
    """The store's filesystem interface (device.store.OsFs) over a dict, to build the store here."""

    def __init__(self):
        self.files = {}

    def open(self, path, mode):
        import io
        if "w" in mode:
            fs = self

            class W(io.BytesIO):
                def close(self):
                    fs.files[path] = self.getvalue()
                    super().close()
            return W()
        if path not in self.files:
            raise OSError(2, path)
        return io.BytesIO(self.files[path])

    def rename(self, a, b):
        self.files[b] = self.files.pop(a)

    def remove(self, p):
        if p not in self.files:
            raise OSError(2, p)
        del self.files[p]

    def listdir(self, d):
        return [p[len(d) + 1:] for p in self.files if p.startswith(d + "/")]

    def mkdir(self, p):
        pass

    def stat(self, p):
        if p != ROOT and p not in self.files:
            raise OSError(2, p)
        return (0,)

    def flush(self, f):
        pass

    def sync(self, d):
        pass


def _reading(seq, suite_name):
    m = {reading.METER_ID: "meter-0001", reading.FIRMWARE: "lightmeter-0.1", reading.SEQ: seq,
         reading.TIME: 1700000000000 + seq, reading.CLOCK: reading.CLOCK_SYNCED,
         reading.OBIS: "1-0:1.8.0", reading.VALUE: 123456 + seq, reading.SCALE: 0,
         reading.UNIT: "Wh", reading.STATUS: 0, reading.SUITE: suite_name}
    return reading.encode(m)


def _receipt_json(s, number, device, seq):
    topic = abi.event_topic(meter_registry.READING_EVENT, s.hash)
    return {"version": 0, "gasUsed": "30000", "contractAddress": "", "status": 0, "output": "0x",
            "blockNumber": number, "logEntries": [{
                "address": REGISTRY.hex(), "data": "0x" + abi.encode(["bytes"], [b"r" * 120]).hex(),
                "topics": ["0x" + topic.hex(), "0x" + (bytes(12) + device).hex(),
                           "0x" + seq.to_bytes(32, "big").hex()]}]}


def build_cycle(suite_name, sealers, out_dir, txs_in_block=TXS_IN_BLOCK, position=POSITION, compact=False,
                batch_size=1, key_tables=False, warm_tables=False):
    """Write the cycle's input to out_dir: the UART bytes of the answer, the store's files, cycle.json.

    txs_in_block, position: the block the reading is in; compact: the proofs in the link's compact
    form (proto/link.md), as a device asking for them gets them. batch_size, key_tables: the light
    client's verify.BATCH_SIZE and verify.KEY_TABLES on the device; warm_tables: the sealers' kept
    tables built before the cycle (as an earlier cycle leaves them)."""
    s = suite_mod.get(suite_name)
    keys = [hashlib.sha256(b"mcu-sealer" + bytes([i])).digest() for i in range(sealers)]
    nodes = sorted((s.public_key(k), k) for k in keys)
    dkey = hashlib.sha256(b"mcu-device-" + suite_name.encode()).digest()
    dpub = s.public_key(dkey)
    device = s.address(dpub)

    # the queued reading's transaction, signed as the device signed it
    rd = _reading(SEQ, suite_name)
    tx = txm.defaults()
    tx.update(chainID=b"chain0", groupID=b"group0", blockLimit=BLOCK + 400,
              nonce=("%s-%d-%d" % (device.hex()[:16], SEQ, 0)).encode(), to=REGISTRY.hex().encode(),
              input=abi.encode_call(meter_registry.RECORD, [SEQ, rd], s.hash))
    digest = txm.tx_hash(tx, s)
    tx["signature"] = s.sign_tx(dkey, digest)

    txs = [s.hash(b"other-tx-%d" % i) for i in range(txs_in_block)]
    txs[position] = digest
    rcs = [_receipt_json(s, BLOCK, s.hash(b"other-%d" % i)[:20], i) for i in range(txs_in_block)]
    rcs[position] = _receipt_json(s, BLOCK, device, SEQ)
    rhs = [receipt_mod.from_json(r).hash(s) for r in rcs]
    h = headerwrite.new(BLOCK, s.hash(b"parent"), [n for n, _ in nodes],
                       txs_root=merklebuild.root(txs, s.hash), receipts_root=merklebuild.root(rhs, s.hash),
                       state_root=s.hash(b"state"), gas_used=b"600000", timestamp=1700000000000,
                       sealer=1)
    hd = h.hash(s)
    h.signatures = [(i, s.sign_node(nodes[i][1], hd)) for i in range(trust_mod.quorum(sealers))]
    rproof, tproof = merklebuild.proof(rhs, position, s.hash), merklebuild.proof(txs, position, s.hash)
    if compact:
        from lightmeter_host.chain import proofs
        rproof = proofs.compact(rproof, rhs[position], s.hash, position)
        tproof = proofs.compact(tproof, digest, s.hash, position)
    answer = {0: relaywire.receipt_to_wire(rcs[position]), 1: rproof, 2: tproof,
              3: relaywire.header_to_wire(headerwrite.to_json(h, hd))}
    uart = b"\x00" + frame.encode_frame(frame.pack(frame.VERSION, RECEIPT, RID, answer))

    # the device's store: checkpoint SKIP blocks back, key, counter at SEQ, the reading queued
    fs = HostFs()
    store = store_mod.Store(ROOT, fs)
    tj = {"chain_id": "chain0", "group_id": "group0", "crypto": suite_name,
          "sealers": [{"node_id": n.hex(), "weight": 1} for n, _ in nodes],
          "number": BLOCK - SKIP, "hash": "0x" + s.hash(b"checkpoint").hex()}
    checkpoint.save(store, trust_mod.from_json(tj))
    store_mod.Blob(store, "key").save(dkey)
    store_mod.Blob(store, "public").save(dpub)
    counter = store_mod.Counter(store)
    while counter.next() < SEQ:
        pass
    queue = store_mod.Queue(store)
    # queue record fields as device/app.py keeps them: seq, reading, tx map, hash, limit, tries
    queue.append(_cbor_dumps({0: SEQ, 1: rd, 2: wire.tx_to_wire(tx), 3: digest, 4: tx["blockLimit"], 5: 0}))

    os.makedirs(out_dir, exist_ok=True)
    names = sorted(fs.files)
    for p in names:
        with open(os.path.join(out_dir, p.replace("/", "_")), "wb") as f:
            f.write(fs.files[p])
    # the UART's bytes in 64-byte pieces, one file each: the guest reads one piece at a time, as
    # a board's UART hands them over from a small buffer outside the heap (the port's open() reads
    # a whole file into the heap, so one file would stand for a 4 KB buffer no board has)
    for i in range(0, len(uart), UART_CHUNK):
        with open(os.path.join(out_dir, "uart%04d.bin" % (i // UART_CHUNK)), "wb") as f:
            f.write(uart[i:i + UART_CHUNK])
    cfg = {"suite": suite_name, "sealers": sealers, "files": names, "rid": RID, "root": ROOT,
           "uart_chunks": -(-len(uart) // UART_CHUNK),
           "registry": REGISTRY.hex(), "block": BLOCK, "batch_size": batch_size, "key_tables": key_tables,
           "warm_tables": warm_tables}
    with open(os.path.join(out_dir, "cycle.json"), "w") as f:
        json.dump(cfg, f)
    return {"answer_bytes": len(uart), "store_bytes": sum(len(v) for v in fs.files.values())}


def _cbor_dumps(obj):
    from lightmeter.link import cbor
    return cbor.dumps(obj)


# The guest's stand-ins for a board's file system and UART, shared by the scripts below ('%' doubled:
# the scripts are %-formatted).
_GUEST_IO = r'''
# A board's littlefs (MicroPython's extmod/vfs_lfsx.c as the RP2040's boot script mounts it,
# progsize 256: cache_size = min(block, 4 * max(readsize, progsize)) = 1024 bytes): mounting takes a
# read and a program cache and a lookahead buffer from the heap, and every open file its own cache.
# The bench charges the same (mcu/README.md "Files").
LFS_CACHE = 1024
LFS_MOUNT = 2 * LFS_CACHE + 32


class _File:
    # an open store file: the port's file over the host's, with littlefs's per-file cache

    def __init__(self, f):
        self.f = f
        self.cache = bytearray(LFS_CACHE)

    def read(self, n=-1):
        return self.f.read(n)

    def write(self, b):
        return self.f.write(b)

    def flush(self):
        pass

    def close(self):
        self.f.close()
        self.cache = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class MemFs:
    # The store's files as a board keeps them: in its flash, never in the heap. Here the host's
    # files through the port's open, mcu.rename and mcu.remove: the provisioned ones read from the
    # input folder (left as they are, so that every run starts from them), the ones a run writes
    # in its own working folder. Only their names are kept here (semihosting cannot list a
    # folder); littlefs's buffers are charged to the heap.

    def __init__(self, base, names, root):
        self.base = base
        self.host = set(names)
        self.written = set()
        self.root = root
        self.mount = bytearray(LFS_MOUNT)

    def _path(self, path):
        flat = path.replace("/", "_")
        return flat if path in self.written else self.base + "/" + flat

    def open(self, path, mode):
        if "w" in mode:
            f = _File(open(path.replace("/", "_"), "wb"))
            self.written.add(path)
            self.host.discard(path)
            return f
        if path not in self.written and path not in self.host:
            raise OSError(2)
        return _File(open(self._path(path), "rb"))

    def rename(self, a, b):
        if a not in self.written:
            raise OSError(2)
        mcu.rename(a.replace("/", "_"), b.replace("/", "_"))
        self.written.discard(a)
        self.written.add(b)
        self.host.discard(b)

    def remove(self, p):
        if p in self.written:
            mcu.remove(p.replace("/", "_"))
            self.written.discard(p)
        elif p in self.host:
            self.host.discard(p)
        else:
            raise OSError(2)

    def listdir(self, d):
        pre = d + "/"
        return [p[len(pre):] for p in list(self.host) + list(self.written) if p.startswith(pre)]

    def mkdir(self, p):
        pass

    def stat(self, p):
        if p == self.root or p in self.host or p in self.written:
            return (0,)
        raise OSError(2)

    def flush(self, f):
        pass

    def sync(self, d):
        pass


class Uart:
    """The link UART: the answer's bytes, 64 at a time, each piece read from its own file."""

    def __init__(self, count):
        self.i = 0
        self.count = count

    def read(self):
        if self.i >= self.count:
            return b""
        with open(DATA + "/uart%%04d.bin" %% self.i, "rb") as f:
            self.i += 1
            return f.read()

'''

# The relay's answer off the guest's UART, frame by frame, until the receipt answer is whole.
_GUEST_RECEIVE = r'''
deframer = frame.Deframer()
answer = None
while answer is None:
    chunk = uart.read()
    if not chunk:
        raise ValueError("no answer on the UART")
    for body in deframer.feed(chunk):
        version, mtype, rid, payload = frame.unpack(body)
        if mtype == 12 and rid == CFG["rid"]:
            answer = payload
chunk = body = payload = None
'''.lstrip("\n")

# The guest script: argv[1] the input folder. Prints one JSON line.
CYCLE_SCRIPT = (r'''
import gc, sys, json
try:
    import mcu
    ins = mcu.instructions
except ImportError:
    ins = lambda: 0
DATA = sys.argv[1]
with open(DATA + "/cycle.json") as f:
    CFG = json.load(f)
MODULES = %(modules)r
for m in MODULES + %(suite_modules)r[CFG["suite"]] + %(tables)r[CFG["suite"]]:
    __import__(m)
    gc.collect()  # one module at a time, as device/start.py loads them (less fragmentation)
from lightmeter.link import frame, wire
from lightmeter.chain import abi, header as header_mod, meter_registry, tx as txm
from lightmeter.client import anchor, transition
from lightmeter.device import store as store_mod, checkpoint, reading
from lightmeter.crypto import suite as suite_mod
suite = suite_mod.get(CFG["suite"])
from lightmeter.client import verify
verify.BATCH_SIZE = CFG["batch_size"]
verify.KEY_TABLES = CFG["key_tables"]
if verify.BATCH_SIZE > 1 or verify.KEY_TABLES:
    __import__("lightmeter.crypto.keys")
    __import__("lightmeter.crypto.ectables")  # what builds the keys' tables (crypto/ectables.py)
if verify.BATCH_SIZE > 1:
    __import__("lightmeter.crypto.batch")
loaded = set(sys.modules)
gc.collect()
baseline = gc.mem_alloc()

''' + _GUEST_IO + r'''
steps = {}
t = ins()
if len(sys.argv) > 2 and sys.argv[2] == "imports":
    print(json.dumps({"baseline": baseline, "steps": steps, "extra_modules": []}))
    sys.exit(0)


STOP = sys.argv[2] if len(sys.argv) > 2 else None  # end after this step (to find where the heap goes)


def step(name):
    global t
    now = ins()
    steps[name] = now - t
    t = now
    if "-v" in sys.argv:
        gc.collect()
        print(name, "kept", gc.mem_alloc() - baseline)
    if name == STOP:
        print(json.dumps({"baseline": baseline, "steps": steps, "extra_modules": []}))
        sys.exit(0)


store = store_mod.Store(CFG["root"], MemFs(DATA, CFG["files"], CFG["root"]))
key = store_mod.Blob(store, "key").load()
address = suite.address(store_mod.Blob(store, "public").load())
registry = bytes.fromhex(CFG["registry"])
queue = store_mod.Queue(store)
counter = store_mod.Counter(store)
qkey = queue.keys()[0]
from lightmeter.link import cbor
rec = cbor.loads(queue.get(qkey))

if CFG["warm_tables"]:
    # a device that keeps tables: built in an earlier cycle, before this one's data
    from lightmeter.crypto import keys
    kept = keys.kept(suite)
    for s in checkpoint.load(store).sealers:
        kept.get(s[0])
    s = kept = None


uart = Uart(CFG["uart_chunks"])
step("setup")

# 1. the relay's answer off the UART, in 64-byte reads
''' + _GUEST_RECEIVE + r'''# the header leaves the answer as it is decoded (the proofs need the rest)
hdr = header_mod.from_json(wire.header_from_wire(answer.pop(3)), suite.node_sig_len)
step("decode")

# 2. one skipping step from the stored checkpoint to the answer's header
trust = checkpoint.load(store)
new = transition.verify_skip(trust, hdr, suite).trust
trust = None
step("header")

# 3. the transaction and its receipt, proven into that header
anchor.verify_proofs(answer, hdr, rec[3], suite, registry, address, rec[0])
answer = None
step("proofs")

# 4. the checkpoint moves, the reading leaves the queue
checkpoint.save(store, new)
queue.remove(qkey)
step("store")

# 5. the next reading: taken, signed, queued, framed
seq = counter.next()
m = {reading.METER_ID: "meter-0001", reading.FIRMWARE: "lightmeter-0.1", reading.SEQ: seq,
     reading.TIME: hdr.timestamp + 1000, reading.CLOCK: reading.CLOCK_SYNCED,
     reading.OBIS: "1-0:1.8.0", reading.VALUE: 123456 + seq, reading.SCALE: 0,
     reading.UNIT: "Wh", reading.STATUS: 0, reading.SUITE: suite.name}
rec = {0: seq, 1: reading.encode(m), 5: 0}
qkey = queue.append(cbor.dumps(rec))
tx = txm.defaults()
tx.update(chainID=new.chain_id.encode(), groupID=new.group_id.encode(), blockLimit=hdr.number + 500,
          nonce=("%%s-%%d-%%d" %% (address.hex()[:16], seq, 0)).encode(), to=registry.hex().encode(),
          input=abi.encode_call(meter_registry.RECORD, [seq, rec[1]], suite.hash))
digest = txm.tx_hash(tx, suite)
tx["signature"] = suite.sign_tx(key, digest)
rec[2] = wire.tx_to_wire(tx)
rec[3] = digest
rec[4] = tx["blockLimit"]
queue.replace(qkey, cbor.dumps(rec))
out = b"\x00" + frame.encode_frame(frame.pack(1, 9, 42, rec[2]))
step("sign")

extra = sorted(m for m in sys.modules if m not in loaded)
import micropython
micropython.qstr_info()  # "... n_qstr=N ...": the names interned by now (read by the host)
print(json.dumps({"baseline": baseline, "steps": steps, "frame_out": len(out), "extra_modules": extra,
                  "checkpoint": new.number}))
''') % {"modules": MODULES, "suite_modules": SUITE_MODULES, "tables": SUITE_TABLES}


# The same cycle on a device that loads its modules per step (device/modules.py, docs/light-client.md
# "Modules per step"): the resident modules imported one at a time with a collection after each
# (the baseline), then each step loads its own and releases them after; what crosses a step is
# plain data or an instance of a resident module's class. Default options only (verify's settings
# live in a module the header step releases). Prints one JSON line, as CYCLE_SCRIPT.
PER_STEP_SCRIPT = (r'''
import gc, sys, json
try:
    import mcu
    ins = mcu.instructions
except ImportError:
    ins = lambda: 0
DATA = sys.argv[1]
with open(DATA + "/cycle.json") as f:
    CFG = json.load(f)
# (not the other suite's modules, nor the link's session: asyncio is not on this port; the cycle
# reads its UART without it, as CYCLE_SCRIPT does)
for m in %(resident)r:
    if m not in %(other_suite)r[CFG["suite"]] + ("lightmeter.link.session",):
        __import__(m)
        gc.collect()  # one module at a time, as device/start.py loads them
from lightmeter.device import modules
from lightmeter.link import frame, cbor
from lightmeter.device import store as store_mod, checkpoint
from lightmeter.crypto import suite as suite_mod
suite = suite_mod.get(CFG["suite"])
if CFG["batch_size"] != 1 or CFG["key_tables"] or CFG["warm_tables"]:
    raise ValueError("the per-step cycle runs with verify's defaults only")
MODULES = %(steps)r  # every step's (the bench's names are few: each is a qstr for good)
gc.collect()
baseline = gc.mem_alloc()

''' + _GUEST_IO + r'''
steps = {}
t = ins()
if len(sys.argv) > 2 and sys.argv[2] == "imports":
    print(json.dumps({"baseline": baseline, "steps": steps, "extra_modules": []}))
    sys.exit(0)


STOP = sys.argv[2] if len(sys.argv) > 2 else None  # end after this step (to find where the heap goes)
loaded = {}


def step(name, names=()):
    # the step's modules as loaded at its end (before their release), then the release
    global t
    loaded[name] = sorted(m for m in sys.modules if m in MODULES)
    modules.remove(names)
    now = ins()
    steps[name] = now - t
    t = now
    if "-v" in sys.argv:
        gc.collect()
        print(name, "kept", gc.mem_alloc() - baseline)
    if name == STOP:
        print(json.dumps({"baseline": baseline, "steps": steps, "extra_modules": []}))
        sys.exit(0)


store = store_mod.Store(CFG["root"], MemFs(DATA, CFG["files"], CFG["root"]))
key = store_mod.Blob(store, "key").load()
address = suite.address(store_mod.Blob(store, "public").load())
registry = bytes.fromhex(CFG["registry"])
queue = store_mod.Queue(store)
counter = store_mod.Counter(store)
qkey = queue.keys()[0]
rec = cbor.loads(queue.get(qkey))
uart = Uart(CFG["uart_chunks"])
step("setup")

# 1. the relay's answer off the UART, in 64-byte reads; the header decoded (a Header crosses to
# the proofs step: chain.header stays loaded until then)
modules.load(modules.step("decode"))
''' + _GUEST_RECEIVE + r'''deframer = None
header_mod = sys.modules["lightmeter.chain.header"]
wire = sys.modules["lightmeter.link.wire"]
hdr = header_mod.from_json(wire.header_from_wire(answer.pop(3)), suite.node_sig_len)
header_mod = wire = None
step("decode", ("lightmeter.link.wire",))

# 2. one skipping step from the stored checkpoint to the answer's header
transition = modules.load(modules.step("header"))
new = transition.verify_skip(checkpoint.load(store), hdr, suite).trust  # a Trust: resident class
transition = None
step("header", modules.step("header"))

# 3. the transaction and its receipt, proven into that header
anchor = modules.load(modules.step("proofs"))
anchor.verify_proofs(answer, hdr, rec[3], suite, registry, address, rec[0])
number, timestamp = hdr.number, hdr.timestamp
anchor = answer = hdr = None
step("proofs", modules.step("proofs"))

# 4. the checkpoint moves, the reading leaves the queue
checkpoint.save(store, new)
queue.remove(qkey)
step("store")

# 5. the next reading: taken and queued; its transaction built and hashed; signed (the curve's
# tables and the nonce's code loaded first, the largest); framed. Three loads, each released
# before the next: no two of them in RAM at once.
reading = modules.load(modules.step("reading"))
seq = counter.next()
m = {reading.METER_ID: "meter-0001", reading.FIRMWARE: "lightmeter-0.1", reading.SEQ: seq,
     reading.TIME: timestamp + 1000, reading.CLOCK: reading.CLOCK_SYNCED,
     reading.OBIS: "1-0:1.8.0", reading.VALUE: 123456 + seq, reading.SCALE: 0,
     reading.UNIT: "Wh", reading.STATUS: 0, reading.SUITE: suite.name}
rec = {0: seq, 1: reading.encode(m), 5: 0}
m = reading = None
modules.remove(modules.step("reading"))
qkey = queue.append(cbor.dumps(rec))
txm = modules.load(modules.step("tx"))
abi = sys.modules["lightmeter.chain.abi"]
meter_registry = sys.modules["lightmeter.chain.meter_registry"]
tx = txm.defaults()
tx.update(chainID=new.chain_id.encode(), groupID=new.group_id.encode(), blockLimit=number + 500,
          nonce=("%%s-%%d-%%d" %% (address.hex()[:16], seq, 0)).encode(), to=registry.hex().encode(),
          input=abi.encode_call(meter_registry.RECORD, [seq, rec[1]], suite.hash))
digest = txm.tx_hash(tx, suite)
txm = abi = meter_registry = None
modules.remove(modules.step("tx"))
modules.load(modules.step("sign", suite.name))
tx["signature"] = suite.sign_tx(key, digest)
modules.remove(modules.step("sign", suite.name))
wire = modules.load(modules.step("frame"))
rec[2] = wire.tx_to_wire(tx)
rec[3] = digest
rec[4] = tx["blockLimit"]
queue.replace(qkey, cbor.dumps(rec))
out = b"\x00" + frame.encode_frame(frame.pack(1, 9, 42, rec[2]))
tx = wire = None
step("sign", modules.step("frame"))

# the cycle is over: what follows is the report (collected first: its lists of module names are
# not the cycle's and should not find the heap as the cycle left it)
gc.collect()
# modules beyond the resident ones and the steps' (an import the step lists leave out)
extra = sorted(m for m in sys.modules if m.startswith("lightmeter.") and m.count(".") > 1
               and m not in %(resident)r and m not in MODULES)
loaded["end"] = sorted(m for m in sys.modules if m in MODULES)
import micropython
micropython.qstr_info()  # "... n_qstr=N ...": the names interned by now (read by the host)
print(json.dumps({"baseline": baseline, "steps": steps, "frame_out": len(out), "extra_modules": extra,
                  "checkpoint": new.number, "modules": loaded}))
''') % {"resident": modules.step("resident"), "other_suite": _OTHER_SUITE, "steps": _STEP_MODULES}
PER_STEP_MAIN = "import lmsteps\n"

# The cycle is a module (compiled to .mpy like the firmware, as a device's application would be),
# so that compiling a script's source on the port does not add its own peak to the figures.
MAIN = "import lmcycle\n"

# The header step on a device that loads its modules per step: what that step needs (the link:
# frames, CBOR, the wire maps; the store and checkpoint; the header, the trust and its suite; the
# checks of verify and transition; the suite's curve and hash), and nothing that only signing a
# reading (abi, tx, meter_registry, reading, rfc6979) or checking its proofs (anchor, merkle,
# receipt) takes. transition and verify import abi and merkle only where a set change or a proof
# needs them, so loading the step's modules leaves those out.
HEADER_STEP_MODULES = ("lightmeter.errors", "lightmeter.chain.fields", "lightmeter.link.cbor",
                       "lightmeter.link.frame", "lightmeter.link.wire", "lightmeter.device.store",
                       "lightmeter.chain.header", "lightmeter.crypto.suite", "lightmeter.client.trust",
                       "lightmeter.device.checkpoint", "lightmeter.client.verify",
                       "lightmeter.client.transition", "lightmeter.crypto.ec")
# what the step must not have loaded by its end (the other steps' modules)
OTHER_STEPS_MODULES = ("lightmeter.chain.abi", "lightmeter.chain.merkle", "lightmeter.chain.receipt",
                       "lightmeter.chain.tx", "lightmeter.chain.meter_registry", "lightmeter.client.anchor",
                       "lightmeter.device.reading", "lightmeter.crypto.rfc6979",
                       "lightmeter.crypto.gtab_secp256k1", "lightmeter.crypto.gtab_sm2")

# The guest script of the header step alone (argv[1] the input folder): the relay's answer off the
# UART and decoded, the stored checkpoint moved to its header by the same skipping step as the
# cycle's, the answer's receipt and proofs kept for the step after. Prints one JSON line.
HEADER_STEP_SCRIPT = (r'''
import gc, sys, json
DATA = sys.argv[1]
with open(DATA + "/cycle.json") as f:
    CFG = json.load(f)
for m in %(modules)r + %(suite_modules)r[CFG["suite"]]:
    __import__(m)
    gc.collect()  # one module at a time, as device/start.py loads them
from lightmeter.link import frame, wire
from lightmeter.chain import header as header_mod
from lightmeter.client import transition
from lightmeter.device import store as store_mod, checkpoint
from lightmeter.crypto import suite as suite_mod
suite = suite_mod.get(CFG["suite"])
loaded = set(sys.modules)
gc.collect()
baseline = gc.mem_alloc()
''' + _GUEST_IO + r'''
store = store_mod.Store(CFG["root"], MemFs(DATA, CFG["files"], CFG["root"]))
uart = Uart(CFG["uart_chunks"])
''' + _GUEST_RECEIVE + r'''deframer = None
hdr = header_mod.from_json(wire.header_from_wire(answer.pop(3)), suite.node_sig_len)
new = transition.verify_skip(checkpoint.load(store), hdr, suite).trust
extra = sorted(m for m in sys.modules if m not in loaded)
print(json.dumps({"baseline": baseline, "steps": {}, "extra_modules": extra, "checkpoint": new.number,
                  "modules": sorted(m for m in sys.modules if m.startswith("lightmeter"))}))
''') % {"modules": HEADER_STEP_MODULES, "suite_modules": SUITE_MODULES}
HEADER_STEP_MAIN = "import lmheader\n"


def _paths(d):
    app = os.path.join(d, "app")
    if not os.path.isdir(app):
        os.makedirs(app)
        for name, text in (("lmcycle.py", CYCLE_SCRIPT), ("lmheader.py", HEADER_STEP_SCRIPT),
                           ("lmsteps.py", PER_STEP_SCRIPT)):
            with open(os.path.join(app, name), "w") as f:
                f.write(text)
    return [FIRMWARE, app]


def _script_result(res):
    line = [x for x in res.stdout.splitlines() if x.startswith("{")]
    if not res.ok or not line:
        raise RuntimeError("device cycle failed on %s (status %s):\n%s" % (res.target, res.status, res.stdout))
    out = json.loads(line[-1])
    # the qstrs (interned names) at the cycle's end: their pools double in size as they fill
    # (20, 40, ... 320 entries: a sixth pool, 640 entries, past 620 names)
    qstrs = re.search(r"n_qstr=(\d+)", res.stdout)
    out["qstrs"] = int(qstrs.group(1)) if qstrs else None
    if out["extra_modules"]:
        raise RuntimeError("the cycle imported modules the baseline left out: %s" % out["extra_modules"])
    return out


def cycle_once(suite_name, sealers, target="m0", heap=HEAP_MIB_FREE, mpy=True, timeout=600, per_step=True,
               **block):
    """One run of the device cycle: the guest's JSON (baseline bytes, instructions per step).
    per_step: the modules loaded per step as the device loads them (PER_STEP_SCRIPT; baseline: the
    resident modules), else all of them before the cycle (CYCLE_SCRIPT; baseline: every module the
    cycle uses, what the "frozen" estimate subtracts).
    block: build_cycle's options (txs_in_block, position, compact, batch_size, key_tables, warm_tables;
    the last three with per_step=False only)."""
    from lightmeter_host.runtimes import mcu
    with tempfile.TemporaryDirectory(prefix="mcu-cycle-") as d:
        build_cycle(suite_name, sealers, d, **block)
        res = mcu.run(PER_STEP_MAIN if per_step else MAIN, heap=heap, paths=_paths(d), target=target, mpy=mpy, timeout=timeout,
                      args=[d], mpy_flags=build.MPY_FLAGS)
        return _script_result(res)


def cycle_heap(suite_name, sealers, target="m0", mpy=True, timeout=600, stop=None, per_step=True, **options):
    """Smallest heap (1 KiB steps, real MemoryErrors) that runs the cycle, with one full run's figures.

    per_step: as `cycle_once`; options: batch_size, key_tables, warm_tables (`build_cycle`)."""
    from lightmeter_host.runtimes import mcu
    main = PER_STEP_MAIN if per_step else MAIN
    with tempfile.TemporaryDirectory(prefix="mcu-cycle-") as d:
        build_cycle(suite_name, sealers, d, **options)
        full = _script_result(mcu.run(main, heap=mcu.HEAP_MAX["m0"], paths=_paths(d),
                                      target=target, mpy=mpy, timeout=timeout, args=[d],
                                      mpy_flags=build.MPY_FLAGS))
        smallest = mcu.smallest_heap(main, lo=8 * 1024, hi=mcu.HEAP_MAX["m0"], paths=_paths(d),
                                     target=target, mpy=mpy, timeout=timeout, args=[d] + ([stop] if stop else []),
                                     mpy_flags=build.MPY_FLAGS)
    full["smallest_heap"] = smallest
    return full


def header_step(suite_name, sealers=21, target="host32", heap=None, timeout=600, bisect=True):
    """The header step alone on a device that loads its modules per step (HEADER_STEP_SCRIPT):
    the guest's JSON (baseline: its modules' bytes; modules: those loaded at its end) and, with
    bisect, "smallest_heap" (1 KiB steps, real MemoryErrors, as cycle_heap)."""
    from lightmeter_host.runtimes import mcu
    with tempfile.TemporaryDirectory(prefix="mcu-header-") as d:
        build_cycle(suite_name, sealers, d)
        run = dict(paths=_paths(d), target=target, mpy=True, timeout=timeout, args=[d], mpy_flags=build.MPY_FLAGS)
        out = _script_result(mcu.run(HEADER_STEP_MAIN, heap=heap or mcu.HEAP_MAX["m0"], **run))
        if bisect:
            out["smallest_heap"] = mcu.smallest_heap(HEADER_STEP_MAIN, lo=8 * 1024, hi=mcu.HEAP_MAX["m0"], **run)
    return out


def collect(sizes=(4, 21), suites=("ecdsa", "sm"), target="m0", heap_target="host32"):
    """Every figure of `bench --mcu`.

    Instructions come from one m0 run; the heap is bisected on heap_target (default host32: the
    same port, 32-bit objects and GC as m0, ~10x faster; pass "m0" to bisect in QEMU).
    """
    out = {"mcu_target": target, "mcu_heap_target": heap_target}
    worst = {}
    for n in sizes:
        for name in suites:
            # as the device runs it: modules loaded per step (the .mpy figure, instructions, qstrs)
            r = cycle_heap(name, n, target=heap_target)
            r["steps"] = cycle_once(name, n, target=target)["steps"]
            # every module loaded first: what frozen modules would leave ("frozen": heap - modules)
            a = cycle_heap(name, n, target=heap_target, per_step=False)
            if r["smallest_heap"] is None or a["smallest_heap"] is None:
                raise RuntimeError("the %s %d-sealer cycle does not run in %d bytes" % (name, n, HEAP_MIB_FREE))
            tag = "%s_%d" % (name, n)
            mpy_kib = r["smallest_heap"] / 1024
            frozen_kib = (a["smallest_heap"] - a["baseline"]) / 1024
            out["mcu_heap_kib_cycle_mpy_" + tag] = mpy_kib
            out["mcu_heap_kib_cycle_mpy_all_modules_" + tag] = a["smallest_heap"] / 1024
            out["mcu_heap_kib_cycle_frozen_" + tag] = round(frozen_kib, 1)
            out["mcu_baseline_kib_" + tag] = round(a["baseline"] / 1024, 1)
            out["mcu_baseline_kib_resident_" + tag] = round(r["baseline"] / 1024, 1)
            out["mcu_qstrs_" + tag] = r["qstrs"]
            for k, v in r["steps"].items():
                out["mcu_minstr_%s_%s" % (k, tag)] = round(v / 1e6, 2)
            cycle = sum(v for k, v in r["steps"].items() if k != "setup")
            out["mcu_minstr_cycle_" + tag] = round(cycle / 1e6, 2)
            if n == 21:
                out["mcu_minstr_header21_" + name] = round(r["steps"]["header"] / 1e6, 2)
                # the same header step on a device that loads its modules per step
                h = header_step(name, n, target=heap_target)
                out["mcu_heap_kib_header_step_per_step_loading_" + tag] = \
                    None if h["smallest_heap"] is None else h["smallest_heap"] / 1024
                out["mcu_baseline_kib_header_step_per_step_loading_" + tag] = round(h["baseline"] / 1024, 1)
                worst["mpy"] = max(worst.get("mpy", 0), mpy_kib)
                worst["frozen"] = max(worst.get("frozen", 0), round(frozen_kib, 1))
                worst["cycle"] = max(worst.get("cycle", 0), cycle)
    if worst:
        out["mcu_heap_kib_device_cycle_mpy"] = worst["mpy"]
        out["mcu_heap_kib_device_cycle_frozen"] = worst["frozen"]
        # one instruction per cycle at 133 MHz: a lower bound (loads, stores, taken branches take 2+)
        out["mcu_ms_per_reading_133mhz"] = round(worst["cycle"] / CLOCK_HZ * 1000, 1)
        out["mcu_ms_per_reading_note"] = ("lower bound: 21-sealer cycle, worst suite, guest instructions "
                                          "at one per cycle at 133 MHz")
    return out
