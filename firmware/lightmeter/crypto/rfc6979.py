"""Deterministic signature nonces (RFC 6979, section 3.2) with HMAC-SHA256.

A device's random number generator may be weak; a nonce derived from the key
and the message hash can never repeat for two different messages, so a weak
RNG cannot leak the key. secp256k1 ECDSA uses it exactly as RFC 6979 says (the
same nonces as libsecp256k1's default, so signatures match it byte for byte).
SM2 uses the same construction with the SM2 order n and the SM2 digest
e = SM3(Z_A || M) in place of the message hash; GB/T 32918 only asks for a
random k in [1, n-1], and any such k is a valid SM2 nonce.

MicroPython has hashlib.sha256 but no hmac module, so HMAC (RFC 2104) is
written out here.
"""

import hashlib

from lightmeter.errors import Malformed

_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def hmac_sha256(key, msg):
    """HMAC-SHA256 (RFC 2104) of msg under key."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + bytes(64 - len(key))
    inner = hashlib.sha256(bytes(_IPAD[b] for b in key))
    inner.update(msg)
    outer = hashlib.sha256(bytes(_OPAD[b] for b in key))
    outer.update(inner.digest())
    return outer.digest()


def nonces(n, x, h32):
    """Endless candidates k in [1, n-1] for key x and 32-byte hash h32 (RFC 6979 3.2).

    n must be a 256-bit group order (2**255 <= n < 2**256), so qlen = hlen = 256
    and bits2int is plain big-endian decoding. The caller takes the first
    candidate that gives a valid signature.
    """
    if not (1 << 255) <= n < (1 << 256) or len(h32) != 32:
        raise Malformed("rfc6979: needs a 256-bit order and a 32-byte hash")
    # Step a-d: h1 is bits2octets(h1) = int(h1) mod n, as 32 bytes.
    xb = x.to_bytes(32, "big")
    hb = (int.from_bytes(h32, "big") % n).to_bytes(32, "big")
    v = b"\x01" * 32
    k = bytes(32)
    k = hmac_sha256(k, v + b"\x00" + xb + hb)  # step d
    v = hmac_sha256(k, v)  # step e
    k = hmac_sha256(k, v + b"\x01" + xb + hb)  # step f
    v = hmac_sha256(k, v)  # step g
    while True:
        v = hmac_sha256(k, v)  # step h: tlen = qlen, one block
        c = int.from_bytes(v, "big")
        if 1 <= c < n:
            yield c
        k = hmac_sha256(k, v + b"\x00")
        v = hmac_sha256(k, v)
