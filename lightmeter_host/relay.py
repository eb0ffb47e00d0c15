"""`lightmeter relay`: devices' serial links to a FISCO BCOS node's JSON-RPC.

One asyncio task per port (any pyserial URL: a device path, a pseudo-terminal,
socket://host:port, loop://). The relay keeps no state between requests: it
reads a frame, makes the JSON-RPC calls the request needs, answers, and logs
what it forwarded. It can be killed and restarted at any time; devices resend
(tests/host/test_relay_kill.py kills it while a device takes its readings).
The device trusts none of what it forwards.
"""

import asyncio
import random
import sys
import time

import serial

from lightmeter.chain import fields, merkle
from lightmeter.chain import txread
from lightmeter.crypto import suite as suite_mod
from lightmeter.link import frame, session as L, wire
from lightmeter.link import relaywire
from lightmeter.errors import LightmeterError, Unsupported

from lightmeter_host.chain import proofs as compact_proof, txbuild
from lightmeter_host.chain.rpc import NodeError, Rpc, block_changes_json

VERSION = "lightmeter-relay-0.1"


def _settle_nonce(tx):
    """The binary link carries one nonce: keep the reading the node's hash field names
    (chain/tx.py). The relay is not trusted: the device proves the transaction into a
    verified header, so a wrong pick only fails there."""
    if not tx.get("nonce_readings") or tx.get("claimed_hash") is None:
        return
    for name in ("ecdsa", "sm"):
        if txread.prove_hash(tx, suite_mod.get(name), tx["claimed_hash"]):
            return


def _hint(payload, field):
    """batch.r_hint if the request's field asks for R hints (proto/link.md, "R hints"), else None."""
    if isinstance(payload, dict) and payload.get(field) == 1:
        from lightmeter.crypto import batch
        return batch.r_hint
    return None


def handle(rpc, mtype, payload):
    """(answer type, answer payload) for one device request; blocking (node calls)."""
    if mtype == L.HELLO:
        return L.HELLO_ACK, {0: VERSION, 1: rpc("getBlockNumber")}
    if mtype == L.GET_TIME:
        return L.TIME, {0: int(time.time() * 1000)}
    if mtype == L.GET_BLOCK_NUMBER:
        return L.BLOCK_NUMBER, {0: rpc("getBlockNumber")}
    if mtype == L.GET_HEADER:
        return L.HEADER, relaywire.header_to_wire(rpc("getBlockByNumber", payload[0], True, True),
                                                  hint=_hint(payload, 1))
    if mtype == L.SEND_TX:
        raw = txbuild.encode(wire.tx_from_wire(payload))
        rc = rpc("sendTransaction", "0x" + raw.hex(), False)
        return L.TX_ACK, {0: fields.hexbytes(rc["transactionHash"], "hash", 32), 1: rc["status"],
                          2: rc.get("message", "")}
    if mtype == L.GET_RECEIPT:
        h = "0x" + bytes(payload[0]).hex()
        try:
            rc = rpc("getTransactionReceipt", h, True)
            tx = rpc("getTransaction", h, True)
        except NodeError:
            return L.ERROR, {0: L.E_NOT_FOUND, 1: "no receipt for that transaction yet"}
        if rc is None or tx is None:
            return L.ERROR, {0: L.E_NOT_FOUND, 1: "no receipt for that transaction yet"}
        block = rpc("getBlockByNumber", rc["blockNumber"], True, True)
        try:
            proofs = merkle.from_json(rc, "txReceiptProof"), merkle.from_json(tx, "txProof")
        except Unsupported as e:
            return L.ERROR, {0: L.E_NODE_ERROR, 1: str(e)}
        if isinstance(payload, dict) and payload.get(1) == 1:  # the device reads compact proofs (proto/link.md)
            proofs = _compact(proofs, bytes(payload[0]), rc.get("hash"))
        return L.RECEIPT, {0: relaywire.receipt_to_wire(rc), 1: proofs[0], 2: proofs[1],
                           3: relaywire.header_to_wire(block, hint=_hint(payload, 2))}
    if mtype == L.GET_CHANGES:
        return L.CHANGES, {0: _changes_wire(rpc, payload[0])}
    if mtype == L.GET_PIVOTS:
        return L.PIVOTS, pivots_answer(rpc, payload[0], payload[1])
    return L.ERROR, {0: L.E_UNKNOWN_TYPE, 1: "unknown message type %d" % mtype}


def _compact(proofs, tx_hash, receipt_hash):
    """(receipt proof, tx proof) in compact form, each under the first suite's hash it proves its
    leaf with (the relay does not know the device's suite); a proof that converts under none is
    left as the node gave it, for the device to refuse."""
    rproof, tproof = proofs
    try:
        rleaf = fields.hexbytes(receipt_hash, "hash", 32)
    except LightmeterError:
        rleaf = None
    for name in ("ecdsa", "sm"):
        H = suite_mod.get(name).hash
        t = compact_proof.compact(tproof, tx_hash, H)
        if t is None:
            continue
        r = compact_proof.compact(rproof, rleaf, H, compact_proof.position(tproof, tx_hash, H))
        if rleaf is not None and r is not None:
            return r, t
    return proofs


MAX_PIVOTS = 3  # pivots in one answer: each is a header and its changes (~2 KB), a frame is 8 KB
_sets = {}  # (node URL, block number) -> the header's (sealerList, consensusWeights): chain data never changes


def _set_of(rpc, n):
    key = (rpc.url, n)
    got = _sets.get(key)
    if got is None:
        if len(_sets) > 200000:
            _sets.clear()
        h = rpc("getBlockByNumber", n, True, True)
        got = _sets[key] = (tuple(h["sealerList"]), tuple(h["consensusWeights"]))
    return got


def set_changes_between(rpc, lo, hi):
    """Blocks P in [lo, hi) after which the sealer set differs (header P + 1 carries another set
    than header P), found by bisection on the headers' sets: O(changes * log(hi - lo)) headers.
    A change undone before hi within one halving step is not listed: it is not needed to bridge
    lo's set to hi's."""
    if hi <= lo or _set_of(rpc, lo) == _set_of(rpc, hi):
        return []
    if hi == lo + 1:
        return [lo]
    mid = (lo + hi) // 2
    return set_changes_between(rpc, lo, mid) + set_changes_between(rpc, mid, hi)


def _changes_wire(rpc, n):
    items = []
    for txj, rj in block_changes_json(rpc, n):
        tx = txread.from_json(txj)
        _settle_nonce(tx)
        items.append([wire.tx_to_wire(tx), merkle.from_json(txj, "txProof"),
                      relaywire.receipt_to_wire(rj), merkle.from_json(rj, "txReceiptProof")])
    return items


def pivots_answer(rpc, after, target):
    """The `pivots` payload (proto/link.md) for a device whose checkpoint is block `after`:
    every block between it and `target` whose sealer-set changes make the next header's set
    another, as [header, changes], then the changes of `target` itself (field 1). More than
    MAX_PIVOTS: the first ones and no field 1 (the device asks again after the last)."""
    if not (isinstance(after, int) and isinstance(target, int)) or not 0 <= after < target:
        raise LightmeterError("pivots: expected 0 <= after < target")
    found = set_changes_between(rpc, after + 1, target)
    out = {0: [[relaywire.header_to_wire(rpc("getBlockByNumber", p, True, True)), _changes_wire(rpc, p)]
               for p in found[:MAX_PIVOTS]]}
    if len(found) <= MAX_PIVOTS:
        out[1] = _changes_wire(rpc, target)
    return out


class Noise:
    """Line noise for fault tests: flips and drops bytes with probability rate each."""

    def __init__(self, rate, seed=1):
        self.rate, self.rng = rate, random.Random(seed)

    def __call__(self, data):
        if not self.rate:
            return data
        out = bytearray()
        for b in data:
            r = self.rng.random()
            if r < self.rate / 2:
                continue  # dropped
            if r < self.rate:
                b ^= 1 << self.rng.randrange(8)  # flipped
            out.append(b)
        return bytes(out)


class Port:
    """One device link: frames in, node calls, frames out."""

    def __init__(self, url, rpc, baud=115200, noise=0.0, log=print, handler=handle):
        self.url, self.rpc, self.log, self.handler = url, rpc, log, handler
        self.ser = serial.serial_for_url(url, baudrate=baud, timeout=0.05)
        self.deframer = frame.Deframer()
        self.noise = Noise(noise)
        self.stats = {"frames_in": 0, "frames_out": 0, "bytes_in": 0, "bytes_out": 0, "dropped": 0}
        self._unlogged = 0  # bytes read but not yet logged with a request (noise, dropped frames)
        self._answered = None  # the body of the request answered last
        self._stale = 0  # input bytes that were waiting when that answer was written

    async def serve(self):
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.run_in_executor(None, self.ser.read, 4096)
            if not data:
                continue
            data = self.noise(data)
            self.stats["bytes_in"] += len(data)
            self._unlogged += len(data)
            # bytes that were already waiting when the last answer went out: a copy of that
            # request among them is a resend the device made before the answer reached it
            stale = self._stale > 0
            self._stale = max(0, self._stale - len(data))
            bodies = self.deframer.feed(data)
            for i, body in enumerate(bodies):
                self.stats["frames_in"] += 1
                # the line bytes of this request: its own frame, and with the last frame of a read
                # whatever else the read held (a leading 0x00, noise), so the log sums to bytes_in
                wire = min(self._unlogged, len(frame.encode_frame(body)) + 1)
                if i == len(bodies) - 1:
                    wire = self._unlogged
                self._unlogged -= wire
                if body == self._answered and (stale or i):
                    self._skip(body, wire)
                    continue
                await self._answer(loop, body, wire)
            self.stats["dropped"] = self.deframer.dropped

    async def _answer(self, loop, body, wire=None):
        t0 = time.perf_counter()
        try:
            version, mtype, rid, payload = frame.unpack(body)
        except LightmeterError as e:
            self.log("%s: (%d B) dropped, a malformed request: %s" % (self.url, wire or len(body), e))
            return
        try:
            atype, answer = await loop.run_in_executor(None, self.handler, self.rpc, mtype, payload)
        except ConnectionError as e:
            atype, answer = L.ERROR, {0: L.E_NODE_UNREACHABLE, 1: str(e)}
        except NodeError as e:
            atype, answer = L.ERROR, {0: L.E_NODE_ERROR, 1: "%s %s" % (e.code, e)}
        except (LightmeterError, KeyError, TypeError, IndexError) as e:
            atype, answer = L.ERROR, {0: L.E_MALFORMED, 1: "malformed request: %s" % e}
        try:
            out = frame.encode_message(atype, rid, answer)
        except LightmeterError as e:  # e.g. an answer over the frame limit
            out = frame.encode_message(L.ERROR, rid, {0: L.E_NODE_ERROR, 1: str(e)})
        self.ser.write(self.noise(out))
        self._answered = body
        try:
            self._stale = self.ser.in_waiting
        except (AttributeError, OSError, serial.SerialException):
            self._stale = 0
        self.stats["frames_out"] += 1
        self.stats["bytes_out"] += len(out)
        # sizes are line bytes both ways (frames, COBS, CRC, delimiters), as a UART carries them
        self.log("%s: #%d type %d (%d B) -> type %d (%d B) in %.0f ms"
                 % (self.url, rid, mtype, wire or len(body), atype, len(out), (time.perf_counter() - t0) * 1000))

    def _skip(self, body, wire):
        """A resend of the request just answered, sent before that answer reached the device: the
        answer on its way serves it (a whole receipt answer again would only lengthen the queue).
        A device that lost the answer resends after its timeout, and that copy is answered."""
        self.stats["skipped"] = self.stats.get("skipped", 0) + 1
        try:
            _, mtype, rid, _ = frame.unpack(body)
        except LightmeterError:
            return
        self.log("%s: #%d type %d (%d B) skipped, answered meanwhile" % (self.url, rid, mtype, wire))


async def relay(urls, rpc_url, baud=115200, noise=0.0, log=None, handler=handle):
    """Serve every port until cancelled (handler: how a request is answered; tests swap it)."""
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    rpc = Rpc(rpc_url)
    ports = [Port(u, rpc, baud, noise, log, handler) for u in urls]
    log("relay: %d port(s) -> %s" % (len(ports), rpc_url))
    await asyncio.gather(*(p.serve() for p in ports))


def main(urls, rpc_url, baud=115200, noise=0.0):
    try:
        asyncio.run(relay(urls, rpc_url, baud, noise))
    except KeyboardInterrupt:
        pass
    return 0
