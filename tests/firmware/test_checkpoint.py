"""The device's trust checkpoint (lightmeter.device.checkpoint): survives a power cut at every step of
a save, and never goes back to an older block."""

from lightmeter.device import checkpoint, store
from lightmeter.client import trust
from lightmeter.errors import Invalid
from support import raises
from test_store import ROOT, cut_everywhere

NODE = "11" * 64


def tr(number, weight=1):
    return trust.from_json({"chain_id": "chain0", "group_id": "group0", "crypto": "ecdsa",
                            "sealers": [{"node_id": NODE, "weight": weight}], "number": number,
                            "hash": "0x" + ("%02x" % number) * 32})


def test_save_load_round_trip_and_no_way_back():
    from test_store import PowerCutFs
    st = store.Store(ROOT, PowerCutFs())
    assert checkpoint.load(st) is None
    checkpoint.save(st, tr(5))
    assert checkpoint.load(st).to_json() == tr(5).to_json()
    checkpoint.save(st, tr(9, 2))
    raises(Invalid, checkpoint.save, st, tr(7))
    assert checkpoint.load(st).number == 9 and checkpoint.load(st).sealers[0][1] == 2


def test_power_cut_at_every_step_of_a_checkpoint_save():
    def setup(fs):
        checkpoint.save(store.Store(ROOT, fs), tr(100))

    def action(fs):
        checkpoint.save(store.Store(ROOT, fs), tr(200, 3))

    def check(fs, done, result):
        got = checkpoint.load(store.Store(ROOT, fs))
        assert got.number in (100, 200)
        assert got.to_json() == (tr(200, 3) if got.number == 200 else tr(100)).to_json()
        if done:
            assert got.number == 200
        raises(Invalid, checkpoint.save, store.Store(ROOT, fs), tr(99))
    assert cut_everywhere(setup, action, check) > 100


def test_another_block_at_the_same_height_is_a_conflict_not_a_replacement():
    from test_store import PowerCutFs
    st = store.Store(ROOT, PowerCutFs())
    checkpoint.save(st, tr(5))
    fork = tr(5)
    fork.hash = b"\x99" * 32
    e = raises(Invalid, checkpoint.save, st, fork)
    assert "conflict" in str(e) and checkpoint.load(st).hash == tr(5).hash
    checkpoint.save(st, tr(5, 2))  # the same block again (same hash) may be stored


def test_a_fork_over_an_unversioned_checkpoint_of_earlier_firmware_is_still_a_conflict():
    # the stored height is read from the blob's version without decoding the checkpoint; one
    # stored without a version is decoded to compare
    from test_store import PowerCutFs
    st = store.Store(ROOT, PowerCutFs())
    store.Blob(st, checkpoint.NAME).save(checkpoint.encode(tr(5)))
    fork = tr(5)
    fork.hash = b"\x99" * 32
    assert "conflict" in str(raises(Invalid, checkpoint.save, st, fork))
    checkpoint.save(st, tr(5))
    assert store.Blob(st, checkpoint.NAME).version() == 5 and checkpoint.load(st).hash == tr(5).hash


def _trust_json(n_sealers, number=None, timestamp=None):
    obj = {"chain_id": "chain0", "group_id": "group0", "crypto": "sm",
           "sealers": [{"node_id": ("%02x" % (i + 1)) * 64, "weight": i + 1} for i in range(n_sealers)]}
    if number is not None:
        obj["number"] = number
        obj["hash"] = "0x" + "ab" * 32
    if timestamp is not None:
        obj["timestamp"] = timestamp
    return obj


def test_binary_form_round_trips_and_is_smaller_than_the_json_text():
    import json
    for obj in (_trust_json(1), _trust_json(21, 7, 1700000000000), _trust_json(4, 0)):
        t = trust.from_json(obj)
        raw = checkpoint.encode(t)
        assert raw[:1] == b"\x88"  # a CBOR array of 8
        assert checkpoint.decode(raw).to_json() == t.to_json()
        assert len(raw) * 2 < len(json.dumps(t.to_json()))


def test_a_checkpoint_stored_as_json_text_by_earlier_firmware_still_loads_and_is_rewritten():
    import json
    from test_store import PowerCutFs
    st = store.Store(ROOT, PowerCutFs())
    old = trust.from_json(_trust_json(21, 5))
    # what checkpoint.save stored before the binary form
    store.Blob(st, checkpoint.NAME).save(json.dumps(old.to_json()).encode(), version=5)
    assert checkpoint.load(st).to_json() == old.to_json()
    raises(Invalid, checkpoint.save, st, tr(4))  # the JSON one's version still guards it
    new = trust.from_json(_trust_json(21, 6))
    checkpoint.save(st, new)
    raw = store.Blob(st, checkpoint.NAME).load()
    assert raw[:1] == b"\x88" and checkpoint.load(st).to_json() == new.to_json()


def test_a_stored_binary_checkpoint_that_breaks_a_trust_rule_is_refused_as_malformed():
    from lightmeter.errors import Malformed
    from lightmeter.link import cbor
    node = b"\x11" * 64
    good = [1, "chain0", "group0", "ecdsa", [node, 1], 5, b"\x05" * 32, None]
    assert checkpoint.decode(cbor.dumps(good)).number == 5
    bad = [
        [2] + good[1:],  # another format
        good[:7],  # 7 items
        good[:4] + [[node]] + good[5:],  # a node without its weight
        good[:4] + [[node.hex(), 1]] + good[5:],  # a node id as text
        good[:4] + [[node[:63], 1]] + good[5:],  # 63 bytes
        good[:4] + [[node, 0]] + good[5:],  # weight 0
        good[:4] + [[node, 1, node, 1]] + good[5:],  # twice
        good[:4] + [[]] + good[5:],  # no sealer
        good[:3] + ["rsa"] + good[4:],
        good[:1] + [""] + good[2:],
        good[:6] + ["05" * 32, None],  # hash as text
        good[:5] + [None] + good[6:],  # a hash without a number
        good[:7] + [-1],
    ]
    for a in bad:
        raises(Malformed, checkpoint.decode, cbor.dumps(a))
    for raw in (b"", b"\x00", b"\x88", b"{", b"{\"chain_id\": 1}", cbor.dumps({0: 1})):
        raises(Malformed, checkpoint.decode, raw)
