"""The device application: read the meter, sign, queue, submit, verify, repeat.

`run(uart, root)` is the whole device. It keeps everything that must survive a
power cut in `root` through lightmeter.device.store: the private key (made here, never
sent anywhere), the reading counter, the queue of readings not yet proven on
chain, and a small results record. A reading leaves the queue only when the
device itself has verified that its transaction is on chain (lightmeter.client.anchor);
until then it is resent, the same signed bytes every time.

Before it checks a receipt's header the device brings its checkpoint up to that header's time.
By default ("sync": "skipping" in config.json) it asks the relay for the pivots (the blocks where
the sealer set changed since its checkpoint, proto/link.md) and checks each one, so a reading costs
one header however busy the chain; a checkpoint older than the trusting period ("trusting_period_s",
default 14 days) is refused and the reading stays queued until a newer checkpoint is provisioned
(docs/light-client.md, "Skipping verification and the trusting period"). "sync": "strict" walks
every header since the checkpoint instead.

Each step loads the modules it needs and, on a board, releases them after (device/modules.py;
docs/light-client.md, "Modules per step"): the reading, its transaction, its signature, its frame
(`modules.step` "reading", "tx", "sign", "frame"), the answer's header and the checkpoint moved to
it (CHECK_HEADER), the proofs ("proofs"). Only plain data, headers (until the proofs are checked)
and checkpoints (trust.Trust, resident) cross them.

Files in root: config.json (meter identity, MeterRegistry address, how many
readings to take, sync mode), trust.json (the trust checkpoint as provisioned; the store
keeps it from then on and never lets an older one replace it), and the store's own.
"""

import json
import sys

from lightmeter.device import checkpoint, modules, store as store_mod
from lightmeter.link import session as link_mod
from lightmeter.meters import meter as meter_mod
from lightmeter.device.devkey import entropy  # noqa: F401  (the board's random source; tools call it here too)
from lightmeter.crypto import suite as suite_mod
from lightmeter.errors import Invalid, LightmeterError, Malformed
from lightmeter.link.session import elapsed_ms, sleep_ms, ticks_ms

FIRMWARE_VERSION = "lightmeter-0.1"
BLOCK_LIMIT_MARGIN = 500  # blocks a signed transaction stays valid (a node allows up to 1000)
OK_STATUSES = (0, 10004, 10005)  # accepted, AlreadyInTxPool, TxAlreadyInChain
BLOCK_LIMIT_CHECK_FAIL = 10001
TRUSTING_PERIOD_S = 14 * 24 * 3600  # default trusting period (config "trusting_period_s")
# queue record fields
R_SEQ, R_READING, R_TX, R_HASH, R_LIMIT, R_TRIES = range(6)
# the header step: the answer's header decoded, the relay's pivots followed (client/sync.py), the
# header checked under the checkpoint they lead to
CHECK_HEADER = modules.step("decode") + modules.step("header") + modules.step("sync") + ("lightmeter.client.anchor",)
# imported only when a block changes the sealer set (client/setchange.py and the ABI decoding it
# uses): released with the steps if they were
SET_CHANGE = ("lightmeter.client.setchange", "lightmeter.chain.abidecode")


def log(*args):
    import sys
    print("[device]", *args, file=sys.stderr)


class Device:
    """The device's state and its steps; `run` drives it."""

    def __init__(self, uart, root):
        self.store = store_mod.Store(root)
        with open(root + "/config.json") as f:
            self.cfg = json.load(f)
        # trust.json is what provisioning installed; from then on the store keeps the checkpoint
        self.trust = checkpoint.install(self.store, root + "/trust.json")
        if self.trust is None:
            raise Invalid("no trust checkpoint: provision trust.json first")
        self.suite = suite_mod.get(self.trust.crypto)
        self.key = self._key()
        self.address = self.suite.address(self.suite.public_key(self.key))
        self.registry = bytes.fromhex(self.cfg["registry"][2:])
        self.counter = store_mod.Counter(self.store)
        # config "meter": {"driver": name, options} (lightmeter.meters.meter); the simulated register
        # moves with the reading counter, as the demo's always has
        mcfg = self.cfg.get("meter", {"driver": "simulated"})
        simulated = isinstance(mcfg, dict) and mcfg.get("driver") == "simulated"
        self.meter = meter_mod.open(mcfg, self.counter.peek if simulated else None, self.store)
        self.register = ("1-0:1.8.0", "Wh")  # OBIS code and unit of the last good meter read
        self.queue = store_mod.Queue(self.store)
        self.results = store_mod.Blob(self.store, "results")
        self.link = link_mod.Link(uart, self.cfg.get("timeout_ms", 3000), self.cfg.get("retries", 5))
        self.clock = None  # (chain time ms, ticks_ms then) from the last verified header
        self.rejections = 0
        self.mode = self.cfg.get("sync", "skipping")
        if self.mode not in ("skipping", "strict"):
            raise Invalid("config sync: expected \"skipping\" or \"strict\", not %r" % (self.mode,))
        self.period = self.cfg.get("trusting_period_s", TRUSTING_PERIOD_S) * 1000
        self.headers = 0  # headers checked for the reading in hand

    def _key(self):
        # Made here on first start unless provisioning made it (lightmeter.device.devkey); the public
        # half is stored for provisioning tools to read, the private half stays here.
        from lightmeter.device import devkey
        key, _, created = devkey.ensure(self.store, self.suite)
        if created:
            log("generated a new device key")
        return key

    def _results(self):
        raw = self.results.load()
        return json.loads(raw) if raw else {"anchored": 0, "verified": 0, "rejected": 0, "last": []}

    def _save_results(self, res):
        self.results.save(json.dumps(res).encode())

    # -- readings --------------------------------------------------------------

    def take_reading(self):
        """Read the meter and queue one reading under a fresh sequence number.

        One reading per call: the driver's first measurement, its main energy register, with the
        driver's OBIS code, value, scale, unit and status (other measurements are not signed). A
        meter that fails (silent, bad frame, wrong answer) still gives a reading, flagged
        FLAG_METER_ERROR with value 0 under the last good OBIS code and unit: every sequence
        number is on chain and a gap in the data shows as what it is."""
        reading = modules.load(modules.step("reading"))
        try:
            return self._take(reading)
        finally:
            reading = None
            modules.close(modules.step("reading"))

    def _take(self, reading):
        seq = self.counter.next()
        cfg = self.cfg
        try:
            obis, value, scale, unit, status = self.meter.read()[0]
            self.register = (obis, unit)
        except (LightmeterError, OSError) as e:
            log("reading", seq, "meter failed:", e)
            (obis, unit), value, scale, status = self.register, 0, 0, reading.FLAG_METER_ERROR
        if self.clock is None:
            t, clock = ticks_ms(), reading.CLOCK_SINCE_BOOT
        else:
            # ticks wrap (every 2**30 ms on MicroPython): count from the last sync instead
            t, clock = self.clock[0] + elapsed_ms(self.clock[1]), reading.CLOCK_SYNCED
        m = {reading.METER_ID: cfg["meter_id"], reading.FIRMWARE: FIRMWARE_VERSION,
             reading.SEQ: seq, reading.TIME: t, reading.CLOCK: clock,
             reading.OBIS: obis, reading.VALUE: value, reading.SCALE: scale,
             reading.UNIT: unit, reading.STATUS: status, reading.SUITE: self.suite.name}
        for k, name in ((reading.VENDOR, "vendor"), (reading.MODEL, "model"), (reading.SERIAL, "serial")):
            if name in cfg:
                m[k] = cfg[name]
        self.queue.append(self._record({R_SEQ: seq, R_READING: reading.encode(m), R_TRIES: 0}))
        log("reading", seq, "queued")
        return seq

    @staticmethod
    def _record(d):
        from lightmeter.link import cbor
        return cbor.dumps(d)

    @staticmethod
    def _unrecord(b):
        from lightmeter.link import cbor
        return cbor.loads(b)

    # -- one queued reading ------------------------------------------------------

    async def _block_number(self):
        ans = await self.link.request(link_mod.GET_BLOCK_NUMBER)
        number = ans.get(0) if isinstance(ans, dict) else None
        if not isinstance(number, int) or number is True or number is False or number < 0:
            raise Malformed("block_number: expected {0: number}")
        if number > (1 << 63) - 1 - BLOCK_LIMIT_MARGIN:  # a FISCO block number is an int64, and so is
            raise Malformed("block_number: %d is past any int64 block limit" % number)  # blockLimit
        return number

    async def _sign(self, key, rec):
        number = await self._block_number()
        txm = modules.load(modules.step("tx"))
        abi = sys.modules["lightmeter.chain.abi"]
        meter_registry = sys.modules["lightmeter.chain.meter_registry"]
        try:
            data = abi.encode_call(meter_registry.RECORD, [rec[R_SEQ], rec[R_READING]], self.suite.hash)
            tx = txm.defaults()
            tx.update(chainID=self.trust.chain_id.encode(), groupID=self.trust.group_id.encode(),
                      blockLimit=number + BLOCK_LIMIT_MARGIN,
                      # decimal digits without a leading zero: nodes before v3.3.0 parse the nonce as a
                      # u256 and print it back in decimal (docs/fisco-versions.md §2)
                      nonce=("1%020d%010d%05d" % (int.from_bytes(self.address[:8], "big"), rec[R_SEQ],
                                                  rec[R_TRIES])).encode(),
                      to=self.registry.hex().encode(), input=data)
            digest = txm.tx_hash(tx, self.suite)
        finally:
            txm = abi = meter_registry = None
            modules.close(modules.step("tx"))
        signing = modules.step("sign", self.suite.name)
        modules.load(signing)
        try:
            tx["signature"] = self.suite.sign_tx(self.key, digest)
        finally:
            modules.close(signing)
        wire = modules.load(modules.step("frame"))
        try:
            rec[R_TX] = wire.tx_to_wire(tx)
        finally:
            wire = None
            modules.close(modules.step("frame"))
        rec[R_HASH] = digest
        rec[R_LIMIT] = tx["blockLimit"]
        self.queue.replace(key, self._record(rec))  # stored before it is ever sent
        return rec

    def _now(self):
        """The device clock, ms: the last verified header's time plus the ticks since; None
        before the first verified header after a start (the board has no clock of its own)."""
        return None if self.clock is None else self.clock[0] + elapsed_ms(self.clock[1])

    async def _advance(self, answer):
        """The checkpoint to check the answer's header R under, and R's proven set changes (to
        move the stored checkpoint to R once R is verified), or None when there is nothing to move.

        strict: the stored checkpoint is walked to R - 1, every header (sync "strict").
        skipping: the trusting period is checked, then the relay's pivots are followed
        (sync.follow_pivots); nothing is stored until R itself is verified."""
        from lightmeter.client import sync as sync_mod
        from lightmeter.chain import header as header_mod
        from lightmeter.link import wire
        self.headers = 1
        try:
            target = header_mod.from_json(wire.header_from_wire(answer[3]), self.suite.node_sig_len)
        except (KeyError, TypeError, IndexError, Malformed):
            return self.trust, None  # malformed: verify_anchor says why
        trust = self.trust
        if trust.number is None or target.number <= trust.number:
            return trust, None
        source = sync_mod.LinkSource(self.link, self.suite)
        if self.mode == "strict" or trust.timestamp is None:
            # strict by configuration, or a checkpoint provisioned without its time (its age is
            # unknown, so it may not vouch for a skip): walk every header once, as before; the
            # checkpoint reached carries its header's timestamp
            if target.number - 1 > trust.number:
                new, stats = await sync_mod.sync(trust, self.suite, source, "strict", target.number - 1)
                checkpoint.save(self.store, new)
                self.trust = new
                self.headers += stats["headers"]
                log("checkpoint advanced to block", new.number, "(%d headers)" % stats["headers"])
            return self.trust, None
        sync_mod.check_fresh(trust, target.timestamp, self._now(), self.period)
        try:
            pivots, changes = await source.pivots(trust.number, target.number)
        except link_mod.RemoteError as e:
            if e.code != link_mod.E_UNKNOWN_TYPE:
                raise
            # a relay that offers no pivots: bisect with get_header (sync "skipping") to R - 1
            if target.number - 1 > trust.number:
                trust, stats = await sync_mod.sync(trust, self.suite, source, "skipping", target.number - 1)
                self.headers += stats["headers"]
            return trust, await source.changes(target.number)
        self.headers += len(pivots)
        return sync_mod.follow_pivots(trust, self.suite, pivots, target), changes

    async def _maybe_expired(self, key, rec):
        """A transaction past its block limit with no receipt can never be included: sign anew.

        (A relay that hides an included transaction's receipt only makes the new one revert:
        MeterRegistry refuses a sequence number twice, so nothing is anchored twice.)"""
        number = await self._block_number()
        if number >= rec[R_LIMIT]:
            del rec[R_TX]
            rec[R_TRIES] += 1
            self.queue.replace(key, self._record(rec))
            log("reading", rec[R_SEQ], "transaction expired unseen; signing a new one")

    async def process(self, key, rec):
        """Push one queued reading a step further; True once it is verified on chain."""
        if self.cfg.get("anchor") == "batch":  # through a concentrator (proto/batch.md)
            from lightmeter.device import batchapp
            return await batchapp.process(self, key, rec)
        if R_TX not in rec:
            rec = await self._sign(key, rec)
        ack = await self.link.request(link_mod.SEND_TX, rec[R_TX])
        status = ack.get(1) if isinstance(ack, dict) else None
        if status not in OK_STATUSES:
            log("reading", rec[R_SEQ], "submission answered with status", status)
        try:
            ask = {0: rec[R_HASH], 1: 1}  # compact proofs
            # the header's R hints (proto/link.md), for a board that checks in batches: it sets
            # verify.BATCH_SIZE, so verify is loaded (and kept: a released module forgets it)
            verify = sys.modules.get("lightmeter.client.verify")
            if verify is not None and verify.wants_r_hints(self.suite):
                ask[2] = 1
            answer = await self.link.request(link_mod.GET_RECEIPT, ask)
        except link_mod.RemoteError as e:
            if e.code != link_mod.E_NOT_FOUND:
                raise
            if status == BLOCK_LIMIT_CHECK_FAIL:
                await self._maybe_expired(key, rec)
            return False
        try:
            verified = await self._check(answer, rec)
        except (Invalid, Malformed) as e:
            sync_mod = sys.modules.get("lightmeter.client.sync")  # loaded if the header step raised
            self.rejections += 1
            res = self._results()
            res["rejected"] += 1
            res["last_rejection"] = str(e)
            res["last_rejection_kind"] = type(e).__name__
            if sync_mod is not None and isinstance(e, sync_mod.TrustExpired):
                res["trust_expired"] = True  # the operator's turn: provision a newer trust.json
            self._save_results(res)
            log("reading", rec[R_SEQ], "NOT accepted:", e)
            return False
        finally:
            modules.close(CHECK_HEADER + modules.step("proofs") + SET_CHANGE)
        number, timestamp = verified
        self.clock = (timestamp, ticks_ms())
        res = self._results()
        res["anchored"] += 1
        res["verified"] += 1
        res["last"] = (res["last"] + [{"seq": rec[R_SEQ], "tx": "0x" + rec[R_HASH].hex(),
                                       "block": number, "headers": self.headers}])[-32:]
        res.pop("trust_expired", None)
        self._save_results(res)
        self.queue.remove(key)
        log("reading", rec[R_SEQ], "anchored in block", number, "and verified")
        return True

    async def _check(self, answer, rec):
        """The receipt answer checked, in two steps: its header (the checkpoint moved to it, the
        header's quorum), then the proofs; the checkpoint saved only when both hold. (number,
        timestamp) of the verified header; Invalid or Malformed otherwise. The caller releases
        the steps' modules (CHECK_HEADER, "proofs")."""
        anchor = modules.load(CHECK_HEADER)
        under, changes = await self._advance(answer)
        hdr = anchor.verified_header(answer, under, self.suite)
        new = None
        if changes is not None:
            new = sys.modules["lightmeter.client.transition"].apply_set_changes(under, hdr, changes, self.suite)
        modules.close(("lightmeter.client.sync", "lightmeter.client.transition"))
        anchor = modules.load(modules.step("proofs"))
        anchor.verify_proofs(answer, hdr, rec[R_HASH], self.suite, self.registry, self.address, rec[R_SEQ])
        if new is not None:
            checkpoint.save(self.store, new)
            self.trust = new
        return hdr.number, hdr.timestamp


async def run(uart, root):
    """The device main loop: take `readings` readings (0: forever), anchor them all."""
    dev = Device(uart, root)
    cfg = dev.cfg
    total = cfg.get("readings", 0)
    interval = cfg.get("interval_ms", 200)
    try:
        ack = await dev.link.request(link_mod.HELLO, {0: FIRMWARE_VERSION, 1: dev.address,
                                                      2: dev.suite.name, 3: dev.trust.chain_id,
                                                      4: dev.trust.group_id, 5: cfg["meter_id"]})
        log("relay says", ack)
    except LightmeterError as e:
        log("hello unanswered:", e)
    while True:
        if (total == 0 or dev.counter.peek() < total) and len(dev.queue) < 32:
            dev.take_reading()
        for key, raw in dev.queue.items():
            try:
                await dev.process(key, dev._unrecord(raw))
            except LightmeterError as e:
                log("link:", e)
                await sleep_ms(200)
                break
        if total and dev.counter.peek() >= total and not len(dev.queue):
            log("all", total, "readings anchored and verified")
            if cfg.get("exit_when_done"):
                return dev
        await sleep_ms(interval)
