"""The device's trust checkpoint in its store: atomic, CRC-checked, never moved backwards.

A checkpoint is saved as its TRUST.json text in a versioned store Blob whose
version is the checkpoint's block number, so a power cut at any byte leaves the
old or the new checkpoint, and an older checkpoint (a replay, or a stale file
from provisioning) can never replace a newer one: the store refuses it.
"""

import json

from lightmeter.device import store as store_mod
from lightmeter.client import trust as trust_mod
from lightmeter.errors import Invalid

NAME = "trust"


def load(store):
    """The stored Trust, or None if the device has none yet."""
    raw = store_mod.Blob(store, NAME).load()
    return None if raw is None else trust_mod.from_json(json.loads(raw))


def save(store, trust):
    """Store trust; Invalid if the stored checkpoint is newer (a higher block number), or is
    another block at the same height (a fork: keep what is stored and let the caller report it)."""
    number = trust.number if trust.number is not None else 0
    current = load(store)
    if current is not None and (current.number or 0) == number and current.hash != trust.hash:
        raise Invalid("another checkpoint is stored for block %d: a conflict, not replaced" % number)
    store_mod.Blob(store, NAME).save(json.dumps(trust.to_json()).encode(), version=number)


def install(store, path):
    """Load the checkpoint, taking the provisioning file at path the first time (or when newer)."""
    current = load(store)
    try:
        with open(path) as f:
            offered = trust_mod.from_json(json.load(f))
    except OSError:
        offered = None
    if offered is not None and (current is None or (offered.number or 0) > (current.number or 0)):
        save(store, offered)
        return offered
    return current
