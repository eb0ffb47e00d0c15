"""Skipping verification over the relay's pivots, and the trusting period (docs/light-client.md,
"Skipping verification and the trusting period"; proto/link.md `get_pivots`).

The chain: set A (4 sealers) up to block 5; block 5 adds three new sealers and removes three of
A's, so from block 6 the set is A' = {a0, b0, b1, b2} and {a1, a2, a3}, a quorum of A, is a removed
quorum. Each hostile relay ends in a typed rejection and the device's stored checkpoint stays as
it was: the device stores one only after the target and its changes verified (device/app.py).
"""

from lightmeter.chain import abi, receipt, tx as tx_mod
from lightmeter.chain import merklebuild
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import sync, transition, trust as trust_mod
from lightmeter.device import checkpoint, store as store_mod
from lightmeter.errors import Invalid
from chainmaker import sealers, signed_header, trust_json
from support import raises

S = "ecdsa"
T0 = 1700000000000
DAY = 24 * 3600 * 1000
PERIOD = 14 * DAY
SENDER = b"\x42" * 32


def _nodes():
    p = sealers(S, 7, b"pivots")
    return p[:4], p[4:]


def _hex(node):
    return "".join("%02x" % b for b in node)


def _change_block(nodes, number, calls, parent, timestamp, signers=None):
    s = suite_mod.get(S)
    txs, rcs = [], []
    for i, data in enumerate(calls):
        t = tx_mod.defaults()
        t.update(chainID=b"chain0", groupID=b"group0", blockLimit=number + 10, nonce=bytes([0x70, i]),
                 to=transition.CONSENSUS_ADDRESS, input=data)
        t["signature"] = s.sign_tx(SENDER, tx_mod.tx_hash(t, s))
        txs.append(t)
        rcs.append(receipt.from_json({"version": 0, "gasUsed": "21000", "contractAddress": "", "status": 0,
                                      "output": "0x", "logEntries": [], "blockNumber": number}))
    th = [tx_mod.tx_hash(t, s) for t in txs]
    rh = [r.hash(s) for r in rcs]
    _, h = signed_header(S, nodes, number, signers, None, parent, txs_root=merklebuild.root(th, s.hash),
                         receipts_root=merklebuild.root(rh, s.hash), timestamp=timestamp)
    return h, [(txs[i], merklebuild.proof(th, i, s.hash), rcs[i], merklebuild.proof(rh, i, s.hash)) for i in range(len(txs))]


def world():
    """(checkpoint at 4 under A, pivot (header 5, its changes), target header 9 under A', A, A')."""
    s = suite_mod.get(S)
    a, b = _nodes()
    calls = [abi.encode_call("addSealer(string,uint256)", [_hex(n), 1], s.hash) for n, _ in b]
    calls += [abi.encode_call("remove(string)", [_hex(n)], s.hash) for n, _ in a[1:]]
    h5, ch5 = _change_block(a, 5, calls, bytes(range(32)), T0 + 5000)
    a2 = sorted([a[0]] + b)
    _, h9 = signed_header(S, a2, 9, None, None, b"\x09" * 32, timestamp=T0 + 9000)
    t = trust_mod.from_json(trust_json(S, a, None, 4, bytes(range(32))))
    t.timestamp = T0 + 4000
    return t, (h5, ch5), h9, a, a2


def device_step(st, trust, pivots, target, target_changes, now=None, period=PERIOD):
    """What the device does with a receipt's header (device/app.py, skipping): freshness, pivots,
    the target under the derived set, its changes, and only then the stored checkpoint."""
    s = suite_mod.get(S)
    sync.check_fresh(trust, target.timestamp, now, period)
    under = sync.follow_pivots(trust, s, pivots, target)
    transition.verify.verify_header(target, under, s)
    new = transition.apply_set_changes(under, target, target_changes, s)
    checkpoint.save(st, new)
    return new


def stored(st):
    return checkpoint.load(st).to_json()


def fresh_store(trust):
    # An in-memory flash (test_store.PowerCutFs, never cut here): the same on every runtime and
    # board, with no folder of the host's or the board's to clean up.
    from test_store import PowerCutFs, ROOT
    st = store_mod.Store(ROOT, PowerCutFs())
    checkpoint.save(st, trust)
    return st


def test_one_pivot_bridges_a_set_change_and_moves_the_checkpoint_to_the_target():
    t, pivot, h9, a, a2 = world()
    st = fresh_store(t)
    new = device_step(st, t, [pivot], h9, [])
    assert new.number == 9 and new.timestamp == T0 + 9000
    assert [n for n, _ in new.sealers] == [n for n, _ in a2]
    assert stored(st) == new.to_json()


def test_a_quiet_reading_needs_no_pivot():
    t, _, _, a, _ = world()
    _, h7 = signed_header(S, a, 7, None, None, b"\x07" * 32, timestamp=T0 + 7000)
    st = fresh_store(t)
    assert device_step(st, t, [], h7, []).number == 7


def _refused(exc, t, pivots, target, **kw):
    st = fresh_store(t)
    before = stored(st)
    e = raises(exc, device_step, st, t, pivots, target, [], **kw)
    assert isinstance(e, Invalid)
    assert stored(st) == before, "the stored checkpoint moved"
    return e


def test_a_relay_that_hides_the_set_change_is_refused():
    t, _, h9, _, _ = world()
    _refused(sync.SetMismatch, t, [], h9)  # withheld pivots: the same answer


def test_a_pivot_without_its_changes_is_refused():
    t, (h5, _), h9, _, _ = world()
    _refused(sync.BadPivot, t, [(h5, [])], h9)


def test_a_replayed_pivot_is_refused():
    t, pivot, h9, a, a2 = world()
    s = suite_mod.get(S)
    after5 = transition.apply_set_changes(t, pivot[0], pivot[1], s)
    _refused(sync.BadPivot, after5, [pivot], h9)  # at the checkpoint itself
    _refused(sync.BadPivot, t, [pivot, pivot], h9)  # twice


def test_a_fork_header_signed_by_the_removed_quorum_is_refused():
    t, pivot, h9, a, a2 = world()
    s = suite_mod.get(S)
    after5 = transition.apply_set_changes(t, pivot[0], pivot[1], s)
    # a1, a2, a3 (a quorum of A, all removed in block 5) sign a block 9 of another fork, with A's set
    _, fork9 = signed_header(S, a, 9, [1, 2, 3], None, b"\xf0" * 32, timestamp=T0 + 9000)
    _refused(sync.SetMismatch, after5, [], fork9)
    # offered as a pivot in front of a later target
    _, h12 = signed_header(S, a2, 12, None, None, b"\x0c" * 32, timestamp=T0 + 12000)
    _refused(sync.SetMismatch, after5, [(fork9, pivot[1])], h12)
    # or in place of the real pivot, with the real changes: its roots do not hold them
    fork5, _ = _change_block(a, 5, [b"\x00"], b"\xf5" * 32, T0 + 5000, [1, 2, 3])
    _refused(Invalid, t, [(fork5, pivot[1])], h9)


def test_a_checkpoint_era_header_after_the_trusting_period_is_refused():
    t, _, _, a, _ = world()
    # the removed quorum's fork header, as old as its set: the period is over by the header's time
    _, late = signed_header(S, a, 9, [1, 2, 3], None, b"\xf0" * 32, timestamp=t.timestamp + PERIOD)
    _refused(sync.TrustExpired, t, [], late)
    # it claims an early time, but the device's clock says the period is over
    _, early = signed_header(S, a, 9, [1, 2, 3], None, b"\xf0" * 32, timestamp=t.timestamp + 1000)
    _refused(sync.TrustExpired, t, [], early, now=t.timestamp + PERIOD + 1)
    # the same header within the period and with no clock is what the 1/3 assumption rules out
    st = fresh_store(t)
    assert device_step(st, t, [], early, []).number == 9


def test_a_checkpoint_without_a_timestamp_is_not_used_to_skip():
    t, pivot, h9, _, _ = world()
    t.timestamp = None
    _refused(sync.TrustExpired, t, [pivot], h9)


def test_trust_json_keeps_the_timestamp():
    t, _, _, _, _ = world()
    back = trust_mod.from_json(t.to_json())
    assert back.timestamp == T0 + 4000
    assert "timestamp" not in trust_mod.from_json(trust_json(S, _nodes()[0])).to_json()
