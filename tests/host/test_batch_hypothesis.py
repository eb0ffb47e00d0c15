"""Hostile quorums for batch verification (firmware crypto/batch.py): whatever the signatures,
the batch answer equals the AND of the single answers (secp256k1.verify, FISCO's rule), and the
single answers agree with coincurve's recovery (libsecp256k1, which FISCO's secp256k1Verify calls:
bcos-crypto/bcos-crypto/signature/secp256k1/Secp256k1Crypto.cpp lines 70-98 at v3.16.4)."""

import hashlib

import coincurve
from hypothesis import given, settings, strategies as st

from lightmeter.client import verify
from lightmeter.chain import headerwrite
from lightmeter.crypto import batch, keys, secp256k1 as S, suite
from lightmeter.errors import Invalid

N = S.CURVE.n
SEALERS = 21
PRIVS = [hashlib.sha256(b"hypothesis sealer %d" % i).digest() for i in range(SEALERS)]
PUBS = [S.public_key(k) for k in PRIVS]
SETTINGS = settings(max_examples=25, deadline=None)
KEYS = keys.Keys(S.prepare, keys.WINDOWS["ecdsa"][0], 1)  # sealers' tables kept across examples, as the light client keeps them


def fisco_accepts(pub, h, sig):
    """libsecp256k1 recovery compared with the key, as secp256k1Verify does."""
    if sig[64] > 3:
        return False
    try:
        got = coincurve.PublicKey.from_signature_and_message(bytes(sig), h, hasher=None)
    except Exception:
        return False
    return got.format(compressed=False)[1:] == pub


def large_x(h, r):
    """(key, signature with v 2 or 3) of h: R has x = r + n."""
    while True:
        for v in (2, 3):
            if S.r_point(r, v) is not None:
                sig = r.to_bytes(32, "big") + (r * 7 % N or 1).to_bytes(32, "big") + bytes((v,))
                return S.recover(h, sig), sig
        r += 1


def mutate(kind, i, items, h, extra):
    pub, sig = items[i]
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    if kind == "bit":
        b = bytearray(sig)
        b[extra % 64] ^= 1 << (extra % 8)
        return pub, bytes(b)
    if kind == "swap_v":
        return pub, sig[:64] + bytes((v ^ 1,))
    if kind == "v_plus_2":
        return pub, sig[:64] + bytes((v + 2,))
    if kind == "high_s":  # valid: FISCO accepts high s
        return pub, r + (N - s).to_bytes(32, "big") + bytes((v ^ 1,))
    if kind == "high_s_same_v":
        return pub, r + (N - s).to_bytes(32, "big") + bytes((v,))
    if kind == "outsider":
        return pub, S.sign(hashlib.sha256(b"outsider %d" % extra).digest(), h)
    if kind == "other_signer":  # another sealer's valid signature under this index
        return pub, items[(i + 1 + extra) % len(items)][1]
    if kind == "large_x":  # valid signature with x(R) = r + n, under its own key
        return large_x(h, 1 + extra % 1000)
    if kind == "large_x_wrong_key":
        return pub, large_x(h, 1 + extra % 1000)[1]
    if kind == "other_hash":
        return pub, S.sign(PRIVS[PUBS.index(pub) if pub in PUBS else i], hashlib.sha256(h).digest())
    raise AssertionError(kind)


KINDS = ["bit", "swap_v", "v_plus_2", "high_s", "high_s_same_v", "outsider", "other_signer",
         "large_x", "large_x_wrong_key", "other_hash"]


@SETTINGS
@given(st.binary(min_size=32, max_size=32), st.lists(st.tuples(st.sampled_from(KINDS),
       st.integers(0, 14), st.integers(0, 1 << 16)), max_size=2), st.integers(1, 15),
       st.binary(min_size=16, max_size=16))
def test_batch_equals_the_and_of_single_checks(h, mutations, count, seed):
    items = [(PUBS[i], S.sign(PRIVS[i], h)) for i in range(15)][:count]
    for kind, i, extra in mutations:
        i %= count
        items[i] = mutate(kind, i, items, h, extra)
    singles = [S.verify(p, h, s) for p, s in items]
    assert singles == [fisco_accepts(p, h, s) for p, s in items]
    assert batch.verify_same_hash(h, items, seed=seed) == all(singles)
    assert batch.verify_same_hash(h, items) == all(singles)
    assert batch.verify_same_hash(h, [(KEYS.get(p), s) for p, s in items], seed=seed) == all(singles)


@SETTINGS
@given(st.binary(min_size=32, max_size=32), st.integers(0, 14), st.sampled_from(KINDS))
def test_one_bad_among_15_is_named(h, pos, kind):
    # Through the light client: the batch refuses, the single checks name the signer.
    s = suite.get("ecdsa")
    hd = headerwrite.new(7, b"\x01" * 32, sorted(PUBS))
    digest = hd.hash(s)
    order = sorted(range(SEALERS), key=lambda i: PUBS[i])
    sigs = [(j, S.sign(PRIVS[order[j]], digest)) for j in range(15)]
    items = [(PUBS[order[j]], sig) for j, sig in sigs]
    pub, bad = mutate(kind, pos, items, digest, pos * 31 + 5)
    hd.signatures = list(sigs)
    hd.signatures[pos] = (pos, bad)
    sealers = [(p, 1) for p in sorted(PUBS)]
    for size in (15, 1):
        verify.BATCH_SIZE = size
        try:
            if pub == items[pos][0] and S.verify(pub, digest, bad):
                assert verify.check_signatures(hd, digest, sealers, s)[1] == 15
                continue
            try:
                verify.check_signatures(hd, digest, sealers, s)
            except Invalid as e:
                assert str(e) == "signature of sealer %d does not verify" % pos
            else:
                raise AssertionError("accepted a bad signature")
        finally:
            verify.BATCH_SIZE = 1


def test_duplicate_signers():
    # The same signer twice is two valid signatures to the batch; the light client refuses the
    # list before any signature is checked (verify.signer_indices, LC-Q3).
    h = hashlib.sha256(b"dup").digest()
    items = [(PUBS[i], S.sign(PRIVS[i], h)) for i in range(5)]
    assert batch.verify_same_hash(h, items + [items[0]])
    hd = headerwrite.new(3, b"\x01" * 32, sorted(PUBS))
    hd.signatures = [(0, b"\x00" * 65), (0, b"\x00" * 65)]
    try:
        verify.check_signatures(hd, h, [(p, 1) for p in sorted(PUBS)], suite.get("ecdsa"))
    except Invalid as e:
        assert "signs twice" in str(e)
    else:
        raise AssertionError("duplicate signer accepted")


# -- R's y as a hint from the relay (crypto/batch.py r_point): the verdict never moves ----------

P = S.CURVE.p


def true_y(sig):
    R = S.r_point(int.from_bytes(sig[:32], "big"), sig[64]) if len(sig) == 65 and sig[64] <= 3 else None
    return None if R is None else R[1]


def hint(kind, sig, other, extra):
    """A hint of one kind for sig's R (other: another signature of the batch)."""
    y = true_y(sig)
    if kind == "true":
        return None if y is None else y.to_bytes(32, "big")
    if kind == "other_root":
        return None if y is None else (P - y).to_bytes(32, "big")
    if kind == "alias":  # y + p or the other root + p, where it fits 32 bytes
        return None if y is None else ((P - y + P) if P - y + P < 1 << 256 else y + P).to_bytes(33, "big")[-32:]
    if kind == "off_curve":
        return None if y is None else ((y + 1 + extra) % P).to_bytes(32, "big")
    if kind == "another_signature":
        oy = true_y(other)
        return None if oy is None else oy.to_bytes(32, "big")
    if kind == "short":
        return (y or 0).to_bytes(32, "big")[: extra % 32]
    if kind == "long":
        return (y or 0).to_bytes(32 + 1 + extra % 4, "big")
    if kind == "at_least_p":
        return (P + extra % ((1 << 256) - P)).to_bytes(32, "big")
    if kind == "random":
        return hashlib.sha256(b"hint %d" % extra).digest()
    if kind == "missing":
        return None
    raise AssertionError(kind)


HINTS = ["true", "other_root", "alias", "off_curve", "another_signature", "short", "long",
         "at_least_p", "random", "missing"]


@SETTINGS
@given(st.binary(min_size=32, max_size=32), st.lists(st.tuples(st.sampled_from(KINDS),
       st.integers(0, 14), st.integers(0, 1 << 16)), max_size=2), st.integers(1, 15),
       st.lists(st.tuples(st.sampled_from(HINTS), st.integers(0, 1 << 16)), min_size=15, max_size=15),
       st.binary(min_size=16, max_size=16))
def test_hints_never_change_the_verdict(h, mutations, count, hint_kinds, seed):
    items = [(PUBS[i], S.sign(PRIVS[i], h)) for i in range(15)][:count]
    for kind, i, extra in mutations:
        i %= count
        items[i] = mutate(kind, i, items, h, extra)
    ys = [hint(k, items[i][1], items[(i + 1) % count][1], extra) for i, (k, extra) in enumerate(hint_kinds[:count])]
    expected = all(S.verify(p, h, s) for p, s in items)
    assert batch.verify_same_hash(h, items, seed=seed) == expected
    assert batch.verify_same_hash(h, items, seed=seed, ys=ys) == expected
    assert batch.verify_same_hash(h, [(KEYS.get(p), s) for p, s in items], seed=seed, ys=ys) == expected
    assert batch.verify_same_hash(h, items, ys=[hint("true", s, s, 0) for _, s in items]) == expected


@SETTINGS
@given(st.binary(min_size=32, max_size=32), st.integers(0, 14), st.sampled_from(KINDS),
       st.sampled_from(HINTS), st.integers(0, 1 << 16))
def test_one_bad_among_15_whatever_its_hints(h, pos, kind, hint_kind, extra):
    # Bad signature in any position, all the other hints true, its own of any kind.
    items = [(PUBS[i], S.sign(PRIVS[i], h)) for i in range(15)]
    items[pos] = mutate(kind, pos, items, h, extra)
    ys = [hint("true", s, s, 0) for _, s in items]
    ys[pos] = hint(hint_kind, items[pos][1], items[(pos + 1) % 15][1], extra)
    assert batch.verify_same_hash(h, items, ys=ys) == all(S.verify(p, h, s) for p, s in items)
