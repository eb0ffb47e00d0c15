"""Provisioning on the device (lightmeter.device.provision, lightmeter.device.devkey).

The rules: config and trust are checked before anything is written; both files are replaced
atomically (no .tmp left); the key is made on the device by rejection sampling over the curve's
range, kept on re-provisioning and replaced only when asked; what comes back is the public key and
the address that derives from it; a checkpoint the device kept for another chain is dropped.
Randomness comes from a deterministic source here (the WebAssembly port has no os.urandom).
"""

import json
import os

from lightmeter.device import checkpoint, devkey, provision, store as store_mod
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import trust as trust_mod
from lightmeter.errors import Invalid, Malformed
from support import raises, unhex
from test_store import cleanup as done, fresh_dir

REGISTRY = "0x" + "11" * 20
SEALERS = [{"node_id": "%02x" % i * 64, "weight": 1} for i in (1, 2, 3, 4)]


def trust_text(chain="chain0", crypto="ecdsa", number=None):
    t = {"chain_id": chain, "group_id": "group0", "crypto": crypto, "sealers": SEALERS}
    if number is not None:
        t["number"] = number
        t["hash"] = "0x" + "ab" * 32
    return json.dumps(t).encode()


def config_text(**over):
    c = {"meter_id": "MTR-1", "registry": REGISTRY, "meter": {"driver": "simulated"}}
    c.update(over)
    return json.dumps(c).encode()


class Source:
    """Deterministic 'entropy': the given blocks first, then distinct valid-looking ones."""

    def __init__(self, first=()):
        self.first = list(first)
        self.calls = 0

    def __call__(self, n):
        self.calls += 1
        if self.first:
            return self.first.pop(0)
        return bytes([self.calls & 0xFF]) * (n - 1) + b"\x01"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_run_installs_config_and_trust_and_makes_a_key_whose_address_comes_back():
    root = fresh_dir()
    try:
        got = provision.run(root, config_text(), trust_text(), rand=Source())
        assert got["created"] is True and got["suite"] == "ecdsa"
        assert json.loads(read(root + "/config.json"))["meter_id"] == "MTR-1"
        assert trust_mod.from_json(json.loads(read(root + "/trust.json"))).chain_id == "chain0"
        store = store_mod.Store(root)
        key = store_mod.Blob(store, devkey.KEY).load()
        s = suite_mod.get("ecdsa")
        pub = s.public_key(key)
        assert got["public_key"] == "0x" + "".join("%02x" % b for b in pub)
        assert unhex(got["address"]) == s.address(pub)
        assert store_mod.Blob(store, devkey.PUBLIC).load() == pub
        assert "config.json.tmp" not in os.listdir(root) and "trust.json.tmp" not in os.listdir(root)
    finally:
        done(root)


def test_reprovisioning_keeps_the_key_and_new_key_replaces_it():
    root = fresh_dir()
    try:
        first = provision.run(root, config_text(), trust_text(), rand=Source())
        again = provision.run(root, config_text(meter_id="MTR-2"), trust_text(), rand=Source([b"\x07" * 32]))
        assert again["created"] is False and again["address"] == first["address"]
        assert json.loads(read(root + "/config.json"))["meter_id"] == "MTR-2"
        fresh = provision.run(root, config_text(), trust_text(), new_key=True, rand=Source([b"\x07" * 32]))
        assert fresh["created"] is True and fresh["address"] != first["address"]
        key = store_mod.Blob(store_mod.Store(root), devkey.KEY).load()
        assert key == b"\x07" * 32
    finally:
        done(root)


def test_key_draws_outside_the_curve_range_are_rejected_not_reduced():
    s = suite_mod.get("ecdsa")
    n = s._curve.CURVE.n
    zero = bytes(32)
    too_big = (n - 1).to_bytes(32, "big")  # the device rule keeps keys in 1 .. n-2
    good = (12345).to_bytes(32, "big")
    root = fresh_dir()
    try:
        src = Source([zero, too_big, b"\xff" * 32, good])
        key, pub, created = devkey.ensure(store_mod.Store(root), s, rand=src)
        assert created and key == good and src.calls == 4 and pub == s.public_key(good)
    finally:
        done(root)


def test_sm_suite_key_and_address():
    root = fresh_dir()
    try:
        got = provision.run(root, config_text(), trust_text(crypto="sm"), rand=Source())
        s = suite_mod.get("sm")
        key = store_mod.Blob(store_mod.Store(root), devkey.KEY).load()
        assert got["suite"] == "sm" and unhex(got["address"]) == s.address(s.public_key(key))
    finally:
        done(root)


def test_a_bad_trust_or_config_writes_nothing():
    root = fresh_dir()
    try:
        bad_trusts = (b"{", json.dumps({"chain_id": "c"}).encode(),
                      trust_text().replace(b'"ecdsa"', b'"rsa"'))
        for bad in bad_trusts:
            raises((Malformed, ValueError), provision.run, root, config_text(), bad, False, Source())
        bad_configs = (config_text(meter_id=""), config_text(registry="0x1234"),
                       config_text(registry="11" * 20), config_text(meter="simulated"), b"[1]")
        for bad in bad_configs:
            raises(Malformed, provision.run, root, bad, trust_text(), False, Source())
        try:
            names = os.listdir(root)
        except OSError:
            names = []
        assert names == []
    finally:
        done(root)


def test_a_stored_key_that_is_not_a_key_is_refused():
    root = fresh_dir()
    try:
        store = store_mod.Store(root)
        store_mod.Blob(store, devkey.KEY).save(b"\x00" * 32)
        raises(Invalid, devkey.ensure, store, suite_mod.get("ecdsa"), False, Source())
        key, _, created = devkey.ensure(store, suite_mod.get("ecdsa"), True, Source())
        assert created and key != b"\x00" * 32
    finally:
        done(root)


def test_a_checkpoint_kept_for_another_chain_is_dropped_a_newer_one_for_this_chain_kept():
    root = fresh_dir()
    try:
        store = store_mod.Store(root)
        checkpoint.save(store, trust_mod.from_json(json.loads(trust_text("other", number=9))))
        provision.run(root, config_text(), trust_text("chain0"), rand=Source())
        assert checkpoint.load(store) is None
        checkpoint.save(store, trust_mod.from_json(json.loads(trust_text("chain0", number=9))))
        provision.run(root, config_text(), trust_text("chain0"), rand=Source())
        assert checkpoint.load(store).number == 9
    finally:
        done(root)


def test_put_replaces_a_file_whole():
    root = fresh_dir()
    try:
        os.mkdir(root)
        provision.put(root + "/f", b"old")
        provision.put(root + "/f", b"new contents")
        assert read(root + "/f") == b"new contents" and os.listdir(root) == ["f"]
    finally:
        done(root)
