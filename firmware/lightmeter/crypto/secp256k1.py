"""secp256k1 ECDSA as FISCO BCOS uses it (the "ecdsa" crypto suite).

Keys and signatures in FISCO's layouts: a public key (node ID) is 64 bytes
x || y without the 0x04 prefix; a signature is 65 bytes r || s || v with v the
recovery id. The signed value is a 32-byte hash used as it is (no prefix, no
rehash).

Two rules, one for what we make and one for what we accept:
- `sign` makes low-s signatures with v in {0, 1} and deterministic RFC 6979
  nonces, as libsecp256k1's secp256k1_ecdsa_sign_recoverable makes them, so
  `sign` and libsecp256k1 agree byte for byte.
- `verify` and `recover` of a 65-byte signature accept exactly what a FISCO
  BCOS node accepts (secp256k1Verify and secp256k1Recover,
  bcos-crypto/bcos-crypto/signature/secp256k1/Secp256k1Crypto.cpp lines 70-98
  and 138-151 at v3.16.4; docs/light-client.md rule LC-S1): v in 0..3, r and s
  in [1, n-1], high s accepted (libsecp256k1's recovery has no low-s rule),
  and the key is the one recovered from R = the point with x = r + (v >> 1)*n
  and y of parity v & 1. A 64-byte r || s (no v) is checked as
  libsecp256k1's secp256k1_ecdsa_verify does, low s only; chain data never
  uses it.

Curve: SEC 2 v2 (2010), section 2.4.1. Endomorphism: beta and lambda are the
cube roots of unity mod p and mod n that pair up (lambda*G = (beta*Gx, Gy));
the lattice basis comes from the extended Euclidean algorithm on (n, lambda)
(GLV, CRYPTO 2001, section 4). tests/firmware/test_secp256k1.py checks both.
"""

from lightmeter.crypto import ec
from lightmeter.errors import Invalid, Malformed

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# The curve's parameters as private constants (folded by the compiler, no names kept on a device,
# docs/architecture.md); other modules and tests read them from CURVE (p, a, b, n, g, glv).
_P = const(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F)
_A = const(0)
_B = const(7)
_N = const(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141)
_GX = const(0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798)
_GY = const(0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)
_HALF_N = const(_N >> 1)  # signing makes s <= _HALF_N (low s); 64-byte verify demands it

# lambda*(x, y) = (_BETA*x, y); _LAMBDA^3 = 1 mod _N, _BETA^3 = 1 mod _P.
_BETA = const(0x7AE96A2B657C07106E64479EAC3434E99CF0497512F58995C1396C28719501EE)
_LAMBDA = const(0x5363AD4CC05C30E0A5261C028812645A122E22EA20816678DF02967C1B23BD72)
# Short basis of {(a, b): a + b*_LAMBDA = 0 mod _N} (GLV, extended Euclid on _N, _LAMBDA).
_A1 = const(0x3086D221A7D46BCDE86C90E49284EB15)
_B1 = const(-0xE4437ED6010E88286F547FA90ABFE4C3)
_A2 = const(0x114CA50F7A8E2F3F657C1108D9D44CFD8)
_B2 = const(_A1)


def _squarings(x, k):
    for _ in range(k):
        x = x * x % _P
    return x


def sqrt_candidate(c):
    """c**((p+1)/4) mod p: the square root of c if c has one (p = 3 mod 4), by an addition chain.

    (p+1)/4 in binary is 223 ones, a zero, 22 ones, four zeros, two ones, two zeros; the chain
    builds c**(2**k - 1) for k = 2, 3, 6, 9, 11, 22, 44, 88, 176, 220, 223 and shifts them into
    place: 253 squarings and 13 multiplications, against the ~300 of pow()'s windows, and
    faster than pow() on both runtimes (a square root is lifted for every signature of a batch,
    crypto/batch.py; bench/RESULTS.md).
    """
    x2 = c * c % _P * c % _P
    x3 = x2 * x2 % _P * c % _P
    x6 = _squarings(x3, 3) * x3 % _P
    x9 = _squarings(x6, 3) * x3 % _P
    x11 = _squarings(x9, 2) * x2 % _P
    x22 = _squarings(x11, 11) * x11 % _P
    x44 = _squarings(x22, 22) * x22 % _P
    x88 = _squarings(x44, 44) * x44 % _P
    x176 = _squarings(x88, 88) * x88 % _P
    x220 = _squarings(x176, 44) * x44 % _P
    x223 = _squarings(x220, 3) * x3 % _P
    t = _squarings(x223, 23) * x22 % _P
    t = _squarings(t, 6) * x2 % _P
    return _squarings(t, 2)


CURVE = ec.Curve("secp256k1", _P, _A, _B, _N, _GX, _GY, glv=(_BETA, _LAMBDA, _A1, _B1, _A2, _B2),
                 sqrt=sqrt_candidate, gtab="lightmeter.crypto.gtab_secp256k1")
# (the generator tables, precomputed: imported to sign; ec.py, "Generator tables")


def _private(priv32):
    if len(priv32) != 32:
        raise Malformed("private key: expected 32 bytes, got %d" % len(priv32))
    d = int.from_bytes(priv32, "big")
    if not 1 <= d < _N:
        raise Malformed("private key out of range [1, n-1]")
    return d


def _hash(hash32):
    if len(hash32) != 32:
        raise Malformed("hash: expected 32 bytes, got %d" % len(hash32))
    return int.from_bytes(hash32, "big")


def prepare(pub64, window=ec.P_WINDOW, parts=None, packed=False):
    """The key decoded once with its tables (ec.PublicKey), for `verify` in a loop.

    Meant for sealers, whose keys sign every block: a verification then skips
    decoding and table building; parts=2 also halves its doublings (for an
    extra 10 KB generator table, once).
    """
    return ec.PublicKey(CURVE, pub64, window, parts, packed)


def _key(pub):
    # A PublicKey of this curve, or the affine point of 64 bytes x || y.
    if isinstance(pub, ec.PublicKey):
        if pub.curve is not CURVE:
            raise Malformed("public key of another curve")
        return pub
    return CURVE.decode_point(pub)


def public_key(priv32):
    """64-byte public key x || y of a 32-byte private key."""
    return CURVE.encode_point(CURVE.to_affine(CURVE.mul_g(_private(priv32))))


def sign(priv32, hash32):
    """65-byte signature r || s || v of a 32-byte hash: RFC 6979 nonce, low s, v in {0, 1}.

    Not constant time (pure Python): sign where the timing cannot be watched.
    """
    d = _private(priv32)
    e = _hash(hash32)
    from lightmeter.crypto import rfc6979  # signing's only: a header step needs none of it
    for k in rfc6979.nonces(_N, d, hash32):
        x, y = CURVE.to_affine(CURVE.mul_g(k))
        if x >= _N:
            # R.x would need recovery id 2 or 3 (chance ~2**-128); keep v in {0, 1}.
            continue
        r = x
        s = ec.inverse(k, _N) * (e + r * d) % _N
        if not s:
            continue
        v = y & 1
        if s > _HALF_N:
            s = _N - s
            v ^= 1
        return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v,))


def _signature(sig):
    if len(sig) != 64 and len(sig) != 65:
        raise Malformed("signature: expected 64 or 65 bytes, got %d" % len(sig))
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")


def r_point(r, v):
    """R of a signature's r and recovery id v (0..3) as FISCO's libsecp256k1 lifts it, or None.

    x = r + n for v >= 2 (must stay below p), y of parity v & 1; None if no such point.
    """
    if v > 1:
        r += _N
        if r >= _P:
            return None
    return CURVE.lift_x(r, v & 1)


def verify(pub, hash32, sig):
    """True if sig is a valid signature of hash32 by pub.

    pub is 64 bytes x || y (Malformed if not a curve point) or a `prepare`d key.
    sig is r || s || v (65 bytes): the answer FISCO gets by recovering the key
    and comparing it with pub (module docstring: v in 0..3, r and s in
    [1, n-1], any s). Or r || s (64 bytes): plain ECDSA with low s. Raises
    Malformed only for wrong lengths and bad keys; any other defect gives False.
    """
    e = _hash(hash32)
    r, s = _signature(sig)
    key = _key(pub)
    if len(sig) == 65:
        v = sig[64]
        if v > 3 or not (0 < r < _N and 0 < s < _N):
            return False
    else:
        v = -1
        if not (0 < r < _N and 0 < s <= _HALF_N):
            return False
    w = ec.inverse(s, _N)
    # u1*G + u2*Q is R exactly when Q = r^-1 (s*R - e*G), the key recovery gives.
    jp = CURVE.mul_add(e * w % _N, r * w % _N, key)
    if v < 0:
        return CURVE.x_equals(jp, r)
    x = r + _N if v > 1 else r
    if not CURVE.x_equals(jp, x):
        return False
    return CURVE.to_affine(jp)[1] & 1 == v & 1


def recover(hash32, sig65):
    """The 64-byte public key that made the 65-byte signature sig65 of hash32.

    FISCO's secp256k1Recover (module docstring). Malformed for wrong lengths;
    Invalid if v is above 3, r or s is not in [1, n-1], R does not exist or
    the key would be the point at infinity.
    """
    e = _hash(hash32)
    if len(sig65) != 65:
        raise Malformed("signature: expected 65 bytes, got %d" % len(sig65))
    r, s = _signature(sig65)
    v = sig65[64]
    if v > 3:
        raise Invalid("recovery id must be 0..3, got %d" % v)
    if not (0 < r < _N and 0 < s < _N):
        raise Invalid("signature r or s out of range [1, n-1]")
    R = r_point(r, v)
    if R is None:
        raise Invalid("no curve point has the x this signature's r and v name")
    ri = ec.inverse(r, _N)
    # Q = r^-1 (s*R - e*G)
    q = CURVE.to_affine(CURVE.mul_add(-e * ri % _N, s * ri % _N, R))
    if q is None:
        raise Invalid("signature recovers the point at infinity")
    return CURVE.encode_point(q)
