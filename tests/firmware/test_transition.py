"""Sealer-set transitions: strict (proven consensus-precompile txs) and skipping (>1/3 overlap).

Chains are built here: headers by chainmaker, transactions signed with the suite,
receipts from JSON, roots and proofs from lightmeter.chain.merkle.
"""

from lightmeter.chain import abi
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import transition, trust as trust_mod, verify
from lightmeter.errors import Invalid
from chainmaker import PARENT, block, sealers, signed_header, trust_json
from support import raises

S = "ecdsa"
OTHER = b"0000000000000000000000000000000000002001"  # not the precompile


def pool(name=S):
    return sealers(name, 7, b"transition")


def make_trust(name, nodes, weights=None, number=4, hash=PARENT):
    return trust_mod.from_json(trust_json(name, nodes, weights, number, hash))


def call(name, sig, args):
    return abi.encode_call(sig, args, suite_mod.get(name).hash)


def node_hex(node):
    return "".join("%02x" % b for b in node)


def after(name, nodes, calls, weights=None, **kw):
    """Verify the block under the trust of nodes and apply its changes; the new Trust."""
    s = suite_mod.get(name)
    t = make_trust(name, nodes, weights)
    h, items = block(name, nodes, calls, weights=weights, **kw)
    transition.verify.verify_header(h, t, s)
    return transition.apply_set_changes(t, h, items, s), h


def sealer_set(t):
    return [(n, w) for n, w in t.sealers]


def test_add_sealer_effective_from_the_next_block():
    p = pool()
    old = p[:4]
    new = p[4]
    t, h = after(S, old, [call(S, "addSealer(string,uint256)", [node_hex(new[0]), 2])])
    s = suite_mod.get(S)
    assert t.number == 5 and t.hash == h.hash(s)
    want = sorted([(n, 1) for n, _ in old] + [(new[0], 2)])
    assert sealer_set(t) == want
    assert not transition.header_set_matches(t, h)
    # header 6 carries the new set, is signed by it, links to 5 and verifies strictly
    nodes = sorted(old + [new])
    weights = [w for _, w in want]
    _, h6 = signed_header(S, nodes, 6, None, weights, h.hash(s))
    assert transition.header_set_matches(t, h6)
    res = transition.verify_next(t, h6, s)
    assert res.weight == 6 and res.quorum == 5
    # and the old trust refuses it
    assert "sealer list" in str(raises(Invalid, transition.verify.verify_header, h6, make_trust(S, old), s))


def test_remove_sealer():
    p = pool()
    old = p[:4]
    t, _ = after(S, old, [call(S, "remove(string)", [node_hex(old[1][0])])])
    assert sealer_set(t) == [(n, 1) for n, _ in old if n != old[1][0]]


def test_add_observer_drops_a_sealer():
    p = pool()
    old = p[:4]
    t, _ = after(S, old, [call(S, "addObserver(string)", [node_hex(old[0][0])])])
    assert sealer_set(t) == [(n, 1) for n, _ in old[1:]]


def test_set_weight():
    p = pool()
    old = p[:4]
    t, _ = after(S, old, [call(S, "setWeight(string,uint256)", [node_hex(old[2][0]), 5])],
                 weights=[1, 2, 1, 1])
    assert [w for _, w in t.sealers] == [1, 2, 5, 1]
    assert t.total_weight() == 9


def test_set_weight_of_a_non_sealer_refused():
    p = pool()
    e = raises(Invalid, after, S, p[:4], [call(S, "setWeight(string,uint256)", [node_hex(p[5][0]), 3])])
    assert "not a sealer" in str(e)


def test_several_changes_in_one_block_apply_in_order():
    p = pool()
    old = p[:4]
    a, b = p[4][0], p[5][0]
    calls = [
        call(S, "addSealer(string,uint256)", [node_hex(a), 1]),
        call(S, "setWeight(string,uint256)", [node_hex(a), 3]),  # needs the add before it
        call(S, "remove(string)", [node_hex(old[0][0])]),
        call(S, "addSealer(string,uint256)", [node_hex(b), 1]),
        call(S, "addObserver(string)", [node_hex(b)]),
    ]
    t, _ = after(S, old, calls)
    assert sealer_set(t) == sorted([(n, 1) for n, _ in old[1:]] + [(a, 3)])
    # out of order (or the same change twice) is refused
    s = suite_mod.get(S)
    tr = make_trust(S, old)
    h, items = block(S, old, calls)
    e = raises(Invalid, transition.apply_set_changes, tr, h, [items[2], items[0]], s)
    assert "not after" in str(e)
    e = raises(Invalid, transition.apply_set_changes, tr, h, [items[0], items[0]], s)
    assert "not after" in str(e)


def test_changes_around_other_transactions():
    p = pool()
    old = p[:4]
    s = suite_mod.get(S)
    calls = [call(S, "remove(string)", [node_hex(old[3][0])]), b"\x12\x34\x56\x78",
             call(S, "remove(string)", [node_hex(old[2][0])])]
    tr = make_trust(S, old)
    h, items = block(S, old, calls, tos=[transition.CONSENSUS_ADDRESS, OTHER, transition.CONSENSUS_ADDRESS])
    t = transition.apply_set_changes(tr, h, [items[0], items[2]], s)
    assert sealer_set(t) == [(n, 1) for n, _ in old[:2]]
    e = raises(Invalid, transition.apply_set_changes, tr, h, items, s)
    assert "not the consensus precompile" in str(e)


def test_no_changes_moves_the_checkpoint_only():
    p = pool()
    old = p[:4]
    s = suite_mod.get(S)
    tr = make_trust(S, old)
    h, _ = block(S, old, [b"\x00\x00\x00\x01"], tos=[OTHER])
    t = transition.apply_set_changes(tr, h, [], s)
    assert sealer_set(t) == sealer_set(tr) and t.number == 5 and t.hash == h.hash(s)


def test_failed_change_refused():
    p = pool()
    e = raises(Invalid, after, S, p[:4], [call(S, "remove(string)", [node_hex(p[0][0])])], statuses=[15])
    assert "status 15" in str(e)


def test_change_to_another_address_refused():
    p = pool()
    e = raises(Invalid, after, S, p[:4], [call(S, "remove(string)", [node_hex(p[0][0])])], tos=[OTHER])
    assert "not the consensus precompile" in str(e)


def test_unknown_method_refused():
    p = pool()
    e = raises(Invalid, after, S, p[:4], [call(S, "setTermWeight(string,uint256)", [node_hex(p[0][0]), 1])])
    assert "not a known consensus precompile method" in str(e)


def test_zero_weight_and_bad_node_id_refused():
    p = pool()
    e = raises(Invalid, after, S, p[:4], [call(S, "addSealer(string,uint256)", [node_hex(p[5][0]), 0])])
    assert "weight 0" in str(e)
    e = raises(Invalid, after, S, p[:4], [call(S, "remove(string)", ["0x" + node_hex(p[0][0])])])
    assert "does not decode" in str(e)


def test_empty_result_refused():
    p = pool()
    one = p[:1]
    e = raises(Invalid, after, S, one, [call(S, "remove(string)", [node_hex(one[0][0])])])
    assert "no sealer" in str(e)


def test_change_proven_into_another_block_refused():
    p = pool()
    old = p[:4]
    s = suite_mod.get(S)
    tr = make_trust(S, old)
    forged = call(S, "remove(string)", [node_hex(old[0][0])])
    # the header's block holds an ordinary transaction; the change comes from another tree
    h, _ = block(S, old, [b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"], tos=[OTHER, OTHER])
    _, items = block(S, old, [forged, b"\x00\x00\x00\x02"], tos=[transition.CONSENSUS_ADDRESS, OTHER])
    e = raises(Invalid, transition.apply_set_changes, tr, h, [items[0]], s)
    assert "proof" in str(e)
    # a receipt for another block number
    h2, items2 = block(S, old, [forged], number=6, parent=PARENT)
    e = raises(Invalid, transition.apply_set_changes, tr, h, [items2[0]], s)
    assert "change 0" in str(e)


def test_receipt_at_another_position_refused():
    p = pool()
    old = p[:4]
    s = suite_mod.get(S)
    tr = make_trust(S, old)
    calls = [call(S, "remove(string)", [node_hex(old[0][0])]), call(S, "remove(string)", [node_hex(old[1][0])])]
    h, items = block(S, old, calls)
    mixed = (items[0][0], items[0][1], items[1][2], items[1][3])
    e = raises(Invalid, transition.apply_set_changes, tr, h, [mixed], s)
    assert "position" in str(e)


def test_header_outside_the_trusted_set_refused():
    p = pool()
    s = suite_mod.get(S)
    h, items = block(S, p[1:5], [call(S, "remove(string)", [node_hex(p[1][0])])])
    e = raises(Invalid, transition.apply_set_changes, make_trust(S, p[:4]), h, items, s)
    assert "not the trusted set" in str(e)


def test_sm_suite_add_sealer():
    name = "sm"
    p = sealers(name, 5, b"transition")
    t, _ = after(name, p[:4], [call(name, "addSealer(string,uint256)", [node_hex(p[4][0]), 1])])
    assert sealer_set(t) == [(n, 1) for n, _ in p]


# -- skipping ---------------------------------------------------------------------------

def skip_header(nodes, signers, weights=None, number=9):
    return signed_header(S, nodes, number, signers, weights)[1]


def test_skip_accepts_more_than_a_third_of_trusted_weight():
    p = pool()
    s = suite_mod.get(S)
    tr = make_trust(S, p[:4])  # A B C D, total 4
    nodes = p[2:6]  # C D E F
    h = skip_header(nodes, [0, 1, 2])  # C D E: quorum 3 of 4, trusted 2 of 4
    res = transition.verify_skip(tr, h, s)
    assert res.trusted_weight == 2 and res.trusted_total == 4 and res.weight == 3 and res.quorum == 3
    assert res.trust.number == 9 and res.trust.hash == h.hash(s)
    assert sealer_set(res.trust) == [(n, 1) for n, _ in nodes]
    assert transition.header_set_matches(res.trust, h)


def test_skip_keeps_one_copy_of_a_node_id_both_sets_hold():
    # the header's copies of the ids the checkpoint holds are replaced by the checkpoint's (equal)
    # bytes before any signature is checked; ids only the header holds stay its own
    p = pool()
    s = suite_mod.get(S)
    tr = make_trust(S, p[:4])
    h = skip_header(p[2:6], [0, 1, 2])
    before = [bytes(n) for n in h.sealer_list]
    res = transition.verify_skip(tr, h, s)
    held = [n for n, _ in tr.sealers]
    assert h.sealer_list == before
    assert [any(n is t for t in held) for n in h.sealer_list] == [True, True, False, False]
    assert [n for n, _ in res.trust.sealers] == before and res.trust.hash == h.hash(s)


def test_skip_refuses_a_third_or_less():
    p = pool()
    s = suite_mod.get(S)
    tr = make_trust(S, p[:4])
    h = skip_header(p[3:7], [0, 1, 2])  # D E F G: only D is trusted, 1 of 4
    e = raises(Invalid, transition.verify_skip, tr, h, s)
    assert "trusted signers hold 1 of total 4, need more than a third" in str(e)
    # exactly one third is not enough
    tr3 = make_trust(S, p[:3])  # A B C, total 3
    h = skip_header(p[2:5], [0, 1, 2])  # C D E
    e = raises(Invalid, transition.verify_skip, tr3, h, s)
    assert "1 of total 3" in str(e)
    # overlap counts signers only, with the trusted weights
    trw = make_trust(S, p[:4], [2, 1, 1, 2])  # total 6
    h = skip_header(p[:1] + p[4:7], [0, 1, 2])  # A (2) signs: 2 of 6 = a third
    assert "2 of total 6" in str(raises(Invalid, transition.verify_skip, trw, h, s))
    h = skip_header(p[:2] + p[4:6], [0, 1, 2])  # A + B: 3 of 6
    assert transition.verify_skip(trw, h, s).trusted_weight == 3
    h = skip_header(p[:4], [0, 1, 2])  # same set, but D's unsigned: A B C hold 4 of 6
    assert transition.verify_skip(trw, h, s).trusted_weight == 4


def test_skip_needs_the_headers_own_quorum():
    p = pool()
    s = suite_mod.get(S)
    tr = make_trust(S, p[:4])
    h = skip_header(p[:7], [0, 1, 2])  # 3 of 7 trusted-heavy, but own quorum is 5
    e = raises(verify.QuorumNotReached, transition.verify_skip, tr, h, s)
    assert "quorum not reached" in str(e)
    h = skip_header(p[:7], [0, 1, 2, 4, 5])
    assert transition.verify_skip(tr, h, s).weight == 5


def test_skip_refuses_duplicate_unknown_and_bad_signers():
    p = pool()
    s = suite_mod.get(S)
    tr = make_trust(S, p[:4])
    nodes = p[2:6]
    h = skip_header(nodes, [0, 1, 2])
    sigs = list(h.signatures)
    h.signatures = [sigs[0], sigs[1], sigs[0]]
    assert "signs twice" in str(raises(Invalid, transition.verify_skip, tr, h, s))
    h.signatures = sigs + [(4, sigs[0][1])]
    assert "unknown sealer index 4" in str(raises(Invalid, transition.verify_skip, tr, h, s))
    h.signatures = [sigs[0], sigs[1], (3, sigs[2][1])]
    assert "does not verify" in str(raises(Invalid, transition.verify_skip, tr, h, s))


def test_skip_refuses_old_or_genesis_headers():
    p = pool()
    s = suite_mod.get(S)
    tr = make_trust(S, p[:4], number=9)
    h = skip_header(p[:4], [0, 1, 2], number=9)
    assert "not above the checkpoint" in str(raises(Invalid, transition.verify_skip, tr, h, s))
    h.number = 0
    assert "genesis" in str(raises(Invalid, transition.verify_skip, tr, h, s))
