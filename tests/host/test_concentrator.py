"""Concentrators, honest and hostile (proto/batch.md), with real firmware devices in process.

Each hostile concentrator below lies one way; the devices (lightmeter.device.batchapp, CPython
here; the same checks run on MicroPython in tests/firmware/test_batch.py and test_batchapp.py)
must reject the lie with its kind, keep the reading queued, acknowledge nothing falsely, and get
the reading anchored once they reach an honest concentrator.
"""

import asyncio
import os
import random

import pytest

from lightmeter.chain import batchtree
from lightmeter.client import batch
from lightmeter.device import app
from lightmeter.link import session as L

from lightmeter_host import concentrator as conc_mod, fleetsim
from lightmeter_host.node import registry
from lightmeter_host.node.chain import Chain


class Rig:
    """A node in process, a sealer, and n devices on in-process links."""

    def __init__(self, tmp_path, n=6, deadline=3):
        self.native = fleetsim.native().__enter__()
        fleetsim._quiet()
        self.chain = Chain(seed=b"hostile")
        self.rpc = fleetsim.InProcessRpc(self.chain)
        self.sealer = fleetsim.Sealer(self.chain, 50)
        self.concs = []
        self.devices = []
        for i in range(n):
            root = str(tmp_path / ("d%d" % i))
            fleetsim.device_files(root, self.chain, "hostile-%d" % i, 1, deadline=deadline)
            self.devices.append(app.Device(None, root))
        for d in self.devices:
            d.take_reading()

    def concentrator(self, cls=conc_mod.Concentrator, **kw):
        c = cls(self.rpc, "ecdsa", self.chain.chain_id, self.chain.group_id, registry.ADDRESS,
                batch_max=kw.pop("batch_max", 64), batch_ms=kw.pop("batch_ms", 1500), **kw).start()
        self.concs.append(c)
        return c

    def connect(self, c):
        for d in self.devices:
            d.link = fleetsim.InProcessLink(c)

    def work(self, seconds):
        async def one(d):
            end = asyncio.get_running_loop().time() + seconds
            while len(d.queue) and asyncio.get_running_loop().time() < end:
                for key, raw in d.queue.items():
                    await d.process(key, d._unrecord(raw))
                await asyncio.sleep(0.05)

        async def all_():
            await asyncio.gather(*(one(d) for d in self.devices))
        asyncio.run(all_())

    def verified(self):
        return sum(d._results()["verified"] for d in self.devices)

    def queued(self):
        return sum(len(d.queue) for d in self.devices)

    def kinds(self):
        out = {}
        for d in self.devices:
            for k, v in d._results().get("rejected_kinds", {}).items():
                out[k] = out.get(k, 0) + v
        return out

    def close(self):
        for c in self.concs:
            c.stop()
        self.sealer.close()
        self.native.__exit__(None, None, None)


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path)
    yield r
    r.close()


def _recovers(rig):
    """Nothing was acknowledged; an honest concentrator then anchors every reading."""
    assert rig.verified() == 0 and rig.queued() == len(rig.devices)
    rig.connect(rig.concentrator())
    rig.work(20)
    assert rig.verified() == len(rig.devices) and rig.queued() == 0


def test_honest_concentrator_anchors_every_reading_in_one_batch(rig):
    c = rig.concentrator(batch_max=6)
    rig.connect(c)
    rig.work(20)
    assert rig.verified() == 6 and rig.queued() == 0 and rig.kinds() == {}
    assert [len(b.leaves) for b in c.batches] == [6]
    assert c.stats["received"] == 6 and c.stats["anchored"] == 6
    # every device proved its leaf against the same root, on chain once
    roots = {d._results()["last"][0]["batch"] for d in rig.devices}
    assert roots == {"0x" + c.batches[0].root.hex()}


def _get(url):
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def test_anchored_batches_are_stored_and_served_by_root_after_a_restart(rig, tmp_path):
    """proto/batch.md "Batch contents over HTTP": each closed batch is on disk before its
    transaction is sent, outlives the concentrator, and is served by root as the CBOR array of
    its signed readings in tree order, from which the anchored root is rebuilt."""
    from lightmeter.link import cbor
    from lightmeter_host import batchstore

    folder = tmp_path / "batches"
    c = rig.concentrator(batch_max=6, store=batchstore.BatchStore(folder))
    rig.connect(c)
    rig.work(20)
    assert rig.verified() == 6
    b = c.batches[0]
    c.stop()
    # a new process: only the folder remains
    store = batchstore.BatchStore(folder)
    assert store.roots() == [b.root]
    assert not [n for n in os.listdir(folder) if n.endswith(".tmp")]
    server = batchstore.BatchServer(store)
    try:
        status, ctype, body = _get("%s/batches/%s" % (server.url, b.root.hex()))
        assert (status, ctype) == (200, "application/cbor")
        leaves = cbor.loads(body)
        assert cbor.dumps(leaves) == body
        H = c.suite.hash
        assert [batchtree.leaf_hash(x, H) for x in leaves] == b.leaves
        assert batchtree.root([batchtree.leaf_hash(x, H) for x in leaves], H) == b.root
        assert _get("%s/batches/%s" % (server.url, "00" * 32))[0] == 404
        assert _get("%s/batches/%s" % (server.url, b.root.hex().upper()))[0] == 400
        assert _get("%s/batches/../../etc/passwd" % server.url)[0] in (400, 404)
        assert _get("%s/other" % server.url)[0] == 404
    finally:
        server.close()


def test_batch_store_writes_whole_files_and_keeps_the_first(tmp_path):
    from lightmeter_host import batchstore
    store = batchstore.BatchStore(tmp_path)
    root = bytes(range(32))
    store.put(root, [b"a", b"b"])
    store.put(root, [b"c"])  # the root fixes the contents: the first stays
    assert store.get(root) == batchstore.contents([b"a", b"b"])
    assert store.get(bytes(32)) is None
    with pytest.raises(ValueError):
        store.put(b"short", [b"a"])


class Forging(conc_mod.Concentrator):
    """Replaces the first reading of each window with one it signed itself."""

    def _close(self):
        h = self.window[0]
        reading, _ = batch.open_item(self.items[h][0], self.chain_id, self.group_id, self.registry, self.suite)
        digest = batch.signing_digest(reading[:-1] + b"\x00", self.chain_id, self.group_id, self.registry,
                                      self.suite)
        fake = batch.make_item(reading[:-1] + b"\x00", self.suite.sign_tx(self.key, digest))
        fh = batchtree.leaf_hash(fake, self.suite.hash)
        self.items[fh] = [fake, None, None]
        self.window[0] = fh
        self.forged = h
        super()._close()
        self.items[h] = [self.items[h][0], self.items[fh][1], 0]  # hands the forged leaf's path out


def test_forged_reading_is_rejected_by_its_device(rig):
    rig.connect(rig.concentrator(Forging, batch_max=6))
    rig.work(3)
    assert rig.verified() == 5 and rig.queued() == 1
    assert rig.kinds().get(batch.PATH, 0) >= 1
    victim = [d for d in rig.devices if len(d.queue)][0]
    assert victim._results()["verified"] == 0


class Dropping(conc_mod.Concentrator):
    """Acknowledges every reading and batches none."""

    def _submit(self, payload):
        return L.READING_ACK, {0: batchtree.leaf_hash(payload[0], self.suite.hash), 1: 0}


def test_dropped_readings_are_sent_again_and_anchored_elsewhere(rig):
    rig.connect(rig.concentrator(Dropping))
    rig.work(1.5)
    assert all(d._unrecord(d.queue.items()[0][1])[9] >= 2 for d in rig.devices)  # submitted again
    _recovers(rig)


class Withholding(conc_mod.Concentrator):
    """Anchors batches but never hands a proof out."""

    def _proof(self, payload):
        return L.ERROR, {0: L.E_NOT_FOUND, 1: "soon"}


def test_withheld_proofs_keep_readings_queued_until_the_deadline(rig):
    c = rig.concentrator(Withholding, batch_max=3)
    rig.connect(c)
    other = rig.concentrator(batch_max=1)  # keeps blocks coming, as a busy chain does
    rig.work(3)
    assert sum(b.state == conc_mod.ON_CHAIN for b in c.batches) >= 2
    assert rig.verified() == 0 and rig.queued() == 6
    del other
    _recovers(rig)


class Reordering(conc_mod.Concentrator):
    """Shuffles each window; with honest paths for the new order (accepted: order is not promised)."""

    def _close(self):
        random.Random(7).shuffle(self.window)
        super()._close()


def test_reordered_batch_with_consistent_paths_is_accepted(rig):
    rig.connect(rig.concentrator(Reordering, batch_max=6))
    rig.work(20)
    assert rig.verified() == 6 and rig.kinds() == {}


class StalePosition(conc_mod.Concentrator):
    """Shuffles each window but hands out each leaf's path at its arrival position."""

    def _close(self):
        arrival = list(self.window)
        random.Random(7).shuffle(self.window)
        super()._close()
        for i, h in enumerate(arrival):
            self.items[h][2] = i


def test_reordered_batch_with_stale_positions_is_rejected(rig):
    rig.connect(rig.concentrator(StalePosition, batch_max=6))
    rig.work(2)
    assert rig.kinds().get(batch.PATH, 0) >= 1
    assert rig.verified() < 6
    for d in rig.devices:
        res = d._results()
        assert res["verified"] + len(d.queue) == 1


class WrongCount(conc_mod.Concentrator):
    """Anchors every root with one leaf more than its tree has."""

    def _close(self):
        super()._close()

    def _send(self, b):
        real = b.leaves
        b.leaves = real + [real[-1]]  # the count it will claim
        try:
            super()._send(b)
        finally:
            b.leaves = real


def test_root_anchored_with_a_wrong_count_is_rejected(rig):
    rig.connect(rig.concentrator(WrongCount, batch_max=6))
    rig.work(2)
    assert rig.kinds().get(batch.COUNT, 0) >= 1 and rig.verified() == 0
    _recovers(rig)


class NeighbourPath(conc_mod.Concentrator):
    """Answers with the path of the next leaf."""

    def _proof(self, payload):
        atype, ans = super()._proof(payload)
        if atype == L.BATCH_PROOF and ans[1] > 1:
            entry = self.items[bytes(payload[0])]
            j = (ans[0] + 1) % ans[1]
            ans[2] = batchtree.path_in(entry[1].tree, j)
        return atype, ans


def test_path_for_another_leaf_is_rejected(rig):
    rig.connect(rig.concentrator(NeighbourPath, batch_max=6))
    rig.work(2)
    assert rig.kinds().get(batch.PATH, 0) >= 6 and rig.verified() == 0
    _recovers(rig)


class OtherRoot(conc_mod.Concentrator):
    """Anchors the root of another tree (without the last leaf) and hands out the real paths."""

    def _send(self, b):
        real_root = b.root
        b.root = batchtree.root(b.leaves[:-1] or [b"\x00" * 32], self.suite.hash)
        try:
            super()._send(b)
        finally:
            b.root = real_root


def test_batch_tx_for_another_root_is_rejected(rig):
    rig.connect(rig.concentrator(OtherRoot, batch_max=6))
    rig.work(2)
    assert rig.kinds().get(batch.PATH, 0) >= 6 and rig.verified() == 0
    _recovers(rig)


def test_concentrator_refuses_a_reading_with_a_bad_signature(rig):
    c = rig.concentrator()
    atype, ans = c.handle(None, L.SUBMIT_READING, {0: batch.make_item(b"\xa0", b"\x01" * 65)})
    assert atype == L.ERROR and ans[0] == L.E_MALFORMED
    atype, ans = c.handle(None, L.GET_BATCH_PROOF, {0: bytes(32)})
    assert atype == L.ERROR and ans[0] == L.E_UNKNOWN_READING
    assert c.stats["refused"] == 1 and c.stats["received"] == 0
