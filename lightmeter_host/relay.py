"""`lightmeter relay`: devices' serial links to a FISCO BCOS node's JSON-RPC.

One asyncio task per port (any pyserial URL: a device path, a pseudo-terminal,
socket://host:port, loop://). The relay keeps no state between requests: it
reads a frame, makes the JSON-RPC calls the request needs, answers, and logs
what it forwarded. It can be killed and restarted at any time; devices resend.
The device trusts none of what it forwards.
"""

import asyncio
import random
import sys
import time

import serial

from lightmeter.chain import fields, merkle, tx as tx_mod
from lightmeter.link import frame, session as L, wire
from lightmeter.errors import LightmeterError

from lightmeter_host.chain import txbuild
from lightmeter_host.chain.rpc import NodeError, Rpc

VERSION = "lightmeter-relay-0.1"


def handle(rpc, mtype, payload):
    """(answer type, answer payload) for one device request; blocking (node calls)."""
    if mtype == L.HELLO:
        return L.HELLO_ACK, {0: VERSION, 1: rpc("getBlockNumber")}
    if mtype == L.GET_TIME:
        return L.TIME, {0: int(time.time() * 1000)}
    if mtype == L.GET_BLOCK_NUMBER:
        return L.BLOCK_NUMBER, {0: rpc("getBlockNumber")}
    if mtype == L.GET_HEADER:
        return L.HEADER, wire.header_to_wire(rpc("getBlockByNumber", payload[0], True, True))
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
        return L.RECEIPT, {0: wire.receipt_to_wire(rc),
                           1: [bytes.fromhex(x) for x in rc["txReceiptProof"]],
                           2: [bytes.fromhex(x) for x in tx["txProof"]],
                           3: wire.header_to_wire(block)}
    if mtype == L.GET_CHANGES:
        from lightmeter_host.lightclient import syncsource
        items = []
        for txj, rj in syncsource.block_changes_json(rpc, payload[0]):
            items.append([wire.tx_to_wire(tx_mod.from_json(txj)), merkle.parse_proof(txj["txProof"]),
                          wire.receipt_to_wire(rj), merkle.parse_proof(rj["txReceiptProof"])])
        return L.CHANGES, {0: items}
    return L.ERROR, {0: L.E_UNKNOWN_TYPE, 1: "unknown message type %d" % mtype}


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

    async def serve(self):
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.run_in_executor(None, self.ser.read, 4096)
            if not data:
                continue
            data = self.noise(data)
            self.stats["bytes_in"] += len(data)
            for body in self.deframer.feed(data):
                self.stats["frames_in"] += 1
                await self._answer(loop, body)
            self.stats["dropped"] = self.deframer.dropped

    async def _answer(self, loop, body):
        t0 = time.perf_counter()
        try:
            version, mtype, rid, payload = frame.unpack(body)
        except LightmeterError as e:
            self.log("%s: dropped a malformed request: %s" % (self.url, e))
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
        self.stats["frames_out"] += 1
        self.stats["bytes_out"] += len(out)
        self.log("%s: #%d type %d (%d B) -> type %d (%d B) in %.0f ms"
                 % (self.url, rid, mtype, len(body), atype, len(out), (time.perf_counter() - t0) * 1000))


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
