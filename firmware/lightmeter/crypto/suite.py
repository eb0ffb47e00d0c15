"""The two FISCO BCOS crypto suites behind one interface.

    ecdsa: keccak256, secp256k1; node signatures 65 B r||s||v (v 0..3), tx signatures 65 B
    sm:    SM3, SM2 with Z_A (ID "1234567812345678"); node signatures 64 B r||s,
           tx signatures 128 B r||s||pub

Chain code asks a Suite for hashes, signature checks and addresses and never
names a curve. The primitives are plain attributes, so a host can swap in
native implementations (see lightmeter_host/chain/backends.py) without touching callers;
the pure modules stay the reference. Only the modules a suite needs are
imported, so a device on one suite never loads the other.
"""

from lightmeter.errors import Invalid, Malformed

ECDSA = "ecdsa"
SM = "sm"
NAMES = (ECDSA, SM)


class Suite:
    """One crypto suite; get one with `get(name)`."""

    def __init__(self, name):
        self.name = name
        if name == ECDSA:
            from lightmeter.crypto import keccak, secp256k1

            self.hash = keccak.keccak256
            self.node_sig_len = 65
            self.tx_sig_len = 65
            self._curve = secp256k1
        elif name == SM:
            from lightmeter.crypto import sm2, sm3

            self.hash = sm3.sm3
            self.node_sig_len = 64
            self.tx_sig_len = 128
            self._curve = sm2
            self._za = {}  # node id -> Z_A; sealer sets are small, entries are 32 B
        else:
            raise Malformed("unknown crypto suite %r (expected ecdsa or sm)" % (name,))
        # Swappable primitives (same signatures as the pure ones).
        self.verify = self._curve.verify
        self.public_key = self._curve.public_key
        if name == ECDSA:
            self.recover = self._curve.recover

    # -- signatures over a 32-byte hash --------------------------------------

    def verify_node(self, node_id, digest, sig):
        """True if sig is node_id's PBFT signature of the header hash digest."""
        if len(sig) != self.node_sig_len:
            raise Malformed("signature: expected %d bytes, got %d" % (self.node_sig_len, len(sig)))
        if self.name == ECDSA:
            # FISCO checks by recovery; verify() of a 65-byte signature gives
            # the same answer (same v and s rules, same R), faster.
            return self.verify(node_id, digest, sig)
        za = self._za.get(node_id)
        if za is None:
            if len(self._za) >= 64:
                self._za.clear()
            za = self._za[node_id] = self._curve.za(node_id)
        return self.verify(node_id, digest, sig, za=za)

    def tx_signer(self, digest, sig):
        """The 64-byte public key that signed the transaction hash digest, or Invalid."""
        if len(sig) != self.tx_sig_len:
            raise Malformed("tx signature: expected %d bytes, got %d" % (self.tx_sig_len, len(sig)))
        if self.name == ECDSA:
            return self.recover(digest, sig)  # v 0..3 and any s, as FISCO's secp256k1Recover
        pub = bytes(sig[64:])
        try:
            ok = self.verify(pub, digest, sig[:64])
        except Malformed:  # WeDPR's verify fails on a key off the curve: an invalid signature
            raise Invalid("tx signature carries a public key that is not a point of sm2p256v1")
        if not ok:
            raise Invalid("tx signature does not verify with the public key it carries")
        return pub

    def sign_node(self, priv, digest):
        """A PBFT signature of digest (used by test chains and the local node)."""
        return self._curve.sign(priv, digest)

    def sign_tx(self, priv, digest):
        """A transaction signature of digest in the suite's wire layout."""
        sig = self._curve.sign(priv, digest)
        if self.name == SM:
            sig = sig + self.public_key(priv)
        return sig

    def address(self, pub):
        """20-byte account address of a 64-byte public key."""
        if len(pub) != 64:
            raise Malformed("public key: expected 64 bytes")
        return self.hash(pub)[12:]


_cache = {}


def get(name):
    """The Suite called name ("ecdsa" or "sm"), created once."""
    s = _cache.get(name)
    if s is None:
        s = _cache[name] = Suite(name)
    return s
