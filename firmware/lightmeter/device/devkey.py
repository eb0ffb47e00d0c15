"""The device's own key: made on the device from its true random source, kept in its store.

The private key is stored as Blob "key" and never leaves the device; its public half is stored as
Blob "public" for tools that ask for it. The device program (lightmeter.device.app) and provisioning
(lightmeter.device.provision) both get the key here, so it is made by one rule in one place.
"""

from lightmeter.device import store as store_mod
from lightmeter.errors import Invalid

KEY = "key"
PUBLIC = "public"


def entropy(n):
    """n random bytes from the board's true random source."""
    try:
        import os
        return os.urandom(n)
    except (ImportError, AttributeError):
        pass
    try:
        import board  # virtual boards provide one
        return bytes(board.random(n))
    except (ImportError, AttributeError):
        raise Invalid("this board has no random source for a key")


def _in_range(key, n):
    return 0 < int.from_bytes(key, "big") < n - 1


def ensure(store, suite, new=False, rand=None):
    """(private key, public key, created): the stored key, or one made now from rand (default:
    the board's entropy) when there is none or new is true. A new key replaces the old atomically."""
    blob = store_mod.Blob(store, KEY)
    n = suite._curve.CURVE.n
    key = None if new else blob.load()
    created = key is None
    if created:
        rand = rand or entropy
        while True:  # rejection sampling: uniform over the valid range, no modulo bias
            key = bytes(rand(32))
            if len(key) == 32 and _in_range(key, n):
                break
        blob.save(key)
    elif len(key) != 32 or not _in_range(key, n):
        raise Invalid("stored device key is not a valid %s key: provision with a new key" % suite.name)
    pub = suite.public_key(key)
    public = store_mod.Blob(store, PUBLIC)
    if public.load() != pub:  # written only when it changes: flash wear
        public.save(pub)
    return key, pub, created
