"""lightmeter.device.batchapp: a device in batch mode against a scripted concentrator (proto/batch.md).

The device keeps a reading queued until a batch_proof passes its own check: an honest answer is
accepted, a lie is rejected with its kind and the reading stays, an unknown leaf or a passed
deadline makes the device submit the same signed bytes again. Runs on CPython and MicroPython.
"""

import json
import os

from lightmeter.chain import batchtree
from lightmeter.client import batch
from lightmeter.device import app, batchapp, devkey, store
from lightmeter.link import session as L
from chainmaker import trust_json
from support import raises
from test_batch_anchor import REGISTRY, S, anchored, nodes
from test_store import cleanup, fresh_dir
from test_sync import drive


class ScriptedConcentrator:
    """The link's request(), answered by a function of the device's leaf (None: not found yet)."""

    def __init__(self, prove, number=3):
        self.prove = prove
        self.number = number
        self.submitted = []
        self.unknown = False

    async def request(self, mtype, payload=None):
        if mtype == L.SUBMIT_READING:
            self.submitted.append(payload[0])
            self.unknown = False
            return {0: batchtree.leaf_hash(payload[0], S.hash), 1: 0}
        if mtype == L.GET_BLOCK_NUMBER:
            return {0: self.number}
        if mtype == L.GET_BATCH_PROOF:
            if self.unknown:
                raise L.RemoteError(L.E_UNKNOWN_READING, "unknown reading")
            got = self.prove(self.submitted[-1])
            if got is None:
                raise L.RemoteError(L.E_NOT_FOUND, "not yet")
            return got
        raise AssertionError("unexpected request %d" % mtype)


def device(link):
    root = fresh_dir()
    os.mkdir(root)
    with open(root + "/trust.json", "w") as f:
        json.dump(trust_json("ecdsa", nodes()), f)
    with open(root + "/config.json", "w") as f:
        json.dump({"meter_id": "batch-test", "registry": "0x" + REGISTRY.hex(), "anchor": "batch",
                   "batch_deadline": 5}, f)
    devkey.ensure(store.Store(root), S, rand=lambda n: bytes(n - 1) + b"\x2a")  # as provisioning would
    dev = app.Device(None, root)
    dev.link = link
    dev.take_reading()
    return dev, root


def step(dev):
    key, raw = dev.queue.items()[0]
    return drive(dev.process(key, dev._unrecord(raw)))


def queued(dev):
    return [dev._unrecord(raw) for _, raw in dev.queue.items()]


def test_honest_batch_proof_takes_the_reading_off_the_queue():
    def prove(item):
        return anchored([b"neighbour-1", item, b"neighbour-2"], 1)[0]
    link = ScriptedConcentrator(prove)
    dev, root = device(link)
    try:
        assert step(dev) is True
        assert len(dev.queue) == 0
        res = dev._results()
        assert res["verified"] == 1 and res["rejected"] == 0 and res["last"][0]["count"] == 3
        # what the device submitted is a reading it signed for this chain and registry
        reading, who = batch.open_item(link.submitted[0], "chain0", "group0", REGISTRY, S)
        assert who == dev.address and len(link.submitted) == 1
    finally:
        cleanup(root)


def test_forged_batch_is_rejected_and_the_reading_stays_queued():
    def prove(item):
        return anchored([b"neighbour-1", item + b"forged", b"neighbour-2"], 1)[0]
    link = ScriptedConcentrator(prove)
    dev, root = device(link)
    try:
        assert step(dev) is False
        assert len(dev.queue) == 1
        res = dev._results()
        assert res["verified"] == 0 and res["rejected"] == 1 and res["rejected_kinds"] == {batch.PATH: 1}
        item = queued(dev)[0][batchapp.R_ITEM]
        assert item == link.submitted[0]  # the same signed bytes are kept to send again
    finally:
        cleanup(root)


def test_withheld_batch_is_submitted_again_after_the_deadline_and_when_unknown():
    link = ScriptedConcentrator(lambda item: None, number=3)
    dev, root = device(link)
    try:
        assert step(dev) is False and len(link.submitted) == 1
        assert queued(dev)[0][batchapp.R_DEADLINE] == 3 + 5
        link.number = 7
        assert step(dev) is False and len(link.submitted) == 1  # deadline not reached
        link.number = 8
        assert step(dev) is False and len(link.submitted) == 2  # reached: the same leaf again
        assert link.submitted[0] == link.submitted[1]
        link.unknown = True
        assert step(dev) is False and len(link.submitted) == 3  # "unknown reading": again
        assert len(dev.queue) == 1 and dev._results()["verified"] == 0
    finally:
        cleanup(root)


def test_a_link_error_keeps_the_reading():
    class Broken(ScriptedConcentrator):
        async def request(self, mtype, payload=None):
            if mtype == L.GET_BATCH_PROOF:
                raise L.RemoteError(L.E_NODE_UNREACHABLE, "node down")
            return await ScriptedConcentrator.request(self, mtype, payload)
    dev, root = device(Broken(lambda item: None))
    try:
        raises(L.RemoteError, step, dev)
        assert len(dev.queue) == 1
    finally:
        cleanup(root)
