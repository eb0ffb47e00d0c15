"""A hostile relay's bytes through the device's link decoder and its answer handling.

Runs on CPython and on MicroPython alike: `python linkfuzz.py ROOT < corpus` (tests/host/
test_link_fuzz.py builds the corpus with hypothesis and runs this on both runtimes). The corpus
is JSON lines, each {"k": kind, "b": hex bytes}:

- kind "stream": bytes from the relay. They go through a fresh Deframer; each body through
  frame.unpack and then the decoder its message type meets on the device (header, changes,
  receipt, transaction maps).
- kind "ack", "receipt", "number", "header": the relay's answer to one request of a queued,
  signed reading's round (send_tx, get_receipt, get_block_number after an expired send, the
  first get_header of the sync a receipt's header triggers); every other request gets a sane
  answer. The device is one Device over an in-memory (or temporary) store holding a checkpoint,
  a key and one queued reading.

On the WebAssembly port, whose asyncio has no run(): `import linkfuzz; await linkfuzz.main(root)`.

One output line per input: "index outcome", outcome "ok", "ok:<n>" (bodies decoded), or the
name of the typed error (LightmeterError subclass) it ended in; "BUG <type>: <message>" for any
other exception, and "STATE <files>" when an input changed the device's stored files (the
results record, the device's own count of rejections, excepted); "expired (...)" when a block
number at or past the transaction's limit made the device give its transaction up to sign anew,
the one change a well-formed answer may make (_expired_only).
"""

import json
import sys

try:
    import asyncio
except ImportError:  # pragma: no cover
    import uasyncio as asyncio

from lightmeter.chain import header as header_mod, receipt as receipt_mod
from lightmeter.client import sync as sync_mod
from lightmeter.device import app
from lightmeter.errors import LightmeterError, Malformed
from lightmeter.link import frame, session as L, wire

# A device's first request ids in a round are FIRST_ID, FIRST_ID + 1, ... (the corpus uses them)
FIRST_ID = 1000
TRUST_NUMBER = 1
# The device's checkpoint: one sealer that signs nothing here, so a header fails the sealer-set
# check before any signature is verified (fast on MicroPython) whatever the relay sends.
TRUST = {"chain_id": "chain0", "group_id": "group0", "crypto": "sm", "number": TRUST_NUMBER,
         "hash": "0x" + "77" * 32, "sealers": [{"node_id": "ab" * 64, "weight": 1}]}
CONFIG = {"meter_id": "fuzz-1", "registry": "0x" + "42" * 20, "timeout_ms": 3, "retries": 0}
TX_HASH_ERR = {0: 4, 1: "not found"}


class VirtualClock:
    """The link's clock, in place of the wall clock: a millisecond per look, so a request reads
    the UART a few times and then times out, the same on both runtimes however fast they run."""

    def __init__(self):
        self.now = 0

    def ticks_ms(self):
        return self.now

    def elapsed_ms(self, start):
        self.now += 1
        return self.now - start


async def _no_sleep(ms):
    pass


def _use_virtual_clock():
    clock = VirtualClock()
    L.ticks_ms, L.elapsed_ms, L.sleep_ms = clock.ticks_ms, clock.elapsed_ms, _no_sleep


def _answer(mtype, rid, payload):
    return frame.encode_frame(frame.pack(1, mtype, rid, payload))


class RelayUart:
    """The relay's end of the UART: answers each request at once, the target one with the
    hostile bytes, every other with what a relay of a healthy node would say."""

    def __init__(self):
        self.deframer = frame.Deframer()
        self.pending = b""
        self.target = None
        self.hostile = b""
        self.ack_status = 0

    def write(self, data):
        for body in self.deframer.feed(data):
            _, mtype, rid, payload = frame.unpack(body)
            self.pending += self.reply(mtype, rid, payload)
        return len(data)

    def read(self):
        data, self.pending = self.pending, b""
        return data or None

    def reply(self, mtype, rid, payload):
        if mtype == self.target:
            return self.hostile
        if mtype == L.SEND_TX:
            return _answer(L.TX_ACK, rid, {0: b"\x00" * 32, 1: self.ack_status, 2: ""})
        if mtype == L.GET_BLOCK_NUMBER:
            return _answer(L.BLOCK_NUMBER, rid, {0: 100})
        if mtype == L.GET_RECEIPT:
            if self.target == L.GET_HEADER:  # a receipt in a later block: the device syncs to it
                return _answer(L.RECEIPT, rid, {0: {}, 1: [], 2: [], 3: {5: TRUST_NUMBER + 4}})
            return _answer(L.ERROR, rid, TX_HASH_ERR)
        return _answer(L.ERROR, rid, {0: 3, 1: "node unreachable"})


def _walk(fs, root, out):
    for name in sorted(fs.listdir(root)):
        path = root + "/" + name
        try:
            fs.listdir(path)
        except OSError:
            with open(path, "rb") as f:
                out[path] = f.read()
            continue
        _walk(fs, path, out)
    return out


def snapshot(root):
    """{path: bytes} of every file under root but the results record."""
    import os
    files = _walk(os, root, {})
    return dict((p, b) for p, b in files.items() if "results" not in p.rsplit("/", 1)[-1])


async def make_device(root, virtual_clock=True):
    """(Device, RelayUart): a device in root with a checkpoint, a key and one queued, signed
    reading. virtual_clock: the session module's clock replaced by VirtualClock, for good."""
    if virtual_clock:
        _use_virtual_clock()
    import os
    try:
        os.mkdir(root)
    except OSError:
        pass
    with open(root + "/config.json", "w") as f:
        json.dump(CONFIG, f)
    with open(root + "/trust.json", "w") as f:
        json.dump(TRUST, f)
    from lightmeter.device import devkey, store as store_mod
    store_mod.Blob(store_mod.Store(root), devkey.KEY).save(bytes(range(1, 33)))  # the same key on both runtimes
    uart = RelayUart()
    dev = app.Device(uart, root)
    dev.take_reading()
    key, raw = list(dev.queue.items())[0]
    await dev._sign(key, dev._unrecord(raw))
    return dev, uart


def _typed(e):
    if isinstance(e, LightmeterError):
        return type(e).__name__
    return "BUG %s: %s" % (type(e).__name__, e)


def decode_stream(data):
    """Outcome of the relay's bytes through the Deframer and the decoders behind it."""
    d = frame.Deframer()
    n = 0
    for body in d.feed(data):
        _, mtype, _, payload = frame.unpack(body)
        if mtype == L.HEADER:
            header_mod.from_json(wire.header_from_wire(payload), 64)
        elif mtype == L.CHANGES:
            sync_mod.changes_from_wire(payload)
        elif mtype == L.RECEIPT:
            if not isinstance(payload, dict) or 0 not in payload:
                raise Malformed("receipt answer: no receipt")
            receipt_mod.from_json(wire.receipt_from_wire(payload[0]))
        elif mtype == L.SEND_TX:
            wire.tx_from_wire(payload)
        n += 1
    return "ok:%d" % n


TARGETS = {"ack": L.SEND_TX, "receipt": L.GET_RECEIPT, "number": L.GET_BLOCK_NUMBER,
           "header": L.GET_HEADER}


async def device_round(dev, uart, kind, data):
    """Outcome of one round of the queued reading with the relay's answer to one request hostile."""
    uart.target = TARGETS[kind]
    uart.hostile = data
    uart.ack_status = app.BLOCK_LIMIT_CHECK_FAIL if kind == "number" else 0
    uart.pending = b""
    uart.deframer.reset()
    dev.link.next_id = FIRST_ID
    dev.link.deframer.reset()
    dev.link.inbox = {}
    key, raw = list(dev.queue.items())[0]
    rec = dev._unrecord(raw)
    done = await dev.process(key, rec)
    return "ok:%s" % done


def queued(dev):
    """The queued reading's record (app.Device's form)."""
    return dev._unrecord(list(dev.queue.items())[0][1])


def _expired_only(dev, rec0, changed):
    """True when the one change is the queued reading's transaction given up as expired, with
    nothing else of its record (rec0 before the round) touched (app.Device._maybe_expired): what
    a block number at or past its block limit must do, since the device cannot tell an honest
    one from a hostile one (the new transaction reverts if the old one was included:
    MeterRegistry refuses a seq twice)."""
    if len(changed) != 1 or "/queue/" not in changed[0] or app.R_TX not in rec0:
        return False
    new = queued(dev)
    old = dict(rec0)
    del old[app.R_TX]
    old[app.R_TRIES] += 1
    return new == old


async def main(root):
    """Run every input of the corpus on stdin; one line each on stdout."""
    dev, uart = await make_device(root)
    before = snapshot(root)
    rec0 = queued(dev)
    trust = dev.trust
    i = 0
    counts = {}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        entry = json.loads(line)
        kind, data = entry["k"], bytes.fromhex(entry["b"])
        try:
            if kind == "stream":
                out = decode_stream(data)
            else:
                out = await device_round(dev, uart, kind, data)
        except Exception as e:  # noqa: BLE001 (the point: any exception is reported)
            out = _typed(e)
        if kind != "stream":
            after = snapshot(root)
            if after != before:
                changed = sorted(p for p in set(after) | set(before) if after.get(p) != before.get(p))
                if kind == "number" and _expired_only(dev, rec0, changed):
                    out = "expired (%s)" % out
                else:
                    out = "STATE %s (%s)" % (" ".join(changed), out)
                for p in changed:  # put the store back for the next input
                    if p in before:
                        with open(p, "wb") as f:
                            f.write(before[p])
                    else:
                        import os
                        os.remove(p)
                dev = app.Device(uart, root)
            dev.trust = trust
        print(i, out)
        counts[out.split(" ")[0].split(":")[0]] = counts.get(out.split(" ")[0].split(":")[0], 0) + 1
        i += 1
        if hasattr(asyncio, "sleep_ms"):
            await asyncio.sleep_ms(0)  # back to the JS event loop: the WebAssembly port's GC runs only there
    print("done", i, json.dumps(counts))


if __name__ == "__main__":  # CPython; on MicroPython: `await linkfuzz.main(root)` at the top level
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/linkfuzz-device"))
