"""Native backends (coincurve, pycryptodome, OpenSSL SM3) give exactly the pure firmware's answers,
including on hostile input: the pure code is the reference."""

import pytest
from hypothesis import given, settings, strategies as st

from lightmeter.crypto import keccak, secp256k1, sm3
from lightmeter.errors import Invalid, Malformed
from lightmeter_host.chain import backends

N = secp256k1.CURVE.n
native_recover, native_verify = backends.native_secp256k1()


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except Invalid:
        return ("invalid", None)
    except Malformed:
        return ("malformed", None)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=700))
def test_hashes_agree(data):
    assert backends.native_keccak256()(data) == keccak.keccak256(data)
    assert backends.native_sm3()(data) == sm3.sm3(data)


def _mutations(sig):
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    yield sig
    yield sig[:64] + bytes([v ^ 1])
    yield sig[:64] + bytes([27 + v])
    yield r + (N - s).to_bytes(32, "big") + bytes([v ^ 1])  # high s: accepted, as FISCO
    yield r + (N - s).to_bytes(32, "big") + bytes([v])
    yield sig[:64] + bytes([v + 2])  # x = r + n
    yield sig[:64] + bytes([4])
    yield bytes(32) + sig[32:]
    yield sig[:32] + bytes(32) + sig[64:]
    yield N.to_bytes(32, "big") + sig[32:]
    yield (N - 1).to_bytes(32, "big") + sig[32:]
    yield r + N.to_bytes(32, "big") + sig[64:]
    yield r + (N - 1).to_bytes(32, "big") + sig[64:]
    yield r + (N // 2).to_bytes(32, "big") + sig[64:]  # the low-s edge of 64-byte verify
    yield r + (N // 2 + 1).to_bytes(32, "big") + sig[64:]
    yield b"\xff" * 32 + sig[32:]


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32),
       st.integers(0, 64), st.integers(0, 255))
def test_secp256k1_agrees_on_valid_and_mutated_signatures(seed, digest, pos, xor):
    priv = (int.from_bytes(seed, "big") % (N - 1) + 1).to_bytes(32, "big")
    pub = secp256k1.public_key(priv)
    sig = secp256k1.sign(priv, digest)
    flipped = bytearray(sig)
    flipped[pos] ^= xor
    for s in list(_mutations(sig)) + [bytes(flipped)]:
        assert outcome(native_recover, digest, s) == outcome(secp256k1.recover, digest, s)
        assert native_verify(pub, digest, s) == secp256k1.verify(pub, digest, s)
        assert native_verify(pub, digest, s[:64]) == secp256k1.verify(pub, digest, s[:64])


def test_length_errors_agree():
    for args in ((b"\0" * 31, b"\0" * 65), (b"\0" * 32, b"\0" * 64)):
        with pytest.raises(Malformed):
            native_recover(*args)
        with pytest.raises(Malformed):
            secp256k1.recover(*args)


def test_install_and_uninstall_swap_the_suite_primitives():
    from lightmeter.crypto import suite

    e = suite.get("ecdsa")
    pure = e.hash
    try:
        names = backends.install()
        assert "keccak256:pycryptodome" in names and "secp256k1:coincurve" in names
        assert e.hash is not pure and e.hash(b"abc") == pure(b"abc")
    finally:
        backends.uninstall()
    assert e.hash is pure


def test_native_signing_gives_the_pure_signatures_and_keys():
    # lightmeter_host.chain.backends.install_signing (fleet simulation): libsecp256k1's RFC 6979
    # nonce, low s and recovery id are the pure module's, so the bytes are the same
    import hashlib

    from lightmeter.crypto import suite as suite_mod
    from lightmeter_host.chain import backends

    e = suite_mod.get("ecdsa")
    keys = [hashlib.sha256(b"native-sign %d" % i).digest() for i in range(20)]
    pure = [(e.public_key(k), e.sign_tx(k, hashlib.sha256(k).digest())) for k in keys]
    backends.install_signing()
    try:
        assert [(e.public_key(k), e.sign_tx(k, hashlib.sha256(k).digest())) for k in keys] == pure
    finally:
        backends.uninstall_signing()
    assert e.public_key is e._curve.public_key and "sign_tx" not in e.__dict__


def test_native_keccak256_is_right_from_many_threads_at_once():
    """The native keccak keeps one hashing state per thread (backends._lean_keccak256): threads
    hashing at the same moment never mix their inputs."""
    import threading

    from Crypto.Hash import keccak as ref

    h = backends.native_keccak256()
    bad = []

    def run(t):
        for i in range(1500):
            data = b"%d-%d-" % (t, i) * (1 + i % 40)
            if h(data) != ref.new(digest_bits=256, data=data).digest():
                bad.append((t, i))
    threads = [threading.Thread(target=run, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad


def test_native_recovery_is_right_from_many_threads_at_once():
    """The native recovery keeps its output buffers per thread (backends._lean_recover): threads
    recovering at the same moment each get their own signer's key."""
    import threading

    keys = [(i + 1).to_bytes(32, "big") for i in range(6)]
    work = []
    for k in keys:
        digests = [bytes([i]) * 32 for i in range(1, 40)]
        work.append([(d, secp256k1.sign(k, d), secp256k1.public_key(k)) for d in digests])
    bad = []

    def run(items):
        for _ in range(20):
            for d, sig, pub in items:
                if native_recover(d, sig) != pub:
                    bad.append(d)
    threads = [threading.Thread(target=run, args=(w,)) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad
