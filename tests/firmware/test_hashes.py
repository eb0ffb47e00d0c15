"""Keccak-256 (lightmeter.crypto.keccak) and SM3 (lightmeter.crypto.sm3) against published vectors.

Runs under pytest on CPython and unchanged on MicroPython. Differential tests
against native implementations, on random data, are in tests/host/test_hashes_oracles.py.
"""

from support import load_vector, raises, unhex

from lightmeter.crypto.keccak import Keccak256, keccak256
from lightmeter.crypto.sm3 import SM3, sm3


def _msg(n):
    """n bytes 00 01 02 .. ff 00 01 .."""
    return (bytes(range(256)) * (n // 256 + 1))[:n]


def _chunked(cls, data, size):
    """Digest of data fed to a new cls object in pieces of the given size."""
    h = cls()
    view = memoryview(data)
    for i in range(0, len(data), size):
        h.update(view[i:i + size])
    return h.digest()


# Sizes chosen to straddle a block in every possible phase, plus whole blocks.
_CHUNKS = (1, 3, 7, 13, 55, 64, 65, 135, 136, 137)


# --- published vectors -------------------------------------------------------------

def test_keccak256_fisco_hashtest_vectors():
    # FISCO-BCOS bcos-crypto/test/unittests/HashTest.cpp, via tests/vectors/hash-primitives.json
    vec = load_vector("hash-primitives.json")["keccak256"]
    assert len(vec) == 3
    for text, digest in vec.items():
        assert keccak256(text.encode()) == unhex(digest), text


def test_sm3_fisco_hashtest_vectors():
    # FISCO-BCOS bcos-crypto/test/unittests/HashTest.cpp, via tests/vectors/hash-primitives.json
    vec = load_vector("hash-primitives.json")["sm3"]
    assert len(vec) == 3
    for text, digest in vec.items():
        assert sm3(text.encode()) == unhex(digest), text


def test_sm3_gbt32905_example_1_abc():
    # GB/T 32905-2016 appendix A.1: the one-block message "abc"
    assert sm3(b"abc") == unhex("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")


def test_sm3_gbt32905_example_2_abcd_x16():
    # GB/T 32905-2016 appendix A.2: 64 bytes "abcd" * 16, padded to two blocks
    assert sm3(b"abcd" * 16) == unhex("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")


def test_keccak256_uses_keccak_padding_not_sha3():
    # Ethereum's keccak256 pads with 0x01; NIST SHA3-256 (FIPS 202) pads with 0x06 and
    # hashes the empty string to a7ffc6f8...434a. FISCO BCOS uses the former.
    sha3_256_empty = unhex("a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a")
    assert keccak256(b"") != sha3_256_empty
    assert keccak256(b"") == unhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


# --- padding boundaries ------------------------------------------------------------

# keccak256(_msg(n)) computed with pycryptodome 3.x, Crypto.Hash.keccak.new(digest_bits=256).
_KECCAK_BOUNDARY = {
    1: "bc36789e7a1e281436464229828f817d6612f7b477d66591ff96a9e064bcc98a",
    135: "cbdfd9dee5faad3818d6b06f95a219fd290b0e1706f6a82e5a595b9ce9faca62",  # pad is 0x81
    136: "7ce759f1ab7f9ce437719970c26b0a66ff11fe3e38e17df89cf5d29c7d7f807e",  # pad is a whole block
    137: "ac73d4fae68b8453f764007c1a20ce95994187861f0c3227a3a8e99a73a3b1db",
    271: "7c974895b2a88303ff2dc6b58f438ceb0b298cac91099ac0539cc0f477506191",
    272: "fdf2ec49e749960d3c8521a0219af8d03e30e2b3bf19bd16150ee0eaf133d66e",
}

# sm3(_msg(n)) computed with OpenSSL 3, Python hashlib.new("sm3").
_SM3_BOUNDARY = {
    55: "a79cf9dcee3404abf7f769698201647fd9d3ff61d629d0f58bb4b5579a427db8",  # last with 1 block
    56: "62f7363b15f4de76dd925c493b9d6d00d4ba0ef2a1f334c1d0f13b293aeb40d1",  # length spills over
    63: "6165e4cbb15cde01c6226e0015a47f710f8f8e1f2c296700033bb34d9212109c",
    64: "93566f236d157aae078d1ddb5cebdbba1520b5142e22a8915564345ba2ae1d63",
    65: "c886e6814be748285a10b28ae62ddacd85db830cd2cf3a2bfa2f729c15f63618",
    119: "8f3ea392a89a7119982d6634660db1a95f35d68267a2235e3255998a857f4fbf",
    120: "6babee35e6a1515af9d6255109c24f3c08897829422c6225d235fd4c8527e9ec",
}


def test_keccak256_known_digests_at_rate_boundaries():
    for n, digest in _KECCAK_BOUNDARY.items():
        assert keccak256(_msg(n)) == unhex(digest), n


def test_keccak256_incremental_equals_one_shot_at_rate_boundaries():
    for n in (0, 1, 135, 136, 137, 271, 272):
        want = keccak256(_msg(n))
        for size in _CHUNKS:
            assert _chunked(Keccak256, _msg(n), size) == want, (n, size)


def test_sm3_known_digests_at_padding_boundaries():
    for n, digest in _SM3_BOUNDARY.items():
        assert sm3(_msg(n)) == unhex(digest), n


def test_sm3_incremental_equals_one_shot_at_padding_boundaries():
    for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 128):
        want = sm3(_msg(n))
        for size in _CHUNKS:
            assert _chunked(SM3, _msg(n), size) == want, (n, size)


# --- hashlib-style objects ---------------------------------------------------------

def _check_digest_is_non_destructive(cls, oneshot):
    h = cls(b"abc")
    first = h.digest()
    assert h.digest() == first == oneshot(b"abc")
    h.update(_msg(300))
    assert h.digest() == oneshot(b"abc" + _msg(300))


def test_keccak256_digest_is_non_destructive():
    _check_digest_is_non_destructive(Keccak256, keccak256)


def test_sm3_digest_is_non_destructive():
    _check_digest_is_non_destructive(SM3, sm3)


def _check_copy_is_independent(cls, oneshot):
    h = cls()
    h.update(_msg(100))  # a partial block is pending in both hashes
    c = h.copy()
    c.update(b"copy")
    h.update(b"original")
    assert c.digest() == oneshot(_msg(100) + b"copy")
    assert h.digest() == oneshot(_msg(100) + b"original")


def test_keccak256_copy_is_independent():
    _check_copy_is_independent(Keccak256, keccak256)


def test_sm3_copy_is_independent():
    _check_copy_is_independent(SM3, sm3)


def test_hashes_accept_bytes_bytearray_memoryview():
    data = _msg(150)
    for oneshot, cls in ((keccak256, Keccak256), (sm3, SM3)):
        want = oneshot(data)
        assert oneshot(bytearray(data)) == want
        assert oneshot(memoryview(data)) == want
        assert oneshot(memoryview(b"xx" + data)[2:]) == want
        h = cls(bytearray(data[:10]))
        h.update(memoryview(data)[10:])
        assert h.digest() == want
        assert len(want) == 32


def test_hashes_reject_text():
    # str has a buffer on MicroPython; hashing it silently would differ between runtimes.
    for fn in (keccak256, sm3, Keccak256().update, SM3().update):
        raises(TypeError, fn, "abc")
