"""Differential tests of the pure-Python curves against independent implementations (CPython only).

Oracles: coincurve (libsecp256k1) for secp256k1 signing, verification and
recovery; python-ecdsa for secp256k1 verification and RFC 6979 nonces; tinyec
for point arithmetic, on curves built here from the published parameters;
gmssl for SM2 signatures (its hex-string API, Z_A with the default ID). Hostile
inputs must give False or one of our typed errors, nothing else.
"""

import hashlib

import coincurve
import ecdsa
import pytest
from ecdsa.util import sigdecode_string
from gmssl import sm2 as gm_sm2
from hypothesis import HealthCheck, given, settings, strategies as st
from tinyec import ec as tec

from lightmeter.crypto import ec, rfc6979, secp256k1, sm2
from lightmeter.errors import Invalid, LightmeterError, Malformed
from lightmeter.crypto.sm3 import sm3

N1 = secp256k1.CURVE.n
N2 = sm2.CURVE.n
LAMBDA = secp256k1.CURVE.glv[1]  # the endomorphism's scalar
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

EDGES1 = [1, 2, 3, N1 - 1, N1 - 2, 1 << 128, (1 << 128) - 1, LAMBDA, N1 - LAMBDA]
EDGES2 = [1, 2, 3, N2 - 1, N2 - 2, 1 << 128, (1 << 128) - 1, (1 << 128) + 1, 1 << 255]


def scalars(n, edges):
    return st.one_of(st.integers(1, n - 1), st.sampled_from(edges))


def priv_bytes(n, edges):
    return scalars(n, edges).map(lambda d: d.to_bytes(32, "big"))


# SM2 private keys are in [1, n-2] (1 + d must be invertible).
sm2_privs = st.one_of(st.integers(1, N2 - 2), st.sampled_from(EDGES2[:3] + [N2 - 2])).map(
    lambda d: d.to_bytes(32, "big"))


hashes = st.binary(min_size=32, max_size=32)


def tinyec_curve(mod):
    c = mod.CURVE
    field = tec.SubGroup(c.p, (c.g[0], c.g[1]), c.n, 1)
    return tec.Curve(c.a, c.b, field, c.name)


TEC1 = tinyec_curve(secp256k1)
TEC2 = tinyec_curve(sm2)


def tec_point(curve, pt):
    return tec.Point(curve, pt[0], pt[1])


def tec_affine(q):
    if isinstance(q, tec.Inf):
        return None
    return (q.x, q.y)


# -- point arithmetic against tinyec -------------------------------------------


@SETTINGS
@given(scalars(N1, EDGES1), scalars(N1, EDGES1))
def test_secp256k1_point_arithmetic_matches_tinyec(k, j):
    c = secp256k1.CURVE
    g = TEC1.g
    q = c.to_affine(c.mul_g(j))
    assert q == tec_affine(j * g)
    assert c.to_affine(c.mul_g(k)) == tec_affine(k * g)
    assert c.to_affine(c.mul(k, q)) == tec_affine(k * tec_point(TEC1, q))
    assert c.add(c.g, q) == tec_affine(g + tec_point(TEC1, q))
    assert c.to_affine(c.mul_add(k, j, q)) == tec_affine(k * g + j * tec_point(TEC1, q))


@SETTINGS
@given(scalars(N2, EDGES2), scalars(N2, EDGES2))
def test_sm2_point_arithmetic_matches_tinyec(k, j):
    c = sm2.CURVE
    g = TEC2.g
    q = c.to_affine(c.mul_g(j))
    assert q == tec_affine(j * g)
    assert c.to_affine(c.mul(k, q)) == tec_affine(k * tec_point(TEC2, q))
    want = tec_affine(k * g + j * tec_point(TEC2, q))
    assert c.to_affine(c.mul_add(k, j, q)) == want
    assert c.to_affine(c.mul_add(k, j, ec.PublicKey(c, c.encode_point(q), 4, 3))) == want


# -- secp256k1 against coincurve and python-ecdsa ------------------------------


@SETTINGS
@given(priv_bytes(N1, EDGES1), hashes)
def test_secp256k1_sign_matches_coincurve_byte_for_byte(priv, h):
    key = coincurve.PrivateKey(priv)
    pub = key.public_key.format(compressed=False)[1:]
    assert secp256k1.public_key(priv) == pub
    sig = secp256k1.sign(priv, h)
    assert sig == key.sign_recoverable(h, hasher=None)
    assert secp256k1.recover(h, sig) == pub
    assert coincurve.PublicKey.from_signature_and_message(sig, h, hasher=None).format(False)[1:] == pub


@SETTINGS
@given(priv_bytes(N1, EDGES1), hashes, hashes)
def test_secp256k1_verify_agrees_with_python_ecdsa(priv, h, other):
    vk = ecdsa.SigningKey.from_string(priv, curve=ecdsa.SECP256k1).get_verifying_key()
    pub = vk.to_string()
    sig = secp256k1.sign(priv, h)
    assert vk.verify_digest(sig[:64], h, sigdecode=sigdecode_string)
    assert secp256k1.verify(pub, h, sig) and secp256k1.verify(pub, h, sig[:64])
    # python-ecdsa's own deterministic signature: ours accepts it once low-s.
    theirs = ecdsa.SigningKey.from_string(priv, curve=ecdsa.SECP256k1).sign_digest_deterministic(
        h, hashfunc=hashlib.sha256, sigencode=ecdsa.util.sigencode_string)
    r = int.from_bytes(theirs[:32], "big")
    s = int.from_bytes(theirs[32:], "big")
    low = min(s, N1 - s)
    assert secp256k1.verify(pub, h, theirs) == (s == low)
    assert secp256k1.verify(pub, h, r.to_bytes(32, "big") + low.to_bytes(32, "big"))
    if other != h:
        assert not secp256k1.verify(pub, other, sig)


# r small enough that x = r + n is below p, for recovery ids 2 and 3
small_r = st.integers(1, secp256k1.CURVE.p - N1 - 1)


@SETTINGS
@given(hashes, st.one_of(st.integers(1, N1 - 1), small_r), st.integers(1, N1 - 1), st.integers(0, 3))
def test_secp256k1_recover_matches_coincurve(h, r, s, v):
    # FISCO's rule is libsecp256k1's recovery (Secp256k1Crypto.cpp lines 70-98, 138-151 at
    # v3.16.4): v 0..3, any s in [1, n-1], high s included. coincurve wraps that libsecp256k1.
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v,))
    try:
        theirs = coincurve.PublicKey.from_signature_and_message(sig, h, hasher=None).format(False)[1:]
    except Exception:
        theirs = None
    try:
        ours = secp256k1.recover(h, sig)
    except Invalid:
        ours = None
    assert ours == theirs
    if ours is not None:
        assert secp256k1.verify(ours, h, sig)
        assert not secp256k1.verify(ours, h, sig[:64] + bytes((v ^ 1,)))


@SETTINGS
@given(st.binary(min_size=0, max_size=80), hashes, priv_bytes(N1, EDGES1))
def test_secp256k1_hostile_signatures(junk, h, priv):
    pub = secp256k1.public_key(priv)
    for sig in (junk, junk[:64], junk[:65]):
        try:
            ok = secp256k1.verify(pub, h, sig)
        except Malformed:
            assert len(sig) not in (64, 65)
            continue
        assert ok is False or (ok is True and sig[:64] == secp256k1.sign(priv, h)[:64])
        try:
            secp256k1.recover(h, sig)
        except LightmeterError:
            pass


@SETTINGS
@given(st.binary(min_size=64, max_size=64), hashes, st.binary(min_size=65, max_size=65))
def test_secp256k1_hostile_public_keys(pub, h, sig):
    try:
        assert secp256k1.verify(pub, h, sig) in (True, False)
    except Malformed:
        x = int.from_bytes(pub[:32], "big")
        y = int.from_bytes(pub[32:], "big")
        assert not secp256k1.CURVE.on_curve(x, y)


@FEW
@given(st.integers(1, N1 - 1), hashes)
def test_rfc6979_candidates_match_python_ecdsa(x, h):
    gen = rfc6979.nonces(N1, x, h)
    for retry in range(3):
        want = ecdsa.rfc6979.generate_k(N1, x, hashlib.sha256, h, retry_gen=retry)
        assert next(gen) == want


# -- SM2 against gmssl ---------------------------------------------------------


def gmssl_key(priv, pub):
    # gmssl takes hex strings, the public key without the 04 prefix (it goes into
    # Z_A as it is). Its constructor strips any leading "0"/"4" characters of a key
    # starting with "04" (str.lstrip("04")), so set the key after construction.
    g = gm_sm2.CryptSM2(private_key=priv.hex(), public_key="")
    g.public_key = pub.hex()
    return g


@FEW
@given(sm2_privs, st.binary(max_size=100))
def test_sm2_signatures_interoperate_with_gmssl(priv, msg):
    pub = sm2.public_key(priv)
    g = gmssl_key(priv, pub)
    assert g._kg(int.from_bytes(priv, "big"), g.ecc_table["g"]) == pub.hex()
    ours = sm2.sign(priv, msg)
    assert g.verify_with_sm3(ours.hex(), msg)
    theirs = bytes.fromhex(g.sign_with_sm3(msg))
    assert sm2.verify(pub, msg, theirs)
    # Digest level: e = SM3(Z_A || msg) on both sides.
    e = sm3(sm2.za(pub) + msg)
    assert g.verify(sm2.sign_digest(priv, e).hex(), e)
    assert sm2.verify_digest(pub, e, bytes.fromhex(g.sign(e, "%064x" % 12345)))


@FEW
@given(sm2_privs, hashes, st.integers(1, N2 - 1))
def test_sm2_sign_with_nonce_matches_gmssl(priv, e, k):
    d = int.from_bytes(priv, "big")
    g = gmssl_key(priv, sm2.public_key(priv))
    rs = sm2.sign_with_nonce(sm2.CURVE, d, int.from_bytes(e, "big"), k)
    theirs = g.sign(e, "%064x" % k)
    if rs is None:
        assert theirs is None
    else:
        assert theirs == "%064x%064x" % rs


@SETTINGS
@given(st.binary(min_size=0, max_size=70), hashes, sm2_privs)
def test_sm2_hostile_signatures(junk, e, priv):
    pub = sm2.public_key(priv)
    for sig in (junk, junk[:64]):
        try:
            ok = sm2.verify_digest(pub, e, sig)
        except Malformed:
            assert len(sig) != 64
            continue
        assert ok is False or sig == sm2.sign_digest(priv, e)
        try:
            assert sm2.verify(pub, e, sig) in (True, False)
        except Malformed:
            assert len(sig) != 64


@SETTINGS
@given(st.binary(min_size=64, max_size=64), hashes, st.binary(min_size=64, max_size=64))
def test_sm2_hostile_public_keys(pub, e, sig):
    try:
        assert sm2.verify_digest(pub, e, sig) in (True, False)
    except Malformed:
        assert not sm2.CURVE.on_curve(int.from_bytes(pub[:32], "big"), int.from_bytes(pub[32:], "big"))


def test_fisco_block2_against_gmssl():
    import json
    import pathlib

    path = pathlib.Path(__file__).parent.parent / "vectors" / "fisco-doc-sm-block2.json"
    blk = json.loads(path.read_text())["result"]
    h = bytes.fromhex(blk["hash"][2:])
    for item in blk["signatureList"]:
        pub = bytes.fromhex(blk["sealerList"][item["sealerIndex"]][2:])
        sig = bytes.fromhex(item["signature"][2:])
        g = gmssl_key(b"\x00", pub)
        assert g.verify_with_sm3(sig.hex(), h)
        assert sm2.verify(pub, h, sig)
