"""SM2 signatures as FISCO BCOS's "sm" crypto suite uses them.

SM2 digital signature (GB/T 32918.2-2016, GM/T 0003.2-2012) on the
recommended curve sm2p256v1 (GB/T 32918.5-2017), with SM3 as the hash.
Signatures are 64 bytes r || s; public keys (node IDs) are 64 bytes x || y.
The signed message M is prefixed with Z_A, a hash of the signer's ID and key:
e = SM3(Z_A || M). FISCO signs the 32-byte header or transaction hash as M
with the default ID "1234567812345678" (checked against real block signatures
in tests/firmware/test_sm2.py).

Nonces are deterministic: RFC 6979 with HMAC-SHA256 over (d, e) and the SM2
order n, see rfc6979.py. The standard asks only for k in [1, n-1]; this k is
one, and a weak device RNG can never repeat it. Not constant time.
"""

from lightmeter.crypto import ec
from lightmeter.errors import Malformed
from lightmeter.crypto.sm3 import sm3

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# The curve's parameters as private constants (folded by the compiler, no names kept on a device,
# docs/architecture.md); other modules and tests read them from CURVE (p, a, b, n, g).
_P = const(0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF)
_A = const(0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC)  # -3 mod _P
_B = const(0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93)
_N = const(0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123)
_GX = const(0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7)
_GY = const(0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0)

CURVE = ec.Curve("sm2p256v1", _P, _A, _B, _N, _GX, _GY, gtab="lightmeter.crypto.gtab_sm2")
# (the generator tables, precomputed: imported to sign; ec.py, "Generator tables")

DEFAULT_ID = b"1234567812345678"


def _private(curve, priv32):
    if len(priv32) != 32:
        raise Malformed("private key: expected 32 bytes, got %d" % len(priv32))
    d = int.from_bytes(priv32, "big")
    # 1 + d must be invertible mod n, hence n-2 at most (GB/T 32918.1, 6.1).
    if not 1 <= d <= curve.n - 2:
        raise Malformed("private key out of range [1, n-2]")
    return d


def _digest(e32):
    if len(e32) != 32:
        raise Malformed("digest: expected 32 bytes, got %d" % len(e32))
    return int.from_bytes(e32, "big")


def _za(curve, pub64, uid, hasher):
    if len(uid) > 8191:
        raise Malformed("SM2 user ID longer than 8191 bytes")
    gx, gy = curve.g
    return hasher(
        (len(uid) * 8).to_bytes(2, "big")
        + bytes(uid)
        + curve.a.to_bytes(32, "big")
        + curve.b.to_bytes(32, "big")
        + gx.to_bytes(32, "big")
        + gy.to_bytes(32, "big")
        + bytes(pub64)
    )


def _pub_bytes(pub):
    if isinstance(pub, ec.PublicKey):
        return pub.data
    if len(pub) != 64:
        raise Malformed("public key: expected 64 bytes (x || y), got %d" % len(pub))
    return pub


def za(pub64, uid=DEFAULT_ID, hasher=sm3):
    """Z_A = H(ENTL || ID || a || b || xG || yG || xA || yA) for a 64-byte key (or `prepare`d key)."""
    return _za(CURVE, _pub_bytes(pub64), uid, hasher)


def prepare(pub64, window=ec.P_WINDOW, parts=None, packed=False):
    """The key decoded once with its tables (ec.PublicKey), for `verify` in a loop.

    Verifying with it takes half the doublings (see ec.PublicKey); building
    it costs about one verification.
    """
    return ec.PublicKey(CURVE, pub64, window, parts, packed)


def public_key(priv32):
    """64-byte public key x || y of a 32-byte private key in [1, n-2]."""
    return CURVE.encode_point(CURVE.to_affine(CURVE.mul_g(_private(CURVE, priv32))))


def sign_with_nonce(curve, d, e, k):
    """(r, s) for key d, digest e and nonce k, or None if k is unusable (GB/T 32918.2, 6.1 A4-A6)."""
    n = curve.n
    x1 = curve.to_affine(curve.mul_g(k))[0]
    r = (e + x1) % n
    if not r or r + k == n:
        return None
    s = ec.inverse(1 + d, n) * (k - r * d) % n
    if not s:
        return None
    return r, s


def sign_digest(priv32, e32):
    """64-byte r || s over an SM2 digest e32 = SM3(Z_A || M) (no further hashing)."""
    d = _private(CURVE, priv32)
    e = _digest(e32)
    from lightmeter.crypto import rfc6979  # signing's only: a header step needs none of it
    for k in rfc6979.nonces(_N, d, e32):
        rs = sign_with_nonce(CURVE, d, e, k)
        if rs is not None:
            return rs[0].to_bytes(32, "big") + rs[1].to_bytes(32, "big")


def sign(priv32, msg, uid=DEFAULT_ID, za=None):
    """64-byte r || s over message msg: e = SM3(Z_A || msg).

    za: the signer's Z_A if the caller keeps it (saves a scalar multiplication);
    it must be this key's Z_A for uid.
    """
    if za is None:
        za = _za(CURVE, public_key(priv32), uid, sm3)
    elif len(za) != 32:
        raise Malformed("Z_A: expected 32 bytes, got %d" % len(za))
    return sign_digest(priv32, sm3(bytes(za) + bytes(msg)))


def verify_with(curve, key, e, r, s):
    """The SM2 verification equation (GB/T 32918.2, 7.1 B5-B7) for integers e, r, s."""
    n = curve.n
    if not (0 < r < n and 0 < s < n):
        return False
    t = (r + s) % n
    if not t:
        return False
    jp = curve.mul_add(s, t, key)
    # r == (e + x1) mod n  <=>  x1 == (r - e) mod n, or that plus n while below p.
    x1 = (r - e) % n
    if curve.x_equals(jp, x1):
        return True
    return curve.x_equals(jp, x1 + n)


def verify_digest(pub, e32, sig64):
    """True if sig64 = r || s is a valid SM2 signature of the digest e32 by pub.

    pub is 64 bytes x || y (Malformed if not a curve point) or a `prepare`d key.
    Malformed for wrong lengths; any other defect gives False.
    """
    e = _digest(e32)
    if len(sig64) != 64:
        raise Malformed("signature: expected 64 bytes, got %d" % len(sig64))
    if isinstance(pub, ec.PublicKey):
        if pub.curve is not CURVE:
            raise Malformed("public key of another curve")
        key = pub
    else:
        key = CURVE.decode_point(pub)
    r = int.from_bytes(sig64[:32], "big")
    s = int.from_bytes(sig64[32:], "big")
    return verify_with(CURVE, key, e, r, s)


def verify(pub, msg, sig64, uid=DEFAULT_ID, za=None):
    """True if sig64 is pub's SM2 signature of msg with user ID uid.

    za: pub's Z_A for uid if the caller keeps it (one SM3 of ~210 bytes saved).
    """
    pub64 = _pub_bytes(pub)
    if len(sig64) != 64:
        raise Malformed("signature: expected 64 bytes, got %d" % len(sig64))
    if za is None:
        za = _za(CURVE, pub64, uid, sm3)
    elif len(za) != 32:
        raise Malformed("Z_A: expected 32 bytes, got %d" % len(za))
    return verify_digest(pub, sm3(bytes(za) + bytes(msg)), sig64)
