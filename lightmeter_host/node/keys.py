"""Sealer keys of the local node: derived from a seed, so a chain can be rebuilt
exactly, or from a random seed that is stored with the chain's data.

The node holds a pool of keys larger than its initial sealer set, so that tests
can add sealers through the consensus precompile that the node can then sign for.
"""

import hashlib

from lightmeter.crypto import suite as suite_mod

POOL = 32  # keys the node can sign with, initial sealers included


def private_key(seed, i):
    """The i-th private key of seed (32 bytes, valid on both curves for practical seeds)."""
    return hashlib.sha256(b"lightmeter-sealer:" + seed + i.to_bytes(4, "big")).digest()


def pool(crypto, seed, count=POOL):
    """{node_id: private key} for the first count keys of seed."""
    s = suite_mod.get(crypto)
    out = {}
    for i in range(count):
        k = private_key(seed, i)
        out[s.public_key(k)] = k
    return out


def initial_sealers(crypto, seed, n):
    """Node ids of the first n keys, sorted as FISCO orders the consensus list."""
    s = suite_mod.get(crypto)
    return sorted(s.public_key(private_key(seed, i)) for i in range(n))
