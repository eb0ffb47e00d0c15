"""secp256k1 ECDSA (lightmeter.crypto.secp256k1), its curve core (lightmeter.crypto.ec) and RFC 6979.

Sources of the constants:
- curve: SEC 2 v2 (2010) 2.4.1; endomorphism and lattice basis: derived below
  from the curve (cube roots of unity; GLV, CRYPTO 2001, section 4);
- deterministic signatures: the RFC 6979 secp256k1 vectors published by
  fpgaminer (bitcointalk.org topic 285142, msg 3299061) and reused by btcd's
  btcec and btclib, low-s form; v (recovery id) from coincurve 21.0.0
  (libsecp256k1), which reproduces all r and s below byte for byte;
- RFC 6979 nonces: RFC 6979 A.2.5 (P-256, SHA-256); HMAC-SHA256: RFC 4231.
The scalar-multiplication tests compare the windowed, interleaved, GLV code
with a plain affine double-and-add written here from the textbook formulas.
"""

import hashlib

from lightmeter.crypto import ec, rfc6979, secp256k1 as S
from lightmeter.errors import Invalid, Malformed
import refcurve
from support import raises, unhex

C = S.CURVE
N = C.n
P = C.p
G = C.g
GX, GY = G
BETA, LAMBDA, A1, B1, A2, B2 = C.glv


# -- a plain reference: affine double-and-add --------------------------------


def plain_mul(k, pt, p=P, a=0):
    return refcurve.mul(k, pt, p, a)


EDGE_SCALARS = [0, 1, 2, 3, 7, N - 1, N - 2, (N + 1) // 2, 1 << 128, (1 << 128) - 1,
                (1 << 129) + 1, LAMBDA, LAMBDA + 1, N - LAMBDA,
                0xF8B8AF8CE3C7CCA5E300D33939540C10D45CE001B8F252BFBC57BA0342904181]

Q7 = plain_mul(7, G)


def sha256(b):
    return hashlib.sha256(b).digest()


# -- curve and endomorphism constants ----------------------------------------


def test_generator_is_on_the_curve_and_has_order_n():
    assert C.on_curve(GX, GY)
    assert plain_mul(N, G) is None
    assert plain_mul(N - 1, G) == (GX, P - GY)


def test_endomorphism_constants():
    assert pow(BETA, 3, P) == 1 and BETA != 1
    assert pow(LAMBDA, 3, N) == 1 and LAMBDA != 1
    assert plain_mul(LAMBDA, G) == (BETA * GX % P, GY)


def test_glv_basis_is_a_lattice_basis():
    assert (A1 + B1 * LAMBDA) % N == 0
    assert (A2 + B2 * LAMBDA) % N == 0
    assert A1 * B2 - A2 * B1 == N


def test_glv_split_gives_short_halves():
    bound = 1 << 129
    for k in EDGE_SCALARS + [N - 1 - (1 << 200), 0x5555 << 240]:
        k1, k2 = C.split(k % N)
        assert (k1 + k2 * LAMBDA - k) % N == 0
        assert -bound < k1 < bound and -bound < k2 < bound


# -- scalar multiplication against the plain reference -----------------------


def test_wnaf_digits():
    for k in [0, 1, 2, 255, 256, (1 << 128) - 1, 1 << 128, N - 1, LAMBDA]:
        for w in (2, 4, 5, 8):
            pos, dig = ec.wnaf(k, w)
            total = 0
            for i in range(len(pos)):
                total += dig[i] << pos[i]
                assert dig[i] & 1 and -(1 << (w - 1)) < dig[i] < (1 << (w - 1))
                if i:
                    assert pos[i] - pos[i - 1] >= w
            assert total == k


def test_fixed_base_multiplication():
    for k in EDGE_SCALARS:
        assert C.to_affine(C.mul_g(k)) == plain_mul(k % N, G), k


def test_variable_base_multiplication():
    for k in EDGE_SCALARS:
        assert C.to_affine(C.mul(k, Q7)) == plain_mul(k % N, Q7), k


def test_double_scalar_multiplication():
    # u1*G + u2*Q by interleaving, stateless and with prepared keys of two shapes.
    keys = [Q7, S.prepare(C.encode_point(Q7)), S.prepare(C.encode_point(Q7), 6, 2),
            S.prepare(C.encode_point(Q7), 7, 1, True), S.prepare(C.encode_point(Q7), 4, 2, True)]
    pairs = [(1, 1), (0, 5), (5, 0), (N - 1, 1), (1 << 128, LAMBDA), (LAMBDA, N - 1)]
    for u1, u2 in pairs:
        want = refcurve.add(plain_mul(u1, G), plain_mul(u2, Q7), P, 0)
        for key in keys:
            assert C.to_affine(C.mul_add(u1, u2, key)) == want, (u1, u2)


def test_packed_tables_hold_the_same_points():
    # A packed table (bytes columns, beta*x made as looked up) is the kept table, entry by entry.
    pub = C.encode_point(Q7)
    kept = S.prepare(pub, 7).tables[0]
    packed = S.prepare(pub, 7, 1, True).tables[0]
    assert packed[0] == kept[0] == 7 and len(packed[1]) == len(kept[1]) == 32
    for j in (0, 1, 17, 31, -1):
        assert (packed[1][j], packed[2][j], packed[3][j]) == (kept[1][j], kept[2][j], kept[3][j])
    assert (kept[1][5], kept[2][5]) == plain_mul(11, Q7)


def test_exceptional_sums():
    # Q = G and a table as wide as G's: equal digits meet in one addition,
    # giving P + P (a doubling) and P + (-P) (infinity) inside the loop.
    g = S.prepare(C.encode_point(G), ec.G_WINDOW)
    u = 0x1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF
    assert C.to_affine(C.mul_add(u, u, g)) == plain_mul(2 * u, G)
    assert C.mul_add(u, N - u, g)[2] == 0
    assert C.mul_add(u, N - u, G)[2] == 0
    assert C.to_affine(C.mul_add(0, 0, G)) is None


def test_point_encoding():
    assert C.decode_point(C.encode_point(Q7)) == Q7
    assert raises(Malformed, C.encode_point, None)
    assert C.lift_x(GX, GY & 1) == G
    assert C.lift_x(GX, 1 - (GY & 1)) == (GX, P - GY)
    assert C.lift_x(5, 0) is None  # 5^3 + 7 is not a square mod p
    assert C.lift_x(P, 0) is None


def test_square_root_chain_is_the_exponentiation():
    # The addition chain computes c**((p+1)/4) exactly, squares and non-squares alike.
    e = (P + 1) >> 2
    assert e == int("1" * 223 + "0" + "1" * 22 + "0000" + "11" + "00", 2)
    x = 0
    for c in (0, 1, 2, 3, 5, 7, P - 1, P - 2, GX, GY, GX * GY % P):
        assert S.sqrt_candidate(c) == pow(c, e, P)
    for i in range(20):
        x = (x * 0x9E3779B97F4A7C15 + i + 1) % P
        assert S.sqrt_candidate(x) == pow(x, e, P)


# -- RFC 6979 ----------------------------------------------------------------


def test_hmac_sha256_rfc4231():
    assert rfc6979.hmac_sha256(b"\x0b" * 20, b"Hi There") == unhex(
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    assert rfc6979.hmac_sha256(b"Jefe", b"what do ya want for nothing?") == unhex(
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    msg = b"Test Using Larger Than Block-Size Key - Hash Key First"
    assert rfc6979.hmac_sha256(b"\xaa" * 131, msg) == unhex(
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")


def test_rfc6979_nonces_a25():
    # RFC 6979 A.2.5: ECDSA, 256 bits (prime field), SHA-256.
    q = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    x = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
    k = next(rfc6979.nonces(q, x, sha256(b"sample")))
    assert k == 0xA6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60
    k = next(rfc6979.nonces(q, x, sha256(b"test")))
    assert k == 0xD16B6AE827F17175E040871A1C7EC3500192C4C92677336EC2537ACAEE0008E0


def test_rfc6979_candidates_continue():
    gen = rfc6979.nonces(N, 1, sha256(b"Satoshi Nakamoto"))
    ks = [next(gen) for _ in range(3)]
    # The first is the nonce of the published signature below.
    assert ks[0] == 0x8F8A276C19F4149656B280621E358CCE24F5F52542772691EE69063B74F15D15
    assert len(set(ks)) == 3 and all(0 < k < N for k in ks)


# -- signatures: published vectors -------------------------------------------

# (private key, message hashed with SHA-256, r || s || v)
SIGNATURES = [
    (1, b"Satoshi Nakamoto",
     "934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8"
     "2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e501"),
    (1, b"All those moments will be lost in time, like tears in rain. Time to die...",
     "8600dbd41e348fe5c9465ab92d23e3db8b98b873beecd930736488696438cb6b"
     "547fe64427496db33bf66019dacbf0039c04199abb0122918601db38a72cfc2100"),
    (N - 1, b"Satoshi Nakamoto",
     "fd567d121db66e382991534ada77a6bd3106f0a1098c231e47993447cd6af2d0"
     "6b39cd0eb1bc8603e159ef5c20a5c8ad685a45b06ce9bebed3f153d10d93bed500"),
    (0xF8B8AF8CE3C7CCA5E300D33939540C10D45CE001B8F252BFBC57BA0342904181, b"Alan Turing",
     "7063ae83e7f62bbb171798131b4a0564b956930092b33b07b395615d9ec7e15c"
     "58dfcc1e00a35e1572f366ffe34ba0fc47db1e7189759b9fb233c5b05ab388ea00"),
    (1, b"Everything should be made as simple as possible, but not simpler.",
     "33a69cd2065432a30f3d1ce4eb0d59b8ab58c74f27c41a7fdb5696ad4e6108c9"
     "6f807982866f785d3f6418d24163ddae117b7db4d5fdf0071de069fa5434226200"),
    (0xCCA9FBCC1B41E5A95D369EAA6DDCFF73B61A4EFAA279CFC6567E8DAA39CBAF50, b"sample",
     "af340daf02cc15c8d5d08d7735dfe6b98a474ed373bdb5fbecf7571be52b3842"
     "5009fb27f37034a9b24b707b7c6b79ca23ddef9e25f7282e8a797efe53a8f12401"),
]


def test_public_key_of_one_is_the_generator():
    assert S.public_key((1).to_bytes(32, "big")) == C.encode_point(G)
    assert S.public_key((N - 1).to_bytes(32, "big")) == C.encode_point((GX, P - GY))


def test_published_deterministic_signatures():
    for d, msg, want in SIGNATURES:
        priv = d.to_bytes(32, "big")
        h = sha256(msg)
        sig = S.sign(priv, h)
        assert sig == unhex(want), msg
        pub = S.public_key(priv)
        assert S.verify(pub, h, sig) and S.verify(pub, h, sig[:64])
        assert S.recover(h, sig) == pub


# -- malleability and hostile input ------------------------------------------

PRIV = sha256(b"lightmeter secp256k1 test key")
PUB = S.public_key(PRIV)
H1 = sha256(b"header")
SIG = S.sign(PRIV, H1)
R = SIG[:32]
SS = int.from_bytes(SIG[32:64], "big")
V = SIG[64]


def _b(i):
    return i.to_bytes(32, "big")


def test_high_s_is_accepted_as_fisco_does():
    # FISCO's secp256k1Verify recovers the key with libsecp256k1's secp256k1_ecdsa_recover,
    # which has no low-s rule (bcos-crypto/bcos-crypto/signature/secp256k1/Secp256k1Crypto.cpp
    # lines 70-98 at v3.16.4): (r, n - s, v ^ 1) is the same key's signature on chain.
    high = R + _b(N - SS) + bytes((V ^ 1,))
    assert S.verify(PUB, H1, high)
    assert S.verify(S.prepare(PUB), H1, high)
    assert S.recover(H1, high) == PUB
    assert not S.verify(PUB, H1, R + _b(N - SS) + bytes((V,)))  # the wrong parity for -R
    # 64 bytes (no v) follow secp256k1_ecdsa_verify: low s only. Chain data never uses them.
    assert not S.verify(PUB, H1, high[:64])
    assert S.verify(PUB, H1, SIG[:64])


def test_r_and_s_out_of_range():
    for r, s in ((0, SS), (N, SS), (N + 1, SS), (int.from_bytes(R, "big"), 0),
                 (int.from_bytes(R, "big"), N), ((1 << 256) - 1, SS)):
        sig = _b(r) + _b(s) + bytes((V,))
        assert not S.verify(PUB, H1, sig)
        assert not S.verify(PUB, H1, sig[:64])
        assert raises(Invalid, S.recover, H1, sig)


def test_recovery_id():
    wrong = SIG[:64] + bytes((V ^ 1,))
    assert not S.verify(PUB, H1, wrong)  # FISCO recovers: a wrong v is a wrong key
    try:
        assert S.recover(H1, wrong) != PUB
    except Invalid:
        pass
    # 2 and 3 are legal (x = r + n); FISCO refuses v > 3 (Secp256k1Crypto.cpp lines 74-80, 141-147).
    for v in (2, 3):
        sig = SIG[:64] + bytes((v,))
        assert not S.verify(PUB, H1, sig)
        try:
            assert S.recover(H1, sig) != PUB
        except Invalid:
            pass
    for v in (4, 27, 28, 255):
        sig = SIG[:64] + bytes((v,))
        assert not S.verify(PUB, H1, sig)
        assert raises(Invalid, S.recover, H1, sig)


def large_x_signature(h, r=1, s=0x1234567):
    """(key, signature r||s||v) of h with v in {2, 3}: R has x = r + n (only for r < p - n).

    No signer can aim for such an R (chance ~2**-128 per nonce), but anyone can make a key that
    verifies one: recover it from a chosen (r, s, v).
    """
    while True:
        for v in (2, 3):
            if S.r_point(r, v) is not None:
                sig = _b(r) + _b(s) + bytes((v,))
                return S.recover(h, sig), sig
        r += 1


def test_recovery_id_2_and_3_name_x_plus_n():
    key, sig = large_x_signature(H1)
    r = int.from_bytes(sig[:32], "big")
    assert S.r_point(r, sig[64])[0] == r + N
    assert S.verify(key, H1, sig) and S.verify(S.prepare(key), H1, sig)
    assert not S.verify(key, H1, sig[:64] + bytes((sig[64] - 2,)))  # x = r: another R
    assert not S.verify(key, H1, sig[:64] + bytes((sig[64] ^ 1,)))
    # x = r + n must stay below p: no R for r >= p - n.
    assert S.r_point(P - N, 2) is None and S.r_point(P - N, 3) is None
    assert raises(Invalid, S.recover, H1, _b(P - N) + _b(5) + b"\x02")
    assert not S.verify(key, H1, _b(P - N) + _b(5) + b"\x02")


def test_wrong_hash_or_key():
    assert not S.verify(PUB, sha256(b"other"), SIG)
    assert not S.verify(C.encode_point(Q7), H1, SIG)
    assert S.recover(sha256(b"other"), SIG) != PUB


def test_point_at_infinity_never_verifies():
    # Key G and hash -r: u1*G + u2*G = 0, whatever s is.
    g = C.encode_point(G)
    r = int.from_bytes(R, "big")
    assert not S.verify(g, _b(N - r), SIG[:64])
    assert not S.verify(S.prepare(g, ec.G_WINDOW), _b(N - r), SIG[:64])


def test_wrong_lengths_are_malformed():
    assert raises(Malformed, S.verify, PUB[:63], H1, SIG)
    assert raises(Malformed, S.verify, PUB + b"\x00", H1, SIG)
    assert raises(Malformed, S.verify, b"\x04" + PUB, H1, SIG)
    assert raises(Malformed, S.verify, PUB, H1[:31], SIG)
    assert raises(Malformed, S.verify, PUB, H1 + b"\x00", SIG)
    assert raises(Malformed, S.verify, PUB, H1, SIG[:63])
    assert raises(Malformed, S.verify, PUB, H1, SIG + b"\x00")
    assert raises(Malformed, S.recover, H1, SIG[:64])
    assert raises(Malformed, S.recover, H1[:31], SIG)
    assert raises(Malformed, S.sign, PRIV[:31], H1)
    assert raises(Malformed, S.sign, PRIV, H1[:31])
    assert raises(Malformed, S.public_key, PRIV + b"\x00")


def test_private_key_range():
    assert raises(Malformed, S.public_key, bytes(32))
    assert raises(Malformed, S.public_key, _b(N))
    assert raises(Malformed, S.sign, _b(N + 1), H1)
    assert len(S.public_key(_b(N - 1))) == 64


def test_off_curve_public_keys_are_malformed():
    x = int.from_bytes(PUB[:32], "big")
    y = int.from_bytes(PUB[32:], "big")
    # y + 1; the origin; coordinates not below p; all ones.
    for bad in (_b(x) + _b((y + 1) % P), bytes(64), _b(P) + _b(y), _b(x) + _b(P), b"\xff" * 64):
        assert raises(Malformed, S.verify, bad, H1, SIG)
        assert raises(Malformed, S.prepare, bad)


def test_non_canonical_coordinates_are_malformed():
    # A point with a small x, written as x + p: same point mod p, not canonical.
    x = 1
    while C.lift_x(x, 0) is None:
        x += 1
    y = C.lift_x(x, 0)[1]
    assert C.decode_point(_b(x) + _b(y)) == (x, y)
    assert raises(Malformed, C.decode_point, _b(x + P) + _b(y))


# -- round trips -------------------------------------------------------------


def test_sign_verify_recover_round_trips():
    for i in range(4):
        priv = sha256(b"key" + bytes((i,)))
        pub = S.public_key(priv)
        key = S.prepare(pub)
        for j in range(2):
            h = sha256(b"msg" + bytes((i, j)))
            sig = S.sign(priv, h)
            assert len(sig) == 65 and sig[64] in (0, 1)
            assert int.from_bytes(sig[32:64], "big") <= N >> 1
            assert S.sign(priv, h) == sig
            assert S.verify(pub, h, sig) and S.verify(key, h, sig)
            assert S.recover(h, sig) == pub
            assert not S.verify(pub, sha256(h), sig)
