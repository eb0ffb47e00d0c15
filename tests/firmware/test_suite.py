"""Crypto suites: addresses, signature layouts, the Z_A cache."""

import hashlib

from lightmeter.crypto import suite
from lightmeter.errors import Malformed
from support import raises, unhex


def test_ecdsa_address_of_private_key_one():
    # The widely published Ethereum address of private key 1 (keccak256 of the
    # uncompressed public key, last 20 bytes): FISCO's non-SM address rule.
    s = suite.get("ecdsa")
    pub = s.public_key((1).to_bytes(32, "big"))
    assert s.address(pub) == unhex("7e5f4552091a69125d5dfcb7b8c2659029395bdf")


def test_sm_address_is_last_20_bytes_of_sm3_of_the_key():
    s = suite.get("sm")
    pub = s.public_key(hashlib.sha256(b"k").digest())
    assert s.address(pub) == s.hash(pub)[12:] and len(s.address(pub)) == 20


def test_address_needs_a_64_byte_key():
    raises(Malformed, suite.get("ecdsa").address, b"\x04" * 65)


def test_signature_layouts():
    for name, node_len, tx_len in (("ecdsa", 65, 65), ("sm", 64, 128)):
        s = suite.get(name)
        priv = hashlib.sha256(name.encode()).digest()
        digest = hashlib.sha256(b"m").digest()
        assert len(s.sign_node(priv, digest)) == node_len
        sig = s.sign_tx(priv, digest)
        assert len(sig) == tx_len
        assert s.tx_signer(digest, sig) == s.public_key(priv)
        assert s.verify_node(s.public_key(priv), digest, s.sign_node(priv, digest))


def test_wrong_signature_lengths_are_malformed():
    for name in ("ecdsa", "sm"):
        s = suite.get(name)
        pub = s.public_key(b"\x05" * 32)
        raises(Malformed, s.verify_node, pub, bytes(32), bytes(s.node_sig_len + 1))
        raises(Malformed, s.tx_signer, bytes(32), bytes(s.tx_sig_len - 1))


def test_unknown_suite():
    raises(Malformed, suite.Suite, "rsa")
