"""The device's trust checkpoint in its store: atomic, CRC-checked, never moved backwards.

A checkpoint is saved in a versioned store Blob whose version is the checkpoint's block number,
so a power cut at any byte leaves the old or the new checkpoint, and an older checkpoint (a
replay, or a stale file from provisioning) can never replace a newer one: the store refuses it.

The stored form is binary (proto/trust.md, "On the device"): the canonical CBOR array
[1, chain_id, group_id, crypto, [node id, weight, ...], number, hash, timestamp] with node ids and
the hash as byte strings (null for an absent number, hash or timestamp). It is half the size of
the TRUST.json text and decodes without a hex string per sealer, which the device cycle's heap
needs (bench/RESULTS.md). A checkpoint stored as TRUST.json text by earlier firmware (its first
byte is "{") is still read, and replaced by the binary form at the next save.
"""

import json

from lightmeter.device import store as store_mod
from lightmeter.client import trust as trust_mod
from lightmeter.errors import Invalid, Malformed
from lightmeter.link import cbor

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


NAME = "trust"
_FORMAT = const(1)  # first item of the binary form


def encode(trust):
    """The binary stored form of a Trust."""
    return cbor.dumps(_form(trust))


def _form(trust):
    flat = []
    for node, w in trust.sealers:
        flat.append(node)
        flat.append(w)
    return [_FORMAT, trust.chain_id, trust.group_id, trust.crypto, flat, trust.number, trust.hash,
            trust.timestamp]


def decode(raw):
    """The Trust of a stored checkpoint: the binary form, or TRUST.json text (earlier firmware)."""
    if raw[:1] == b"{":
        try:
            obj = json.loads(raw)
        except ValueError:
            raise Malformed("stored checkpoint: not JSON text")
        return trust_mod.from_json(obj)
    a = cbor.loads(raw)
    if not isinstance(a, list) or len(a) != 8 or a[0] != _FORMAT or not isinstance(a[4], list):
        raise Malformed("stored checkpoint: not a format %d checkpoint" % _FORMAT)
    flat = a[4]
    if len(flat) & 1:
        raise Malformed("stored checkpoint: sealers are node id, weight pairs")
    pairs = []
    for i in range(0, len(flat), 2):
        if not isinstance(flat[i], bytes):
            raise Malformed("stored checkpoint: a node id must be a byte string")
        pairs.append((flat[i], flat[i + 1]))
    flat = a[4] = None
    if a[6] is not None and not isinstance(a[6], bytes):
        raise Malformed("stored checkpoint: the hash must be a byte string")
    return trust_mod.make(a[1], a[2], a[3], pairs, a[5], a[6], a[7])


def load(store):
    """The stored Trust, or None if the device has none yet."""
    raw = store_mod.Blob(store, NAME).load()
    return None if raw is None else decode(raw)


def save(store, trust):
    """Store trust; Invalid if the stored checkpoint is newer (a higher block number), or is
    another block at the same height (a fork: keep what is stored and let the caller report it)."""
    number = trust.number if trust.number is not None else 0
    blob = store_mod.Blob(store, NAME)
    # the stored block number is the blob's version: read without the checkpoint itself, which is
    # decoded only when the heights are equal (a repeat, or a fork) or it has no version (none
    # stored, or an earlier firmware's)
    stored = blob.version()
    if stored is None or stored == number:
        current = load(store)
        if current is not None and (current.number or 0) == number and current.hash != trust.hash:
            raise Invalid("another checkpoint is stored for block %d: a conflict, not replaced" % number)
        current = None
    # in pieces, the node ids not copied: no block of the whole form's size (~1.5 KB with 21
    # sealers) on a heap the step before left in pieces (bench/RESULTS.md)
    blob.save(cbor.dump_pieces(_form(trust)), version=number)


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
