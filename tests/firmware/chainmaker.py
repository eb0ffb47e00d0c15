"""Builds small signed chains for firmware tests (both suites, any sealer set).

Keys are derived from a label with SHA-256, so every run and both runtimes see
the same chain.
"""

import hashlib

from lightmeter.chain import header
from lightmeter.crypto import suite as suite_mod


def sealers(suite_name, n, label=b"sealer"):
    """[(node_id, priv)] for n sealers, sorted by node id as FISCO orders them."""
    s = suite_mod.get(suite_name)
    out = []
    for i in range(n):
        priv = hashlib.sha256(label + bytes([i])).digest()
        out.append((s.public_key(priv), priv))
    out.sort()
    return out


def trust_json(suite_name, nodes, weights=None, number=None, hash=None):
    """A TRUST.json object for the sealer set nodes."""
    weights = weights or [1] * len(nodes)
    t = {"chain_id": "chain0", "group_id": "group0", "crypto": suite_name,
         "sealers": [{"node_id": n.hex(), "weight": w} for (n, _), w in zip(nodes, weights)]}
    if number is not None:
        t["number"] = number
        t["hash"] = "0x" + hash.hex()
    return t


def signed_header(suite_name, nodes, number=5, signers=None, weights=None, parent=None, **kw):
    """(JSON result, Header) of a header signed by the sealers at indices signers."""
    s = suite_mod.get(suite_name)
    h = header.new(number, parent or bytes(range(32)), [n for n, _ in nodes], weights,
                   txs_root=kw.pop("txs_root", b"\x11" * 32),
                   receipts_root=kw.pop("receipts_root", b"\x22" * 32),
                   state_root=b"\x33" * 32, gas_used=b"21000", timestamp=kw.pop("timestamp", 1700000000000), **kw)
    digest = h.hash(s)
    if signers is None:
        signers = range(len(nodes))
    h.signatures = [(i, s.sign_node(nodes[i][1], digest)) for i in signers]
    return header.to_json(h, digest), h
