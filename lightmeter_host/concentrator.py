"""A data concentrator: the relay of many devices, anchoring their readings in batches.

proto/batch.md. Devices send signed readings (`submit_reading`); the concentrator keeps them in
an open window that closes at `batch_max` leaves or `batch_ms` after its first leaf, builds the
batch tree (lightmeter.chain.batchtree), anchors the root with one MeterRegistry
`recordBatch(root, count)` transaction signed with its own key, and answers `get_batch_proof`
with the leaf's position, path, the batch transaction and its receipt, proofs and header. The
devices check all of it (lightmeter.client.batch); the concentrator is trusted by no one.

Every other request (hello, time, block numbers, headers, receipts, one-transaction readings)
is the relay's (lightmeter_host.relay.handle), with headers and sealer-set changes cached per
block (they never change) and the block number for `head_ttl` seconds, so hundreds of devices
syncing through the same blocks cost the node one query each.

`Concentrator.handle` has the relay's handler signature: `relay.relay(..., handler=c.handle)`
serves serial ports, and an in-process link (lightmeter_host.fleetsim) calls it directly. It is
thread-safe; batch transactions are sent from a thread of their own, so no request waits for
a block.
"""

import os
import threading
import time

from lightmeter.chain import batchtree, fields
from lightmeter.client import batch
from lightmeter.crypto import suite as suite_mod
from lightmeter.device import reading as reading_mod
from lightmeter.errors import LightmeterError
from lightmeter.link import session as L, wire

from lightmeter_host import relay
from lightmeter_host.chain import txbuild
from lightmeter_host.chain.rpc import NodeError, Rpc

BATCH_MAX = 256
BATCH_MS = 2000
BLOCK_LIMIT_MARGIN = 500
# states of a leaf, as reading_ack says them
WAITING, SENT, ON_CHAIN = 0, 1, 2


class Batch:
    """One closed window: its tree, its transaction, and what the chain said."""

    __slots__ = ("number", "leaves", "tree", "root", "tx", "tx_hash", "state", "answer", "error")

    def __init__(self, number, leaves, suite):
        self.number = number
        self.leaves = leaves  # leaf hashes, in tree order
        self.tree = batchtree.levels(leaves, suite.hash)
        self.root = self.tree[-1][0]
        self.tx = self.tx_hash = self.answer = self.error = None
        self.state = WAITING


class Concentrator:
    def __init__(self, rpc, crypto="ecdsa", chain_id="chain0", group_id="group0", registry=None, key=None,
                 batch_max=BATCH_MAX, batch_ms=BATCH_MS, head_ttl=0.2, log=None, metrics=None, store=None):
        self.rpc = rpc
        self.suite = suite_mod.get(crypto)
        self.chain_id, self.group_id = chain_id, group_id
        self.registry = registry
        self.key = key or _new_key(self.suite)
        self.address = self.suite.address(self.suite.public_key(self.key))
        self.batch_max, self.batch_ms, self.head_ttl = batch_max, batch_ms, head_ttl
        self.log = log or (lambda line: None)
        self.metrics = metrics
        self.store = store  # a batchstore.BatchStore: each batch's contents, kept for collectors
        self.lock = threading.RLock()
        self.window = []  # leaf hashes of the open window
        self.window_since = None
        self.items = {}  # leaf hash -> [signed reading, Batch or None, index]
        self.batches = []
        self.headers, self.changes = {}, {}
        self.head = (-1, 0.0)
        self.senders = []
        self.stats = {"received": 0, "duplicates": 0, "refused": 0, "batches": 0, "anchored": 0,
                      "failed_batches": 0, "batch_txs": 0}
        self._stop = threading.Event()
        self._ticker = None

    @classmethod
    def from_node(cls, rpc, registry=None, **kw):
        """A concentrator for the chain behind rpc (getGroupInfo: chain, group, suite; the local
        node also names its MeterRegistry there)."""
        info = rpc("getGroupInfo")
        crypto = "sm" if info.get("genesisConfig", {}).get("smCryptoType") else "ecdsa"
        if registry is None:
            named = [n.get("meterRegistry") for n in info.get("nodeList", []) if n.get("meterRegistry")]
            if not named:
                raise ValueError("the node does not name its MeterRegistry: give its address")
            registry = fields.hexbytes(named[0], "meterRegistry", 20)
        return cls(rpc, crypto, info["chainID"], info["groupID"], registry, **kw)

    # -- the window ---------------------------------------------------------------------

    def start(self):
        """Close windows on time from a thread of our own (the count closes them at once)."""
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick_loop, daemon=True)
            self._ticker.start()
        return self

    def stop(self):
        self._stop.set()
        for t in list(self.senders):
            t.join(30)

    def _tick_loop(self):
        while not self._stop.wait(min(0.05, self.batch_ms / 4000)):
            self.tick()

    def tick(self, now=None):
        """Close the open window if it is batch_ms old."""
        now = time.monotonic() if now is None else now
        with self.lock:
            if self.window and now - self.window_since >= self.batch_ms / 1000:
                self._close()

    def flush(self):
        """Close the open window now (tests, shutdown)."""
        with self.lock:
            if self.window:
                self._close()

    def _close(self):
        b = Batch(len(self.batches), self.window, self.suite)
        self.window, self.window_since = [], None
        for i, h in enumerate(b.leaves):
            entry = self.items[h]
            entry[1], entry[2] = b, i
        if self.store is not None:
            # on disk before its root can be on chain: an anchored batch is never without contents
            self.store.put(b.root, [self.items[h][0] for h in b.leaves])
        self.batches.append(b)
        self.stats["batches"] += 1
        self._observe("batch", len(b.leaves))
        t = threading.Thread(target=self._send, args=(b,), daemon=True)
        self.senders = [s for s in self.senders if s.is_alive()] + [t]
        t.start()

    def _send(self, b):
        """Sign and send the batch transaction; fetch its proofs once it is in a block."""
        try:
            number = self.rpc("getBlockNumber")
            nonce = "batch-%s-%d-%s" % (self.address.hex()[:12], b.number, os.urandom(6).hex())
            tx = txbuild.make(self.chain_id, self.group_id, number + BLOCK_LIMIT_MARGIN, nonce, self.registry,
                              batch.batch_call(b.root, len(b.leaves), self.suite))
            digest, raw = txbuild.sign(tx, self.suite.name, self.key)
            b.tx, b.tx_hash, b.state = tx, digest, SENT
            self.stats["batch_txs"] += 1
            rc = self.rpc("sendTransaction", "0x" + raw.hex(), False)
            if rc.get("status") != 0:
                raise NodeError(rc.get("status"), rc.get("message") or "batch transaction refused")
            atype, answer = relay.handle(self.rpc, L.GET_RECEIPT, {0: digest})
            if atype != L.RECEIPT:
                raise NodeError(0, "no receipt for the batch transaction: %r" % (answer,))
            b.answer = answer
            with self.lock:
                b.state = ON_CHAIN
                self.stats["anchored"] += len(b.leaves)
            self._observe("anchored", len(b.leaves))
            self.log("batch %d: %d readings anchored in block %d (root %s)"
                     % (b.number, len(b.leaves), rc.get("blockNumber", -1), b.root.hex()[:16]))
        except (ConnectionError, NodeError, LightmeterError, KeyError, TypeError) as e:
            self._failed(b, e)

    def _failed(self, b, e):
        """The batch will not land: forget its leaves, so that devices asking are told to resend."""
        with self.lock:
            b.state, b.error = None, str(e)
            for h in b.leaves:
                entry = self.items.get(h)
                if entry is not None and entry[1] is b:
                    del self.items[h]
            self.stats["failed_batches"] += 1
        self._observe("failed", 1)
        self.log("batch %d failed: %s" % (b.number, e))

    # -- requests --------------------------------------------------------------------------

    def handle(self, rpc, mtype, payload):
        """(answer type, payload) for one device request (relay.handle's signature)."""
        if mtype == L.SUBMIT_READING:
            return self._submit(payload)
        if mtype == L.GET_BATCH_PROOF:
            return self._proof(payload)
        if mtype == L.GET_BLOCK_NUMBER:
            return L.BLOCK_NUMBER, {0: self._head()}
        if mtype == L.GET_HEADER:
            return self._cached(self.headers, mtype, payload)
        if mtype == L.GET_CHANGES:
            return self._cached(self.changes, mtype, payload)
        return relay.handle(self.rpc, mtype, payload)

    def _head(self):
        n, at = self.head
        now = time.monotonic()
        if now - at >= self.head_ttl:
            n = self.rpc("getBlockNumber")
            self.head = (n, now)
        return n

    def _cached(self, cache, mtype, payload):
        n = payload[0]
        if not isinstance(n, int) or isinstance(n, bool):
            raise KeyError("block number")
        key = (n, isinstance(payload, dict) and payload.get(1) == 1)  # a header with R hints is another answer
        got = cache.get(key)
        if got is None:
            got = relay.handle(self.rpc, mtype, payload)
            if got[0] != L.ERROR and n <= self._head():
                cache[key] = got
        return got

    def _refuse(self, kind, message):
        with self.lock:
            self.stats["refused"] += 1
        self._observe("refused", 1, kind)
        return L.ERROR, {0: L.E_MALFORMED, 1: "%s: %s" % (kind, message)}

    def _submit(self, payload):
        if not isinstance(payload, dict) or not isinstance(payload.get(0), (bytes, bytearray)):
            return self._refuse("malformed", "submit_reading: expected {0: signed reading}")
        item = bytes(payload[0])
        try:
            reading, _ = batch.open_item(item, self.chain_id, self.group_id, self.registry, self.suite)
            reading_mod.decode(reading)
        except LightmeterError as e:
            return self._refuse("signature" if "signature" in str(e) else "malformed", str(e))
        h = batchtree.leaf_hash(item, self.suite.hash)
        with self.lock:
            entry = self.items.get(h)
            if entry is None:
                self.items[h] = [item, None, None]
                if not self.window:
                    self.window_since = time.monotonic()
                self.window.append(h)
                self.stats["received"] += 1
                received = True
                if len(self.window) >= self.batch_max:
                    self._close()
                entry = self.items[h]
            else:
                self.stats["duplicates"] += 1
                received = False
            state = WAITING if entry[1] is None else entry[1].state
        self._observe("received" if received else "duplicate", 1)
        return L.READING_ACK, {0: h, 1: state}

    def _proof(self, payload):
        if not isinstance(payload, dict) or not isinstance(payload.get(0), (bytes, bytearray)) \
                or len(payload[0]) != 32:
            return L.ERROR, {0: L.E_MALFORMED, 1: "get_batch_proof: expected {0: leaf hash}"}
        with self.lock:
            entry = self.items.get(bytes(payload[0]))
            if entry is None:
                return L.ERROR, {0: L.E_UNKNOWN_READING, 1: "no such reading here: send it again"}
            b, index = entry[1], entry[2]
            if b is None:
                return L.ERROR, {0: L.E_NOT_FOUND, 1: "waiting in the open window"}
            if b.state != ON_CHAIN:
                return L.ERROR, {0: L.E_NOT_FOUND, 1: "the batch transaction is not in a block yet"}
        return L.BATCH_PROOF, {0: index, 1: len(b.leaves), 2: batchtree.path_in(b.tree, index),
                               3: wire.tx_to_wire(b.tx), 4: b.answer}

    # -- what it holds -------------------------------------------------------------------------

    def queue_depth(self):
        """Readings received and not yet on chain."""
        with self.lock:
            return sum(1 for e in self.items.values() if e[1] is None or e[1].state != ON_CHAIN)

    def leaves_of(self, b):
        """The signed readings of a batch, in tree order (what a collector needs beside the root)."""
        with self.lock:
            return [self.items[h][0] for h in b.leaves if h in self.items]

    def _observe(self, what, n, kind=None):
        if self.metrics is not None:
            self.metrics.observe(self, what, n, kind)


def _new_key(suite):
    while True:
        k = os.urandom(32)
        try:
            suite.public_key(k)
            return k
        except LightmeterError:
            continue


def main(urls, rpc_url, baud=115200, noise=0.0, batch_max=BATCH_MAX, batch_ms=BATCH_MS, metrics=None,
         store_dir=None, serve=None):
    """`lightmeter relay --batch`: the relay's ports, answered by a concentrator; its batches kept
    in store_dir and served at http://<serve>/batches/<root> (lightmeter_host.batchstore)."""
    import asyncio
    import sys

    from lightmeter_host import batchstore

    def log(line):
        print(line, file=sys.stderr, flush=True)

    store = batchstore.BatchStore(store_dir) if store_dir else None
    c = Concentrator.from_node(Rpc(rpc_url), batch_max=batch_max, batch_ms=batch_ms, log=log, store=store)
    server = None
    if store is not None and serve:
        from lightmeter_host.errors import UsageError
        host, _, port = serve.rpartition(":")
        try:
            server = batchstore.BatchServer(store, host or "127.0.0.1", int(port))
        except (OSError, ValueError) as e:
            raise UsageError("cannot serve batches at %s: %s" % (serve, e))
        log("concentrator: batches at %s/batches/<root hex> (%d stored in %s)"
            % (server.url, len(store.roots()), store.folder))
    if metrics:
        from lightmeter_host import relaymetrics
        host, _, port = metrics.rpartition(":")
        c.metrics = relaymetrics.Metrics()
        c.metrics.serve(host or "127.0.0.1", int(port))
        log("concentrator: metrics at http://%s/metrics" % metrics)
    c.start()
    log("concentrator: %s signs batches; windows of %d readings or %d ms"
        % ("0x" + c.address.hex(), batch_max, batch_ms))
    try:
        asyncio.run(relay.relay(urls, rpc_url, baud, noise, log=log, handler=c.handle))
    except KeyboardInterrupt:
        pass
    finally:
        c.flush()
        c.stop()
        if server is not None:
            server.close()
    return 0
