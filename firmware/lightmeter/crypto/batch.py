"""Batch verification of a header's quorum: k secp256k1 signatures of one hash, one check.

A FISCO signature (r, s, v) names its R exactly: x = r + (v >> 1)*n, y of
parity v & 1 (secp256k1.r_point). The signature is valid for key Q, as FISCO's
recovery decides, exactly when u1*G + u2*Q = R with w = s^-1, u1 = e*w,
u2 = r*w. For k signatures of one hash e, z_0 = 1 and random z_i in [1, 2**128] (i >= 1):

    (sum z_i*u1_i)*G + sum (z_i*u2_i)*Q_i - sum z_i*R_i = O

holds if every signature is valid. If signature j is not, its term
D_j = u1_j*G + u2_j*Q_j - R_j is not O; the group has prime order n > 2**128,
so for any values of the other z_i at most one z_j in [1, 2**128] solves the
equation: a false accept has chance at most 2**-128 per header. If only D_0 is
not O, the equation is D_0 = O and fails whatever the z_i: the first weight
needs no randomness, and 1*R_0 costs one addition and no table. The
acceptance set is therefore the single check's: every test of
`secp256k1.verify` (v <= 3, r and s in [1, n-1], R exists) is made here
before the equation, and a batch that fails says only "some signature is
bad": callers check one by one to name it (client/verify.py). This is rule
LC-S3 of docs/light-client.md.

The z_i come from SHA-256 over a fresh seed and everything checked (hash,
keys, signatures). The seed is os.urandom where it exists; on a port without
it (the WebAssembly port), the random module and the tick counter. Even with a
seed an attacker could predict, the z_i depend on the signatures through the
hash: a forged batch needs signatures whose own hash solves one equation mod n,
about 2**128 hash evaluations (as any Fiat-Shamir challenge); with an
unpredictable seed the bound is the 2**-128 above.

R's y may come as a hint (32 bytes each, from the untrusted relay: proto/link.md "R hints").
A hint is used only if y < p, y*y = x**3 + 7 (mod p) and y has the parity of v. An x of the
curve has exactly two roots, y and p - y, of opposite parities (p is odd and no point has
y = 0: the group's order n is odd), so a hint that passes is the very y the lift computes:
the R, and so every verdict, is the one without hints. A hint that fails, or is missing, is
not used: that R is lifted (secp256k1.r_point). A hint therefore changes the cost (the
lift's own three multiplications, x**3 and y**2, without its square root of ~266), never the
answer.

Cost (15 signatures, docs/light-client.md "Batch verification" has the counts): the G
terms collapse into one scalar; the Q_i scalars are split by GLV into halves of ~128 bits and
the R_i scalars are 128 bits already, so one chain of ~128 doublings serves all. Each Q_i costs
~32 mixed additions from its sealer's table, kept between headers (crypto/keys.py: 32
entries, packed, built once per set; a bare key gets an 8-entry table and ~43 additions), each
R_i a 4-entry table, ~26 additions and one square root (secp256k1.sqrt_candidate), none when its y
comes as a hint. All table inversions and
all s^-1 are shared (Montgomery's trick): two inversions per batch. A single check costs ~128
doublings and ~71 additions, so the saving is the doublings, the generator's additions and
the key tables, less the R terms and the square roots (bench/RESULTS.md).
"""

import hashlib

from lightmeter.crypto import ec, ectables, secp256k1
from lightmeter.errors import Malformed

Q_WINDOW = 5  # wNAF width of a key's table built for one batch: 8 entries (3 integers each, with beta*x)
R_WINDOW = 4  # wNAF width of the R's tables: 4 entries (2 integers each)

_N = secp256k1.CURVE.n
_CURVE = secp256k1.CURVE
_P = _CURVE.p


def _seed():
    try:
        import os
        return os.urandom(16)
    except (ImportError, AttributeError):
        pass
    out = b""
    try:
        import random
        for _ in range(4):
            out += random.getrandbits(32).to_bytes(4, "big")
    except (ImportError, AttributeError):
        pass
    try:
        import time
        out += (time.ticks_us() & 0xFFFFFFFF).to_bytes(4, "big")
    except (ImportError, AttributeError):
        pass
    return out


def weights(digest, items, seed):
    """The z_i in [1, 2**128] for items [(64-byte key, 65-byte signature)] of digest."""
    h = hashlib.sha256(bytes(digest))
    for pub, sig in items:
        h.update(bytes(pub))
        h.update(bytes(sig))
    t = bytes(seed) + h.digest()
    out = []
    i = 0
    while len(out) < len(items):
        d = hashlib.sha256(t + i.to_bytes(4, "big")).digest()
        out.append(1 + int.from_bytes(d[:16], "big"))
        out.append(1 + int.from_bytes(d[16:], "big"))
        i += 1
    return out[:len(items)]


def invert_all(xs, m):
    """[x^-1 mod m for x in xs], one inversion in all (Montgomery's trick); no x may be 0 mod m."""
    acc = [1]
    a = 1
    for x in xs:
        a = a * x % m
        acc.append(a)
    inv = ec.inverse(a, m)
    out = [0] * len(xs)
    i = len(xs) - 1
    while i >= 0:
        out[i] = inv * acc[i] % m
        inv = inv * xs[i] % m
        i -= 1
    return out


def odd_multiples_all(curve, points, counts):
    """[(xs, ys)] of P, 3P, ..., (2*count-1)P for each finite point, one inversion in all.

    `ec.Curve.odd_multiples` for many points: the chains are built on the
    isomorphic curves, then all their last Z values are inverted together.
    """
    chains = []
    ends = []
    for pt, count in zip(points, counts):
        chain, end = curve.odd_chain(pt, count)
        chains.append(chain)
        ends.append(end)
    invs = invert_all(ends, curve.p)
    return [curve.odd_affine(chains[j], invs[j]) for j in range(len(chains))]


def r_point(r, v, hint=None):
    """R of a signature's r and v (0..3), or None if there is none: `secp256k1.r_point`, which
    this equals whatever hint is, without its square root when hint is R's y (32 bytes,
    big-endian) and passes the checks of the module docstring."""
    if isinstance(hint, (bytes, bytearray)) and len(hint) == 32:
        x = r + _N if v > 1 else r
        p = _P
        if x < p:
            y = int.from_bytes(hint, "big")
            if y < p and y & 1 == v & 1 and y * y % p == (x * x % p * x + 7) % p:
                return (x, y)
    return secp256k1.r_point(r, v)


def r_hint(sig):
    """R's y (32 bytes) of a 65-byte signature r || s || v: the hint a relay sends (it runs
    `secp256k1.r_point`, square root included), or None if sig is not such a signature or names
    no point."""
    if len(sig) != 65 or sig[64] > 3:
        return None
    R = secp256k1.r_point(int.from_bytes(sig[:32], "big"), sig[64])
    return None if R is None else R[1].to_bytes(32, "big")


def verify_same_hash(digest, items, seed=None, ys=None):
    """True if every (pub, sig) of items is a valid signature of digest, as `secp256k1.verify`.

    pub: 64 bytes x || y (or a `secp256k1.prepare`d key); sig: 65 bytes r || s || v.
    False if any is not (a false True has chance <= 2**-128), or if any key or
    signature is malformed: the caller's single checks then say which and how.
    seed: bytes for the weights (tests); a fresh random one by default.
    ys: hints of each R's y, parallel to items (an item may be None; a list shorter than
    items hints only its first ones); a hint that is not R's y is ignored (`r_point`).
    """
    if not items:
        return True
    if len(digest) != 32:
        raise Malformed("hash: expected 32 bytes, got %d" % len(digest))
    c = _CURVE
    n = _N
    e = int.from_bytes(digest, "big")
    keys = []
    rs = []
    ss = []
    rpts = []
    for i, (pub, sig) in enumerate(items):
        if len(sig) != 65:
            return False
        v = sig[64]
        r = int.from_bytes(sig[:32], "big")
        s = int.from_bytes(sig[32:64], "big")
        if v > 3 or not (0 < r < n and 0 < s < n):
            return False
        R = r_point(r, v, ys[i] if ys is not None and i < len(ys) else None)
        if R is None:
            return False
        if isinstance(pub, ec.PublicKey):
            if pub.curve is not c:
                return False
            keys.append(pub)
        else:
            try:
                keys.append(c.decode_point(pub))
            except Malformed:
                return False
        rs.append(r)
        ss.append(s)
        rpts.append(R)
    zs = weights(digest, [(k.data if isinstance(k, ec.PublicKey) else pub, sig)
                          for k, (pub, sig) in zip(keys, items)],
                 _seed() if seed is None else seed)
    zs[0] = 1  # the first term needs no random weight (module docstring): R_0 needs no table

    ws = invert_all(ss, n)
    # Tables: the keys given as points (a PublicKey brings its own), then every R.
    pts = []
    counts = []
    for k in keys:
        if not isinstance(k, ec.PublicKey):
            pts.append(k)
            counts.append(1 << (Q_WINDOW - 2))
    for R in rpts[1:]:
        pts.append(R)
        counts.append(1 << (R_WINDOW - 2))
    # Compacted: all the R tables live until the end, and a reduced product keeps its larger
    # buffer on MicroPython (host32, a batch of 15: about 30 KiB less heap).
    tabs = [(ectables.compact(xs), ectables.compact(ys)) for xs, ys in odd_multiples_all(c, pts, counts)]
    beta = c.glv[0]
    p = c.p
    terms = []
    g = 0
    t = 0
    for i in range(len(items)):
        z = zs[i]
        zw = z * ws[i] % n
        g += e * zw
        k = keys[i]
        if isinstance(k, ec.PublicKey):
            terms.extend(c.terms(rs[i] * zw, k.tables))
        else:
            xs, ys = tabs[t]
            t += 1
            k1, k2 = c.split(rs[i] * zw % n)
            terms.append((k1, Q_WINDOW, xs, ys))
            terms.append((k2, Q_WINDOW, [x * beta % p for x in xs], ys))
    terms.append((-1, R_WINDOW, [rpts[0][0]], [rpts[0][1]]))  # -R_0: one addition
    for i in range(1, len(items)):
        xs, ys = tabs[t]
        t += 1
        terms.append((-zs[i], R_WINDOW, xs, ys))
    terms.extend(c.terms(g, c.g_tables(1)))
    return not c.combine(terms)[2]
