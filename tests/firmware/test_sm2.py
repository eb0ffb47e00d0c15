"""SM2 signatures (lightmeter.crypto.sm2) on sm2p256v1, and the a = -3 and generic-a curve paths.

Sources of the constants:
- curve sm2p256v1: GB/T 32918.5-2017 (GM/T 0003.5-2012);
- recommended-curve example (ID "1234567812345678", M = "message digest",
  d, k, Z_A-derived e, r, s): Annex A of GM/T 0003.5-2012 / GB/T 32918.5,
  as quoted by intel/ehsm's enclave self test, Hyperledger-style SDKs and
  gmssl's own test (which also prints e = F0B43E94...);
- example curve of GB/T 32918.2 Annex A (draft-shen-sm2-ecdsa-02), a generic
  a, ID "ALICE123@YAHOO.COM": as in OpenSSL test/sm2_internal_test.c;
- FISCO block 2: three real PBFT signatures from a 4-node SM chain
  (tests/vectors/fisco-doc-sm-block2.json, fisco-bcos-3x.md 5.4).
"""

from lightmeter.crypto import ec, sm2
from lightmeter.errors import Malformed
from lightmeter.crypto.sm3 import sm3
import refcurve
from support import load_vector, raises, unhex

C = sm2.CURVE
N = C.n
P = C.p
G = C.g


# -- a plain reference: affine double-and-add --------------------------------


def plain_mul(k, pt, p=P, a=C.a):
    return refcurve.mul(k, pt, p, a)


def _b(i):
    return i.to_bytes(32, "big")


EDGE_SCALARS = [0, 1, 2, 3, N - 1, N - 2, (N + 1) // 2, 1 << 128, (1 << 128) - 1,
                (1 << 128) + 1, 1 << 255, 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8]


def test_generator_is_on_the_curve_and_has_order_n():
    assert C.kind == 1  # a = -3: the fast doubling
    assert C.on_curve(G[0], G[1])
    assert plain_mul(N, G) is None


def test_scalar_multiplication_matches_double_and_add():
    q = plain_mul(5, G)
    for k in EDGE_SCALARS:
        want = plain_mul(k % N, G)
        assert C.to_affine(C.mul_g(k)) == want, k
        assert C.to_affine(C.mul(k, G)) == want, k
    keys = [q, sm2.prepare(C.encode_point(q)), sm2.prepare(C.encode_point(q), 5, 1),
            sm2.prepare(C.encode_point(q), 4, 4), sm2.prepare(C.encode_point(q), 5, 2, True),
            sm2.prepare(C.encode_point(q), 6, 1, True)]
    for u1, u2 in ((1, 1), (0, 3), (N - 1, 1 << 128), ((1 << 128) - 1, N - 2)):
        want = refcurve.add(plain_mul(u1, G, P, C.a), plain_mul(u2, q, P, C.a), P, C.a)
        for key in keys:
            assert C.to_affine(C.mul_add(u1, u2, key)) == want, (u1, u2)


# -- standard examples -------------------------------------------------------

ANNEX_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
ANNEX_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
ANNEX_PUB = unhex("09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
                  "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13")
ANNEX_E = unhex("f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640")
ANNEX_SIG = unhex("f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
                  "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa")


def test_annex_a_recommended_curve():
    priv = _b(ANNEX_D)
    assert sm2.public_key(priv) == ANNEX_PUB
    assert sm3(sm2.za(ANNEX_PUB) + b"message digest") == ANNEX_E
    r, s = sm2.sign_with_nonce(C, ANNEX_D, int.from_bytes(ANNEX_E, "big"), ANNEX_K)
    assert _b(r) + _b(s) == ANNEX_SIG
    assert sm2.verify(ANNEX_PUB, b"message digest", ANNEX_SIG)
    assert sm2.verify_digest(ANNEX_PUB, ANNEX_E, ANNEX_SIG)
    assert not sm2.verify(ANNEX_PUB, b"message digest", ANNEX_SIG, uid=b"ALICE123@YAHOO.COM")
    assert not sm2.verify(ANNEX_PUB, b"message digesT", ANNEX_SIG)


def test_annex_a_example_curve_generic_a():
    # GB/T 32918.2 Annex A's own 256-bit curve: a is neither 0 nor -3.
    curve = ec.Curve(
        "sm2-example",
        0x8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3,
        0x787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498,
        0x63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A,
        0x8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7,
        0x421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D,
        0x0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2,
    )
    assert curve.kind == 2
    d = 0x128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263
    k = 0x6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F
    pub = curve.encode_point(curve.to_affine(curve.mul_g(d)))
    assert pub == unhex("0ae4c7798aa0f119471bee11825be46202bb79e2a5844495e97c04ff4df2548a"
                        "7c0240f88f1cd4e16352a73c17b7f16f07353e53a176d684a9fe0c6bb798e857")
    assert curve.to_affine(curve.mul_g(d)) == plain_mul(d, curve.g, curve.p, curve.a)
    za = sm2._za(curve, pub, b"ALICE123@YAHOO.COM", sm3)
    e = int.from_bytes(sm3(za + b"message digest"), "big")
    r, s = sm2.sign_with_nonce(curve, d, e, k)
    assert r == 0x40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1
    assert s == 0x6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7
    pt = curve.decode_point(pub)
    assert sm2.verify_with(curve, pt, e, r, s)
    assert sm2.verify_with(curve, ec.PublicKey(curve, pub), e, r, s)
    assert not sm2.verify_with(curve, pt, e + 1, r, s)


# -- FISCO BCOS: real PBFT signatures ----------------------------------------

BLOCK2 = load_vector("fisco-doc-sm-block2.json")["result"]
HEADER_HASH = unhex(BLOCK2["hash"])


def _block2_signatures():
    out = []
    for item in BLOCK2["signatureList"]:
        pub = unhex(BLOCK2["sealerList"][item["sealerIndex"]])
        out.append((pub, unhex(item["signature"])))
    return out


def test_fisco_block2_signatures_verify_with_default_za():
    sigs = _block2_signatures()
    assert len(sigs) == 3
    for pub, sig in sigs:
        assert sm2.verify(pub, HEADER_HASH, sig)
        assert sm2.verify(pub, HEADER_HASH, sig, za=sm2.za(pub))
        assert sm2.verify(sm2.prepare(pub), HEADER_HASH, sig)
        assert sm2.verify_digest(pub, sm3(sm2.za(pub) + HEADER_HASH), sig)


def test_fisco_block2_signatures_are_not_digest_level():
    for pub, sig in _block2_signatures():
        assert not sm2.verify_digest(pub, HEADER_HASH, sig)


def test_fisco_block2_signatures_do_not_cross():
    (p0, s0), (p1, s1), _ = _block2_signatures()
    assert not sm2.verify(p1, HEADER_HASH, s0)
    assert not sm2.verify(p0, HEADER_HASH, s1)
    assert not sm2.verify(p0, bytes(32), s0)


# -- hostile input -----------------------------------------------------------

PRIV = unhex("6a7d1f1c0de1c0de1c0de1c0de1c0de1c0de1c0de1c0de1c0de1c0de1c0de1c0")
PUB = sm2.public_key(PRIV)
E1 = sm3(b"an SM2 digest")
SIG = sm2.sign_digest(PRIV, E1)
R = int.from_bytes(SIG[:32], "big")
S = int.from_bytes(SIG[32:], "big")


def test_r_and_s_out_of_range():
    for r, s in ((0, S), (N, S), (N + 1, S), (R, 0), (R, N), (R, N + 1), ((1 << 256) - 1, S)):
        assert not sm2.verify_digest(PUB, E1, _b(r) + _b(s))


def test_t_zero_is_rejected():
    # t = r + s = 0 mod n would make the result independent of the key.
    assert not sm2.verify_digest(PUB, E1, _b(R) + _b(N - R))


def test_tampered_signatures():
    assert sm2.verify_digest(PUB, E1, SIG)
    assert not sm2.verify_digest(PUB, E1, SIG[32:] + SIG[:32])
    assert not sm2.verify_digest(PUB, E1, _b(R) + _b(N - S))
    for i in (0, 31, 32, 63):
        bad = bytearray(SIG)
        bad[i] ^= 1
        assert not sm2.verify_digest(PUB, E1, bytes(bad))
    assert not sm2.verify_digest(PUB, sm3(E1), SIG)


def test_wrong_lengths_are_malformed():
    assert raises(Malformed, sm2.verify_digest, PUB[:63], E1, SIG)
    assert raises(Malformed, sm2.verify_digest, b"\x04" + PUB, E1, SIG)
    assert raises(Malformed, sm2.verify_digest, PUB, E1[:31], SIG)
    assert raises(Malformed, sm2.verify_digest, PUB, E1, SIG + b"\x00")
    assert raises(Malformed, sm2.verify_digest, PUB, E1, SIG[:63])
    assert raises(Malformed, sm2.verify, PUB, b"m", SIG + PUB)  # tx layout: split it first
    assert raises(Malformed, sm2.verify, PUB[1:], b"m", SIG)
    assert raises(Malformed, sm2.verify, PUB, b"m", SIG, za=E1[:31])
    assert raises(Malformed, sm2.za, PUB + b"\x00")
    assert raises(Malformed, sm2.za, PUB, b"x" * 8192)
    assert raises(Malformed, sm2.sign_digest, PRIV, E1 + b"\x00")
    assert raises(Malformed, sm2.sign_digest, PRIV[:31], E1)


def test_private_key_range():
    assert raises(Malformed, sm2.public_key, bytes(32))
    assert raises(Malformed, sm2.public_key, _b(N - 1))  # 1 + d must be invertible
    assert raises(Malformed, sm2.sign_digest, _b(N), E1)
    d = _b(N - 2)
    assert sm2.verify_digest(sm2.public_key(d), E1, sm2.sign_digest(d, E1))


def test_off_curve_public_keys_are_malformed():
    x = int.from_bytes(PUB[:32], "big")
    y = int.from_bytes(PUB[32:], "big")
    for bad in (_b(x) + _b((y + 1) % P), bytes(64), _b(P) + _b(y), _b(x) + _b(P),
                _b((1 << 256) - 1) + _b(y)):
        assert raises(Malformed, sm2.verify_digest, bad, E1, SIG)
        assert raises(Malformed, sm2.verify, bad, b"m", SIG)
    # A point with a small x, written as x + p: same point mod p, not canonical.
    x = 1
    while C.lift_x(x, 0) is None:
        x += 1
    y = C.lift_x(x, 0)[1]
    assert C.decode_point(_b(x) + _b(y)) == (x, y)
    assert raises(Malformed, sm2.verify_digest, _b(x + P) + _b(y), E1, SIG)


def test_za_default_id():
    # ENTL is the ID length in bits, 2 bytes: 0x0080 for the 16-byte default ID.
    gx, gy = G
    pre = b"\x00\x80" + sm2.DEFAULT_ID + _b(C.a) + _b(C.b) + _b(gx) + _b(gy)
    assert sm2.za(PUB) == sm3(pre + PUB)
    assert sm2.za(PUB, b"") == sm3(b"\x00\x00" + pre[18:] + PUB)


# -- round trips -------------------------------------------------------------


def test_sign_verify_round_trips():
    for i in range(3):
        priv = sm3(b"key" + bytes((i,)))
        pub = sm2.public_key(priv)
        za = sm2.za(pub)
        key = sm2.prepare(pub)
        for msg in (b"", b"reading 42", HEADER_HASH):
            sig = sm2.sign(priv, msg)
            assert len(sig) == 64 and sm2.sign(priv, msg, za=za) == sig
            assert sm2.verify(pub, msg, sig) and sm2.verify(key, msg, sig, za=za)
            assert not sm2.verify(pub, msg + b"!", sig)
            assert not sm2.verify(pub, msg, sig, uid=b"another id")
        sig = sm2.sign(priv, b"m", uid=b"meter-7")
        assert sm2.verify(pub, b"m", sig, uid=b"meter-7")
        assert not sm2.verify(pub, b"m", sig)
