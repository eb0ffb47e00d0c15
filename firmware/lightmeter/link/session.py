"""The device's side of the link (proto/link.md): requests to the relay over the UART.

Requests are framed (COBS + CRC-32), carry an id, and are resent with the same
id when no answer comes in time; the relay is stateless and every request is
idempotent, so a resend is always safe. Answers to other ids, damaged frames
and noise are dropped. Nothing the relay answers is trusted: callers verify.
"""

import time

try:
    import asyncio
except ImportError:  # pragma: no cover
    import uasyncio as asyncio

from lightmeter.link import frame
from lightmeter.errors import LightmeterError, Malformed

VERSION = frame.VERSION
HELLO, HELLO_ACK, GET_TIME, TIME, GET_BLOCK_NUMBER, BLOCK_NUMBER = 1, 2, 3, 4, 5, 6
GET_HEADER, HEADER, SEND_TX, TX_ACK, GET_RECEIPT, RECEIPT, ERROR = 7, 8, 9, 10, 11, 12, 15
GET_CHANGES, CHANGES, GET_PIVOTS, PIVOTS = 13, 14, 16, 17
SUBMIT_READING, READING_ACK, GET_BATCH_PROOF, BATCH_PROOF = 18, 19, 20, 21  # proto/batch.md
ANSWERS = {HELLO: HELLO_ACK, GET_TIME: TIME, GET_BLOCK_NUMBER: BLOCK_NUMBER, GET_HEADER: HEADER,
           SEND_TX: TX_ACK, GET_RECEIPT: RECEIPT, GET_CHANGES: CHANGES, GET_PIVOTS: PIVOTS,
           SUBMIT_READING: READING_ACK, GET_BATCH_PROOF: BATCH_PROOF}
# error codes
E_MALFORMED, E_UNKNOWN_TYPE, E_NODE_UNREACHABLE, E_NOT_FOUND, E_NODE_ERROR = 1, 2, 3, 4, 5
E_UNKNOWN_READING = 6  # proto/batch.md: the concentrator does not hold that reading: send it again


class LinkTimeout(LightmeterError):
    """No answer after every retry (relay down, cable pulled, line too noisy)."""


class RemoteError(LightmeterError):
    """The relay answered with an error message."""

    def __init__(self, code, message):
        super().__init__("relay error %d: %s" % (code, message))
        self.code = code


def ticks_ms():
    try:
        return time.ticks_ms()
    except AttributeError:
        return int(time.monotonic() * 1000)


def elapsed_ms(start):
    try:
        return time.ticks_diff(time.ticks_ms(), start)
    except AttributeError:
        return int(time.monotonic() * 1000) - start


async def sleep_ms(ms):
    try:
        await asyncio.sleep_ms(ms)
    except AttributeError:
        await asyncio.sleep(ms / 1000)


class Link:
    """Request/answer over a UART object with non-blocking read() and write()."""

    def __init__(self, uart, timeout_ms=3000, retries=5):
        self.uart = uart
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.deframer = frame.Deframer()
        self.next_id = 1
        self.inbox = {}
        self.sent_bytes = 0
        self.received_bytes = 0
        self.resends = 0

    def _pump(self):
        data = self.uart.read()
        if not data:
            return
        self.received_bytes += len(data)
        for body in self.deframer.feed(data):
            try:
                version, mtype, rid, payload = frame.unpack(body)
            except Malformed:
                continue
            self.inbox[rid] = (mtype, payload)

    async def request(self, mtype, payload=None):
        """The payload of the relay's answer to one request; LinkTimeout or RemoteError otherwise."""
        rid = self.next_id
        self.next_id = rid % 65535 + 1
        self.inbox = {}  # late answers to earlier requests are of no use now
        wire = frame.encode_message(mtype, rid, payload)
        want = ANSWERS[mtype]
        for attempt in range(self.retries + 1):
            if attempt:
                self.resends += 1
            self.uart.write(wire)
            self.sent_bytes += len(wire)
            start = ticks_ms()
            while elapsed_ms(start) < self.timeout_ms:
                self._pump()
                got = self.inbox.pop(rid, None)
                if got is not None:
                    rtype, rpayload = got
                    if rtype == ERROR:
                        code = rpayload.get(0) if isinstance(rpayload, dict) else None
                        text = rpayload.get(1, "") if isinstance(rpayload, dict) else None
                        if not frame._uint(code) or not isinstance(text, str):
                            raise RemoteError(0, "malformed error")
                        raise RemoteError(code, text)
                    if rtype == want:
                        return rpayload
                    # an answer of the wrong type for this id: ignore, as noise
                await sleep_ms(2)
        raise LinkTimeout("no answer to message type %d after %d tries" % (mtype, self.retries + 1))
