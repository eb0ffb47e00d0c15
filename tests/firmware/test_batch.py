"""Batch verification of a header's quorum (crypto/batch.py): it accepts exactly what the single
secp256k1.verify accepts, signature by signature (docs/light-client.md, LC-S3).

Signatures are made here; the hostile cases are FISCO's rules (Secp256k1Crypto.cpp lines 70-98 at
v3.16.4): high s and recovery ids 2 and 3 are legal, v above 3 is not. tests/host/test_batch_hypothesis.py
draws many more cases on CPython.
"""

import hashlib

from lightmeter.crypto import batch, keys as keys_mod, secp256k1 as S
from lightmeter.errors import Malformed
from support import load_vector, raises

N = S.CURVE.n


def sha256(b):
    return hashlib.sha256(b).digest()


PRIVS = [sha256(b"batch sealer %d" % i) for i in range(6)]
PUBS = [S.public_key(k) for k in PRIVS]
H = sha256(b"header hash")
ITEMS = [(PUBS[i], S.sign(PRIVS[i], H)) for i in range(6)]


def _b(i):
    return i.to_bytes(32, "big")


def singles(items, h=H):
    for pub, sig in items:
        if not S.verify(pub, h, sig):
            return False
    return True


def test_valid_quorum_is_accepted():
    assert batch.verify_same_hash(H, ITEMS)
    assert batch.verify_same_hash(H, ITEMS[:1])
    assert batch.verify_same_hash(H, [])
    assert batch.verify_same_hash(H, [(S.prepare(p), s) for p, s in ITEMS])
    assert not batch.verify_same_hash(sha256(b"other"), ITEMS)


def test_one_bad_signature_in_any_position_is_refused():
    for i in range(len(ITEMS)):
        bad = list(ITEMS)
        sig = bytearray(bad[i][1])
        sig[33] ^= 4
        bad[i] = (bad[i][0], bytes(sig))
        assert not batch.verify_same_hash(H, bad)
        other = list(ITEMS)
        other[i] = (other[i][0], S.sign(PRIVS[i], sha256(b"another header")))
        assert not batch.verify_same_hash(H, other)


def test_high_s_and_swapped_v():
    pub, sig = ITEMS[2]
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    high = r + _b(N - s) + bytes((v ^ 1,))
    assert S.verify(pub, H, high)
    assert batch.verify_same_hash(H, ITEMS[:2] + [(pub, high)] + ITEMS[3:])
    for w in (v ^ 1, v + 2, 4, 27):
        swapped = ITEMS[:2] + [(pub, sig[:64] + bytes((w,)))] + ITEMS[3:]
        assert not batch.verify_same_hash(H, swapped)
        assert not singles(swapped)
    flipped = ITEMS[:2] + [(pub, r + _b(N - s) + bytes((v,)))] + ITEMS[3:]
    assert not batch.verify_same_hash(H, flipped) and not singles(flipped)


def test_large_x_signature():
    # v = 2 or 3: R has x = r + n. Made by recovering a key from a chosen (r, s, v).
    r = 1
    while S.r_point(r, 2) is None:
        r += 1
    sig = _b(r) + _b(7) + b"\x02"
    key = S.recover(H, sig)
    assert S.verify(key, H, sig)
    assert batch.verify_same_hash(H, ITEMS + [(key, sig)])
    assert not batch.verify_same_hash(H, ITEMS + [(key, sig[:64] + b"\x00")])
    assert not batch.verify_same_hash(H, ITEMS + [(key, sig[:64] + b"\x03")])


def test_outsider_and_out_of_range():
    outsider = sha256(b"not a sealer")
    bad = ITEMS[:3] + [(PUBS[3], S.sign(outsider, H))]
    assert not batch.verify_same_hash(H, bad) and not singles(bad)
    for r, s in ((0, 1), (N, 1), (1, 0), (1, N)):
        bad = ITEMS[:3] + [(PUBS[3], _b(r) + _b(s) + b"\x00")]
        assert not batch.verify_same_hash(H, bad) and not singles(bad)


def test_malformed_input_is_left_to_the_single_checks():
    assert not batch.verify_same_hash(H, ITEMS[:2] + [(bytes(64), ITEMS[2][1])])
    assert not batch.verify_same_hash(H, ITEMS[:2] + [(PUBS[2], ITEMS[2][1][:64])])
    assert raises(Malformed, batch.verify_same_hash, H[:31], ITEMS)


def test_weights_are_128_bit_and_bound_to_the_input():
    zs = batch.weights(H, ITEMS, b"seed")
    assert len(zs) == len(ITEMS) and all(1 <= z <= 1 << 128 for z in zs)
    assert batch.weights(H, ITEMS, b"seed") == zs
    assert batch.weights(H, ITEMS, b"seeD") != zs
    assert batch.weights(H, ITEMS[:5] + [(PUBS[5], S.sign(PRIVS[5], sha256(b"x")))], b"seed")[0] != zs[0]
    assert batch.verify_same_hash(H, ITEMS, seed=b"fixed")


def test_kept_sealer_tables():
    # keys.Keys: one packed table a sealer, built once, dropped when the set leaves it; the batch
    # with them answers as with bare keys, good and bad alike.
    keys = keys_mod.Keys(S.prepare, keys_mod.WINDOWS["ecdsa"][0], 1)
    a = keys.get(PUBS[0])
    assert keys.get(bytearray(PUBS[0])) is a and len(keys) == 1
    assert a.data == PUBS[0] and a.tables[0][0] == 7
    kept = [(keys.get(p), s) for p, s in ITEMS]
    assert len(keys) == 6
    assert batch.verify_same_hash(H, kept)
    for i in (0, 5):
        bad = list(kept)
        bad[i] = (kept[i][0], S.sign(PRIVS[(i + 1) % 6], H))
        assert not batch.verify_same_hash(H, bad)
    swapped = kept[:2] + [(kept[2][0], kept[2][1][:64] + bytes((kept[2][1][64] ^ 1,)))] + kept[3:]
    assert not batch.verify_same_hash(H, swapped)
    assert S.verify(kept[3][0], H, kept[3][1])
    keys.keep(PUBS[2:4])
    assert len(keys) == 2 and keys.get(PUBS[2]) is kept[2][0]
    assert keys.get(PUBS[0]) is not a  # built again
    # A key off the curve stays bytes: the batch refuses it, the single check reports it.
    off = bytes(63) + b"\x01"
    assert keys.get(off) == off and len(keys) == 3
    assert not batch.verify_same_hash(H, kept[:2] + [(keys.get(off), ITEMS[2][1])])
    assert raises(Malformed, S.verify, keys.get(off), H, ITEMS[2][1])


def test_shared_inversions():
    xs = [3, 5, 7, N - 1]
    assert [x * y % N for x, y in zip(xs, batch.invert_all(xs, N))] == [1, 1, 1, 1]
    c = S.CURVE
    pts = [c.decode_point(PUBS[0]), c.decode_point(PUBS[1])]
    assert batch.odd_multiples_all(c, pts, [8, 4]) == [c.odd_multiples(pts[0], 8), c.odd_multiples(pts[1], 4)]


def test_check_signatures_in_batches_of_batch_size():
    # verify.BATCH_SIZE > 1: the quorum is checked batch by batch; same answers as one by one.
    from lightmeter.chain import headerwrite
    from lightmeter.client import verify
    from lightmeter.crypto import suite
    from lightmeter.errors import Invalid

    s = suite.get("ecdsa")
    order = sorted(range(6), key=lambda i: PUBS[i])
    sealers = [(PUBS[i], 1) for i in order]
    hd = headerwrite.new(3, b"\x01" * 32, [p for p, _ in sealers])
    hd.signatures = [(j, S.sign(PRIVS[order[j]], H)) for j in range(5)]
    saved = verify.BATCH_SIZE
    try:
        for size in (1, 2, 5):
            verify.BATCH_SIZE = size
            assert verify.check_signatures(hd, H, sealers, s) == ([0, 1, 2, 3, 4], 5)
            bad = list(hd.signatures)
            bad[3] = (3, S.sign(PRIVS[order[0]], H))
            good = hd.signatures
            hd.signatures = bad
            try:
                verify.check_signatures(hd, H, sealers, s)
            except Invalid as e:
                assert str(e) == "signature of sealer 3 does not verify"
            else:
                raise AssertionError("accepted a bad signature")
            hd.signatures = good
    finally:
        verify.BATCH_SIZE = saved


# -- R's y as a hint (crypto/batch.py r_point; proto/link.md "R hints") ------------------------

P = S.CURVE.p
# x with x**3 + 7 = 1 (mod p): the point (X1, 1) and its negation (X1, p - 1); X1 < n, so it is
# an r. The hint p + 1 squares to 1 and has the parity of p - 1: only "y < p" refuses it.
X1 = 0x1fe1e5ef3fceb5c135ab7741333ce5a6e80d68167653f6b2b24bcbcfaaaff507


def y_of(sig):
    return S.r_point(int.from_bytes(sig[:32], "big"), sig[64])[1]


def hints(items):
    return [_b(y_of(sig)) for _, sig in items]


def bad_hints(items, i):
    """Hints for items with each kind of bad hint at position i: (kind, hints)."""
    good = hints(items)
    y = y_of(items[i][1])
    other = items[(i + 1) % len(items)][1]
    out = []
    for kind, h in (("other_root", _b(P - y)), ("off_curve", _b((y + 1) % P)),
                    ("another_signature", _b(y_of(other))), ("short", good[i][1:]),
                    ("long", b"\x00" + good[i]), ("at_p", _b(P)), ("max", b"\xff" * 32),
                    ("zero", bytes(32)), ("not_bytes", y), ("none", None)):
        hs = list(good)
        hs[i] = h
        out.append((kind, hs))
    return out


def test_r_hint_is_used_only_when_it_is_the_lift():
    for _, sig in ITEMS:
        r, v = int.from_bytes(sig[:32], "big"), sig[64]
        R = S.r_point(r, v)
        assert batch.r_point(r, v, _b(R[1])) == R
        for h in (_b(P - R[1]), _b(R[1] ^ 1), _b(P), b"\xff" * 32, R[1].to_bytes(33, "big"), None, R[1]):
            assert batch.r_point(r, v, h) == R
    # An alias of the other root, p + 1 (>= p), with v's parity and the right square.
    assert (X1 * X1 % P * X1 + 7) % P == 1 and X1 < N
    assert S.r_point(X1, 0) == (X1, P - 1) and S.r_point(X1, 1) == (X1, 1)
    assert batch.r_point(X1, 0, _b(P + 1)) == (X1, P - 1)
    assert batch.r_point(X1, 0, _b(P - 1)) == (X1, P - 1)
    assert batch.r_point(X1, 1, _b(1)) == (X1, 1)
    # No R: a hint does not make one (x = r + n above p; x with no root).
    assert batch.r_point(P - N, 2, _b(1)) is None
    r = 1
    while S.r_point(r, 0) is not None:
        r += 1
    assert batch.r_point(r, 0, _b(2)) is None


def test_correct_hints_accepted_bad_hints_change_nothing():
    ys = hints(ITEMS)
    assert batch.verify_same_hash(H, ITEMS, ys=ys)
    assert batch.verify_same_hash(H, ITEMS, ys=ys[:3])  # a shorter list hints its first items
    assert batch.verify_same_hash(H, ITEMS, ys=[None] * 6)
    assert not batch.verify_same_hash(sha256(b"other"), ITEMS, ys=ys)
    for i in range(len(ITEMS)):
        for kind, hs in bad_hints(ITEMS, i):
            assert batch.verify_same_hash(H, ITEMS, ys=hs), kind
            # One bad signature (any position) stays refused whatever the hints.
            bad = list(ITEMS)
            j = (i + 2) % len(ITEMS)
            bad[j] = (bad[j][0], S.sign(PRIVS[(j + 1) % 6], H))
            assert not batch.verify_same_hash(H, bad, ys=hs), kind
            assert not batch.verify_same_hash(H, bad, ys=hints(bad)), kind


def test_hints_cannot_flip_a_signature():
    # A signature valid under its key with R = (X1, p - 1), v = 0; v = 1 names (X1, 1) = -R.
    sig = _b(X1) + _b(7) + b"\x00"
    key = S.recover(H, sig)
    flipped = sig[:64] + b"\x01"
    assert S.verify(key, H, sig) and not S.verify(key, H, flipped)
    for ys in ([_b(P + 1)], [_b(1)], [_b(P - 1)], None):
        assert batch.verify_same_hash(H, [(key, sig)] + ITEMS, ys=ys)
        assert not batch.verify_same_hash(H, [(key, flipped)] + ITEMS, ys=ys)
    # A forged signature (the right R, a wrong s) with its true y as the hint: refused.
    forged = sig[:32] + _b(8) + b"\x00"
    assert not batch.verify_same_hash(H, [(key, forged)] + ITEMS, ys=[_b(P - 1)])
    # Swapped v with the hint the swap would need: refused as without hints.
    pub, s2 = ITEMS[1]
    sw = s2[:64] + bytes((s2[64] ^ 1,))
    assert not batch.verify_same_hash(H, ITEMS[:1] + [(pub, sw)] + ITEMS[2:],
                                      ys=[None, _b(P - y_of(s2))])


def _hinted_header():
    from lightmeter.chain import headerwrite
    from lightmeter.crypto import suite
    order = sorted(range(6), key=lambda i: PUBS[i])
    hd = headerwrite.new(3, b"\x01" * 32, [PUBS[i] for i in order])
    digest = hd.hash(suite.get("ecdsa"))
    hd.signatures = [(j, S.sign(PRIVS[order[j]], digest)) for j in range(5)]
    return hd, digest, [(PUBS[i], 1) for i in order]


def test_r_hints_on_the_wire():
    # The relay adds field 13 only when asked; the device reads it into header.r_hints.
    from lightmeter.chain import header, headerwrite
    from lightmeter.crypto import suite
    from lightmeter.link import relaywire, wire
    hd, digest, _ = _hinted_header()
    js = headerwrite.to_json(hd, digest)
    plain = relaywire.header_to_wire(js)
    hinted = relaywire.header_to_wire(js, hint=batch.r_hint)
    assert wire.R_HINTS not in plain and set(hinted) == set(plain) | {wire.R_HINTS}
    assert hinted[wire.R_HINTS] == [_b(y_of(sig)) for _, sig in hd.signatures]
    assert header.from_json(wire.header_from_wire(plain), 65).r_hints is None
    got = header.from_json(wire.header_from_wire(hinted), 65)
    assert got.r_hints == hinted[wire.R_HINTS] and got.hash(suite.get("ecdsa")) == digest
    assert batch.r_hint(b"\x01" * 64) is None and batch.r_hint(b"\x01" * 64 + b"\x04") is None
    assert relaywire.header_to_wire(js, hint=lambda sig: None) == plain  # no hint, no field
    # A malformed field is refused as any malformed field; a bad item is the batch's to ignore.
    for bad in (b"\x00" * 32, [1], ["text"], [[b"\x00" * 32]]):
        m = dict(hinted)
        m[wire.R_HINTS] = bad
        assert raises(Malformed, header.from_json, wire.header_from_wire(m), 65)
    m = dict(hinted)
    m[wire.R_HINTS] = [None, b"\x00", b"\x00" * 40]
    assert header.from_json(wire.header_from_wire(m), 65).r_hints == [None, b"\x00", b"\x00" * 40]
    # The link vector: the hint is its signature's R y.
    v = [f for f in load_vector("link.json")["frames"] if f["name"] == "header_r_hints"][0]
    from lightmeter.link import frame
    _, typ, _, payload = frame.unpack(bytes.fromhex(v["body"]))
    h = header.from_json(wire.header_from_wire(payload), 65)
    assert typ == 8 and h.r_hints == [_b(y_of(h.signatures[0][1]))]


def test_check_signatures_with_r_hints():
    # verify.BATCH_SIZE > 1 passes header.r_hints to the batch: the same answers whatever they are.
    from lightmeter.client import verify
    from lightmeter.crypto import suite
    from lightmeter.errors import Invalid
    s = suite.get("ecdsa")
    hd, digest, sealers = _hinted_header()
    good = list(hd.signatures)
    saved = verify.BATCH_SIZE
    try:
        for size in (2, 5):
            verify.BATCH_SIZE = size
            assert verify.wants_r_hints(s) and not verify.wants_r_hints(suite.get("sm"))
            items = [(sealers[j][0], sig) for j, sig in good]
            for i in range(5):
                for kind, hs in bad_hints(items, i) + [("true", hints(items)), ("short_list", hints(items)[:2])]:
                    hd.signatures = good
                    hd.r_hints = hs
                    assert verify.check_signatures(hd, digest, sealers, s) == ([0, 1, 2, 3, 4], 5), kind
                    bad = list(good)
                    bad[i] = (i, S.sign(PRIVS[0], sha256(b"other")))
                    hd.signatures = bad
                    try:
                        verify.check_signatures(hd, digest, sealers, s)
                    except Invalid as e:
                        assert str(e) == "signature of sealer %d does not verify" % i, kind
                    else:
                        raise AssertionError("accepted a bad signature with hints %s" % kind)
        verify.BATCH_SIZE = 1
        assert not verify.wants_r_hints(s)
    finally:
        verify.BATCH_SIZE = saved
        hd.signatures = good
