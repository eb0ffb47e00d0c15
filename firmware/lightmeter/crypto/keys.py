"""Sealers' public keys with their precomputed tables, kept from one header to the next.

A PBFT sealer set changes rarely and each of its keys signs every block, so a verifier can
decode each key once and keep its table of odd multiples (`ec.PublicKey`, packed: x and y as
bytes, 64 bytes an entry a part). Verifying then skips building the key's table and, with
wider windows, needs fewer additions; with parts = 2 (SM2) half the doublings.
The light client (client/verify.py) keeps one `Keys` a suite (`kept`): for the secp256k1
batch check (crypto/batch.py) and, when `verify.KEY_TABLES` is set, for the single checks
(docs/light-client.md, "Batch verification" and "SM2 has no v").
"""

from lightmeter.errors import Malformed

MAX_KEYS = 64  # tables held at most (all are dropped when full): a bound on memory, not a limit
# (wNAF width, parts) of a kept table by suite, and its packed size a sealer: ecdsa 32 entries,
# 2 KB (beta*x made as looked up); sm 8 entries in each of 2 parts, 1 KB. bench/RESULTS.md.
WINDOWS = {"ecdsa": (7, 1), "sm": (5, 2)}
_KEPT = {}


class Keys:
    """Tables of the keys asked for, built on first use; `keep` drops keys that left the set.

    prepare(pub64, window, parts, packed) is the curve's (secp256k1.prepare, sm2.prepare).
    A key that is not a curve point comes back as its bytes, for the checks that follow to
    refuse and report as they do for any bad key.
    """

    def __init__(self, prepare, window, parts):
        self.prepare = prepare
        self.window = window
        self.parts = parts
        self._keys = {}

    def __len__(self):
        return len(self._keys)

    def get(self, pub64):
        pub64 = bytes(pub64)
        k = self._keys.get(pub64)
        if k is None:
            try:
                k = self.prepare(pub64, self.window, self.parts, True)
            except Malformed:
                return pub64
            if len(self._keys) >= MAX_KEYS:
                self._keys.clear()
            self._keys[pub64] = k
        return k

    def keep(self, pubs):
        """Forget every table but those of pubs (the current sealer set's node ids)."""
        want = {}
        for p in pubs:
            want[bytes(p)] = True
        for p in list(self._keys):
            if p not in want:
                del self._keys[p]


def kept(suite):
    """The light client's `Keys` for suite (one a suite, kept for the process), or None when the
    suite verifies with another backend than the firmware's (a host's native one takes bytes)."""
    if suite.name == "ecdsa":
        from lightmeter.crypto import secp256k1 as curve
    else:
        from lightmeter.crypto import sm2 as curve
    if suite.verify is not curve.verify:
        return None
    k = _KEPT.get(suite.name)
    if k is None:
        w, parts = WINDOWS[suite.name]
        k = _KEPT[suite.name] = Keys(curve.prepare, w, parts)
    return k
