"""A hostile relay's answers that are well-formed frames but wrong in their fields end in typed
errors on the device, never in TypeError or KeyError (found by tests/host/test_link_fuzz.py).

proto/link.md, "Messages": block_number is {0: number}, error is {0: code (int), 1: message
(text)}. Anything else from the relay is malformed, and the device says so with a LightmeterError
its main loop catches (device/app.py `run`), instead of dying on an exception it does not.
"""

from lightmeter.errors import LightmeterError, Malformed
from lightmeter.link import frame, session as L
from support import raises

import linkfuzz


def drive(coro):
    """Run a coroutine that never waits (the UART answers at once), on both runtimes."""
    try:
        while True:
            coro.send(None)
    except StopIteration as e:
        return e.value


class Answering:
    """A UART whose relay answers every request with one (type, payload)."""

    def __init__(self, mtype, payload):
        self.mtype, self.payload = mtype, payload
        self.deframer = frame.Deframer()
        self.out = b""

    def write(self, data):
        for body in self.deframer.feed(data):
            rid = frame.unpack(body)[2]
            self.out += frame.encode_frame(frame.pack(1, self.mtype, rid, self.payload))

    def read(self):
        data, self.out = self.out, b""
        return data or None


def test_error_answer_with_a_code_that_is_not_an_integer_is_a_remote_error():
    for payload in ({0: [], 1: "x"}, {0: None, 1: "x"}, {0: "5", 1: "x"}, {0: True, 1: "x"},
                    {0: 4, 1: []}, {0: 4, 1: b"bytes"}, None, {}):
        link = L.Link(Answering(L.ERROR, payload), timeout_ms=50, retries=0)
        e = raises(L.RemoteError, drive, link.request(L.GET_TIME))
        assert isinstance(e, LightmeterError)


def test_error_answer_well_formed_keeps_its_code():
    link = L.Link(Answering(L.ERROR, {0: 4, 1: "not found"}), timeout_ms=50, retries=0)
    e = raises(L.RemoteError, drive, link.request(L.GET_TIME))
    assert e.code == 4 and "not found" in str(e)


try:
    import tempfile
    import os
    _BASE = "%s/lmhostile-%d" % (tempfile.gettempdir(), os.getpid())
except ImportError:  # MicroPython: no tempfile
    import os
    _BASE = (os.getcwd() if hasattr(os, "getcwd") else "").rstrip("/") + "/tmp_hostile"


def test_block_number_answer_of_the_wrong_shape_is_malformed_and_changes_nothing():
    # A queued, signed reading whose send the node refuses as past its block limit (10001) and
    # whose receipt is not found: the device asks the block number to decide whether to sign anew.
    try:
        os.mkdir(_BASE)
    except OSError:
        pass
    root = _BASE + "/dev"
    dev, uart = drive(linkfuzz.make_device(root, virtual_clock=False))
    dev.link.timeout_ms = 60000  # the relay answers at once; a slow runtime must not time out
    before = linkfuzz.snapshot(root)
    rec0 = linkfuzz.queued(dev)
    # (and numbers past any int64 block limit: a new transaction's blockLimit could not be encoded)
    for payload in (None, {}, {0: []}, {0: {}}, {0: "100"}, {0: -1}, {0: True}, {1: 100}, {0: None},
                    {0: 1 << 63}, {0: (1 << 64) - 1}, {0: (1 << 63) - 500}):
        hostile = frame.encode_frame(frame.pack(1, L.BLOCK_NUMBER, linkfuzz.FIRST_ID + 2, payload))
        raises(Malformed, drive, linkfuzz.device_round(dev, uart, "number", hostile))
        assert linkfuzz.snapshot(root) == before, payload
    # a well-formed number below the block limit: nothing to do, nothing changed
    hostile = frame.encode_frame(frame.pack(1, L.BLOCK_NUMBER, linkfuzz.FIRST_ID + 2, {0: 101}))
    assert drive(linkfuzz.device_round(dev, uart, "number", hostile)) == "ok:False"
    assert linkfuzz.snapshot(root) == before
    # at or past the limit: the transaction given up to sign anew, the record's one change
    # (the fuzz driver's _expired_only), with the largest number that leaves room for a limit
    for n in (600, (1 << 63) - 501):
        hostile = frame.encode_frame(frame.pack(1, L.BLOCK_NUMBER, linkfuzz.FIRST_ID + 2, {0: n}))
        assert drive(linkfuzz.device_round(dev, uart, "number", hostile)) == "ok:False"
        after = linkfuzz.snapshot(root)
        changed = sorted(p for p in after if after[p] != before.get(p))
        assert linkfuzz._expired_only(dev, rec0, changed), n
        for p in changed:
            with open(p, "wb") as f:
                f.write(before[p])
