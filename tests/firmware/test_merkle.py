"""Binary Merkle roots and hardened proofs (fisco-bcos-3x.md §2).

The 3-leaf SM3 vector is computed from the published algorithm (fact sheet §5.7),
not taken from a node; the 1-leaf proof is real (block 2's receipt proof).
"""

from lightmeter.chain import merkle
from lightmeter.chain import merklebuild
from lightmeter.crypto import suite
from lightmeter.errors import Invalid, Malformed
from support import load_vector, raises, unhex

H = suite.get("sm").hash
K = suite.get("ecdsa").hash

LEAVES3 = [unhex("2daef60e7a0b8f5e024c81cd2ab3109f2b4f155cf83adeb2ae5532f74a157fdf"),
           unhex("799b719ac031fc89c6d8925a487dad07308f837b7ab7bbc7cebd3a4118fd2f38"),
           unhex("c1be86994ae8741d802cf422ce0bc117680ad2b139857a378f9573a6f9ec35ad")]
ROOT3 = unhex("117b4d128655c02908f9b44384277a869e2239130e519d20766cbbc19b4a7738")
PROOF3_IDX2 = ["0000000100000000000000000000000000000000000000000000000000000000",
               "c1be86994ae8741d802cf422ce0bc117680ad2b139857a378f9573a6f9ec35ad",
               "0000000200000000000000000000000000000000000000000000000000000000",
               "5af38aae8434563d5a478062bff07d7bcebc7887c1ac824d010255137618cbe7",
               "abb9f9791a9f894015c2325878925f807a504e0ca5a60258539bda9f8ed61d36"]


def test_leaves_are_hashes_of_bytes():
    assert [H(bytes([i])) for i in range(3)] == LEAVES3


def test_root_rules():
    assert merklebuild.root([], H) == bytes(32)
    assert merklebuild.root(LEAVES3[:1], H) == LEAVES3[0]
    assert merklebuild.root(LEAVES3[:2], H) == H(LEAVES3[0] + LEAVES3[1])
    # lone last node is hashed alone, not duplicated or promoted
    assert merklebuild.root(LEAVES3, H) == H(H(LEAVES3[0] + LEAVES3[1]) + H(LEAVES3[2]))
    assert merklebuild.root(LEAVES3, H) == ROOT3


def test_proof_format_matches_the_node():
    assert [x.hex() for x in merklebuild.proof(LEAVES3, 2, H)] == PROOF3_IDX2


def test_proof_round_trips_every_position():
    for hf in (H, K):
        for n in range(1, 18):
            leaves = [hf(b"leaf" + bytes([i])) for i in range(n)]
            r = merklebuild.root(leaves, hf)
            for i in range(n):
                assert merkle.verify(merklebuild.proof(leaves, i, hf), leaves[i], r, hf) == i


def test_real_single_leaf_proof():
    rc = load_vector("fisco-doc-sm-receipt2.json")["result"]
    items = merkle.parse_proof(rc["txReceiptProof"])
    leaf = unhex(rc["hash"])
    assert merkle.verify(items, leaf, leaf, H) == 0
    raises(Invalid, merkle.verify, items, H(b"other"), leaf, H)


def test_proof_for_another_root():
    items = merkle.parse_proof(PROOF3_IDX2)
    e = raises(Invalid, merkle.verify, items, LEAVES3[2], H(b"x"), H)
    assert "another root" in str(e)


def test_leaf_not_in_proof():
    items = merkle.parse_proof(PROOF3_IDX2)
    e = raises(Invalid, merkle.verify, items, LEAVES3[0], ROOT3, H)
    assert "does not contain" in str(e)


def test_wrong_count_slot():
    for c in ("00000000", "00000003", "ffffffff"):
        bad = [c + PROOF3_IDX2[0][8:]] + PROOF3_IDX2[1:]
        e = raises(Malformed, merkle.verify, merkle.parse_proof(bad), LEAVES3[2], ROOT3, H)
        assert "count" in str(e)


def test_count_slot_padding_must_be_zero():
    bad = list(PROOF3_IDX2)
    bad[2] = bad[2][:-2] + "01"
    e = raises(Malformed, merkle.verify, merkle.parse_proof(bad), LEAVES3[2], ROOT3, H)
    assert "padding" in str(e)


def test_group_running_past_the_end():
    bad = PROOF3_IDX2[:-1]
    e = raises(Malformed, merkle.verify, merkle.parse_proof(bad), LEAVES3[2], ROOT3, H)
    assert "past the end" in str(e)


def test_equal_leaves_are_placed_by_the_expected_position():
    # Two identical calls leave identical receipts: a real block can have equal leaves.
    leaves = [LEAVES3[0], LEAVES3[1], LEAVES3[1]]
    r = merklebuild.root(leaves, H)
    p2 = merklebuild.proof(leaves, 2, H)
    assert merkle.verify(p2, LEAVES3[1], r, H, 2) == 2
    leaves = [LEAVES3[0], LEAVES3[0]]
    r = merklebuild.root(leaves, H)
    items = merklebuild.proof(leaves, 1, H)
    assert merkle.verify(items, LEAVES3[0], r, H, 1) == 1
    assert merkle.verify(items, LEAVES3[0], r, H, 0) == 0
    e = raises(Invalid, merkle.verify, items, LEAVES3[0], r, H)
    assert "ambiguous" in str(e)


def test_position_is_bound_by_the_path():
    leaves = [H(bytes([i])) for i in range(6)]
    r = merklebuild.root(leaves, H)
    assert merkle.verify(merklebuild.proof(leaves, 5, H), leaves[5], r, H) == 5
    assert merkle.verify(merklebuild.proof(leaves, 4, H), leaves[4], r, H) == 4


def test_parse_proof_pins_widths():
    raises(Malformed, merkle.parse_proof, [])
    raises(Malformed, merkle.parse_proof, ["00" * 31])
    raises(Malformed, merkle.parse_proof, "00" * 32)
    raises(Malformed, merkle.parse_proof, ["00" * 32] * 200)
    assert merkle.parse_proof(["0x" + "00" * 32]) == [bytes(32)]


def test_depth_is_bounded():
    leaf = H(b"a")
    items = []
    h = leaf
    for _ in range(33):
        items += [merklebuild.count_slot(1), h]
        h = H(h)
    raises(Malformed, merkle.verify, items, leaf, h, H)


def test_empty_block_root_proves_nothing():
    zero = bytes(32)
    e = raises(Invalid, merkle.verify, [zero], zero, zero, H)
    assert "without transactions" in str(e)


# -- compact proofs (proto/link.md, "Compact proofs") ---------------------------------------------

def compact_of(items, leaf, hf, index):
    """The compact form of FISCO proof items, written here from the spec's table (not the relay's
    converter), the side of each pair taken from the expected index."""
    if len(items) == 1:
        return b""
    out = b""
    h, i, depth = leaf, 0, 0
    while i < len(items):
        c = int.from_bytes(items[i][:4], "big")
        group = items[i + 1:i + 1 + c]
        if c == 1:
            out += bytes([2])
        else:
            side = (index >> depth) & 1
            out += bytes([side]) + group[1 - side]
        h = hf(b"".join(group))
        i += 1 + c
        depth += 1
    return out


def test_compact_vectors():
    vs = load_vector("link.json")["compact_proofs"]["vectors"]
    assert len(vs) >= 4
    for v in vs:
        hf = suite.get(v["crypto"]).hash
        leaf, r, c = unhex(v["leaf"]), unhex(v["root"]), unhex(v["compact"])
        items = [unhex(x) for x in v["proof"]]
        assert merklebuild.root([hf(b"leaf" + bytes([k])) for k in range(v["leaves"])], hf) == r
        assert compact_of(items, leaf, hf, v["index"]) == c
        assert merkle.verify_compact(c, leaf, r, hf) == v["index"] == merkle.verify(items, leaf, r, hf)
        assert merkle.verify(c, leaf, r, hf) == v["index"]  # verify() takes either form
        assert merkle.check_items(c) is c


def test_compact_round_trips_every_position():
    for hf in (H, K):
        for n in range(1, 18):
            leaves = [hf(b"leaf" + bytes([i])) for i in range(n)]
            r = merklebuild.root(leaves, hf)
            for i in range(n):
                c = compact_of(merklebuild.proof(leaves, i, hf), leaves[i], hf, i)
                assert merkle.verify_compact(c, leaves[i], r, hf) == i


def test_compact_equal_leaves_take_the_side_they_name():
    leaves = [LEAVES3[0], LEAVES3[0]]
    r = merklebuild.root(leaves, H)
    for i in (0, 1):
        c = compact_of(merklebuild.proof(leaves, i, H), LEAVES3[0], H, i)
        assert merkle.verify_compact(c, LEAVES3[0], r, H) == i


def test_compact_hostile():
    leaves = [H(bytes([i])) for i in range(6)]
    r = merklebuild.root(leaves, H)
    good = compact_of(merklebuild.proof(leaves, 4, H), leaves[4], H, 4)
    assert merkle.verify_compact(good, leaves[4], r, H) == 4
    e = raises(Malformed, merkle.verify_compact, bytes([3]) + good[1:], leaves[4], r, H)
    assert "kind" in str(e)
    e = raises(Malformed, merkle.verify_compact, good[:-1], leaves[4], r, H)
    assert "past the end" in str(e)
    flipped = good[:5] + bytes([good[5] ^ 1]) + good[6:]
    assert "another root" in str(raises(Invalid, merkle.verify_compact, flipped, leaves[4], r, H))
    side = bytes([good[0] ^ 1]) + good[1:]  # the other side: another hash, another root
    raises(Invalid, merkle.verify_compact, side, leaves[4], r, H)
    raises(Invalid, merkle.verify_compact, good, leaves[3], r, H)  # another leaf
    raises(Invalid, merkle.verify_compact, b"", leaves[4], r, H)  # "one leaf" of a 6-leaf tree
    raises(Invalid, merkle.verify_compact, good + bytes([2]), leaves[4], r, H)  # a level too many
    deep = bytes([2]) * 33
    h = leaves[0]
    for _ in range(33):
        h = H(h)
    assert "deeper" in str(raises(Malformed, merkle.verify_compact, deep, leaves[0], h, H))
    zero = bytes(32)
    assert "without transactions" in str(raises(Invalid, merkle.verify_compact, b"", zero, zero, H))
    raises(Malformed, merkle.check_items, bytes(33 * 32 + 1))
