"""A chain for the collector's tests: the local node with fleet devices signing record() calls.

FleetChain builds blocks on a Chain the way devices fill it (each block: transactions signed on
the host with the device's encoding, lightmeter.device.reading.encode + abi.encode_call, admitted as
Tars bytes, then sealed) and serves it with NodeServer. `lie(method, fn)` makes the node answer
method with fn(real handler, *params); `restore()` makes it honest again.

The standard script (STANDARD) holds every case the collector must tell apart:
  block 1  m0 s1, m1 s1, m2 (key a) s1
  block 2  m0 s2, m1 s2, m2a s2, a device not in the fleet s1            -> unknown_device
  block 3  addSealer (a fifth sealer from block 4), m0 s4                  -> gap m0 2..4
           m2 (key b) s1 with m2a's very bytes                            -> replay
  block 4  m2b s2, other bytes than m2a's s2                               -> duplicate
           m1 s3 whose reading names meter m0                              -> wrong_meter
           m0 s2 again (MeterRegistry reverts: seq not above last)         -> reverted
  block 5  m1 s4 bytes that are no reading                                 -> malformed
           m0 s5, m1 s5                                                    -> gap m1 2..5
Good readings: 9; rejected 5 (+ duplicates 2); gaps 2.
"""

import hashlib

from lightmeter.chain import abi, fields
from lightmeter.device import reading
from lightmeter.crypto import suite as suite_mod
from lightmeter_host.collector import db as db_mod, reverify
from lightmeter_host.hardware import fleet
from lightmeter_host.chain import txbuild
from lightmeter_host.node import consensus, registry
from lightmeter_host.node.chain import Chain
from lightmeter_host.node.server import NodeServer

from nodeutil import LyingNode

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def key(label):
    return hashlib.sha256(b"collector-test:" + label.encode()).digest()


def reading_bytes(meter, seq, crypto, value=None, unit="kWh", scale=-3, clock=0, t=None, status=0):
    m = {reading.METER_ID: meter, reading.FIRMWARE: "lightmeter-0.1", reading.SEQ: seq,
         reading.TIME: T0 + 60_000 * seq if t is None else t, reading.CLOCK: clock, reading.OBIS: "1-0:1.8.0",
         reading.VALUE: 1_000_000 + 1234 * seq if value is None else value, reading.SCALE: scale,
         reading.UNIT: unit, reading.STATUS: status, reading.SUITE: crypto}
    return reading.encode(m)


class FleetChain(LyingNode):
    def __init__(self, crypto="ecdsa", seed=b"collector", release=None):
        self.crypto = crypto
        self.suite = suite_mod.get(crypto)
        self.chain = Chain(crypto=crypto, seed=seed, release=release)
        self.genesis = {"chain_id": "chain0", "group_id": "group0", "crypto": crypto,
                        "sealers": [{"node_id": n.hex(), "weight": w} for n, w in self.chain.sealer_list()],
                        "number": 0, "hash": "0x" + self.chain.hashes[0].hex()}
        self.keys = {}
        self.entries = []
        self.nonce = 0
        self.srv = NodeServer(self.chain, "127.0.0.1", 0).start()
        self._keep_honest()

    def device(self, name, meter, in_fleet=True):
        k = key(self.crypto + name)
        pub = self.suite.public_key(k)
        self.keys[name] = k
        entry = fleet.check({"meter_id": meter, "address": fields.hex0x(self.suite.address(pub)),
                             "public_key": fields.hex0x(pub), "suite": self.crypto, "board": "virtual",
                             "chain_id": "chain0", "group_id": "group0",
                             "registry": fields.hex0x(registry.ADDRESS),
                             "provisioned_at": "2026-01-01T00:00:00Z"})
        if in_fleet:
            self.entries.append(entry)
        return entry

    def _tx(self, priv, to, data):
        self.nonce += 1
        # nodes before v3.3.0 take a decimal u256 nonce only
        nonce = str(1000 + self.nonce) if self.chain.release.decimal_nonce else "t-%d" % self.nonce
        tx = txbuild.make("chain0", "group0", self.chain.height() + 100, nonce, to, data)
        return txbuild.sign(tx, self.crypto, priv)[1]

    def record(self, name, seq, data):
        return self._tx(self.keys[name], registry.ADDRESS,
                        abi.encode_call("record(uint64,bytes)", [seq, data], self.suite.hash))

    def add_sealer(self):
        new = sorted(n for n in self.chain.keys if n not in dict(self.chain.sealer_list()))[0]
        return self._tx(key("admin"), consensus.ADDRESS,
                        abi.encode_call("addSealer(string,uint256)", [new.hex(), 1], self.suite.hash))

    def block(self, raws):
        """Seal one block of these Tars transactions; its number."""
        with self.chain.lock:
            for raw in raws:
                self.chain.admit(raw)
            return self.chain.seal()

    def standard(self):
        """Build the STANDARD script (module docstring); returns self."""
        c = self.crypto
        for name, meter in (("d0", "m0"), ("d1", "m1"), ("d2a", "m2"), ("d2b", "m2")):
            self.device(name, meter)
        self.device("stranger", "m9", in_fleet=False)
        r = {(m, s): reading_bytes(m, s, c) for m in ("m0", "m1", "m2") for s in range(1, 6)}
        self.block([self.record("d0", 1, r["m0", 1]), self.record("d1", 1, r["m1", 1]),
                    self.record("d2a", 1, r["m2", 1])])
        self.block([self.record("d0", 2, r["m0", 2]), self.record("d1", 2, r["m1", 2]),
                    self.record("d2a", 2, r["m2", 2]), self.record("stranger", 1, reading_bytes("m9", 1, c))])
        self.block([self.add_sealer(), self.record("d0", 4, r["m0", 4]), self.record("d2b", 1, r["m2", 1])])
        self.block([self.record("d2b", 2, reading_bytes("m2", 2, c, value=5)),
                    self.record("d1", 3, reading_bytes("m0", 3, c)), self.record("d0", 2, r["m0", 2])])
        self.block([self.record("d1", 4, b"\x01not a reading"), self.record("d0", 5, r["m0", 5]),
                    self.record("d1", 5, r["m1", 5])])
        return self

    def steady(self, blocks):
        """After standard(): `blocks` more blocks, each with the next reading of m0, m1 and m2 (d2a);
        returns the good (meter, seq) pairs they add."""
        last = {"m0": 5, "m1": 5, "m2": 2}
        signer = {"m0": "d0", "m1": "d1", "m2": "d2a"}
        good = set()
        for _ in range(blocks):
            raws = []
            for meter in ("m0", "m1", "m2"):
                last[meter] += 1
                raws.append(self.record(signer[meter], last[meter], reading_bytes(meter, last[meter], self.crypto)))
                good.add((meter, last[meter]))
            self.block(raws)
        return good


STANDARD_GOOD = {("m0", 1), ("m0", 2), ("m0", 4), ("m0", 5), ("m1", 1), ("m1", 2), ("m1", 5), ("m2", 1), ("m2", 2)}
STANDARD_REJECTED = {"unknown_device": 1, "wrong_meter": 1, "reverted": 1, "malformed": 1}
STANDARD_DUPLICATES = {"replay": 1, "duplicate": 1}
STANDARD_GAPS = {("m0", 2, 4), ("m1", 2, 5)}


def reverified(url):
    """`collector verify`'s report on the database at url, from its stored evidence alone."""
    d = db_mod.open_db(url)
    try:
        return reverify.verify_db(d)
    finally:
        d.close()


def counted_totals(url):
    """The fleet's totals counted row by row in Python from every table, past the kept ones
    (db.TOTALS), and the meters a whole-table walk finds; for tests to hold the kept ones to."""
    d = db_mod.open_db(url)
    try:
        readings = d.query("SELECT meter_id, verified FROM readings")
        rejections = d.query("SELECT meter_id, kind FROM rejections")
        named = [r for r in rejections if r["meter_id"] is not None]
        dups = [r for r in named if r["kind"] in ("duplicate", "replay")]
        meters = {m["meter_id"] for m in d.meters()}
        return {"meters": len(meters), "readings": len(readings),
                "verified": sum(1 for r in readings if r["verified"]), "rejected": len(named) - len(dups),
                "duplicates": len(dups), "gaps": len(d.query("SELECT id FROM gaps")),
                "problems": len(rejections) - len(named)}, meters
    finally:
        d.close()


def assert_totals_kept(url):
    """The kept totals and the meters table agree with the rows themselves."""
    want, meters = counted_totals(url)
    d = db_mod.open_db(url)
    try:
        assert d.totals() == want
        assert {r["meter_id"] for r in d.query("SELECT meter_id FROM meters")} == meters
    finally:
        d.close()
