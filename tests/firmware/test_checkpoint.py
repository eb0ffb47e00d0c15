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
