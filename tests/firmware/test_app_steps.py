"""device/app.py loads each step's modules and, on MicroPython, releases them after
(device/modules.py): a reading taken and a transaction signed leave none of their modules loaded
there, and give what they gave with every module loaded (the signature the device's own key made,
over the transaction's hash). Runs on CPython (nothing released) and MicroPython.

Each test puts back the module objects the device released, so the other tests keep theirs."""

import json
import os
import sys

from lightmeter.device import app, devkey, modules, store
from lightmeter.errors import Malformed
from lightmeter.link import session as L
from chainmaker import trust_json
from support import raises
from test_batch_anchor import REGISTRY, S, nodes
from test_modules import Kept
from test_store import cleanup, fresh_dir
from test_sync import drive

STEPS = ()
for _kind in ("decode", "header", "sync", "proofs", "reading", "tx", "frame"):
    STEPS += modules.step(_kind)
STEPS += modules.step("sign", "ecdsa") + ("lightmeter.client.anchor",)
ON_BOARD = sys.implementation.name == "micropython"


class Numbers:
    """The link's request(): the relay's block number, and nothing else."""

    def __init__(self, answer):
        self.answer = answer
        self.asked = 0

    async def request(self, mtype, payload=None):
        assert mtype == L.GET_BLOCK_NUMBER
        self.asked += 1
        return self.answer


def device(answer):
    root = fresh_dir()
    os.mkdir(root)
    with open(root + "/trust.json", "w") as f:
        json.dump(trust_json("ecdsa", nodes()), f)
    with open(root + "/config.json", "w") as f:
        json.dump({"meter_id": "steps-test", "registry": "0x" + REGISTRY.hex()}, f)
    devkey.ensure(store.Store(root), S, rand=lambda n: bytes(n - 1) + b"\x2b")
    dev = app.Device(None, root)
    dev.link = Numbers(answer)
    return dev, root


def test_a_reading_and_its_signature_leave_no_step_module_loaded_on_a_board():
    kept = Kept(STEPS)
    try:
        dev, root = device({0: 41})
        try:
            seq = dev.take_reading()
            key, raw = dev.queue.items()[0]
            assert [m for m in modules.step("reading") if m in sys.modules] == ([] if ON_BOARD else list(modules.step("reading")))
            rec = drive(dev._sign(key, dev._unrecord(raw)))
            signing = modules.step("tx") + modules.step("sign", "ecdsa") + modules.step("frame")
            loaded = [m for m in signing if m in sys.modules]
            if ON_BOARD:
                assert loaded == []
            else:
                assert "lightmeter.chain.tx" in loaded  # CPython keeps what it imported
            # the record as the device stores it: the same before and after the releases
            assert dev._unrecord(dev.queue.get(key)) == rec and rec[app.R_SEQ] == seq
            assert rec[app.R_LIMIT] == 41 + app.BLOCK_LIMIT_MARGIN
            # the signature is the device's key's over the transaction's hash (modules loaded anew)
            from lightmeter.chain import tx as txm
            from lightmeter.link import wire
            tx = wire.tx_from_wire(rec[app.R_TX])
            digest = txm.tx_hash(tx, S)
            assert digest == rec[app.R_HASH]
            assert S.address(S.tx_signer(digest, tx["signature"])) == dev.address
        finally:
            cleanup(root)
    finally:
        kept.restore()


def test_a_bad_block_number_fails_before_any_step_module_is_loaded():
    kept = Kept(STEPS)
    try:
        dev, root = device({0: "x"})
        try:
            dev.take_reading()
            key, raw = dev.queue.items()[0]
            before = [m for m in modules.step("tx") if m in sys.modules]
            raises(Malformed, drive, dev._sign(key, dev._unrecord(raw)))
            assert [m for m in modules.step("tx") if m in sys.modules] == before
            assert app.R_TX not in dev._unrecord(dev.queue.get(key))  # nothing signed, nothing stored
        finally:
            cleanup(root)
    finally:
        kept.restore()
